package slackbot

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/slackfake"
)

// TestHomeReminderAndCancel: from App Home the requester sends a reminder
// (once per 30 minutes) and cancels; approvers' copies follow.
func TestHomeReminderAndCancel(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, mode string) {
		b := setup(t, mode)
		ctx := t.Context()
		b.command(t, "alice", "github")
		b.fillAndSubmit(t, "alice", []string{"github:admin"}, "incident 42", "usr_bob")
		b.runJobs(t)
		bobMsg := b.lastDM(t, "bob", "asks for access")

		_, err := b.slack.OpenHome(ctx, sid("alice"))
		require.NoError(t, err)
		b.settle(t)
		home, ok := b.slack.Home(sid("alice"))
		require.True(t, ok)
		require.Contains(t, home.Text(), "Your open requests")
		require.Contains(t, home.Text(), "Pending: step 1 of 1")

		_, err = b.slack.Click(ctx, sid("alice"), slackfake.InView(home.ID), verbRemind+":0")
		require.NoError(t, err)
		require.Contains(t, b.modal(t, "alice").Text(), "I reminded the approvers")
		b.slack.CloseModal(sid("alice"), b.modal(t, "alice").ID)
		b.runJobs(t)
		b.lastDM(t, "bob", "Reminder")

		_, err = b.slack.Click(ctx, sid("alice"), slackfake.InView(home.ID), verbRemind+":0")
		require.NoError(t, err)
		require.Contains(t, b.modal(t, "alice").Text(), "Not yet: a reminder was sent at")
		b.slack.CloseModal(sid("alice"), b.modal(t, "alice").ID)

		b.clock.Advance(31 * time.Minute)
		_, err = b.slack.Click(ctx, sid("alice"), slackfake.InView(home.ID), verbRemind+":0")
		require.NoError(t, err)
		require.Contains(t, b.modal(t, "alice").Text(), "I reminded the approvers", "after 30 minutes another reminder goes")
		b.slack.CloseModal(sid("alice"), b.modal(t, "alice").ID)

		home, _ = b.slack.Home(sid("alice"))
		_, err = b.slack.Click(ctx, sid("alice"), slackfake.InView(home.ID), verbCancel+":0")
		require.NoError(t, err)
		require.Contains(t, b.modal(t, "alice").Text(), "Your request was cancelled")
		b.runJobs(t)
		require.Equal(t, access.RequestCancelled, b.onlyRequest(t, "alice").State)
		home, _ = b.slack.Home(sid("alice"))
		require.Contains(t, home.Text(), "You have no open requests.")
		for _, m := range b.slack.DMs(sid("bob")) {
			require.NotContains(t, string(m.Blocks), `"type":"actions"`, "every copy, reminders too, lost its buttons")
		}
		got, _ := b.slack.Message(bobMsg.Channel, bobMsg.TS)
		require.Contains(t, slackfake.BlockText(got.Blocks), "Cancelled")

		// Bob's Home was republished along the way: nothing waits for him.
		bobHome, ok := b.slack.Home(sid("bob"))
		require.True(t, ok)
		require.Contains(t, bobHome.Text(), "Nothing is waiting for you.")
		b.noViolations(t)
	})
}

// TestHomeApprove: an approver decides from the Home tab.
func TestHomeApprove(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	ctx := t.Context()
	_, err := b.svc.Submit(ctx, "usr_alice", workflowParams("github:read", "usr_bob"))
	require.NoError(t, err)
	b.runJobs(t)
	home, ok := b.slack.Home(sid("bob"))
	require.True(t, ok, "the notifier published bob's Home")
	require.Contains(t, home.Text(), "asks for *read* on *GitHub*")
	_, err = b.slack.Click(ctx, sid("bob"), slackfake.InView(home.ID), verbApprove+":0")
	require.NoError(t, err)
	v := b.modal(t, "bob")
	_, err = b.slack.Submit(ctx, sid("bob"), v.ID)
	require.NoError(t, err)
	b.runJobs(t)
	require.True(t, b.backend.Has("github", "alice@example.com", "read"))
	home, _ = b.slack.Home(sid("bob"))
	require.Contains(t, home.Text(), "Nothing is waiting for you.")

	// Raise a Ticket opens the form.
	_, err = b.slack.Click(ctx, sid("bob"), slackfake.InView(home.ID), verbNewRequest)
	require.NoError(t, err)
	require.Equal(t, "Request access", b.modal(t, "bob").Title())
	b.noViolations(t)
}

// activeGrant makes alice hold github:admin through bob's approval.
func activeGrant(t *testing.T, b *testBundle) *access.Grant {
	t.Helper()
	ctx := t.Context()
	r, err := b.svc.Submit(ctx, "usr_alice", workflowParams("github:admin", "usr_bob"))
	require.NoError(t, err)
	_, err = b.svc.Decide(ctx, "usr_bob", decideApprove(r.ID))
	require.NoError(t, err)
	b.runJobs(t)
	gs, err := b.st.GrantListByRequest(ctx, r.ID)
	require.NoError(t, err)
	require.Len(t, gs, 1)
	require.Equal(t, access.GrantActive, gs[0].State)
	return gs[0]
}

// TestExtendAndRevoke: "expires soon" DM with Extend (the extension form
// for the holder, approved by an approver; the extend form for an admin)
// and "I'm done".
func TestExtendAndRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeSocket)
	ctx := t.Context()
	g := activeGrant(t, b)

	b.clock.Set(g.ExpiresAt.Add(-10 * time.Minute))
	_, err := b.svc.Sweep(ctx)
	require.NoError(t, err)
	b.runJobs(t)
	expiring := b.lastDM(t, "alice", "expires")
	_, err = b.slack.Click(ctx, sid("alice"), slackfake.InMessage(expiring.Channel, expiring.TS), verbExtend)
	require.NoError(t, err)
	v := b.modal(t, "alice")
	require.Equal(t, "Ask for more time", v.Title())
	require.Contains(t, v.Text(), "from when the extension is approved")
	require.NotContains(t, string(v.Blocks()), `"5 hours`, "the presets stop at the max that applies (4h for github:admin)")
	_, err = b.slack.SelectOptions(ctx, sid("alice"), v.ID, actionDuration, "2h")
	require.NoError(t, err)
	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionReason, "the migration runs late"))
	// Past the max: the form says so inline, and nothing is stored.
	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionCustom, "5h"))
	ack, err := b.slack.Submit(ctx, sid("alice"), v.ID)
	require.NoError(t, err)
	require.Contains(t, string(ack.Body), `"response_action":"errors"`)
	require.Contains(t, string(ack.Body), "4h")
	require.NoError(t, b.slack.TypeText(sid("alice"), v.ID, actionCustom, ""))
	_, err = b.slack.Submit(ctx, sid("alice"), v.ID)
	require.NoError(t, err)
	require.Contains(t, b.modal(t, "alice").Text(), "Extension request sent")
	b.slack.CloseModal(sid("alice"), b.modal(t, "alice").ID)
	b.runJobs(t)

	// Bob's DM says it is an extension, of which grant, until when.
	ask := b.lastDM(t, "bob", "asks for *more time*")
	require.Contains(t, slackfake.BlockText(ask.Blocks), "Extension of grant `"+g.ID+"`")
	_, err = b.slack.Click(ctx, sid("bob"), slackfake.InMessage(ask.Channel, ask.TS), verbApprove)
	require.NoError(t, err)
	_, err = b.slack.Submit(ctx, sid("bob"), b.modal(t, "bob").ID)
	require.NoError(t, err)
	b.runJobs(t)
	b.lastDM(t, "alice", "was *extended* by")
	extended, err := b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.GrantActive, extended.State)
	require.WithinDuration(t, b.clock.Now().Add(2*time.Hour), extended.ExpiresAt, 10*time.Second, "the same grant, extended in place, 2h from the approval")
	require.True(t, extended.ExpiresAt.After(g.ExpiresAt.Add(time.Hour)))
	grants, _ := b.backend.Counts()
	require.Equal(t, 1, grants, "nothing provisioned again")
	got, _ := b.slack.Message(ask.Channel, ask.TS)
	require.Contains(t, slackfake.BlockText(got.Blocks), "The access was extended.")

	// The Home tab's Extend opens the same form.
	_, err = b.slack.OpenHome(ctx, sid("alice"))
	require.NoError(t, err)
	b.settle(t)
	home, ok := b.slack.Home(sid("alice"))
	require.True(t, ok)
	_, err = b.slack.Click(ctx, sid("alice"), slackfake.InView(home.ID), verbExtend+":0")
	require.NoError(t, err)
	require.Equal(t, "Ask for more time", b.modal(t, "alice").Title())
	b.slack.CloseModal(sid("alice"), b.modal(t, "alice").ID)

	// An admin extends through the workflow (crafted click: admins have no
	// Extend button on someone else's grant, but may use it).
	_, err = b.slack.SendInteraction(ctx, buttonPayload(b, "carol", verbExtend, g.ID))
	require.NoError(t, err)
	v = b.modal(t, "carol")
	require.Equal(t, "Extend access", v.Title())
	_, err = b.slack.SelectOptions(ctx, sid("carol"), v.ID, actionDuration, "2h")
	require.NoError(t, err)
	_, err = b.slack.Submit(ctx, sid("carol"), v.ID)
	require.NoError(t, err)
	require.Contains(t, b.modal(t, "carol").Text(), "now lasts until")
	g2, err := b.st.GrantGetByID(ctx, g.ID, false)
	require.NoError(t, err)
	require.Equal(t, b.clock.Now().Add(2*time.Hour).Truncate(time.Microsecond), g2.ExpiresAt)

	// "I'm done" on the task-completed message removes access.
	done := b.lastDM(t, "alice", "Task completed")
	_, err = b.slack.Click(ctx, sid("alice"), slackfake.InMessage(done.Channel, done.TS), verbRevoke)
	require.NoError(t, err)
	require.Contains(t, b.slack.LastEphemeral(sid("alice")), "Removing your access now")
	require.NoError(t, b.svc.Revoke(ctx, g.ID))
	b.runJobs(t)
	b.lastDM(t, "alice", "was *removed*")
	require.False(t, b.backend.Has("github", "alice@example.com", "admin"))
	b.noViolations(t)
}

// TestListAndHelp covers /access list and /access help.
func TestListAndHelp(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	activeGrant(t, b)
	_, err := b.svc.Submit(t.Context(), "usr_alice", workflowParams("grafana:read", "usr_bob"))
	require.NoError(t, err)
	b.command(t, "alice", "list")
	list := b.slack.LastEphemeral(sid("alice"))
	require.Contains(t, list, "*read* on *Grafana*")
	require.Contains(t, list, "Pending")
	require.Contains(t, list, "*admin* on *GitHub*: until")
	b.command(t, "alice", "help")
	require.Contains(t, b.slack.LastEphemeral(sid("alice")), "`/access list`")
	b.noViolations(t)
}
