package config

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/policy"
)

// minimal is a valid catalog and policy that cases append to; it is 7
// lines long, so appended text starts on line 8.
const minimal = `catalog:
  apps:
    - id: app
      connector: {type: fake}
      entitlements: [{key: read}]
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`

func TestProblems(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		doc  string
		env  map[string]string
		opts LoadOptions
		want []string
	}{
		{
			name: "yaml syntax",
			doc:  "server:\n  addr: [1, 2\nlog: {}\n",
			want: []string{"t.yaml:2: did not find expected ',' or ']'"},
		},
		{
			name: "tab indentation",
			doc:  "server:\n\taddr: x\n",
			want: []string{"t.yaml:2: found character that cannot start any token"},
		},
		{
			name: "two documents",
			doc:  "log: {}\n---\nlog: {}\n",
			want: []string{"t.yaml:2: only one YAML document is allowed (remove the --- separator)"},
		},
		{
			name: "not a mapping",
			doc:  "- a\n- b\n",
			want: []string{"t.yaml:1: must be a mapping, not a list"},
		},
		{
			name: "unknown keys",
			doc:  "server:\n  adr: x\ncolour: red\n" + minimal,
			want: []string{
				`t.yaml:2: server.adr: unknown key (did you mean "addr"?)`,
				`t.yaml:3: colour: unknown key (known keys: alerts, catalog, data_dir, database, integrations, log, oncall, org, policies, secrets, server, slack, users, web)`,
			},
		},
		{
			name: "unknown keys deep down",
			doc: minimal + `users:
  - email: a@example.com
    manger: b@example.com
    groups: [x]
    roles: [admin]
    slackid: U1
`,
			want: []string{
				`t.yaml:10: users[0].manger: unknown key (did you mean "manager"?)`,
				`t.yaml:13: users[0].slackid: unknown key (known keys: email, groups, manager, name, roles, slack_user_id)`,
			},
		},
		{
			name: "mapping merged into itself",
			doc:  "log: &l {<<: *l}\n" + minimal,
			want: []string{"t.yaml:1: log: << merges a mapping into itself"},
		},
		{
			name: "merging a list",
			doc:  "log: {<<: [a]}\n" + minimal,
			want: []string{"t.yaml:1: log: << merges mappings, not a string"},
		},
		{
			name: "aliases expanding without end",
			doc:  minimal + "users: &u [{email: a@example.com, groups: *u}]\n",
			want: []string{"t.yaml:8: users[0].groups[0]: must be a string, not a mapping"},
		},
		{
			name: "key written twice",
			doc:  "log:\n  level: info\n  level: debug\n" + minimal,
			want: []string{"t.yaml:3: log.level: written twice (first at line 2)"},
		},
		{
			name: "bad types",
			doc: `server: [a]
log:
  level: {a: b}
catalog:
  apps:
    - id: app
      connector: {type: fake, settings: {a: [1]}}
      watchlist: "yes"
      owners: owner@example.com
      entitlements: [{key: read, requestable: 1}]
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}, required: two}], reminders: {max: 1.5}}
`,
			want: []string{
				"t.yaml:1: server: must be a mapping, not a list",
				"t.yaml:3: log.level: must be a string, not a mapping",
				"t.yaml:7: catalog.apps[0].connector.settings.a: must be a string, not a list",
				`t.yaml:8: catalog.apps[0].watchlist: must be true or false, not "yes"`,
				"t.yaml:9: catalog.apps[0].owners: must be a list, not a string",
				`t.yaml:10: catalog.apps[0].entitlements[0].requestable: must be true or false, not "1"`,
				`t.yaml:12: policies[0].steps[0].required: must be a whole number, not "two"`,
				`t.yaml:12: policies[0].reminders.max: must be a whole number, not "1.5"`,
			},
		},
		{
			name: "bad durations",
			doc: `org: {max_duration: 3x}
catalog:
  apps:
    - id: app
      connector: {type: fake}
      entitlements:
        - {key: read, max_duration: 0}
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}], pending_timeout: -1h}
`,
			want: []string{
				`t.yaml:1: org.max_duration: duration "3x": unknown unit "x" (use w, d, h, m or s)`,
				`t.yaml:7: catalog.apps[0].entitlements[0].max_duration: duration "0": missing unit after 0 (use w, d, h, m or s)`,
				`t.yaml:9: policies[0].pending_timeout: duration "-1h": expected a number at "-1h" (examples: 30m, 2h, 1d, 1w)`,
			},
		},
		{
			name: "durations above the org maximum",
			doc: `org: {max_duration: 4h}
catalog:
  apps:
    - id: app
      connector: {type: fake}
      entitlements:
        - {key: read, max_duration: 1d}
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}], max_duration: 5h, default_duration: 4h}
`,
			want: []string{
				"t.yaml:7: catalog.apps[0].entitlements[0].max_duration: 1d is longer than org.max_duration (4h); lower it or raise org.max_duration",
				"t.yaml:9: policies[0].max_duration: 5h is longer than org.max_duration (4h); lower it or raise org.max_duration",
			},
		},
		{
			name: "ids, keys and aliases",
			doc: `catalog:
  apps:
    - id: GitHub
      connector: {type: fake}
    - id: app
      aliases: [db, Bad Alias, app2]
      connector: {type: fake}
      entitlements:
        - {key: read}
        - {key: "Admin!"}
        - {key: read}
        - {name: No key}
    - id: app
      connector: {type: fake}
    - id: app2
      aliases: [db]
    - connector: {type: fake}
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`,
			want: []string{
				`t.yaml:3: catalog.apps[0].id: "GitHub" is not a valid id: use lowercase letters, digits and dashes, starting with a letter or digit (at most 63)`,
				`t.yaml:6: catalog.apps[1].aliases[1]: "Bad Alias" is not a valid alias: use lowercase letters, digits and dashes`,
				`t.yaml:6: catalog.apps[1].aliases[2]: "app2" is already the id or an alias of another app (line 15)`,
				`t.yaml:10: catalog.apps[1].entitlements[1].key: "Admin!" is not a valid key: use lowercase letters, digits and _ . : -, starting with a letter or digit (at most 63)`,
				`t.yaml:11: catalog.apps[1].entitlements[2].key: entitlement key "read" is used twice in app "app" (first at line 9)`,
				`t.yaml:12: catalog.apps[1].entitlements[3].key: is required`,
				`t.yaml:13: catalog.apps[2].id: app id "app" is used twice (first at line 5)`,
				`t.yaml:15: catalog.apps[3].connector.type: is required`,
				`t.yaml:16: catalog.apps[3].aliases[0]: "db" is already the id or an alias of another app (line 6)`,
				`t.yaml:17: catalog.apps[4].id: is required`,
			},
		},
		{
			name: "users",
			doc: minimal + `users:
  - {email: alice@example.com, manager: zed@example.com, roles: [admin, boss], slack_user_id: U1}
  - {email: Alice@Example.com}
  - {email: "Bob <bob@example.com>", groups: [""]}
  - {name: Nobody, manager: nobody@example.com}
  - {email: carol@example.com, manager: carol@example.com, slack_user_id: UABC}
  - {email: dave@example.com, slack_user_id: UABC}
`,
			want: []string{
				`t.yaml:9: users[0].manager: "zed@example.com" is not a configured user (add them under users:)`,
				`t.yaml:9: users[0].roles[1]: unknown role "boss" (known: admin, auditor)`,
				`t.yaml:9: users[0].slack_user_id: "U1" is not a Slack user ID (like U012AB3CD)`,
				`t.yaml:10: users[1].email: "alice@example.com" is configured twice (first at line 9)`,
				`t.yaml:11: users[2].email: "bob <bob@example.com>" is not an email address`,
				`t.yaml:11: users[2].groups[0]: must not be empty`,
				`t.yaml:12: users[3].email: is required`,
				`t.yaml:12: users[3].manager: "nobody@example.com" is not a configured user (add them under users:)`,
				`t.yaml:13: users[4].manager: a user cannot be their own manager`,
				`t.yaml:14: users[5].slack_user_id: "UABC" is used twice (first at line 13)`,
			},
		},
		{
			name: "owners must be configured users",
			doc: `catalog:
  apps:
    - id: app
      connector: {type: fake}
      owners: [bob@example.com, bob@example.com, zed@example.com]
      entitlements:
        - {key: read, owners: [amy@example.com]}
users:
  - email: bob@example.com
policies:
  - id: default
    default: true
    steps:
      - approvers: {users: [bob@example.com, zoe@example.com]}
`,
			want: []string{
				`t.yaml:5: catalog.apps[0].owners[1]: "bob@example.com" is listed twice`,
				`t.yaml:5: catalog.apps[0].owners[2]: "zed@example.com" is not a configured user (add them under users:)`,
				`t.yaml:7: catalog.apps[0].entitlements[0].owners[0]: "amy@example.com" is not a configured user (add them under users:)`,
				`t.yaml:14: policies[0].steps[0].approvers.users[1]: "zoe@example.com" is not a configured user (add them under users:)`,
			},
		},
		{
			name: "owners without any configured user",
			doc:  strings.Replace(minimal, "      entitlements", "      owners: [bob@example.com]\n      entitlements", 1),
			want: []string{
				`t.yaml:5: catalog.apps[0].owners[0]: "bob@example.com" is not a configured user: this configuration lists no users; add them under users:`,
			},
		},
		{
			name: "unknown risk",
			doc:  strings.Replace(minimal, "{key: read}", "{key: read, risk: extreme}", 1),
			want: []string{`t.yaml:5: catalog.apps[0].entitlements[0].risk: "extreme" is not low, medium or high`},
		},
		{
			name: "unknown connector type",
			doc:  strings.Replace(minimal, "type: fake", "type: ldap", 1),
			opts: LoadOptions{ConnectorTypes: []string{"manual", "fake"}},
			want: []string{`t.yaml:4: catalog.apps[0].connector.type: unknown connector type "ldap" (known: fake, manual)`},
		},
		{
			name: "settings",
			doc: `server: {addr: localhost, base_url: "ftp://x"}
database: mysql://root:hunter22@db/sesame
log: {level: verbose, format: xml}
secrets: {key_file: "a\nb"}
slack:
  mode: websocket
  command: access
  api_url: slack.com
` + minimal,
			want: []string{
				`t.yaml:1: server.addr: "localhost" is not host:port (examples: 127.0.0.1:8080, :8080)`,
				`t.yaml:1: server.base_url: must be an absolute http:// or https:// URL, like https://sesame.example.com`,
				`t.yaml:2: database: unsupported scheme "mysql": use sqlite:// or postgres://`,
				`t.yaml:3: log.level: "verbose" is not debug, info, warn or error`,
				`t.yaml:3: log.format: "xml" is not auto, text or json`,
				`t.yaml:4: secrets.key_file: must be a file path`,
				`t.yaml:6: slack.mode: "websocket" is not socket or http`,
				`t.yaml:7: slack.command: "access" must start with /`,
				`t.yaml:8: slack.api_url: must be an absolute http:// or https:// URL, like https://slack.com/api/`,
			},
		},
		{
			name: "slack command too long",
			doc:  "slack: {command: /a-very-long-command-name-for-access}\n" + minimal,
			want: []string{`t.yaml:1: slack.command: "/a-very-long-command-name-for-access" is longer than 32 characters`},
		},
		{
			name: "slack tokens",
			doc:  "slack: {bot_token: xoxb-secret-1}\n" + minimal,
			want: []string{`t.yaml:1: slack.app_token: is required in socket mode (or set SESAME_SLACK_APP_TOKEN, or use mode: http)`},
		},
		{
			name: "slack http mode needs the signing secret",
			doc:  "slack: {mode: http}\n" + minimal,
			env:  map[string]string{"SESAME_SLACK_BOT_TOKEN": "xoxb-secret-2"},
			want: []string{`t.yaml:1: slack.signing_secret: is required in http mode (or set SESAME_SLACK_SIGNING_SECRET)`},
		},
		{
			name: "database without scheme",
			doc:  "database: /var/lib/sesame.db\n" + minimal,
			want: []string{`t.yaml:1: database: must be a URL starting with sqlite:// or postgres://`},
		},
		{
			name: "policy rules",
			doc: `catalog:
  apps:
    - id: app
      connector: {type: fake}
      entitlements: [{key: read}]
policies:
  - id: first
    match: {apps: [app, nope], entitlements: ["app:read", "app:write"], risk: [severe]}
    steps:
      - name: nobody
        approvers: {}
      - name: bad counts
        approvers: {manager: true}
        required: -1
        choose: 2
  - id: first
    default: true
    match: {apps: [app]}
    steps: []
`,
			want: []string{
				`t.yaml:8: policies[0].match.apps[1]: "nope" is not a configured app`,
				`t.yaml:8: policies[0].match.entitlements[1]: "app:write" is not a configured entitlement (write app:key, like github:admin)`,
				`t.yaml:8: policies[0].match.risk: "severe" is not low, medium or high`,
				`t.yaml:11: policies[0].steps[0].approvers: names nobody: set users, groups, manager, managers_manager, app_owners, entitlement_owners or oncall`,
				`t.yaml:14: policies[0].steps[1].required: must be at least 1`,
				`t.yaml:15: policies[0].steps[1].choose: needs requester_chooses`,
				`t.yaml:16: policies[1].id: "first" is used twice`,
				`t.yaml:18: policies[1].match: the default policy cannot have match rules`,
				`t.yaml:19: policies[1].steps: at least one approval step is required`,
			},
		},
		{
			name: "no default policy",
			doc:  strings.Replace(minimal, "default: true, ", "", 1),
			want: []string{`t.yaml:6: policies: exactly one policy must have default: true (found 0)`},
		},
		{
			name: "no policies at all",
			doc:  strings.Split(minimal, "policies:")[0],
			want: []string{`t.yaml: policies: exactly one policy must have default: true (found 0)`},
		},
		{
			name: "users and policies without apps",
			doc: `users:
  - email: a@example.com
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`,
			want: []string{
				"t.yaml:1: users: users are configured but catalog.apps is empty: with no apps Sesame runs the demo catalog with its own users and policies; add your apps under catalog.apps or remove users",
				"t.yaml:3: policies: policies are configured but catalog.apps is empty: with no apps Sesame runs the demo catalog with its own users and policies; add your apps under catalog.apps or remove policies",
			},
		},
		{
			name: "demo checked against the org maximum",
			env:  map[string]string{"SESAME_ORG_MAX_DURATION": "3h"},
			want: []string{
				"demo.yaml:24: catalog.apps[0].entitlements[0].max_duration: 12h is longer than org.max_duration (3h); lower it or raise org.max_duration",
				"demo.yaml:29: catalog.apps[0].entitlements[1].max_duration: 8h is longer than org.max_duration (3h); lower it or raise org.max_duration",
				"demo.yaml:34: catalog.apps[0].entitlements[2].max_duration: 4h is longer than org.max_duration (3h); lower it or raise org.max_duration",
				"demo.yaml:51: catalog.apps[1].entitlements[1].max_duration: 8h is longer than org.max_duration (3h); lower it or raise org.max_duration",
				"demo.yaml:73: catalog.apps[2].entitlements[1].max_duration: 4h is longer than org.max_duration (3h); lower it or raise org.max_duration",
				"demo.yaml:123: policies[0].max_duration: 8h is longer than org.max_duration (3h); lower it or raise org.max_duration",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, problemLines(t, tt.opts, tt.doc, tt.env))
		})
	}
}

// TestEveryProblemAtOnce checks that one file with many mistakes reports
// all of them, not the first.
func TestEveryProblemAtOnce(t *testing.T) {
	t.Parallel()

	doc := `server: {addr: nope}
log: {level: loud, colour: red}
org: {max_duration: forever}
catalog:
  apps:
    - id: Bad
      connector: {type: fake}
      entitlements: [{key: read, risk: extreme}]
users:
  - email: not-an-email
policies: []
`
	lines := problemLines(t, LoadOptions{}, doc, nil)
	require.Len(t, lines, 8, strings.Join(lines, "\n"))
	for i := 1; i < len(lines); i++ {
		require.LessOrEqual(t, lineNumber(t, lines[i-1]), lineNumber(t, lines[i]), "problems are sorted by line")
	}
}

func lineNumber(t *testing.T, s string) int {
	_, rest, _ := strings.Cut(s, ":")
	n, _, _ := strings.Cut(rest, ":")
	i, err := strconv.Atoi(n)
	require.NoError(t, err, s)
	return i
}

func TestPolicyKeysMatchPolicyPackage(t *testing.T) {
	t.Parallel()

	// Every yaml key of policy.Policy must be known to the decoder: a
	// document setting each to null parses without an unknown key.
	for _, path := range yamlPaths(t, reflect.TypeFor[policy.Policy]()) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			doc := strings.Split(minimal, "policies:")[0] + nestedNull(path)
			_, err := Parse("p.yaml", []byte(doc), nil)
			if err != nil {
				require.NotContains(t, err.Error(), "unknown key", doc)
			}
		})
	}
}

// yamlPaths lists the yaml keys of a struct type, nested ones joined with
// "." and list items marked "[]" ("steps[].approvers.users").
func yamlPaths(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	var walk func(typ reflect.Type, prefix string) []string
	walk = func(typ reflect.Type, prefix string) []string {
		var out []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			require.NotEmpty(t, name, "%s.%s has a yaml tag", typ.Name(), f.Name)
			p := prefix + name
			ft := f.Type
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
				out = append(out, walk(ft, p+".")...)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				out = append(out, walk(ft.Elem(), p+"[].")...)
			default:
				out = append(out, p)
			}
		}
		return out
	}
	return walk(typ, "")
}

// nestedNull writes a policies list whose one policy sets path to null.
func nestedNull(path string) string {
	parts := strings.Split(path, ".")
	v := "null"
	for _, part := range slices.Backward(parts) {
		if name, ok := strings.CutSuffix(part, "[]"); ok {
			v = "{" + name + ": [" + v + "]}"
		} else {
			v = "{" + part + ": " + v + "}"
		}
	}
	return "policies:\n  - " + v + "\n"
}
