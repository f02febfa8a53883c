package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/slackfake"
)

// alertsConfig has a watchlist app, an admin (carol) and a non-admin
// (alice); frank is offboarded between the two runs of the test.
const alertsConfig = `slack:
  alerts_channel: "#security"
alerts:
  discovery_interval: 1h
catalog:
  apps:
    - id: github
      name: GitHub
      connector: {type: fake}
      owners: [bob@example.com]
      watchlist: true
      entitlements: [{key: read}]
users:
  - {email: carol@example.com, name: Carol, roles: [admin]}
  - {email: alice@example.com, name: Alice}
  - {email: bob@example.com, name: Bob}
  - {email: frank@example.com, name: Frank}
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`

// TestSecurityAlertsThroughTheBinary runs the real binary against the
// strict Slack fake, with the alerts channel named (#security: posted by
// name, updated by the ID Slack answered): a custom source reports a new app and a sign-up in a
// watchlist app; the first posts fail (a 500, then a 429) and the alerts
// are posted once each when Slack recovers; a non-admin's click is refused
// and changes nothing; the admin's Add to Watchlist and Ignore update the
// messages, put the discovered app on the watchlist and are audited; a
// restart posts nothing again; offboarding a person whose account is
// still seen raises the offboarded alert (the workflow's offboard hook),
// with a link to the person.
func TestSecurityAlertsThroughTheBinary(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(slackfake.Options{})
	t.Cleanup(fake.Close)
	fake.AddUser(slackfake.User{ID: "U0CAROL", Name: "carol", RealName: "Carol", Email: "carol@example.com", EmailConfirmed: true})
	fake.AddUser(slackfake.User{ID: "U0ALICE", Name: "alice", RealName: "Alice", Email: "alice@example.com", EmailConfirmed: true})
	fake.AddChannel("C0SEC", "security", "U0BOT", "U0CAROL", "U0ALICE")
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "sesame.yaml", alertsConfig)
	env := []string{
		"SESAME_CONFIG=" + cfgPath,
		"SESAME_DATA_DIR=" + filepath.Join(dir, "data"),
		"SESAME_SLACK_MODE=http",
		"SESAME_SERVER_BASE_URL=https://sesame.example.com",
		"SESAME_SLACK_BOT_TOKEN=" + fake.BotToken(),
		"SESAME_SLACK_API_URL=" + fake.APIURL(),
		"SESAME_SLACK_SIGNING_SECRET=" + fake.SigningSecret(),
	}
	p := startServe(t, env)
	fake.SetRequestURL(p.url())
	carol := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "carol@example.com"))}
	alice := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}

	// Slack fails the first two posts.
	fake.FailNextStatus("chat.postMessage", 1, http.StatusInternalServerError)
	fake.FailNextStatus("chat.postMessage", 1, http.StatusTooManyRequests)

	events := map[string]any{"events": []map[string]any{
		{"source": "email-gateway", "app_name": "Notion Labs, Inc.", "app_domain": "https://www.notion.so"},
		{"source": "email-gateway", "app_name": "notion"}, // the same app
		{"source": "email-gateway", "app_name": "GitHub", "account_email": "Mallory@Example.com"},
	}}
	require.Equal(t, http.StatusForbidden, alice.do(http.MethodPost, "/discovery/events", events, nil), "only admins ingest")
	require.Equal(t, http.StatusUnprocessableEntity, carol.do(http.MethodPost, "/discovery/events",
		map[string]any{"source": "x", "account_email": "not-an-email"}, nil))
	var res struct {
		NewApps int `json:"new_apps"`
		Alerts  int `json:"alerts"`
	}
	require.Equal(t, http.StatusOK, carol.do(http.MethodPost, "/discovery/events", events, &res))
	require.Equal(t, 1, res.NewApps)
	require.Equal(t, 2, res.Alerts)

	waitUntil(t, 60*time.Second, "both alerts posted", func() bool { return len(fake.Messages("C0SEC")) == 2 })
	posts := fake.Calls("chat.postMessage")
	require.Len(t, posts, 4, "two failed attempts, then one post per alert")
	require.Equal(t, http.StatusInternalServerError, posts[0].Status)
	require.Equal(t, http.StatusTooManyRequests, posts[1].Status)
	newApp, signup := findMessage(t, fake, "Newly discovered app"), findMessage(t, fake, "Sign-up on a watchlist app")
	require.Contains(t, slackfake.BlockText(newApp.Blocks), "Notion Labs, Inc.")
	require.Contains(t, string(newApp.Blocks), "https://sesame.example.com/catalog/discovered/notion")
	require.Contains(t, slackfake.BlockText(signup.Blocks), "mallory@example.com")
	require.Contains(t, string(signup.Blocks), "https://sesame.example.com/catalog/github")

	// Alice is not an admin: refused, told why, the message unchanged.
	_, err := fake.Click(t.Context(), "U0ALICE", slackfake.InMessage("C0SEC", newApp.TS), "alert_watch")
	require.NoError(t, err)
	waitUntil(t, 10*time.Second, "alice is told", func() bool { return strings.Contains(fake.LastEphemeral("U0ALICE"), "Only Sesame admins") })
	m, _ := fake.Message("C0SEC", newApp.TS)
	require.Zero(t, m.Updates)
	require.Equal(t, http.StatusForbidden, alice.do(http.MethodPost, "/alerts/x/watch", nil, nil))

	// Carol adds Notion to the watchlist, and ignores the GitHub sign-up.
	_, err = fake.Click(t.Context(), "U0CAROL", slackfake.InMessage("C0SEC", newApp.TS), "alert_watch")
	require.NoError(t, err)
	waitUntil(t, 20*time.Second, "the new-app message shows Watching", func() bool {
		m, _ := fake.Message("C0SEC", newApp.TS)
		return m.Updates > 0 && strings.Contains(slackfake.BlockText(m.Blocks), "Watching")
	})
	var app access.App
	require.Equal(t, http.StatusOK, carol.do(http.MethodGet, "/apps/notion", nil, &app))
	require.True(t, app.Watchlist)
	click(t, fake, signup.TS, "alert_watch", "Watching")
	click(t, fake, signup.TS, "alert_ignore", "Ignored")
	var audit struct {
		Items []struct {
			Action  string `json:"action"`
			ActorID string `json:"actor_id"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do(http.MethodGet, "/audit?action=alert.&limit=100", nil, &audit))
	var actions []string
	for _, e := range audit.Items {
		actions = append(actions, e.Action)
	}
	require.Contains(t, actions, "alert.watched")
	require.Contains(t, actions, "alert.ignored")
	require.Contains(t, actions, "alert.action_refused")

	// A sign-up in the newly watched app alerts; one in the ignored app's
	// place (GitHub) does not.
	require.Equal(t, http.StatusOK, carol.do(http.MethodPost, "/discovery/events", map[string]any{"events": []map[string]any{
		{"source": "email-gateway", "app_domain": "notion.so", "account_email": "eve@example.com"},
		{"source": "email-gateway", "app_name": "GitHub", "account_email": "trudy@example.com"},
	}}, nil))
	waitUntil(t, 20*time.Second, "the Notion sign-up is posted", func() bool { return len(fake.Messages("C0SEC")) == 3 })

	// Frank's GitHub account is seen while he is active (GitHub's sign-up
	// alerts are ignored now: nothing is posted).
	require.Equal(t, http.StatusOK, carol.do(http.MethodPost, "/discovery/events",
		map[string]any{"source": "okta-export", "app_name": "GitHub", "account_email": "frank@example.com"}, nil))

	// A restart posts nothing again.
	p.interrupt(t)
	p = startServe(t, env)
	fake.SetRequestURL(p.url())
	carol.base = p.url()
	require.Equal(t, http.StatusAccepted, carol.do(http.MethodPost, "/discovery/sync", nil, nil))
	waitUntil(t, 20*time.Second, "the discovery sync ran", func() bool { return strings.Contains(p.Logs(), "discovery sync") })
	require.Len(t, fake.Messages("C0SEC"), 3, "no alert is posted twice across a restart")

	// Frank is offboarded: the offboard hook raises the alert, listing the
	// account discovery still sees.
	var users struct {
		Items []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do(http.MethodGet, "/users?limit=100", nil, &users))
	frankID := ""
	for _, u := range users.Items {
		if u.Email == "frank@example.com" {
			frankID = u.ID
		}
	}
	require.NotEmpty(t, frankID)
	require.Equal(t, http.StatusOK, carol.do(http.MethodPost, "/users/"+frankID+"/offboard", map[string]any{"reason": "left the company"}, nil))
	waitUntil(t, 20*time.Second, "the offboarded alert is posted", func() bool { return len(fake.Messages("C0SEC")) == 4 })
	off := findMessage(t, fake, "Offboarded person with active accounts")
	require.Contains(t, slackfake.BlockText(off.Blocks), "frank@example.com")
	require.Contains(t, string(off.Blocks), "https://sesame.example.com/people/"+frankID)
	require.Contains(t, slackfake.BlockText(off.Blocks), "github: frank@example.com")
	click(t, fake, off.TS, "alert_watch", "Watching")
	click(t, fake, off.TS, "alert_ignore", "Ignored")
	click(t, fake, newApp.TS, "alert_ignore", "Ignored")
	require.Len(t, fake.Calls("chat.postMessage"), 6, "4 alerts, 2 failed attempts, nothing posted twice")
	require.Empty(t, fake.Violations(), "%v", fake.Violations())
}

// click presses action on the C0SEC message ts as carol (an admin) and
// waits until the message is updated to show want.
func click(t *testing.T, fake *slackfake.Server, ts, action, want string) {
	t.Helper()
	_, err := fake.Click(t.Context(), "U0CAROL", slackfake.InMessage("C0SEC", ts), action)
	require.NoError(t, err)
	waitUntil(t, 20*time.Second, "the message shows "+want, func() bool {
		m, _ := fake.Message("C0SEC", ts)
		return strings.Contains(slackfake.BlockText(m.Blocks), want)
	})
}

// findMessage returns the C0SEC message whose blocks contain text.
func findMessage(t *testing.T, fake *slackfake.Server, text string) slackfake.Message {
	t.Helper()
	for _, m := range fake.Messages("C0SEC") {
		if strings.Contains(slackfake.BlockText(m.Blocks), text) {
			return m
		}
	}
	t.Fatalf("no message in C0SEC contains %q", text)
	return slackfake.Message{}
}

// TestWatchlistSignupFromConnectorSync: the discovery sync through the
// binary lists the fake connector's accounts (those of its grants): the
// first sync is the app's baseline; an account that appears afterwards
// (alice's, once her request is approved and provisioned) is a sign-up in
// a watchlist app, posted once however many syncs follow.
func TestWatchlistSignupFromConnectorSync(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(slackfake.Options{})
	t.Cleanup(fake.Close)
	fake.AddChannel("C0SEC", "security", "U0BOT")
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "sesame.yaml", alertsConfig)
	env := []string{
		"SESAME_CONFIG=" + cfgPath,
		"SESAME_DATA_DIR=" + filepath.Join(dir, "data"),
		"SESAME_SLACK_MODE=http",
		"SESAME_SERVER_BASE_URL=https://sesame.example.com",
		"SESAME_SLACK_BOT_TOKEN=" + fake.BotToken(),
		"SESAME_SLACK_API_URL=" + fake.APIURL(),
		"SESAME_SLACK_SIGNING_SECRET=" + fake.SigningSecret(),
	}
	p := startServe(t, env)
	carol := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "carol@example.com"))}
	alice := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}
	bob := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))}
	syncs := func() int { return strings.Count(p.Logs(), `"msg":"discovery sync"`) }

	require.Equal(t, http.StatusAccepted, carol.do(http.MethodPost, "/discovery/sync", nil, nil))
	waitUntil(t, 20*time.Second, "the baseline sync", func() bool { return syncs() == 1 })

	var r idState
	require.Equal(t, http.StatusCreated, alice.do(http.MethodPost, "/requests", map[string]any{
		"entitlements": []string{"github:read"}, "duration": "2h", "reason": "review a pull request"}, &r))
	require.Equal(t, http.StatusOK, bob.do(http.MethodPost, "/requests/"+r.ID+"/approve", map[string]any{"comment": "ok"}, &r))
	waitUntil(t, 20*time.Second, "the grant is active", func() bool {
		var got idState
		require.Equal(t, http.StatusOK, alice.do(http.MethodGet, "/requests/"+r.ID, nil, &got))
		return got.State == "active"
	})
	// Two more syncs (requests within one second are one sync: ask until
	// it ran).
	for i := 2; i <= 3; i++ {
		waitUntil(t, 20*time.Second, "a sync", func() bool {
			if syncs() >= i {
				return true
			}
			require.Equal(t, http.StatusAccepted, carol.do(http.MethodPost, "/discovery/sync", nil, nil))
			return false
		})
	}
	waitUntil(t, 20*time.Second, "the sign-up alert is posted", func() bool { return len(fake.Messages("C0SEC")) == 1 })
	m := fake.Messages("C0SEC")[0]
	require.Contains(t, slackfake.BlockText(m.Blocks), "New sign-up in GitHub: alice@example.com")
	require.Contains(t, string(m.Blocks), "https://sesame.example.com/catalog/github")
	require.Len(t, fake.Calls("chat.postMessage"), 1, "one finding, one post")
	var accounts struct {
		Items []struct {
			Email  string `json:"email"`
			UserID string `json:"user_id"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do(http.MethodGet, "/discovery/accounts?app_id=github", nil, &accounts))
	require.Len(t, accounts.Items, 1)
	require.Equal(t, "alice@example.com", accounts.Items[0].Email)
	require.NotEmpty(t, accounts.Items[0].UserID, "matched to the Sesame user by email")
	require.Empty(t, fake.Violations(), "%v", fake.Violations())
}
