package mysql_test

import (
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/mysql"
)

// roleFixture makes a role <prefix>_r that may read the test's table and
// a person <prefix>_alice@%.
func roleFixture(t *testing.T) (b *testBundle, role, login string) {
	t.Helper()
	b = setup(t)
	role, login = b.prefix+"_r", b.prefix+"_alice"
	b.exec(t, "CREATE ROLE `"+role+"`", "GRANT SELECT ON "+b.table+" TO `"+role+"`")
	b.person(t, login)
	return b, role, login
}

// newConnector builds a role-mode connector.
func newConnector(t *testing.T, settings map[string]string) *mysql.Connector {
	t.Helper()
	c, err := mysql.New(settings)
	require.NoError(t, err)
	rc, ok := c.(*mysql.Connector)
	require.True(t, ok, "role mode gives a *Connector, got %T", c)
	return rc
}

// requireMySQLError checks that err is one of the server errors numbers.
func requireMySQLError(t *testing.T, err error, numbers ...uint16) {
	t.Helper()
	var me *gomysql.MySQLError
	require.ErrorAs(t, err, &me)
	require.Contains(t, numbers, me.Number, "%v", err)
}

func TestRoleRevokeKillsSessions(t *testing.T) {
	t.Parallel()
	b, role, login := roleFixture(t)
	tg := connector.Target{Email: login + "@example.com", EntitlementKey: role}

	for _, terminate := range []string{"true", "false"} {
		c := newConnector(t, map[string]string{"dsn": b.dsn, "terminate_sessions": terminate})
		require.NoError(t, c.Grant(t.Context(), tg))
		// The role is the default role: a new session has it active.
		s, err := b.session(t, login, personPassword)
		require.NoError(t, err)
		var v int
		require.NoError(t, s.QueryRowContext(t.Context(), "SELECT v FROM "+b.table).Scan(&v))

		require.NoError(t, c.Revoke(t.Context(), tg))
		err = s.QueryRowContext(t.Context(), "SELECT v FROM "+b.table).Scan(&v)
		if terminate == "true" {
			require.Error(t, err, "the session survived Revoke")
		} else {
			// Why terminate_sessions defaults to true: an active role
			// outlives REVOKE.
			require.NoError(t, err)
		}
		fresh, err := b.session(t, login, personPassword)
		require.NoError(t, err)
		requireMySQLError(t, fresh.QueryRowContext(t.Context(), "SELECT v FROM "+b.table).Scan(&v), 1142)
	}
}

func TestRoleDefaultRole(t *testing.T) {
	t.Parallel()
	b, role, login := roleFixture(t)
	other := b.prefix + "_other"
	c := newConnector(t, map[string]string{"dsn": b.dsn})
	tg := connector.Target{Email: login + "@example.com", EntitlementKey: role}
	defaultRole := func() string {
		var d string
		require.NoError(t, b.admin.QueryRowContext(t.Context(),
			"SELECT default_role FROM mysql.user WHERE User = ? AND Host = '%'", login).Scan(&d))
		return d
	}

	require.NoError(t, c.Grant(t.Context(), tg))
	require.Equal(t, role, defaultRole())
	require.NoError(t, c.Revoke(t.Context(), tg))
	require.Empty(t, defaultRole())

	// A person's own default role is left alone.
	b.exec(t, "CREATE ROLE `"+other+"`", "GRANT `"+other+"` TO '"+login+"'@'%'", "SET DEFAULT ROLE `"+other+"` FOR '"+login+"'@'%'")
	require.NoError(t, c.Grant(t.Context(), tg))
	require.Equal(t, other, defaultRole())
	require.True(t, b.granted(t, login, role, true))
	require.NoError(t, c.Revoke(t.Context(), tg))
	require.Equal(t, other, defaultRole())
	require.True(t, b.granted(t, login, other, true))
}

func TestRoleErrorsAndSync(t *testing.T) {
	t.Parallel()
	b, role, login := roleFixture(t)
	c := newConnector(t, map[string]string{"dsn": b.dsn, "roles": role})

	err := c.Grant(t.Context(), connector.Target{Email: b.prefix + "_nobody@example.com", EntitlementKey: role})
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, "'"+b.prefix+"_nobody'@'%'")
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: b.prefix + "_nobody@example.com", EntitlementKey: role}))

	loose := newConnector(t, map[string]string{"dsn": b.dsn})
	err = loose.Grant(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: b.prefix + "_ghost"})
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, b.prefix+"_ghost")

	other := b.prefix + "_other"
	b.exec(t, "CREATE ROLE `"+other+"`", "GRANT `"+other+"` TO '"+login+"'@'%'")
	err = c.Grant(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: other})
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, "roles setting")
	// Access to a role outside the setting can still be revoked.
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: other}))
	require.False(t, b.granted(t, login, other, true))

	require.NoError(t, c.Grant(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: role}))
	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connector.Entitlement{{Key: role, Name: role}}, ents)
	grants, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Contains(t, grants, connector.GrantRecord{Account: login, EntitlementKey: role})
	for _, g := range grants {
		require.Equal(t, role, g.EntitlementKey)
	}
	accounts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Contains(t, accounts, connector.Account{ExternalID: login, Name: login})
	require.NotContains(t, accounts, connector.Account{ExternalID: role, Name: role}, "roles are not accounts")
	require.NoError(t, c.HealthCheck(t.Context()))

	missing := newConnector(t, map[string]string{"dsn": b.dsn, "roles": role + "," + b.prefix + "_ghost"})
	err = missing.HealthCheck(t.Context())
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, b.prefix+"_ghost")

	// The password setting supplies the DSN's password: the server answers
	// "no SELECT on mysql.user" (1142), not "wrong password" (1045).
	weak := newConnector(t, map[string]string{"dsn": b.dsnAs(t, login, ""), "password": personPassword})
	err = weak.HealthCheck(t.Context())
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	requireMySQLError(t, err, 1142)

	down := newConnector(t, map[string]string{"dsn": "root:hunter2@tcp(127.0.0.1:1)/?timeout=5s"})
	err = down.HealthCheck(t.Context())
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err), "%v", err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestRoleEmailLogins(t *testing.T) {
	t.Parallel()
	b, role, _ := roleFixture(t)
	email := b.prefix + ".bob@example.com"
	b.person(t, email)
	c := newConnector(t, map[string]string{"dsn": b.dsn, "login_template": "{email}"})
	tg := connector.Target{Email: "ST" + email[2:], EntitlementKey: role}
	require.Equal(t, email, c.AccountFor(tg))
	require.NoError(t, c.Grant(t.Context(), tg))
	require.True(t, b.granted(t, email, role, true))
	grants, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Contains(t, grants, connector.GrantRecord{Account: email, AccountEmail: email, EntitlementKey: role})
	require.NoError(t, c.Revoke(t.Context(), tg))
	require.False(t, b.granted(t, email, role, true))
}

func TestRoleOtherHost(t *testing.T) {
	t.Parallel()
	b, role, _ := roleFixture(t)
	login := b.prefix + "_local"
	b.exec(t, "CREATE USER '"+login+"'@'127.0.0.1'")
	c := newConnector(t, map[string]string{"dsn": b.dsn, "host": "127.0.0.1"})
	tg := connector.Target{Email: login + "@example.com", EntitlementKey: role}
	require.NoError(t, c.Grant(t.Context(), tg))
	require.Equal(t, 1, b.count(t, "SELECT COUNT(*) FROM mysql.roles_mapping WHERE User = ? AND Host = '127.0.0.1' AND Role = ?", login, role))

	// Another connector's view names the account with its host.
	other := newConnector(t, map[string]string{"dsn": b.dsn})
	grants, err := other.ListGrants(t.Context())
	require.NoError(t, err)
	require.Contains(t, grants, connector.GrantRecord{Account: login + "@127.0.0.1", EntitlementKey: role})
	require.NoError(t, c.Revoke(t.Context(), tg))
}
