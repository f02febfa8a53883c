package postgresql_test

import (
	"encoding/base64"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/postgresql"
)

type ephemeralBundle struct {
	*testBundle
	priv   string
	schema string
	db     string
	c      *postgresql.EphemeralConnector
}

// ephemeralFixture makes a NOLOGIN role <prefix>_priv that may read
// <prefix>_s.secrets and create tables in schema <prefix>_s and, when
// withDB, in schema public of a database <prefix>_db.
func ephemeralFixture(t *testing.T, withDB bool, extra map[string]string) *ephemeralBundle {
	t.Helper()
	b := &ephemeralBundle{testBundle: setup(t)}
	b.priv, b.schema = b.prefix+"_priv", b.prefix+"_s"
	b.exec(t, "",
		"CREATE ROLE "+ident(b.priv)+" NOLOGIN",
		"CREATE SCHEMA "+ident(b.schema),
		"CREATE TABLE "+ident(b.schema)+".secrets (v int)",
		"INSERT INTO "+ident(b.schema)+".secrets VALUES (42)",
		"GRANT USAGE, CREATE ON SCHEMA "+ident(b.schema)+" TO "+ident(b.priv),
		"GRANT SELECT ON "+ident(b.schema)+".secrets TO "+ident(b.priv),
	)
	if withDB {
		b.db = b.prefix + "_db"
		// template0 is never connected to, so concurrent tests cannot
		// block the copy.
		b.exec(t, "", "CREATE DATABASE "+ident(b.db)+" TEMPLATE template0")
		b.exec(t, b.db, "GRANT CREATE ON SCHEMA public TO "+ident(b.priv))
	}
	settings := map[string]string{"url": b.url, "mode": "ephemeral", "login_prefix": b.prefix + "_"}
	maps.Copy(settings, extra)
	c, err := postgresql.New(settings)
	require.NoError(t, err)
	ec, ok := c.(*postgresql.EphemeralConnector)
	require.True(t, ok, "ephemeral mode gives an *EphemeralConnector, got %T", c)
	b.c = ec
	return b
}

func (b *ephemeralBundle) target(grant string, expires time.Time) connector.Target {
	return connector.Target{GrantID: grant, Email: "Carol.Smith@example.com", EntitlementKey: b.priv, ExpiresAt: expires}
}

func TestEphemeralCredentialsWorkUntilRevoke(t *testing.T) {
	t.Parallel()
	b := ephemeralFixture(t, true, nil)
	tg := b.target("grt_01J9ZK4T8Q", time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC))

	creds, err := b.c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	require.Equal(t, "password", creds.Kind)
	require.Equal(t, b.c.AccountFor(tg), creds.Username)
	require.Regexp(t, `^`+b.prefix+`_carol_smith_[0-9a-f]{8}$`, creds.Username)
	require.Regexp(t, `^[A-Za-z0-9]{32}$`, creds.Secret)
	require.Contains(t, creds.Hint, "-U "+creds.Username)
	require.Contains(t, creds.Hint, "2031-02-03T04:05:06Z")
	require.NotContains(t, creds.Hint, creds.Secret)

	// The login uses the role's privileges directly (INHERIT) and through
	// SET ROLE, and may create objects in both databases.
	session, err := b.conn(t, creds.Username, creds.Secret, "")
	require.NoError(t, err)
	require.NoError(t, session.QueryRow(t.Context(), "SELECT v FROM "+ident(b.schema)+".secrets").Scan(new(int)))
	_, err = session.Exec(t.Context(), "CREATE TABLE "+ident(b.schema)+".made_by_login (v int)")
	require.NoError(t, err)
	_, err = session.Exec(t.Context(), "SET ROLE "+ident(b.priv))
	require.NoError(t, err)
	other, err := b.conn(t, creds.Username, creds.Secret, b.db)
	require.NoError(t, err)
	_, err = other.Exec(t.Context(), "CREATE TABLE public.made_by_login (v int)")
	require.NoError(t, err)
	require.NoError(t, other.Close(t.Context()))

	require.NoError(t, b.c.Revoke(t.Context(), tg))

	_, err = session.Exec(t.Context(), "SELECT 1")
	require.Error(t, err, "the open session survived Revoke")
	_, err = b.conn(t, creds.Username, creds.Secret, "")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "connect after revoke")
	require.Equal(t, "28000", pgErr.Code)
	require.Contains(t, pgErr.Message, "does not exist")

	// What the login made now belongs to the admin, in both databases.
	require.Equal(t, "postgres", query[string](t, b.testBundle,
		"SELECT tableowner::text FROM pg_tables WHERE schemaname = $1 AND tablename = 'made_by_login'", b.schema))
	db, err := b.conn(t, "", "", b.db)
	require.NoError(t, err)
	var owner string
	require.NoError(t, db.QueryRow(t.Context(), "SELECT tableowner::text FROM pg_tables WHERE tablename = 'made_by_login'").Scan(&owner))
	require.Equal(t, "postgres", owner)
}

func TestEphemeralValidUntilAndFreshPassword(t *testing.T) {
	t.Parallel()
	b := ephemeralFixture(t, false, map[string]string{"connection_limit": "3"})
	first := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	tg := b.target("grt_valid_until", first)

	creds1, err := b.c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	validUntil := func() string {
		return query[string](t, b.testBundle, `SELECT CASE WHEN isfinite(rolvaliduntil)
			THEN to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ELSE rolvaliduntil::text END
			FROM pg_roles WHERE rolname = $1`, creds1.Username)
	}
	require.Equal(t, "2031-02-03T04:05:06Z", validUntil())
	require.Equal(t, 3, query[int](t, b.testBundle, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", creds1.Username))
	requireVerifierOf(t, b.testBundle, creds1.Username, creds1.Secret)

	// Issuing again (an extension) moves VALID UNTIL and changes the password.
	tg.ExpiresAt = first.Add(36 * time.Hour)
	creds2, err := b.c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	require.Equal(t, creds1.Username, creds2.Username)
	require.NotEqual(t, creds1.Secret, creds2.Secret)
	require.Equal(t, "2031-02-04T16:05:06Z", validUntil())
	requireVerifierOf(t, b.testBundle, creds2.Username, creds2.Secret)

	tg.ExpiresAt = time.Time{}
	_, err = b.c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	require.Equal(t, "infinity", validUntil())

	require.Contains(t, query[string](t, b.testBundle, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", creds1.Username),
		"grant grt_valid_until")
	require.NoError(t, b.c.Revoke(t.Context(), tg))
}

// requireVerifierOf checks that the server stores a SCRAM verifier of
// password for login, and so would accept it with scram-sha-256 auth.
func requireVerifierOf(t *testing.T, b *testBundle, login, password string) {
	t.Helper()
	stored := query[string](t, b, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", login)
	iter, salt := parseVerifier(t, stored)
	want, err := postgresql.ScramVerifier(password, salt, iter)
	require.NoError(t, err)
	require.Equal(t, want, stored)
}

func parseVerifier(t *testing.T, v string) (int, []byte) {
	t.Helper()
	m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$`).FindStringSubmatch(v)
	require.NotNil(t, m, "not a SCRAM verifier: %q", v)
	iter, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	salt, err := base64.StdEncoding.DecodeString(m[2])
	require.NoError(t, err)
	return iter, salt
}

func TestScramVerifierMatchesServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	role := b.prefix + "_scram"
	const password = "correct horse battery staple"
	c, err := b.conn(t, "", "", "")
	require.NoError(t, err)
	_, err = c.Exec(t.Context(), "SET password_encryption = 'scram-sha-256'")
	require.NoError(t, err)
	_, err = c.Exec(t.Context(), "CREATE ROLE "+ident(role)+" PASSWORD '"+password+"'")
	require.NoError(t, err)
	stored := query[string](t, b, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
	iter, salt := parseVerifier(t, stored)
	got, err := postgresql.ScramVerifier(password, salt, iter)
	require.NoError(t, err)
	require.Equal(t, stored, got)
}

func TestEphemeralLeavesForeignRolesAlone(t *testing.T) {
	t.Parallel()
	b := ephemeralFixture(t, false, nil)
	tg := b.target("grt_foreign", time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	login := b.c.AccountFor(tg)
	b.exec(t, "", "CREATE ROLE "+ident(login)+" LOGIN", "GRANT "+ident(b.priv)+" TO "+ident(login))

	_, err := b.c.IssueGrant(t.Context(), tg)
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, "not created by Sesame")
	err = b.c.Revoke(t.Context(), tg)
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.True(t, b.isMember(t, login, b.priv, true), "a foreign role was changed")
	require.Empty(t, query[string](t, b.testBundle, "SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1", login))
}

func TestEphemeralGrantAndErrors(t *testing.T) {
	t.Parallel()
	b := ephemeralFixture(t, false, nil)
	tg := b.target("grt_plain_grant", time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	// Grant works without handing out the password.
	require.NoError(t, b.c.Grant(t.Context(), tg))
	require.True(t, b.isMember(t, b.c.AccountFor(tg), b.priv, true))
	require.NoError(t, b.c.Revoke(t.Context(), tg))
	require.False(t, b.isMember(t, b.c.AccountFor(tg), b.priv, true))

	// Two grants of one person get two logins.
	other := b.target("grt_plain_grant_2", tg.ExpiresAt)
	require.NotEqual(t, b.c.AccountFor(tg), b.c.AccountFor(other))

	missing := tg
	missing.EntitlementKey = b.prefix + "_ghost"
	_, err := b.c.IssueGrant(t.Context(), missing)
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.ErrorContains(t, err, b.prefix+"_ghost")

	noGrant := tg
	noGrant.GrantID = ""
	_, err = b.c.IssueGrant(t.Context(), noGrant)
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.Empty(t, b.c.AccountFor(noGrant))

	long := tg
	long.Email = strings.Repeat("x", 80) + "@example.com"
	require.Len(t, b.c.AccountFor(long), len(b.prefix)+1+32+1+8)
}

func TestEphemeralExtendMovesValidUntilKeepsPassword(t *testing.T) {
	t.Parallel()
	b := ephemeralFixture(t, false, nil)
	first := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	tg := b.target("grt_extend", first)

	// A login that does not exist cannot be extended, and is not created.
	_, err := b.c.ExtendGrant(t.Context(), tg)
	require.Error(t, err)
	require.True(t, connector.IsPermanent(err), "%v", err)
	require.Contains(t, err.Error(), "does not exist")

	creds, err := b.c.IssueGrant(t.Context(), tg)
	require.NoError(t, err)
	validUntil := func() string {
		return query[string](t, b.testBundle, `SELECT to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
			FROM pg_roles WHERE rolname = $1`, creds.Username)
	}
	require.Equal(t, "2031-02-03T04:05:06Z", validUntil())

	tg.ExpiresAt = first.Add(90 * time.Minute)
	for range 2 { // idempotent
		more, err := b.c.ExtendGrant(t.Context(), tg)
		require.NoError(t, err)
		require.Nil(t, more, "a password login keeps its password: nothing new to hand over")
		require.Equal(t, "2031-02-03T05:35:06Z", validUntil())
	}
	requireVerifierOf(t, b.testBundle, creds.Username, creds.Secret)
	require.Contains(t, query[string](t, b.testBundle, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", creds.Username),
		"valid until 2031-02-03T05:35:06Z")
	require.NoError(t, b.c.Revoke(t.Context(), tg))
}
