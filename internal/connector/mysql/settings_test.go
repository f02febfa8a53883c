package mysql

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
)

const testDSN = "admin:hunter2@tcp(db.internal:3307)/app"

func TestParseSettingsDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := parseSettings(map[string]string{"dsn": testDSN})
	require.NoError(t, err)
	require.Equal(t, ModeRole, cfg.mode)
	require.Equal(t, DefaultLoginTemplate, cfg.loginTemplate)
	require.Equal(t, DefaultLoginPrefix, cfg.loginPrefix)
	require.Equal(t, DefaultHost, cfg.host)
	require.Equal(t, "db.internal", cfg.hostHint)
	require.Equal(t, "3307", cfg.port)
	require.Equal(t, "app", cfg.dbName)
	require.True(t, cfg.terminateSessions)

	_, err = parseSettings(map[string]string{"dsn": "admin@tcp(db:3306)/", "password": "s3cret"})
	require.NoError(t, err)

	cfg, err = parseSettings(map[string]string{
		"dsn": testDSN, "mode": "ephemeral", "host": "10.0.0.0/255.0.0.0", "login_prefix": "jit_",
		"roles": "a, b,a", "host_hint": "db.example.com", "terminate_sessions": "false",
	})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, cfg.roles)
	require.Equal(t, "db.example.com", cfg.hostHint)
	require.False(t, cfg.terminateSessions)
}

func TestParseSettingsErrorsNameTheSettingNotThePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"dsn": "admin:hunter2@tcp(db:3306"}, "dsn"},
		{map[string]string{"dsn": "admin:hunter2@tcp(db:3306)/app?tls=nosuch"}, "dsn"},
		{map[string]string{"dsn": testDSN, "mode": "both"}, "mode"},
		{map[string]string{"dsn": testDSN, "host": ""}, ""},
		{map[string]string{"dsn": testDSN, "host": "a b"}, "host"},
		{map[string]string{"dsn": testDSN, "roles": "none"}, "roles"},
		{map[string]string{"dsn": testDSN, "roles": strings.Repeat("r", 33)}, "roles"},
		{map[string]string{"dsn": testDSN, "login_prefix": strings.Repeat("p", 17)}, "login_prefix"},
		{map[string]string{"dsn": testDSN, "login_template": "{local}}"}, "login_template"},
		{map[string]string{"dsn": testDSN, "DSN": testDSN}, "DSN"},
	} {
		_, err := parseSettings(tc.settings)
		if tc.want == "" { // empty means the default
			require.NoError(t, err)
			continue
		}
		require.Error(t, err, tc.settings)
		require.Contains(t, err.Error(), tc.want)
		require.NotContains(t, err.Error(), "hunter2")
	}
}

func TestLogins(t *testing.T) {
	t.Parallel()
	role := &Connector{cfg: mustParse(t, map[string]string{"dsn": testDSN})}
	eph := &Connector{cfg: mustParse(t, map[string]string{"dsn": testDSN, "mode": "ephemeral"})}
	tg := connector.Target{GrantID: "grt_42", Email: "Jean-Luc.Picard+ops@Example.com"}

	require.Equal(t, "jean_luc_picard_ops", role.AccountFor(tg))
	got := eph.AccountFor(tg)
	require.Regexp(t, `^sesame_jean_luc_picard__[0-9a-f]{8}$`, got)
	require.Len(t, got, 32)
	require.Equal(t, got, eph.AccountFor(tg), "the login must be the same for every call")
	other := tg
	other.GrantID = "grt_43"
	require.NotEqual(t, got, eph.AccountFor(other))

	// Names that could break out of a literal are refused.
	email := &Connector{cfg: mustParse(t, map[string]string{"dsn": testDSN, "login_template": "{email}"})}
	for _, bad := range []string{"o'brien@example.com", `back\slash@example.com`, "sp ace@example.com"} {
		_, err := email.login(connector.Target{Email: bad})
		require.Error(t, err, bad)
		require.True(t, connector.IsPermanent(err))
	}
	require.Equal(t, "ok.name@example.com", email.AccountFor(connector.Target{Email: "OK.Name@example.com"}))
	for _, bad := range []string{"", "x`y", "a-b", "NONE", "public"} {
		_, err := role.role(connector.Target{EntitlementKey: bad})
		require.Error(t, err, bad)
		require.True(t, connector.IsPermanent(err))
	}
}

func TestQuoting(t *testing.T) {
	t.Parallel()
	require.Equal(t, `'a''b\\c'@'%'`, account(`a'b\c`, "%"))
	require.Equal(t, "`a``b`", quoteIdent("a`b"))
}

func TestRandomPasswordAndHash(t *testing.T) {
	t.Parallel()
	p, err := randomPassword()
	require.NoError(t, err)
	require.Regexp(t, `^[A-Za-z0-9]{32}$`, p)
	// MariaDB: SELECT PASSWORD('secret')
	require.Equal(t, "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7", nativeHash("secret"))
}

func FuzzLogin(f *testing.F) {
	for _, s := range []string{"alice@example.com", "Ünïcödé@x", "a'b\"c@x", `\@x`, "@", ""} {
		f.Add(s, "grt_1")
	}
	role := &Connector{cfg: mustParse(f, map[string]string{"dsn": testDSN, "login_template": "{email}"})}
	eph := &Connector{cfg: mustParse(f, map[string]string{"dsn": testDSN, "mode": "ephemeral"})}
	safe := regexp.MustCompile(`^[A-Za-z0-9_.@+-]+$`)
	f.Fuzz(func(t *testing.T, email, grant string) {
		if login, err := role.login(connector.Target{Email: email}); err == nil {
			require.Regexp(t, safe, login)
		}
		if login, err := eph.login(connector.Target{Email: email, GrantID: grant}); err == nil {
			require.Regexp(t, `^sesame_[a-z0-9_]{1,16}_[0-9a-f]{8}$`, login)
		}
	})
}

func mustParse(t testing.TB, settings map[string]string) *config {
	t.Helper()
	cfg, err := parseSettings(settings)
	require.NoError(t, err)
	return cfg
}
