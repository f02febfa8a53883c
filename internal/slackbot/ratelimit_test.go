package slackbot

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/slackfake"
)

// TestDeliveryHonoursRetryAfter: when Slack rate-limits a DM (the strict
// fake's per-channel chat.postMessage bucket), the delivery error carries
// Slack's Retry-After for the job queue, the try does not count against
// the notification's attempts, and the DM goes out once the wait is over.
func TestDeliveryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	ctx := t.Context()
	// One message per minute into a channel: the second DM to bob waits.
	b.slack.SetLimit("chat.postMessage", slackfake.Limit{Burst: 1, Per: time.Minute})
	for _, ent := range []string{"github:admin", "github:read"} {
		_, err := b.svc.Submit(ctx, "usr_alice", workflowParams(ent, "usr_bob"))
		require.NoError(t, err)
	}
	_, del := b.jobs.take()
	var toBob []*access.Notification
	for _, id := range del {
		n, err := b.st.NotificationGetByID(ctx, id)
		require.NoError(t, err)
		if n.RecipientID == "usr_bob" {
			toBob = append(toBob, n)
		}
	}
	require.Len(t, toBob, 2)
	require.NoError(t, b.svc.Deliver(ctx, toBob[0].ID))

	err := b.svc.Deliver(ctx, toBob[1].ID)
	require.Error(t, err)
	after, ok := connector.RetryAfter(err)
	require.True(t, ok, "a 429 carries Slack's Retry-After: %v", err)
	require.Greater(t, after, 50*time.Second, "the fake refills one message per minute")
	require.LessOrEqual(t, after, time.Minute)
	calls := b.slack.Calls("chat.postMessage")
	require.Equal(t, http.StatusTooManyRequests, calls[len(calls)-1].Status)
	n, err := b.st.NotificationGetByID(ctx, toBob[1].ID)
	require.NoError(t, err)
	require.Equal(t, access.NotificationPending, n.State)
	require.Zero(t, n.Attempts, "a rate-limited try is not a failed attempt")
	require.Contains(t, n.LastError, "rate limit")

	// Retrying before the wait is over is refused again; after it, sent.
	b.clock.Advance(after / 2)
	require.Error(t, b.svc.Deliver(ctx, toBob[1].ID))
	b.clock.Advance(after)
	require.NoError(t, b.svc.Deliver(ctx, toBob[1].ID))
	n, err = b.st.NotificationGetByID(ctx, toBob[1].ID)
	require.NoError(t, err)
	require.Equal(t, access.NotificationSent, n.State)
	require.Len(t, b.slack.DMs(sid("bob")), 2)
	b.noViolations(t)
}
