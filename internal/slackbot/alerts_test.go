package slackbot

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/findings"
)

// TestAlertMessagesGolden checks every alert type in every state against
// its golden file and Slack's limits.
func TestAlertMessagesGolden(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)
	base := []*access.Alert{
		{ID: "alr_1", Type: access.AlertWatchlistSignup, AppID: "github", AppName: "GitHub", AppKey: "app:github",
			Title: "New sign-up in GitHub: mallory@example.com", Details: []string{"Account: mallory@example.com, id 42", "No Sesame user has this email."},
			Source: "connector", CreatedAt: at},
		{ID: "alr_2", Type: access.AlertOffboardedWithAccounts, UserID: "usr_frank",
			Title:   "Offboarded Frank (frank@example.com) still has 2 active account(s)",
			Details: []string{"github: frank@example.com (last seen 2026-11-22 01:00 UTC)", "okta: frank@example.com <x> & y"},
			Source:  "discovery", CreatedAt: at},
		{ID: "alr_3", Type: access.AlertNewAppDiscovered, AppKey: "key:notion", AppName: "Notion",
			Title: "New app discovered: Notion (notion.so)", Details: []string{"First seen by email-gateway at 2026-11-22 01:29 UTC"},
			Source: "email-gateway", CreatedAt: at},
	}
	for _, a := range base {
		for _, st := range []access.AlertState{access.AlertOpen, access.AlertWatching, access.AlertIgnored} {
			c := *a
			c.State = st
			if st != access.AlertOpen {
				c.DecidedBy, c.DecidedAt = "usr_carol", at.Add(time.Minute)
			}
			text, blocks := alertMessage(findings.Message{Alert: &c, ReviewURL: "https://sesame.example.com/x/" + c.ID})
			goldenMessage(t, "alert_"+string(c.Type)+"_"+string(st), text, blocks)
			var verbs []string
			for _, bl := range blocks {
				if ab, ok := bl.(*slack.ActionBlock); ok {
					for _, el := range ab.Elements.ElementSet {
						verbs = append(verbs, actionVerb(el.(*slack.ButtonBlockElement).ActionID))
					}
				}
			}
			switch st {
			case access.AlertOpen:
				require.Equal(t, []string{verbAlertWatch, verbAlertIgnore, verbOpenURL}, verbs)
			case access.AlertWatching:
				require.Equal(t, []string{verbAlertIgnore, verbOpenURL}, verbs)
			case access.AlertIgnored:
				require.Equal(t, []string{verbOpenURL}, verbs)
			}
		}
	}
	// Without a base URL there is no link button.
	c := *base[0]
	c.State = access.AlertOpen
	_, blocks := alertMessage(findings.Message{Alert: &c})
	require.NotContains(t, mustJSON(t, blocks), "Review in Sesame")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	js := goldenJSONBytes(t, v)
	return string(js)
}

func TestDeliveryErrorClassifies(t *testing.T) {
	t.Parallel()
	rl := deliveryError("chat.postMessage", &slack.RateLimitedError{RetryAfter: 7 * time.Second})
	after, ok := connector.RetryAfter(rl)
	require.True(t, ok)
	require.Equal(t, 7*time.Second, after)
	require.False(t, connector.IsPermanent(rl))
	require.True(t, connector.IsPermanent(deliveryError("chat.postMessage", slack.SlackErrorResponse{Err: "channel_not_found"})))
	require.True(t, connector.IsPermanent(deliveryError("chat.update", slack.SlackErrorResponse{Err: "not_in_channel"})))
	other := deliveryError("chat.postMessage", errors.New("connection reset"))
	require.False(t, connector.IsPermanent(other))
	_, ok = connector.RetryAfter(other)
	require.False(t, ok)
}

func goldenJSONBytes(t *testing.T, v any) []byte {
	t.Helper()
	js, err := json.Marshal(v)
	require.NoError(t, err)
	return js
}
