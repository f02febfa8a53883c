package postgresql

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
)

const testURL = "postgres://admin:hunter2@db.internal:6432/app?sslmode=disable"

func TestParseSettingsDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := parseSettings(map[string]string{"url": testURL})
	require.NoError(t, err)
	require.Equal(t, ModeRole, cfg.mode)
	require.Equal(t, DefaultLoginTemplate, cfg.loginTemplate)
	require.Equal(t, DefaultLoginPrefix, cfg.loginPrefix)
	require.Equal(t, DefaultEphemeralTemplate, cfg.ephemeralTemplate)
	require.Equal(t, -1, cfg.connLimit)
	require.Equal(t, "db.internal", cfg.hostHint)
	require.True(t, cfg.terminateSessions)
	require.Equal(t, "sesame", cfg.conn.RuntimeParams["application_name"])
	require.Equal(t, "hunter2", cfg.conn.Password)

	cfg, err = parseSettings(map[string]string{"url": "postgres://admin@db/app", "password": "s3cret"})
	require.NoError(t, err)
	require.Equal(t, "s3cret", cfg.conn.Password)

	cfg, err = parseSettings(map[string]string{
		"url": testURL, "mode": "ephemeral", "login_prefix": "", "roles": " a, b ,a",
		"connection_limit": "2", "reassign_owned_to": "Owner Role", "host_hint": "db.example.com",
		"terminate_sessions": "false", "ephemeral_role_template": "jit_{local}_{grant}",
	})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, cfg.roles)
	require.Empty(t, cfg.loginPrefix)
	require.Equal(t, 2, cfg.connLimit)
	require.False(t, cfg.terminateSessions)
}

func TestParseSettingsErrorsNameTheSettingNotThePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"url": "postgres://admin:hunter2@[::1"}, "url"},
		{map[string]string{"url": "postgres://admin:hunter2@db/app?sslmode=maybe"}, "url"},
		{map[string]string{"url": testURL, "mode": "both"}, "mode"},
		{map[string]string{"url": testURL, "login_template": "{local"}, "login_template"},
		{map[string]string{"url": testURL, "login_template": ""}, ""},
		{map[string]string{"url": testURL, "connection_limit": "0"}, "connection_limit"},
		{map[string]string{"url": testURL, "reassign_owned_to": strings.Repeat("r", 64)}, "reassign_owned_to"},
		{map[string]string{"url": testURL, "ephemeral_role_template": "{prefix}{local}"}, "ephemeral_role_template"},
		{map[string]string{"url": testURL, "Mode": "role"}, "Mode"},
	} {
		_, err := parseSettings(tc.settings)
		if tc.want == "" { // an empty template means the default
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
	role := &Connector{cfg: mustParse(t, map[string]string{"url": testURL})}
	email := &Connector{cfg: mustParse(t, map[string]string{"url": testURL, "login_template": "db_{local}"})}
	eph := &Connector{cfg: mustParse(t, map[string]string{"url": testURL, "mode": "ephemeral"})}
	tg := connector.Target{GrantID: "grt_42", Email: "Jean-Luc.Picard+ops@Example.com"}

	require.Equal(t, "jean_luc_picard_ops", role.AccountFor(tg))
	require.Equal(t, "db_jean_luc_picard_ops", email.AccountFor(tg))
	got := eph.AccountFor(tg)
	require.Regexp(t, `^sesame_jean_luc_picard_ops_[0-9a-f]{8}$`, got)
	require.Equal(t, got, eph.AccountFor(tg), "the login must be the same for every call")
	other := tg
	other.GrantID = "grt_43"
	require.NotEqual(t, got, eph.AccountFor(other))

	for _, bad := range []string{"", "@example.com", "...@example.com"} {
		_, err := role.login(connector.Target{Email: bad})
		require.Error(t, err, bad)
		require.True(t, connector.IsPermanent(err))
	}
	_, err := role.role(connector.Target{EntitlementKey: ""})
	require.True(t, connector.IsPermanent(err))
}

func TestQuoteLiteral(t *testing.T) {
	t.Parallel()
	require.Equal(t, "'plain'", quoteLiteral("plain"))
	require.Equal(t, "'it''s'", quoteLiteral("it's"))
	require.Equal(t, ` E'a\\b''c'`, quoteLiteral(`a\b'c`))
}

func TestRandomPassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		p, err := randomPassword()
		require.NoError(t, err)
		require.Regexp(t, `^[A-Za-z0-9]{32}$`, p)
		require.False(t, seen[p])
		seen[p] = true
	}
}

func FuzzLogin(f *testing.F) {
	for _, s := range []string{"alice@example.com", "Ünïcödé@x", "a'b\"c@x", `\@x`, "@", ""} {
		f.Add(s, "grt_1")
	}
	role := &Connector{cfg: mustParse(f, map[string]string{"url": testURL, "login_template": "{email}"})}
	eph := &Connector{cfg: mustParse(f, map[string]string{"url": testURL, "mode": "ephemeral"})}
	ephRE := regexp.MustCompile(`^sesame_[a-z0-9_]{1,32}_[0-9a-f]{8}$`)
	f.Fuzz(func(t *testing.T, email, grant string) {
		if login, err := role.login(connector.Target{Email: email}); err == nil {
			require.True(t, utf8.ValidString(login))
			require.LessOrEqual(t, len(login), maxIdentifier)
			require.NotContains(t, login, "\x00")
		}
		if login, err := eph.login(connector.Target{Email: email, GrantID: grant}); err == nil {
			require.Regexp(t, ephRE, login)
		}
	})
}

func mustParse(t testing.TB, settings map[string]string) *config {
	t.Helper()
	cfg, err := parseSettings(settings)
	require.NoError(t, err)
	return cfg
}
