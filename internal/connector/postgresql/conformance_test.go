package postgresql_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/postgresql"
)

// badSettings are shared by both modes; url is filled in by the caller.
func badSettings(url string) []connectortest.BadSettings {
	return []connectortest.BadSettings{
		{Name: "missing url", Settings: map[string]string{}, WantInError: "url"},
		{Name: "unparsable url", Settings: map[string]string{"url": "postgres://u:secret@[::1"}, WantInError: "url"},
		{Name: "unknown key", Settings: map[string]string{"url": url, "colour": "red"}, WantInError: "colour"},
		{Name: "bad mode", Settings: map[string]string{"url": url, "mode": "magic"}, WantInError: "mode"},
		{Name: "bad connection_limit", Settings: map[string]string{"url": url, "connection_limit": "lots"}, WantInError: "connection_limit"},
		{Name: "unknown placeholder", Settings: map[string]string{"url": url, "login_template": "{name}"}, WantInError: "login_template"},
		{Name: "ephemeral template without grant", Settings: map[string]string{"url": url, "ephemeral_role_template": "x_{local}"}, WantInError: "ephemeral_role_template"},
		{Name: "bad login_prefix", Settings: map[string]string{"url": url, "login_prefix": "Robert'); --"}, WantInError: "login_prefix"},
		{Name: "bad terminate_sessions", Settings: map[string]string{"url": url, "terminate_sessions": "maybe"}, WantInError: "terminate_sessions"},
		{Name: "bad roles", Settings: map[string]string{"url": url, "roles": "a,,b"}, WantInError: "roles"},
	}
}

func TestConformanceRoleMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	priv := b.prefix + "_priv"
	b.exec(t, "",
		"CREATE ROLE "+ident(priv)+" NOLOGIN",
		"CREATE ROLE "+ident(b.prefix+"_u0")+" LOGIN",
		"CREATE ROLE "+ident(b.prefix+"_u1")+" LOGIN",
		"CREATE ROLE "+ident(b.prefix+"_weak")+" LOGIN",
	)
	connectortest.Run(t, connectortest.Harness{
		Factory:  postgresql.New,
		Settings: map[string]string{"url": b.url},
		Target: func(_ *testing.T, i int) connector.Target {
			return connector.Target{
				GrantID: fmt.Sprintf("grt_%s_%d", b.prefix, i), AppID: "pg",
				Email:          fmt.Sprintf("%s_u%d@example.com", b.prefix, i),
				EntitlementKey: priv, ExpiresAt: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC),
			}
		},
		Has: func(t *testing.T, tg connector.Target) bool {
			login := tg.Email[:len(tg.Email)-len("@example.com")]
			return b.isMember(t, login, priv, true)
		},
		BadSettings:       badSettings(b.url),
		DownSettings:      map[string]string{"url": "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"},
		ForbiddenSettings: map[string]string{"url": b.urlAs(t, b.prefix+"_weak")},
	})
}

func TestConformanceEphemeralMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	priv := b.prefix + "_priv"
	b.exec(t, "",
		"CREATE ROLE "+ident(priv)+" NOLOGIN",
		"CREATE ROLE "+ident(b.prefix+"_weak")+" LOGIN",
	)
	settings := func(url string) map[string]string {
		return map[string]string{"url": url, "mode": "ephemeral", "login_prefix": b.prefix + "_"}
	}
	connectortest.Run(t, connectortest.Harness{
		Factory:  postgresql.New,
		Settings: settings(b.url),
		Target: func(_ *testing.T, i int) connector.Target {
			return connector.Target{
				GrantID: fmt.Sprintf("grt_%s_%d", b.prefix, i), AppID: "pg",
				Email:          fmt.Sprintf("Alice.%d@example.com", i),
				EntitlementKey: priv, ExpiresAt: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC),
			}
		},
		// The login ends with a suffix derived from the grant id; the test
		// matches the rest of the name, which the email decides
		// ("Alice.0@..." gives "alice_0").
		Has: func(t *testing.T, tg connector.Target) bool {
			local := strings.ToLower(strings.ReplaceAll(strings.Split(tg.Email, "@")[0], ".", "_"))
			return b.isMember(t, b.prefix+"_"+local+"_", priv, false)
		},
		BadSettings:       badSettings(b.url),
		DownSettings:      settings("postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"),
		ForbiddenSettings: settings(b.urlAs(t, b.prefix+"_weak")),
	})
}
