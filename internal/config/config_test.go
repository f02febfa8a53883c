package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// env returns a getenv reading from m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// problemLines parses doc and returns its problems as printed, failing the
// test when it parses cleanly.
func problemLines(t *testing.T, o LoadOptions, doc string, vars map[string]string) []string {
	t.Helper()
	c, err := o.Parse("t.yaml", []byte(doc), env(vars))
	require.Error(t, err)
	require.Nil(t, c)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	lines := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		lines[i] = p.String()
	}
	return lines
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()

	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", c.Server.Addr)
	require.Equal(t, "http://127.0.0.1:8080", c.Server.BaseURL)
	require.Equal(t, "./sesame-data", c.DataDir)
	require.Equal(t, "sqlite://./sesame-data/sesame.db", c.Database)
	require.Equal(t, "sqlite", c.DatabaseDialect())
	require.Equal(t, "./sesame-data/sesame.db", c.SQLitePath())
	require.Equal(t, Log{Level: "info", Format: "auto"}, c.Log)
	require.Equal(t, "socket", c.Slack.Mode)
	require.Equal(t, "/access", c.Slack.Command)
	require.Equal(t, "https://slack.com/api/", c.Slack.APIURL)
	require.False(t, c.Slack.Enabled())
	require.Equal(t, 12*time.Hour, c.Org.MaxDuration)
	require.True(t, c.Demo)
	require.Empty(t, c.File)
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()

	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	require.ErrorIs(t, err, fs.ErrNotExist)
	var ve *ValidationError
	require.NotErrorAs(t, err, &ve)
}

const goodConfig = `server:
  addr: "0.0.0.0:9090"
data_dir: /var/lib/sesame
database: postgres://sesame:pw@db.internal:5432/sesame?sslmode=disable
log: {level: debug, format: json}
slack:
  mode: http
  bot_token: xoxb-1
  signing_secret: shh
  api_url: http://127.0.0.1:9999/api
  command: /jit
org: {max_duration: 1w}
catalog:
  apps:
    - id: pg
      name: Postgres
      connector: {type: fake, settings: {delay: 1s, password: hunter22}}
      owners: [Bob@Example.com]
      aliases: [db]
      watchlist: true
      entitlements:
        - key: ro
          max_duration: 1d
          tags: [prod]
        - key: rw
          name: Read-write
          requestable: false
          risk: high
          owners: [alice@example.com]
users:
  - {email: alice@example.com, name: Alice, manager: bob@example.com, groups: [eng], roles: [admin], slack_user_id: U123}
  - {email: BOB@example.com, name: Bob}
policies:
  - id: default
    default: true
    steps: [{name: Owners, approvers: {app_owners: true}, required: 1, requester_chooses: true}]
    max_duration: 8h
    pending_timeout: 1d
    reminders: {after: 30m, every: 2h, max: 2}
    reason: {required: true, min_length: 5}
  - id: risky
    match: {risk: [high], apps: [pg], entitlements: ["pg:rw"], groups: [eng]}
    steps:
      - {name: Manager, approvers: {manager: true}}
      - {name: Named, approvers: {users: [bob@example.com], groups: [eng], entitlement_owners: true}, all: true}
`

func TestParseGoodConfig(t *testing.T) {
	t.Parallel()

	c, err := Parse("good.yaml", []byte(goodConfig), nil)
	require.NoError(t, err)
	require.Equal(t, "good.yaml", c.File)
	require.False(t, c.Demo)
	require.Equal(t, Server{Addr: "0.0.0.0:9090", BaseURL: "http://localhost:9090"}, c.Server)
	require.Equal(t, "postgres", c.DatabaseDialect())
	require.Empty(t, c.SQLitePath())
	require.Equal(t, "http://127.0.0.1:9999/api/", c.Slack.APIURL)
	require.Equal(t, 7*24*time.Hour, c.Org.MaxDuration)
	require.Equal(t, []App{{
		ID: "pg", Name: "Postgres",
		Connector: Connector{Type: "fake", Settings: map[string]string{"delay": "1s", "password": "hunter22"}},
		Owners:    []string{"bob@example.com"}, Aliases: []string{"db"}, Watchlist: true,
		Entitlements: []Entitlement{
			{Key: "ro", Name: "ro", MaxDuration: 24 * time.Hour, Requestable: true, Risk: access.RiskLow, Tags: []string{"prod"}},
			{Key: "rw", Name: "Read-write", Requestable: false, Risk: access.RiskHigh, Owners: []string{"alice@example.com"}},
		},
	}}, c.Catalog.Apps)
	require.Equal(t, []User{
		{Email: "alice@example.com", Name: "Alice", Manager: "bob@example.com", Groups: []string{"eng"},
			Roles: []access.Role{access.RoleAdmin}, SlackUserID: "U123"},
		{Email: "bob@example.com", Name: "Bob"},
	}, c.Users)
	require.Equal(t, []policy.Policy{
		{
			ID: "default", Default: true,
			Steps:       []policy.StepRule{{Name: "Owners", Approvers: policy.ApproverRule{AppOwners: true}, Required: 1, RequesterChooses: true}},
			MaxDuration: 8 * time.Hour, PendingTimeout: 24 * time.Hour,
			Reminders: policy.Reminders{After: 30 * time.Minute, Every: 2 * time.Hour, Max: 2},
			Reason:    policy.ReasonRule{Required: true, MinLength: 5},
		},
		{
			ID:    "risky",
			Match: policy.Match{Apps: []string{"pg"}, Entitlements: []string{"pg:rw"}, Risk: []access.Risk{access.RiskHigh}, Groups: []string{"eng"}},
			Steps: []policy.StepRule{
				{Name: "Manager", Approvers: policy.ApproverRule{Manager: true}},
				{Name: "Named", Approvers: policy.ApproverRule{Users: []string{"bob@example.com"}, Groups: []string{"eng"}, EntitlementOwners: true}, All: true},
			},
		},
	}, c.Policies)
	_, err = policy.New(c.Policies, c.Org.MaxDuration)
	require.NoError(t, err)
}

// TestRoundTrip prints a configuration and loads the output again.
func TestRoundTrip(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"good", "demo", "example", "policies"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var c *Config
			var err error
			switch name {
			case "good":
				// Without secrets: printed output hides them.
				c, err = Parse("good.yaml", []byte(goodConfig), nil)
				require.NoError(t, err)
				c.Slack = Slack{Mode: "socket", APIURL: c.Slack.APIURL, Command: c.Slack.Command}
				c.Database = "postgres://db.internal/sesame"
				c.Catalog.Apps[0].Connector.Settings = map[string]string{"delay": "1s"}
			case "demo":
				c, err = Load("", nil)
			case "example":
				c, err = Load("../../examples/sesame.yaml", nil)
			case "policies":
				c, err = Load("../../examples/policies.yaml", nil)
			}
			require.NoError(t, err)
			again, err := Parse("printed.yaml", []byte(c.String()), nil)
			require.NoError(t, err, c.String())
			again.File, again.Demo = c.File, c.Demo
			require.Equal(t, c, again)
		})
	}
}

func TestExampleFile(t *testing.T) {
	t.Parallel()

	c, err := LoadOptions{ConnectorTypes: []string{"fake", "manual"}}.Load("../../examples/sesame.yaml", nil)
	require.NoError(t, err)
	require.False(t, c.Demo)
	require.Equal(t, "https://sesame.example.com", c.Server.BaseURL)
	require.Equal(t, "/etc/sesame/key", c.Secrets.KeyFile)
	require.Equal(t, "#security", c.Slack.AlertsChannel)
	require.Len(t, c.Catalog.Apps, 2)
	require.Len(t, c.Policies, 3)
	_, err = policy.New(c.Policies, c.Org.MaxDuration)
	require.NoError(t, err)
}

func TestEnvOverrides(t *testing.T) {
	t.Parallel()

	vars := map[string]string{
		"SESAME_SERVER_ADDR":          ":7000",
		"SESAME_DATA_DIR":             "/data/",
		"SESAME_LOG_LEVEL":            "warn",
		"SESAME_LOG_FORMAT":           "text",
		"SESAME_SECRETS_KEY_FILE":     "/run/key",
		"SESAME_SLACK_MODE":           "http",
		"SESAME_SLACK_BOT_TOKEN":      "xoxb-env",
		"SESAME_SLACK_SIGNING_SECRET": "env-secret",
		"SESAME_SLACK_APP_TOKEN":      "xapp-env",
		"SESAME_SLACK_API_URL":        "http://fake.test/api/",
		"SESAME_SLACK_COMMAND":        "/sesame",
		"SESAME_SLACK_ALERTS_CHANNEL": "C123",
		"SESAME_ORG_MAX_DURATION":     "2d",
	}
	// The file sets some of the same keys; the environment wins.
	c, err := Parse("f.yaml", []byte("log: {level: error}\nslack: {command: /file}\n"), env(vars))
	require.NoError(t, err)
	require.Equal(t, Server{Addr: ":7000", BaseURL: "http://localhost:7000"}, c.Server)
	require.Equal(t, "/data/", c.DataDir)
	require.Equal(t, "sqlite:///data/sesame.db", c.Database)
	require.Equal(t, Log{Level: "warn", Format: "text"}, c.Log)
	require.Equal(t, "/run/key", c.Secrets.KeyFile)
	require.Equal(t, Slack{Mode: "http", BotToken: "xoxb-env", AppToken: "xapp-env", SigningSecret: "env-secret",
		APIURL: "http://fake.test/api/", Command: "/sesame", AlertsChannel: "C123"}, c.Slack)
	require.Equal(t, 48*time.Hour, c.Org.MaxDuration)

	t.Run("database and base url", func(t *testing.T) {
		t.Parallel()
		c, err := Parse("", nil, env(map[string]string{
			"SESAME_DATABASE":        "postgresql://u@h/db",
			"SESAME_SERVER_BASE_URL": "https://x.example.com/",
		}))
		require.NoError(t, err)
		require.Equal(t, "postgresql://u@h/db", c.Database)
		require.Equal(t, "https://x.example.com", c.Server.BaseURL)
	})

	t.Run("bad values name the variable", func(t *testing.T) {
		t.Parallel()
		lines := problemLines(t, LoadOptions{}, "", map[string]string{
			"SESAME_ORG_MAX_DURATION": "soon",
			"SESAME_LOG_LEVEL":        "loud",
		})
		require.Equal(t, []string{
			`$SESAME_LOG_LEVEL: log.level: "loud" is not debug, info, warn or error`,
			`$SESAME_ORG_MAX_DURATION: org.max_duration: duration "soon": expected a number at "soon" (examples: 30m, 2h, 1d, 1w)`,
		}, lines)
	})

	t.Run("list concurrency and alerts", func(t *testing.T) {
		t.Parallel()
		// The file enables one alert type on a channel; the environment
		// turns it off, moves another to a channel and sets the rest.
		c, err := Parse("f.yaml", []byte("server: {list_concurrency: 3}\nalerts: {watchlist_signup: {enabled: true, channel: \"#sec\"}}\n"),
			env(map[string]string{
				"SESAME_SERVER_LIST_CONCURRENCY":                 "6",
				"SESAME_ALERTS_DISCOVERY_INTERVAL":               "30m",
				"SESAME_ALERTS_WATCHLIST_SIGNUP_ENABLED":         "false",
				"SESAME_ALERTS_NEW_APP_DISCOVERED_CHANNEL":       "#apps",
				"SESAME_ALERTS_OFFBOARDED_WITH_ACCOUNTS_ENABLED": "true",
			}))
		require.NoError(t, err)
		require.Equal(t, 6, c.Server.ListConcurrency)
		require.Equal(t, 30*time.Minute, c.Alerts.DiscoveryInterval)
		require.Equal(t, map[string]AlertTypeSetting{
			"watchlist_signup":         {Enabled: false, Channel: "#sec"},
			"new_app_discovered":       {Enabled: true, Channel: "#apps"},
			"offboarded_with_accounts": {Enabled: true},
		}, c.Alerts.Types)

		c, err = Parse("f.yaml", []byte("server: {list_concurrency: 3}\n"), nil)
		require.NoError(t, err)
		require.Equal(t, 3, c.Server.ListConcurrency, "the file alone")
		require.Equal(t, time.Hour, c.Alerts.DiscoveryInterval)
	})

	t.Run("bad list concurrency and alerts values name the variable", func(t *testing.T) {
		t.Parallel()
		lines := problemLines(t, LoadOptions{}, "", map[string]string{
			"SESAME_SERVER_LIST_CONCURRENCY":           "many",
			"SESAME_ALERTS_WATCHLIST_SIGNUP_ENABLED":   "maybe",
			"SESAME_ALERTS_NEW_APP_DISCOVERED_CHANNEL": "general",
			"SESAME_ALERTS_DISCOVERY_INTERVAL":         "1m",
		})
		require.Equal(t, []string{
			`$SESAME_ALERTS_DISCOVERY_INTERVAL: alerts.discovery_interval: must be between 5m and 1w`,
			`$SESAME_ALERTS_NEW_APP_DISCOVERED_CHANNEL: alerts.new_app_discovered.channel: must be a Slack channel ID (C0123ABCD) or #name, or empty for slack.alerts_channel`,
			`$SESAME_ALERTS_WATCHLIST_SIGNUP_ENABLED: alerts.watchlist_signup.enabled: must be true or false, not "maybe"`,
			`$SESAME_SERVER_LIST_CONCURRENCY: server.list_concurrency: must be a whole number, not "many"`,
		}, lines)
		lines = problemLines(t, LoadOptions{}, "", map[string]string{"SESAME_SERVER_LIST_CONCURRENCY": "-1"})
		require.Equal(t, []string{
			`$SESAME_SERVER_LIST_CONCURRENCY: server.list_concurrency: must be 0 (the default for the database) to 4096, not -1`,
		}, lines)
	})

	t.Run("every variable is listed and documented", func(t *testing.T) {
		t.Parallel()
		src, err := os.ReadFile("env.go")
		require.NoError(t, err)
		names := map[string]bool{}
		for _, v := range EnvVars() {
			require.Equal(t, envName(v.Key), v.Name)
			require.Contains(t, string(src), "//\t"+v.Name+" ", "EnvVars' doc comment lists %s", v.Name)
			require.NotEmpty(t, v.Description)
			names[v.Name] = true
		}
		for _, want := range []string{"SESAME_SERVER_ADDR", "SESAME_DATABASE", "SESAME_DATA_DIR", "SESAME_LOG_LEVEL",
			"SESAME_SLACK_BOT_TOKEN", "SESAME_SLACK_SIGNING_SECRET", "SESAME_SLACK_APP_TOKEN", "SESAME_SLACK_API_URL",
			"SESAME_SLACK_MODE", "SESAME_SLACK_COMMAND", "SESAME_ORG_MAX_DURATION"} {
			require.True(t, names[want], want)
		}
	})
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	t.Parallel()

	doc := `x-steps: &owners
  - {name: Owners, approvers: {app_owners: true}}
catalog:
  apps:
    - &app
      id: one
      connector: {type: fake}
      entitlements: [{key: read}]
    - <<: *app
      id: two
policies:
  - {id: default, default: true, steps: *owners}
`
	// x- keys are not special: unknown keys stay errors.
	_, err := Parse("a.yaml", []byte(doc), nil)
	require.EqualError(t, err, `a.yaml:1: x-steps: unknown key (known keys: alerts, catalog, data_dir, database, integrations, log, oncall, org, policies, secrets, server, slack, users, web)`)

	doc = strings.Replace(doc, "x-steps: &owners\n  - {name: Owners, approvers: {app_owners: true}}\n", "", 1)
	doc = strings.Replace(doc, "steps: *owners", "steps: &owners [{name: Owners, approvers: {app_owners: true}}]}\n  - {id: other, match: {apps: [two]}, steps: *owners", 1)
	c, err := Parse("a.yaml", []byte(doc), nil)
	require.NoError(t, err)
	require.Len(t, c.Catalog.Apps, 2)
	require.Equal(t, "two", c.Catalog.Apps[1].ID)
	require.Equal(t, c.Catalog.Apps[0].Entitlements, c.Catalog.Apps[1].Entitlements)
	require.Equal(t, c.Policies[0].Steps, c.Policies[1].Steps)
}

// TestExampleUsesEveryKey checks that the examples show every key of the
// file's layout: examples/sesame.yaml all but the advanced policy keys,
// examples/policies.yaml those.
func TestExampleUsesEveryKey(t *testing.T) {
	t.Parallel()

	written := map[string]bool{}
	item := regexp.MustCompile(`\[\d+\]`)
	for _, file := range []string{"../../examples/sesame.yaml", "../../examples/policies.yaml"} {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		r := newReport("example")
		d := &decoder{r: r, file: "example"}
		d.config(parseYAML(r, "example", data), &Config{})
		require.Empty(t, r.problems)
		for p := range r.index {
			written[item.ReplaceAllString(p, "[]")] = true
		}
	}
	paths := yamlPaths(t, reflect.TypeFor[printed]())
	require.Greater(t, len(paths), 50)
	for _, p := range paths {
		require.True(t, written[p], "neither examples/sesame.yaml nor examples/policies.yaml sets %s", p)
	}
}
