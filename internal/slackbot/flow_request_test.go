package slackbot

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/slackfake"
)

// TestRequestApproveProvision drives the main flow: /access github, the
// form, an approval with a changed duration, provisioning on the fake
// connector, and what everyone sees at the end.
func TestRequestApproveProvision(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, mode string) {
		b := setup(t, mode)
		ctx := t.Context()

		ack := b.command(t, "alice", "github")
		require.Empty(t, strings.TrimSpace(string(ack.Body)), "the form opens; nothing to say in the channel")
		v := b.modal(t, "alice")
		require.Equal(t, "Request access", v.Title())
		require.Contains(t, v.Text(), "GitHub", "a unique match skips the app step")

		b.fillAndSubmit(t, "alice", []string{"github:admin"}, "incident 42 needs it", "usr_bob")
		v = b.modal(t, "alice")
		require.Equal(t, "Request sent", v.Title())
		require.Contains(t, v.Text(), "Request sent")

		r := b.onlyRequest(t, "alice")
		require.Equal(t, access.RequestPending, r.State)
		require.Equal(t, []string{"usr_bob"}, r.Steps[0].Notified)
		require.Equal(t, time.Hour, r.Duration, "the policy's default duration was preselected")

		b.runJobs(t)
		b.lastDM(t, "alice", "was sent to")
		msg := b.lastDM(t, "bob", "asks for access")
		require.Contains(t, string(msg.Blocks), `"action_id":"approve"`)
		require.Contains(t, slackfake.BlockText(msg.Blocks), "incident 42 needs it")

		_, err := b.slack.Click(ctx, sid("bob"), slackfake.InMessage(msg.Channel, msg.TS), verbApprove)
		require.NoError(t, err)
		v = b.modal(t, "bob")
		require.Equal(t, "Approve request", v.Title())
		_, err = b.slack.SelectOptions(ctx, sid("bob"), v.ID, actionDuration, "30m")
		require.NoError(t, err)
		require.NoError(t, b.slack.TypeText(sid("bob"), v.ID, actionComment, "ok for the incident"))
		_, err = b.slack.Submit(ctx, sid("bob"), v.ID)
		require.NoError(t, err)
		_, open := b.slack.Modal(sid("bob"))
		require.False(t, open, "the decision form closes")

		b.runJobs(t)
		require.True(t, b.backend.Has("github", "alice@example.com", "admin"), "provisioned on the connector")
		r, _, err = b.svc.GetRequest(ctx, b.users["alice"].ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, access.RequestActive, r.State)
		require.Equal(t, 30*time.Minute, r.Duration)

		approved := b.lastDM(t, "alice", "approved")
		require.Contains(t, slackfake.BlockText(approved.Blocks), "<@UBOB>")
		require.Contains(t, slackfake.BlockText(approved.Blocks), "ok for the incident")
		b.lastDM(t, "alice", "Task completed")

		updated, ok := b.slack.Message(msg.Channel, msg.TS)
		require.True(t, ok)
		require.NotContains(t, string(updated.Blocks), `"type":"actions"`, "the approver's copy has no live buttons any more")
		require.Contains(t, slackfake.BlockText(updated.Blocks), "Approved* by <@UBOB> for 30 minutes")
		require.Positive(t, updated.Updates)

		_, err = b.slack.OpenHome(ctx, sid("alice"))
		require.NoError(t, err)
		b.settle(t)
		home, ok := b.slack.Home(sid("alice"))
		require.True(t, ok)
		require.Contains(t, home.Text(), "*admin* on *GitHub*")
		require.Contains(t, home.Text(), "Until")
		b.noViolations(t)
	})
}

func TestRejectWithComment(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, mode string) {
		b := setup(t, mode)
		ctx := t.Context()
		b.command(t, "alice", "gh")
		b.fillAndSubmit(t, "alice", []string{"github:read"}, "reading the code")
		b.runJobs(t)
		bobMsg := b.lastDM(t, "bob", "asks for access")
		carolMsg := b.lastDM(t, "carol", "asks for access")

		_, err := b.slack.Click(ctx, sid("bob"), slackfake.InMessage(bobMsg.Channel, bobMsg.TS), verbReject)
		require.NoError(t, err)
		v := b.modal(t, "bob")
		require.Equal(t, "Reject request", v.Title())
		require.NoError(t, b.slack.TypeText(sid("bob"), v.ID, actionComment, "use the <!channel> read-only mirror & co"))
		_, err = b.slack.Submit(ctx, sid("bob"), v.ID)
		require.NoError(t, err)
		b.runJobs(t)

		rejected := b.lastDM(t, "alice", "rejected")
		text := slackfake.BlockText(rejected.Blocks)
		require.Contains(t, text, "<@UBOB>")
		require.Contains(t, text, "use the &lt;!channel&gt; read-only mirror &amp; co", "user text is escaped")
		require.Equal(t, access.RequestRejected, b.onlyRequest(t, "alice").State)
		for _, m := range []slackfake.Message{bobMsg, carolMsg} {
			got, _ := b.slack.Message(m.Channel, m.TS)
			require.NotContains(t, string(got.Blocks), `"type":"actions"`)
			require.Contains(t, slackfake.BlockText(got.Blocks), "Rejected* by <@UBOB>")
		}
		require.False(t, b.backend.Has("github", "alice@example.com", "read"))
		b.noViolations(t)
	})
}

// TestMultiStepAndProgress: a two-step policy; the second step needs two
// approvals; earlier copies follow the request along.
func TestMultiStepAndProgress(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, mode string) {
		b := setup(t, mode)
		ctx := t.Context()
		b.command(t, "alice", "amazon")
		v := b.modal(t, "alice")
		require.Contains(t, v.Text(), "AWS Production", "aliases match")
		b.fillAndSubmit(t, "alice", []string{"aws-prod:admin"}, "")
		b.runJobs(t)
		bobMsg := b.lastDM(t, "bob", "asks for access")
		require.Contains(t, slackfake.BlockText(bobMsg.Blocks), "step 1 of 2 · Manager")

		approve := func(user string, m slackfake.Message) {
			t.Helper()
			_, err := b.slack.Click(ctx, sid(user), slackfake.InMessage(m.Channel, m.TS), verbApprove)
			require.NoError(t, err)
			v := b.modal(t, user)
			_, err = b.slack.Submit(ctx, sid(user), v.ID)
			require.NoError(t, err)
			b.runJobs(t)
		}
		approve("bob", bobMsg)
		got, _ := b.slack.Message(bobMsg.Channel, bobMsg.TS)
		require.Contains(t, slackfake.BlockText(got.Blocks), "You approved step 1. Now waiting for step 2 (Security)")

		// dave was not linked: the first DM links him by his confirmed email.
		daveMsg := b.lastDM(t, "dave", "asks for access")
		u, err := b.st.UserGetByID(ctx, "usr_dave")
		require.NoError(t, err)
		require.Equal(t, "UDAVE", u.SlackUserID)
		erinMsg := b.lastDM(t, "erin", "asks for access")

		approve("dave", daveMsg)
		got, _ = b.slack.Message(erinMsg.Channel, erinMsg.TS)
		require.Contains(t, string(got.Blocks), `"action_id":"approve"`, "erin can still decide")
		require.Contains(t, slackfake.BlockText(got.Blocks), "1 approval of 2 at this step so far: <@UDAVE>")
		got, _ = b.slack.Message(daveMsg.Channel, daveMsg.TS)
		require.Contains(t, slackfake.BlockText(got.Blocks), "You approved this. Waiting for 1 more approval at step 2")

		approve("erin", erinMsg)
		require.True(t, b.backend.Has("aws-prod", "alice@example.com", "admin"))
		b.noViolations(t)
	})
}

// TestSeveralMatchesAndNone: /access with an ambiguous text pre-filters
// the app menu; an unknown one says so.
func TestSeveralMatchesAndNone(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	ctx := t.Context()
	b.command(t, "alice", "git")
	v := b.modal(t, "alice")
	require.Contains(t, v.Text(), "2 apps matching “git”")
	_, err := b.slack.SelectOptions(ctx, sid("alice"), v.ID, actionApp, "github-enterprise")
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.Contains(t, v.Text(), "GitHub Enterprise")
	require.Contains(t, string(v.Blocks()), `"action_id":"roles"`)

	// Change app goes back to searching the whole catalog.
	_, err = b.slack.Click(ctx, sid("alice"), slackfake.InView(v.ID), actionChange)
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.Contains(t, string(v.Blocks()), `"external_select"`)

	b.command(t, "alice", "zzzz")
	require.Contains(t, b.slack.LastEphemeral(sid("alice")), "No app matches “zzzz”")

	b.command(t, "alice", "gthub")
	v = b.modal(t, "alice")
	require.Contains(t, v.Text(), "matching “gthub”", "typos still find apps")
	require.Contains(t, string(v.Blocks()), `"value":"github"`)
	b.noViolations(t)
}

// TestInlineErrors: what the workflow refuses is shown on the input.
func TestInlineErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeSocket)
	ctx := t.Context()
	b.command(t, "alice", "github")
	v := b.modal(t, "alice")
	_, err := b.slack.SelectOptions(ctx, sid("alice"), v.ID, actionRoles, "github:admin")
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionReason, "abc"))
	_, err = b.slack.Submit(ctx, sid("alice"), v.ID)
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.Len(t, v.Errors, 1)
	require.Contains(t, v.Errors[blockReason], "Must be at least 5 characters")

	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionReason, "a good reason"))
	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionCustom, "forever"))
	_, err = b.slack.Submit(ctx, sid("alice"), v.ID)
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.Contains(t, v.Errors[blockCustom], "Duration \"forever\"")

	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionCustom, "9h"))
	_, err = b.slack.Submit(ctx, sid("alice"), v.ID)
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.Len(t, v.Errors, 1)
	require.Contains(t, v.Errors[blockCustom], "Must be at most 4h")

	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionCustom, "90m"))
	_, err = b.slack.Submit(ctx, sid("alice"), v.ID)
	require.NoError(t, err)
	require.Equal(t, "Request sent", b.modal(t, "alice").Title())
	require.Equal(t, 90*time.Minute, b.onlyRequest(t, "alice").Duration)

	// A second request for the same role is refused, on the roles input.
	b.command(t, "alice", "github")
	v = b.modal(t, "alice")
	_, err = b.slack.SelectOptions(ctx, sid("alice"), v.ID, actionRoles, "github:admin")
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionReason, "again please"))
	_, err = b.slack.Submit(ctx, sid("alice"), v.ID)
	require.NoError(t, err)
	v = b.modal(t, "alice")
	require.Contains(t, v.Errors[rolesBlockID("github")], "You already have a pending request")
	b.noViolations(t)
}

// TestProvisioningFailureTellsEveryone: the requester gets "task failed"
// and the app's owners hear about it.
func TestProvisioningFailureTellsEveryone(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	ctx := t.Context()
	r, err := b.svc.Submit(ctx, "usr_alice", workflowParams("broken:admin", "usr_bob"))
	require.NoError(t, err)
	_, err = b.svc.Decide(ctx, "usr_bob", decideApprove(r.ID))
	require.NoError(t, err)
	b.runJobs(t)
	failed := b.lastDM(t, "alice", "Task failed")
	require.Contains(t, slackfake.BlockText(failed.Blocks), "/access broken")
	b.lastDM(t, "bob", "Setting up")
	b.noViolations(t)
}
