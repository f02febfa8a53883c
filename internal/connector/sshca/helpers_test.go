package sshca_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/sesame-access/sesame/internal/connector"
)

// testCA is a CA key pair for tests.
type testCA struct {
	privatePEM string
	public     ssh.PublicKey
}

func newCA(t *testing.T, kind string) testCA {
	t.Helper()
	var priv crypto.Signer
	switch kind {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		priv = k
	default:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		priv = k
	}
	block, err := ssh.MarshalPrivateKey(priv, "test ca")
	require.NoError(t, err)
	pub, err := ssh.NewPublicKey(priv.Public())
	require.NoError(t, err)
	return testCA{privatePEM: string(pem.EncodeToMemory(block)), public: pub}
}

// stateFile mirrors the documented state file format.
type stateFile struct {
	GrantID        string   `json:"grant_id"`
	Email          string   `json:"email"`
	EntitlementKey string   `json:"entitlement_key"`
	Principals     []string `json:"principals"`
	Certificates   []struct {
		Serial      uint64    `json:"serial"`
		KeyID       string    `json:"key_id"`
		PublicKey   string    `json:"public_key"`
		ValidBefore time.Time `json:"valid_before"`
		RevokedAt   time.Time `json:"revoked_at"`
	} `json:"certificates"`
}

// readState finds the grant's state file in stateDir, or returns nil.
func readState(t *testing.T, stateDir, grantID string) *stateFile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(stateDir, "grants", "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var s stateFile
		require.NoError(t, json.Unmarshal(b, &s))
		if s.GrantID == grantID {
			return &s
		}
	}
	return nil
}

// revokedKeys returns the keys listed in a revoked keys file.
func revokedKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return out
	}
	require.NoError(t, err)
	for line := range strings.Lines(string(b)) {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		require.NoError(t, err, "every line of the revoked keys file must parse: %q", line)
		out[string(pub.Marshal())] = true
	}
	return out
}

// hasAccess is the suite's Has: the grant has a certificate that is
// unexpired at now, not marked revoked, and whose key is not in the
// revoked keys file.
func hasAccess(t *testing.T, stateDir, revokedFile string, tg connector.Target, now time.Time) bool {
	t.Helper()
	s := readState(t, stateDir, tg.GrantID)
	if s == nil {
		return false
	}
	revoked := revokedKeys(t, revokedFile)
	for _, c := range s.Certificates {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.PublicKey))
		require.NoError(t, err)
		if c.RevokedAt.IsZero() && now.Before(c.ValidBefore) && !revoked[string(pub.Marshal())] {
			return true
		}
	}
	return false
}

// parseCreds splits and parses IssueGrant's secret.
func parseCreds(t *testing.T, secret string) (ssh.Signer, *ssh.Certificate) {
	t.Helper()
	keyPEM, certLine, err := splitSecret(secret)
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(keyPEM)
	require.NoError(t, err)
	pub, _, _, _, err := ssh.ParseAuthorizedKey(certLine)
	require.NoError(t, err)
	cert, ok := pub.(*ssh.Certificate)
	require.True(t, ok)
	return signer, cert
}
