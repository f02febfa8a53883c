package sshca_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/sshca"
	"github.com/sesame-access/sesame/internal/testservers"
)

// login logs in to srv as user with the credentials and runs `id -un`.
func login(t *testing.T, srv *testservers.SSHD, user string, creds connector.Credentials) (string, error) {
	t.Helper()
	signer, cert := parseCreds(t, creds.Secret)
	certSigner, err := ssh.NewCertSigner(cert, signer)
	require.NoError(t, err)
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(t.Context(), "tcp", srv.Addr)
	require.NoError(t, err)
	sc, chans, reqs, err := ssh.NewClientConn(conn, srv.Addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(certSigner)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	require.NoError(t, err)
	defer sess.Close()
	out, err := sess.Output("id -un")
	return strings.TrimSpace(string(out)), err
}

// TestLogin checks certificates against a real sshd that trusts the CA:
// a certificate logs in, a revoked one (RevokedKeys) and an expired one do
// not, and revoking one grant leaves another alone.
func TestLogin(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "ed25519")
	srv := testservers.StartSSHD(t, ssh.MarshalAuthorizedKey(ca.public))
	settings := map[string]string{
		"ca_private_key":    ca.privatePEM,
		"state_dir":         t.TempDir(),
		"revoked_keys_file": srv.RevokedKeysFile,
	}
	c, err := sshca.New(settings)
	require.NoError(t, err)
	now := clock.Real{}.Now()
	grant := func(id, key string) (connector.Target, connector.Credentials) {
		tg := connector.Target{GrantID: id, Email: "alice@example.com", EntitlementKey: key, ExpiresAt: now.Add(time.Hour)}
		creds, err := c.(connector.CredentialIssuer).IssueGrant(t.Context(), tg)
		require.NoError(t, err)
		return tg, creds
	}

	tg, creds := grant("grt_login", srv.User)
	require.Equal(t, srv.User, creds.Username)
	got, err := login(t, srv, creds.Username, creds)
	require.NoError(t, err, "sshd log:\n%s", srv.Log())
	require.Equal(t, srv.User, got)

	_, other := grant("grt_other", "deploy,"+srv.User)

	_, root := grant("grt_root", "root")
	_, err = login(t, srv, srv.User, root)
	require.Error(t, err, "a certificate without the login's principal")
	require.Contains(t, srv.Log(), "name is not a listed principal")

	require.NoError(t, c.Revoke(t.Context(), tg))
	_, err = login(t, srv, srv.User, creds)
	require.Error(t, err, "a revoked certificate")
	require.Contains(t, srv.Log(), "revoked by file")

	got, err = login(t, srv, srv.User, other)
	require.NoError(t, err, "another grant's certificate still works; sshd log:\n%s", srv.Log())
	require.Equal(t, srv.User, got)

	// A certificate issued two days ago for a day has expired.
	past, err := sshca.NewWithClock(settings, func() time.Time { return now.Add(-48 * time.Hour) })
	require.NoError(t, err)
	old, err := past.IssueGrant(t.Context(), connector.Target{
		GrantID: "grt_old", Email: "alice@example.com", EntitlementKey: srv.User, ExpiresAt: now.Add(-24 * time.Hour),
	})
	require.NoError(t, err)
	_, err = login(t, srv, srv.User, old)
	require.Error(t, err, "an expired certificate")
	require.Contains(t, srv.Log(), "Certificate invalid: expired")
}
