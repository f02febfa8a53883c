package testservers_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/sesame-access/sesame/internal/testservers"
)

func TestStartSSHD(t *testing.T) {
	t.Parallel()
	_, caPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ca, err := ssh.NewSignerFromKey(caPriv)
	require.NoError(t, err)
	s := testservers.StartSSHD(t, ssh.MarshalAuthorizedKey(ca.PublicKey()))

	login := func(t *testing.T, principals []string, validBefore time.Time) (string, error) {
		t.Helper()
		_, userPriv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		userSigner, err := ssh.NewSignerFromKey(userPriv)
		require.NoError(t, err)
		cert := &ssh.Certificate{
			Key: userSigner.PublicKey(), CertType: ssh.UserCert, KeyId: "test",
			ValidPrincipals: principals,
			ValidBefore:     uint64(validBefore.Unix()), //nolint:gosec // a positive Unix time
			Permissions:     ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}},
		}
		require.NoError(t, cert.SignCert(rand.Reader, ca))
		certSigner, err := ssh.NewCertSigner(cert, userSigner)
		require.NoError(t, err)
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(t.Context(), "tcp", s.Addr)
		require.NoError(t, err)
		sc, chans, reqs, err := ssh.NewClientConn(conn, s.Addr, &ssh.ClientConfig{
			User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(certSigner)}, HostKeyCallback: ssh.FixedHostKey(s.HostKey),
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

	future := time.Unix(1<<40, 0)
	got, err := login(t, []string{s.User}, future)
	require.NoError(t, err, "sshd log:\n%s", s.Log())
	require.Equal(t, s.User, got)

	_, err = login(t, []string{"someone-else"}, future)
	require.Error(t, err, "a certificate without the user's principal must not log in")

	_, err = login(t, []string{s.User}, time.Unix(1000, 0))
	require.Error(t, err, "an expired certificate must not log in")

	_, err = os.Stat(s.RevokedKeysFile)
	require.NoError(t, err)
}
