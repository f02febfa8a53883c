package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/slackfake"
)

// TestSlackThroughTheBinary runs the real binary against the strict Slack
// fake, in HTTP mode (signed requests) and in Socket Mode: /access opens
// the request modal, and the App Home is published for a user linked by
// their confirmed email.
func TestSlackThroughTheBinary(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"http", "socket"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			fake := slackfake.New(slackfake.Options{})
			t.Cleanup(fake.Close)
			fake.AddUser(slackfake.User{ID: "U0ALICE", Name: "alice", RealName: "Alice Anders", Email: "alice@example.com", EmailConfirmed: true})
			dir := t.TempDir()
			env := []string{
				"SESAME_DATA_DIR=" + filepath.Join(dir, "data"),
				"SESAME_SLACK_MODE=" + mode,
				"SESAME_SLACK_BOT_TOKEN=" + fake.BotToken(),
				"SESAME_SLACK_API_URL=" + fake.APIURL(),
			}
			if mode == "http" {
				env = append(env, "SESAME_SLACK_SIGNING_SECRET="+fake.SigningSecret())
			} else {
				env = append(env, "SESAME_SLACK_APP_TOKEN="+fake.AppToken())
			}
			p := startServe(t, env)
			require.Contains(t, p.Logs(), "slack:    "+mode+" mode")
			if mode == "http" {
				fake.SetRequestURL(p.url())
			}
			var ack *slackfake.Ack
			var err error
			waitUntil(t, 20*time.Second, "the app answers /access", func() bool {
				ack, err = fake.Command(t.Context(), "U0ALICE", "/access", "github")
				return err == nil
			})
			require.NotNil(t, ack) // a late ack (over Slack's 3 s) is one of the fake's violations, checked below
			waitUntil(t, 10*time.Second, "views.open", func() bool { return len(fake.Calls("views.open")) > 0 })
			open := fake.Calls("views.open")[0]
			require.True(t, open.OK, "views.open failed: %s", open.Error)
			require.Contains(t, open.Args["view"], "GitHub", "the app matched by name is preselected")

			_, err = fake.OpenHome(t.Context(), "U0ALICE")
			require.NoError(t, err)
			waitUntil(t, 10*time.Second, "views.publish", func() bool { return len(fake.Calls("views.publish")) > 0 })
			require.Empty(t, fake.Violations(), fmt.Sprint(fake.Violations()))
			require.Contains(t, fake.Calls("views.publish")[0].Args["view"], "Raise a Ticket")
		})
	}
}
