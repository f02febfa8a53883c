package slackbot

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/slackfake"
)

// TestManualTask: a connector that needs a person DMs the app's owner a
// task; "Mark as done" completes it and the requester hears "task
// completed".
func TestManualTask(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	ctx := t.Context()
	r, err := b.svc.Submit(ctx, "usr_alice", workflowParams("printer:admin", "usr_bob"))
	require.NoError(t, err)
	_, err = b.svc.Decide(ctx, "usr_bob", decideApprove(r.ID))
	require.NoError(t, err)
	b.runJobs(t)
	task := b.lastDM(t, "bob", "Manual task")
	require.Contains(t, slackfake.BlockText(task.Blocks), "alice@example.com")
	_, err = b.slack.Click(ctx, sid("bob"), slackfake.InMessage(task.Channel, task.TS), verbTaskDone)
	require.NoError(t, err)
	b.runJobs(t)
	done, _ := b.slack.Message(task.Channel, task.TS)
	require.Contains(t, slackfake.BlockText(done.Blocks), "Marked as done by <@UBOB>")
	require.NotContains(t, string(done.Blocks), `"type":"actions"`)
	b.lastDM(t, "alice", "Task completed")

	// A second click (a stale copy elsewhere) is refused clearly.
	gs, err := b.st.GrantListByRequest(ctx, r.ID)
	require.NoError(t, err)
	_, err = b.slack.SendInteraction(ctx, buttonPayload(b, "bob", verbTaskDone, gs[0].ID))
	require.NoError(t, err)
	require.Contains(t, b.slack.LastEphemeral(sid("bob")), "has no task waiting for a person")
	b.noViolations(t)
}

// TestTimedOutAndCancelledByAdmin: the requester hears about a request
// nobody decided (and can request again) and one an admin cancelled.
func TestTimedOutAndCancelledByAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeSocket)
	ctx := t.Context()
	r, err := b.svc.Submit(ctx, "usr_alice", workflowParams("github:read", "usr_bob"))
	require.NoError(t, err)
	b.runJobs(t)
	b.clock.Set(r.PendingUntil.Add(time.Minute))
	require.NoError(t, b.svc.TimeOut(ctx, r.ID))
	b.runJobs(t)
	timedOut := b.lastDM(t, "alice", "timed out")
	bobMsg := b.lastDM(t, "bob", "asks for access")
	require.Contains(t, slackfake.BlockText(bobMsg.Blocks), "Timed out")
	_, err = b.slack.Click(ctx, sid("alice"), slackfake.InMessage(timedOut.Channel, timedOut.TS), verbRequestAgain)
	require.NoError(t, err)
	v := b.modal(t, "alice")
	require.Contains(t, string(v.Blocks()), `"value":"github:read"}],"options"`, "prefilled like the request that timed out")

	r2, err := b.svc.Submit(ctx, "usr_alice", workflowParams("grafana:read", "usr_bob"))
	require.NoError(t, err)
	_, err = b.svc.Cancel(ctx, "usr_carol", r2.ID)
	require.NoError(t, err)
	b.runJobs(t)
	cancelled := b.lastDM(t, "alice", "cancelled")
	require.Contains(t, slackfake.BlockText(cancelled.Blocks), "*cancelled* by <@UCAROL>")
	require.Equal(t, access.RequestCancelled, mustRequest(t, b, r2.ID).State)
	b.noViolations(t)
}

func mustRequest(t *testing.T, b *testBundle, id string) *access.Request {
	t.Helper()
	r, err := b.st.RequestGetByID(t.Context(), id, false)
	require.NoError(t, err)
	return r
}
