package testservers_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func tlsConfig(t *testing.T, caPEM string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatal("bad CA PEM")
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}
