package mysql_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/mysql"
)

const downDSN = "root@tcp(127.0.0.1:1)/test?timeout=5s"

// badSettings are shared by both modes.
func badSettings(dsn string) []connectortest.BadSettings {
	return []connectortest.BadSettings{
		{Name: "missing dsn", Settings: map[string]string{}, WantInError: "dsn"},
		{Name: "unparsable dsn", Settings: map[string]string{"dsn": "root:secret@tcp(127.0.0.1:3306"}, WantInError: "dsn"},
		{Name: "unknown key", Settings: map[string]string{"dsn": dsn, "colour": "red"}, WantInError: "colour"},
		{Name: "bad mode", Settings: map[string]string{"dsn": dsn, "mode": "magic"}, WantInError: "mode"},
		{Name: "bad host", Settings: map[string]string{"dsn": dsn, "host": "x' OR 1=1"}, WantInError: "host"},
		{Name: "bad login_prefix", Settings: map[string]string{"dsn": dsn, "login_prefix": "a-b"}, WantInError: "login_prefix"},
		{Name: "empty login_prefix", Settings: map[string]string{"dsn": dsn, "login_prefix": ""}, WantInError: "login_prefix"},
		{Name: "unknown placeholder", Settings: map[string]string{"dsn": dsn, "login_template": "{name}"}, WantInError: "login_template"},
		{Name: "bad roles", Settings: map[string]string{"dsn": dsn, "roles": "ok,`drop`"}, WantInError: "roles"},
		{Name: "bad terminate_sessions", Settings: map[string]string{"dsn": dsn, "terminate_sessions": "maybe"}, WantInError: "terminate_sessions"},
	}
}

func TestConformanceRoleMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	role := b.prefix + "_r"
	b.exec(t, "CREATE ROLE `"+role+"`", "GRANT SELECT ON "+b.table+" TO `"+role+"`")
	b.person(t, b.prefix+"_u0")
	b.person(t, b.prefix+"_u1")
	b.person(t, b.prefix+"_weak")
	connectortest.Run(t, connectortest.Harness{
		Factory:  mysql.New,
		Settings: map[string]string{"dsn": b.dsn},
		Target: func(_ *testing.T, i int) connector.Target {
			return connector.Target{
				GrantID: fmt.Sprintf("grt_%s_%d", b.prefix, i), AppID: "db",
				Email: fmt.Sprintf("%s_u%d@example.com", b.prefix, i), EntitlementKey: role,
				ExpiresAt: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC),
			}
		},
		Has: func(t *testing.T, tg connector.Target) bool {
			return b.granted(t, strings.TrimSuffix(tg.Email, "@example.com"), role, true)
		},
		BadSettings:       badSettings(b.dsn),
		DownSettings:      map[string]string{"dsn": downDSN},
		ForbiddenSettings: map[string]string{"dsn": b.dsnAs(t, b.prefix+"_weak", personPassword)},
	})
}

func TestConformanceEphemeralMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	role := b.prefix + "_r"
	b.exec(t, "CREATE ROLE `"+role+"`", "GRANT SELECT ON "+b.table+" TO `"+role+"`")
	b.person(t, b.prefix+"_weak")
	settings := func(dsn string) map[string]string {
		return map[string]string{"dsn": dsn, "mode": "ephemeral", "login_prefix": b.prefix + "_"}
	}
	connectortest.Run(t, connectortest.Harness{
		Factory:  mysql.New,
		Settings: settings(b.dsn),
		Target: func(_ *testing.T, i int) connector.Target {
			return connector.Target{
				GrantID: fmt.Sprintf("grt_%s_%d", b.prefix, i), AppID: "db",
				Email: fmt.Sprintf("Alice.%d@example.com", i), EntitlementKey: role,
				ExpiresAt: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC),
			}
		},
		// The login ends with a suffix derived from the grant id; the test
		// matches the rest of the name, which the email decides
		// ("Alice.0@..." gives "alice_0").
		Has: func(t *testing.T, tg connector.Target) bool {
			local := strings.ToLower(strings.ReplaceAll(strings.Split(tg.Email, "@")[0], ".", "_"))
			return b.granted(t, b.prefix+"_"+local+"_", role, false)
		},
		BadSettings:       badSettings(b.dsn),
		DownSettings:      settings(downDSN),
		ForbiddenSettings: settings(b.dsnAs(t, b.prefix+"_weak", personPassword)),
	})
}
