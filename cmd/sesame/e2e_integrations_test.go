package main

import (
	"encoding/base64"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/store/postgres"
)

// integrationsConfig routes notifications by account set: the cloud
// accounts to a webhook, gateway and private-server entitlements (tags)
// to a channel and another webhook.
const integrationsConfig = `
users:
  - {email: alice@example.com, name: Alice, slack_user_id: U0ALICE}
  - {email: bob@example.com, name: Bob, slack_user_id: U0BOB}
  - {email: carol@example.com, name: Carol, roles: [admin], slack_user_id: U0CAROL}
catalog:
  apps:
    - id: aws-prod
      name: AWS production
      owners: [bob@example.com]
      connector: {type: fake}
      entitlements:
        - {key: admin, name: Admin, max_duration: 8h}
        - {key: read, name: Read, max_duration: 8h}
    - id: bastion
      name: Bastion
      owners: [bob@example.com]
      connector: {type: fake}
      entitlements:
        - {key: gateway, name: Gateway, max_duration: 8h, tags: [gateway]}
        - {key: db, name: DB server, max_duration: 8h, tags: [private-server]}
policies:
  - id: default
    default: true
    max_duration: 8h
    steps: [{name: Owner, approvers: {app_owners: true}}]
integrations:
  allow_loopback_webhooks: true
  account_sets:
    cloud-accounts: [app:aws-prod]
  routes:
    - name: cloud
      webhook_url: %s
      covers: [set:cloud-accounts]
      categories: [approval_requests, decisions, grants]
    - name: gateways
      channel: C0GATE
      covers: [tag:gateway]
      categories: [approval_requests, grants]
    - name: private-servers
      webhook_url: %s
      covers: [tag:private-server]
      categories: [grants]
`

type integrationOut struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Source     string   `json:"source"`
	WebhookURL string   `json:"webhook_url"`
	Categories []string `json:"categories"`
	Health     struct {
		Status    string `json:"status"`
		LastError string `json:"last_error"`
		Since     string `json:"since"`
		Waiting   int    `json:"waiting"`
	} `json:"health"`
}

func texts(ms []slackfake.Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Text + "\n")
	}
	return b.String()
}

// TestIntegrationsThroughTheBinary runs the binary against the strict
// Slack fake: each routing rule (account set, category, resource-kind
// channel by entitlement tag), a webhook revoked mid-test (detected,
// messages held, admins told once, health shown in the API, recovered
// with "send test message"), and the integrations API.
// It runs on SQLite and on PostgreSQL.
func TestIntegrationsThroughTheBinary(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			var env []string
			if db == "postgres" {
				env = append(env, "SESAME_DATABASE="+postgres.TestURL(t),
					"SESAME_SECRET_KEY="+base64.StdEncoding.EncodeToString(make([]byte, 32)))
			}
			integrationsEndToEnd(t, env)
		})
	}
}

func integrationsEndToEnd(t *testing.T, dbEnv []string) {
	t.Helper()
	fake := slackfake.New(slackfake.Options{})
	t.Cleanup(fake.Close)
	for _, u := range []slackfake.User{
		{ID: "U0ALICE", Name: "alice", Email: "alice@example.com", EmailConfirmed: true},
		{ID: "U0BOB", Name: "bob", Email: "bob@example.com", EmailConfirmed: true},
		{ID: "U0CAROL", Name: "carol", Email: "carol@example.com", EmailConfirmed: true},
	} {
		fake.AddUser(u)
	}
	fake.AddChannel("C0GATE", "gateways", "U0BOT")
	cloudHook, privateHook := fake.AddWebhook("C0CLOUD"), fake.AddWebhook("C0PRIVATE")
	dir := t.TempDir()
	cfg := writeFile(t, dir, "sesame.yaml", sprintf(integrationsConfig, cloudHook, privateHook))
	env := append(slices.Clone(dbEnv),
		"SESAME_DATA_DIR="+filepath.Join(dir, "data"),
		"SESAME_CONFIG="+cfg,
		"SESAME_SLACK_MODE=http",
		"SESAME_SLACK_BOT_TOKEN="+fake.BotToken(),
		"SESAME_SLACK_SIGNING_SECRET="+fake.SigningSecret(),
		"SESAME_SLACK_API_URL="+fake.APIURL(),
	)
	p := startServe(t, env)
	require.NotContains(t, p.Logs(), cloudHook, "webhook URLs are never logged")
	alice := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}
	bob := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))}
	carol := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "carol@example.com"))}

	request := func(ent string) string {
		var r idState
		require.Equal(t, http.StatusCreated, alice.do("POST", "/requests", map[string]any{
			"entitlements": []string{ent}, "duration": "1h", "reason": "INC-42 on call"}, &r))
		return r.ID
	}
	approve := func(id string) {
		require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+id+"/approve", map[string]any{"comment": "ok"}, nil))
		waitUntil(t, 30*time.Second, "grant of "+id+" active", func() bool {
			var got idState
			require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+id, nil, &got))
			return got.State == "active"
		})
	}
	waitTexts := func(channel string, n int) string {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("messages in %s:\n%s", channel, texts(fake.Messages(channel)))
				for _, c := range fake.Calls(slackfake.WebhookMethod) {
					t.Logf("webhook call %s %d %s %s", c.Args["hook"], c.Status, c.Error, c.At.Format(time.StampMilli))
				}
			}
		})
		waitUntil(t, 30*time.Second, sprintf("%d messages in %s", n, channel), func() bool { return len(fake.Messages(channel)) >= n })
		return texts(fake.Messages(channel))
	}

	// The cloud account set: approval request, decision and grant, once
	// each (bob is the only approver; no duplicate per recipient).
	awsReq := request("aws-prod:admin")
	got := waitTexts("C0CLOUD", 1)
	require.Contains(t, got, "Alice requests Admin on AWS production")
	approve(awsReq)
	got = waitTexts("C0CLOUD", 3)
	require.Contains(t, got, "request for Admin on AWS production was approved by Bob")
	require.Contains(t, got, "Alice now has Admin on AWS production")

	// The gateway channel (tag:gateway, chat.postMessage) carries requests
	// and grants of gateway entitlements only; the private-server webhook
	// only grants of private-server ones.
	gwReq := request("bastion:gateway")
	approve(gwReq)
	got = waitTexts("C0GATE", 2)
	require.Contains(t, got, "Alice requests Gateway on Bastion")
	require.Contains(t, got, "Alice now has Gateway on Bastion")
	dbReq := request("bastion:db")
	approve(dbReq)
	got = waitTexts("C0PRIVATE", 1)
	require.Contains(t, got, "Alice now has DB server on Bastion")
	require.NotContains(t, got, "requests", "approval requests are not a category of private-servers")
	require.Len(t, fake.Messages("C0CLOUD"), 3, "nothing about the bastion in the cloud channel")
	require.Len(t, fake.Messages("C0GATE"), 2, "nothing about db servers in the gateway channel")

	// The API: admins only; webhook URLs masked; config routes read-only.
	var list struct{ Items []integrationOut }
	require.Equal(t, http.StatusForbidden, alice.do("GET", "/integrations", nil, nil))
	require.Equal(t, http.StatusOK, carol.do("GET", "/integrations", nil, &list))
	require.Len(t, list.Items, 3)
	byName := map[string]integrationOut{}
	for _, i := range list.Items {
		byName[i.Name] = i
		require.Equal(t, "healthy", i.Health.Status, i.Name)
		require.Equal(t, "config", i.Source)
	}
	cloud := byName["cloud"]
	require.Contains(t, cloud.WebhookURL, "••••")
	require.NotContains(t, cloud.WebhookURL, cloudHook[strings.LastIndex(cloudHook, "/")+1:])
	require.Equal(t, http.StatusConflict, carol.do("PATCH", "/integrations/"+cloud.ID, map[string]any{"categories": []string{"alerts"}}, nil))

	// The cloud webhook is revoked: the next messages are held, the
	// integration is failing, and the admin (only) is told once.
	fake.SetWebhookState(cloudHook, slackfake.WebhookRevoked)
	readReq := request("aws-prod:read")
	waitUntil(t, 30*time.Second, "cloud failing", func() bool {
		var i integrationOut
		require.Equal(t, http.StatusOK, carol.do("GET", "/integrations/"+cloud.ID, nil, &i))
		cloud = i
		return i.Health.Status == "failing"
	})
	require.Equal(t, "invalid_token", cloud.Health.LastError)
	require.NotEmpty(t, cloud.Health.Since)
	approve(readReq) // two more messages for the cloud channel: held too
	adminNotices := func() []string {
		var out []string
		for _, m := range fake.DMs("U0CAROL") {
			if strings.Contains(m.Text, "integration cloud") {
				out = append(out, m.Text)
			}
		}
		return out
	}
	waitUntil(t, 30*time.Second, "the admin told", func() bool { return len(adminNotices()) == 1 })
	waitUntil(t, 30*time.Second, "the failed deliveries held", func() bool {
		return strings.Count(p.Logs(), "integration failing") == 1 && len(webhookCalls(fake, cloudHook, "invalid_token")) >= 3
	})
	require.Len(t, adminNotices(), 1, "once per failure episode, not per message")
	require.Contains(t, adminNotices()[0], "is failing")
	for _, u := range []string{"U0ALICE", "U0BOB"} {
		for _, m := range fake.DMs(u) {
			require.NotContains(t, m.Text, "integration cloud", "only admins are told")
		}
	}
	require.Len(t, fake.Messages("C0CLOUD"), 3)
	waitUntil(t, 30*time.Second, "three messages waiting", func() bool {
		var i integrationOut
		require.Equal(t, http.StatusOK, carol.do("GET", "/integrations/"+cloud.ID, nil, &i))
		return i.Health.Waiting == 3
	})

	// Send test message while still revoked: the failure is reported.
	var test struct {
		OK          bool           `json:"ok"`
		Error       string         `json:"error"`
		Integration integrationOut `json:"integration"`
	}
	require.Equal(t, http.StatusOK, carol.do("POST", "/integrations/"+cloud.ID+"/test", nil, &test))
	require.False(t, test.OK)
	require.Equal(t, "invalid_token", test.Error)
	require.Equal(t, http.StatusForbidden, alice.do("POST", "/integrations/"+cloud.ID+"/test", nil, nil))

	// Fixed: a test message succeeds, health comes back, the held messages
	// go out, and the admin is told it recovered.
	fake.SetWebhookState(cloudHook, slackfake.WebhookOK)
	waitUntil(t, 10*time.Second, "a test message through", func() bool {
		require.Equal(t, http.StatusOK, carol.do("POST", "/integrations/"+cloud.ID+"/test", nil, &test))
		if !test.OK {
			require.Equal(t, "rate_limited", test.Error, "only Slack's rate limit may delay it")
			time.Sleep(time.Second)
		}
		return test.OK
	})
	require.Equal(t, "healthy", test.Integration.Health.Status)
	got = waitTexts("C0CLOUD", 7) // 3 before, the test message, 3 held
	require.Contains(t, got, "Test message from Sesame")
	require.Contains(t, got, "Alice requests Read on AWS production")
	require.Contains(t, got, "Alice now has Read on AWS production")
	waitUntil(t, 30*time.Second, "the admin told it recovered", func() bool { return len(adminNotices()) == 2 })
	waitUntil(t, 30*time.Second, "nothing waiting", func() bool {
		var i integrationOut
		require.Equal(t, http.StatusOK, carol.do("GET", "/integrations/"+cloud.ID, nil, &i))
		return i.Health.Waiting == 0 && i.Health.Status == "healthy"
	})
	require.Contains(t, adminNotices()[1], "delivers again")

	// An integration made through the API, tested, changed and deleted.
	opsHook := fake.AddWebhook("C0OPS")
	var ops integrationOut
	require.Equal(t, http.StatusUnprocessableEntity, carol.do("POST", "/integrations", map[string]any{
		"name": "ops", "webhook_url": "https://example.com/services/a/b/c", "covers": []string{"*"}, "categories": []string{"alerts"}}, nil))
	require.Equal(t, http.StatusForbidden, alice.do("POST", "/integrations", map[string]any{
		"name": "ops", "webhook_url": opsHook, "covers": []string{"*"}, "categories": []string{"alerts"}}, nil))
	require.Equal(t, http.StatusCreated, carol.do("POST", "/integrations", map[string]any{
		"name": "ops", "webhook_url": opsHook, "covers": []string{"*"}, "categories": []string{"alerts"}}, &ops))
	require.Equal(t, "api", ops.Source)
	require.NotContains(t, ops.WebhookURL, opsHook[strings.LastIndex(opsHook, "/")+1:])
	require.Equal(t, http.StatusOK, carol.do("POST", "/integrations/"+ops.ID+"/test", nil, &test))
	require.True(t, test.OK)
	require.Len(t, fake.Messages("C0OPS"), 1)
	require.Equal(t, http.StatusOK, carol.do("PATCH", "/integrations/"+ops.ID, map[string]any{"categories": []string{"alerts", "grants"}}, &ops))
	require.Equal(t, []string{"alerts", "grants"}, ops.Categories)
	require.Equal(t, http.StatusNoContent, carol.do("DELETE", "/integrations/"+ops.ID, nil, nil))
	require.Equal(t, http.StatusNotFound, carol.do("GET", "/integrations/"+ops.ID, nil, nil))

	// Every change is audited, and the audit log never holds a webhook URL.
	var audit struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/audit?limit=200", nil, &audit))
	var actions []string
	for _, e := range audit.Items {
		actions = append(actions, e.Action)
	}
	for _, a := range []string{"integration.created", "integration.failing", "integration.tested", "integration.recovered",
		"integration.updated", "integration.deleted"} {
		require.Contains(t, actions, a)
	}
	require.NotContains(t, p.Logs(), cloudHook)
	require.NotContains(t, p.Logs(), opsHook)
	require.Empty(t, fake.Violations(), "%v", fake.Violations())
}

// webhookCalls returns the posts to hookURL that failed with code.
func webhookCalls(fake *slackfake.Server, hookURL, code string) []slackfake.Call {
	var out []slackfake.Call
	for _, c := range fake.Calls(slackfake.WebhookMethod) {
		if strings.HasSuffix(hookURL, c.Args["hook"]) && c.Error == code {
			out = append(out, c)
		}
	}
	return out
}
