package postgresql_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/postgresql"
)

// roleFixture makes a NOLOGIN role <prefix>_priv with SELECT on a table,
// and a login <prefix>_alice.
func roleFixture(t *testing.T) (b *testBundle, priv, login string) {
	t.Helper()
	b = setup(t)
	priv, login = b.prefix+"_priv", b.prefix+"_alice"
	schema := b.prefix + "_s"
	b.exec(t, "",
		"CREATE ROLE "+ident(priv)+" NOLOGIN",
		"CREATE ROLE "+ident(login)+" LOGIN",
		"CREATE SCHEMA "+ident(schema),
		"CREATE TABLE "+ident(schema)+".secrets (v int)",
		"GRANT USAGE ON SCHEMA "+ident(schema)+" TO "+ident(priv),
		"GRANT SELECT ON "+ident(schema)+".secrets TO "+ident(priv),
	)
	return b, priv, login
}

// newConnector builds a role-mode connector.
func newConnector(t *testing.T, settings map[string]string) *postgresql.Connector {
	t.Helper()
	c, err := postgresql.New(settings)
	require.NoError(t, err)
	rc, ok := c.(*postgresql.Connector)
	require.True(t, ok, "role mode gives a *Connector, got %T", c)
	return rc
}

func TestRoleGrantErrorsArePermanentAndNamed(t *testing.T) {
	t.Parallel()
	b, priv, login := roleFixture(t)
	c := newConnector(t, map[string]string{"url": b.url})

	err := c.Grant(t.Context(), connector.Target{Email: b.prefix + "_nobody@example.com", EntitlementKey: priv})
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, b.prefix+"_nobody")

	err = c.Grant(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: b.prefix + "_ghost"})
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, b.prefix+"_ghost")

	// Revoking from a login or a role that does not exist has nothing to do.
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: b.prefix + "_nobody@example.com", EntitlementKey: priv}))
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: b.prefix + "_ghost"}))
}

func TestRoleRolesSettingRestrictsAndLists(t *testing.T) {
	t.Parallel()
	b, priv, login := roleFixture(t)
	other := b.prefix + "_other"
	b.exec(t, "", "CREATE ROLE "+ident(other)+" NOLOGIN", "GRANT "+ident(other)+" TO "+ident(login))
	c := newConnector(t, map[string]string{"url": b.url, "roles": priv})

	err := c.Grant(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: other})
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)

	// Access to a role outside the setting can still be revoked.
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: other}))
	require.False(t, b.isMember(t, login, other, true))

	require.NoError(t, c.Grant(t.Context(), connector.Target{Email: login + "@example.com", EntitlementKey: priv}))
	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connector.Entitlement{{Key: priv, Name: priv}}, ents)
	grants, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connector.GrantRecord{{Account: login, EntitlementKey: priv}}, grants)

	require.NoError(t, c.HealthCheck(t.Context()))
	missing := newConnector(t, map[string]string{"url": b.url, "roles": priv + "," + b.prefix + "_ghost"})
	err = missing.HealthCheck(t.Context())
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, b.prefix+"_ghost")
}

func TestRoleRevokeEndsSessions(t *testing.T) {
	t.Parallel()
	b, priv, login := roleFixture(t)
	tg := connector.Target{Email: login + "@example.com", EntitlementKey: priv}
	table := ident(b.prefix+"_s") + ".secrets"

	for _, terminate := range []string{"true", "false"} {
		c := newConnector(t, map[string]string{"url": b.url, "terminate_sessions": terminate})
		require.NoError(t, c.Grant(t.Context(), tg))
		session, err := b.conn(t, login, "", "")
		require.NoError(t, err)
		_, err = session.Exec(t.Context(), "SET ROLE "+ident(priv))
		require.NoError(t, err)
		_, err = session.Exec(t.Context(), "SELECT v FROM "+table)
		require.NoError(t, err)

		require.NoError(t, c.Revoke(t.Context(), tg))
		_, err = session.Exec(t.Context(), "SELECT v FROM "+table)
		if terminate == "true" {
			require.Error(t, err, "the session survived Revoke")
		} else {
			// Why terminate_sessions defaults to true: SET ROLE outlives REVOKE.
			require.NoError(t, err)
		}
		// A new session has no access.
		fresh, err := b.conn(t, login, "", "")
		require.NoError(t, err)
		_, err = fresh.Exec(t.Context(), "SET ROLE "+ident(priv))
		require.Error(t, err)
	}
}

func TestRoleEmailLogins(t *testing.T) {
	t.Parallel()
	b, priv, _ := roleFixture(t)
	email := b.prefix + ".bob@example.com"
	b.exec(t, "", "CREATE ROLE "+ident(email)+" LOGIN")
	c := newConnector(t, map[string]string{"url": b.url, "login_template": "{email}"})
	tg := connector.Target{Email: "ST" + email[2:], EntitlementKey: priv} // mapped in lower case
	require.Equal(t, email, c.AccountFor(tg))
	require.NoError(t, c.Grant(t.Context(), tg))
	require.True(t, b.isMember(t, email, priv, true))

	grants, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Contains(t, grants, connector.GrantRecord{Account: email, AccountEmail: email, EntitlementKey: priv})
	accounts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Contains(t, accounts, connector.Account{ExternalID: email, Email: email, Name: email})
}

func TestHealthCheckNeedsCreateRole(t *testing.T) {
	t.Parallel()
	b, _, login := roleFixture(t)
	c := newConnector(t, map[string]string{"url": b.urlAs(t, login)})
	err := c.HealthCheck(t.Context())
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)

	down := newConnector(t, map[string]string{"url": "postgres://postgres:hunter2@127.0.0.1:1/test?connect_timeout=5"})
	err = down.HealthCheck(t.Context())
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err), "%v", err)
	require.NotContains(t, err.Error(), "hunter2")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = c.Grant(ctx, connector.Target{Email: login + "@example.com", EntitlementKey: "x"})
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err), "a cancelled call is retryable: %v", err)
}
