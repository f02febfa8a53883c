package mysql_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/mysql"
)

func newEphemeral(t *testing.T, b *testBundle) *mysql.EphemeralConnector {
	t.Helper()
	c, err := mysql.New(map[string]string{"dsn": b.dsn, "mode": "ephemeral", "login_prefix": b.prefix + "_"})
	require.NoError(t, err)
	ec, ok := c.(*mysql.EphemeralConnector)
	require.True(t, ok, "ephemeral mode gives an *EphemeralConnector, got %T", c)
	return ec
}

func TestEphemeralCredentialsWorkUntilRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	role := b.prefix + "_r"
	b.exec(t, "CREATE ROLE `"+role+"`", "GRANT SELECT ON "+b.table+" TO `"+role+"`")
	c := newEphemeral(t, b)
	tg := connector.Target{GrantID: "grt_01J9ZK4T8Q", Email: "Carol.Smith@example.com", EntitlementKey: role,
		ExpiresAt: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)}

	creds, err := c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	require.Equal(t, "password", creds.Kind)
	require.Equal(t, c.AccountFor(tg), creds.Username)
	require.Regexp(t, `^`+b.prefix+`_carol_smith_[0-9a-f]{8}$`, creds.Username)
	require.Regexp(t, `^[A-Za-z0-9]{32}$`, creds.Secret)
	require.Contains(t, creds.Hint, "-u "+creds.Username)
	require.NotContains(t, creds.Hint, creds.Secret)

	// The role is active at login: no SET ROLE needed.
	s, err := b.session(t, creds.Username, creds.Secret)
	require.NoError(t, err)
	var v int
	require.NoError(t, s.QueryRowContext(t.Context(), "SELECT v FROM "+b.table).Scan(&v))
	require.Equal(t, 42, v)

	// Issuing again gives a fresh password; the old one stops working.
	again, err := c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	require.Equal(t, creds.Username, again.Username)
	require.NotEqual(t, creds.Secret, again.Secret)
	_, err = b.session(t, creds.Username, creds.Secret)
	requireLoginDenied(t, err)
	_, err = b.session(t, again.Username, again.Secret)
	require.NoError(t, err)

	require.NoError(t, c.Revoke(t.Context(), tg))
	err = s.QueryRowContext(t.Context(), "SELECT v FROM "+b.table).Scan(&v)
	require.Error(t, err, "the open session survived Revoke")
	_, err = b.session(t, again.Username, again.Secret)
	requireLoginDenied(t, err)
	require.Zero(t, b.count(t, "SELECT COUNT(*) FROM mysql.user WHERE User = ?", again.Username))
}

func TestEphemeralErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newEphemeral(t, b)
	tg := connector.Target{GrantID: "grt_x", Email: "dave@example.com", EntitlementKey: b.prefix + "_ghost"}
	_, err := c.IssueGrant(t.Context(), tg)
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, b.prefix+"_ghost")
	require.Zero(t, b.count(t, "SELECT COUNT(*) FROM mysql.user WHERE User = ?", c.AccountFor(tg)), "no account without a role")

	tg.GrantID = ""
	_, err = c.IssueGrant(t.Context(), tg)
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
}

func TestNativeHashMatchesServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var version string
	require.NoError(t, b.admin.QueryRowContext(t.Context(), "SELECT VERSION()").Scan(&version))
	if !mysql.IsMariaDB(version) {
		t.Skip("PASSWORD() is MariaDB's; MySQL 8 gets passwords in clear")
	}
	var want string
	require.NoError(t, b.admin.QueryRowContext(t.Context(), "SELECT PASSWORD(?)", "correct horse battery staple").Scan(&want))
	require.Equal(t, want, mysql.NativeHash("correct horse battery staple"))
}

// requireLoginDenied checks that a login was refused: 1045 for a wrong
// password; for an account that does not exist MariaDB answers 1045 or
// 1698, depending on the authentication plugin it pretends to use.
func requireLoginDenied(t *testing.T, err error) {
	t.Helper()
	requireMySQLError(t, err, 1045, 1698)
}
