package slackbot

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/store"
)

// TestStaleButtonAndForm: a click on a copy that is out of date, and a
// form submitted after someone else decided, get a clear answer and change
// nothing.
func TestStaleButtonAndForm(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, mode string) {
		b := setup(t, mode)
		ctx := t.Context()
		_, err := b.svc.Submit(ctx, "usr_alice", workflowParams("github:admin")) // asks bob and carol
		require.NoError(t, err)
		b.runJobs(t)
		bobMsg := b.lastDM(t, "bob", "asks for access")
		carolMsg := b.lastDM(t, "carol", "asks for access")

		// Carol opens the approval form; meanwhile bob approves.
		_, err = b.slack.Click(ctx, sid("carol"), slackfake.InMessage(carolMsg.Channel, carolMsg.TS), verbApprove)
		require.NoError(t, err)
		carolForm := b.modal(t, "carol")
		_, err = b.slack.Click(ctx, sid("bob"), slackfake.InMessage(bobMsg.Channel, bobMsg.TS), verbApprove)
		require.NoError(t, err)
		_, err = b.slack.Submit(ctx, sid("bob"), b.modal(t, "bob").ID)
		require.NoError(t, err)
		b.settle(t)

		_, err = b.slack.Submit(ctx, sid("carol"), carolForm.ID)
		require.NoError(t, err)
		require.Equal(t, "Not recorded", b.modal(t, "carol").Title())
		require.Contains(t, b.modal(t, "carol").Text(), "is approved, not pending")

		// Carol's copy lost its buttons already (refreshed after bob's decision).
		got, _ := b.slack.Message(carolMsg.Channel, carolMsg.TS)
		require.NotContains(t, string(got.Blocks), `"type":"actions"`)

		// A click on a stale copy (its buttons still there) is answered.
		_, err = b.slack.SendInteraction(ctx, buttonPayload(b, "carol", verbApprove, b.onlyRequest(t, "alice").ID))
		require.NoError(t, err)
		require.Contains(t, b.slack.LastEphemeral(sid("carol")), "no longer waiting for your decision. ✅ *Approved* by <@UBOB>")
		r := b.onlyRequest(t, "alice")
		require.Len(t, r.Decisions, 1)
		b.noViolations(t)
	})
}

// TestCraftedPayloads: forged clicks and submissions from people who may
// not decide, or for someone else's form, change nothing; refusals are
// audited by the workflow.
func TestCraftedPayloads(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	ctx := t.Context()
	r, err := b.svc.Submit(ctx, "usr_alice", workflowParams("github:admin", "usr_bob"))
	require.NoError(t, err)
	b.runJobs(t)
	b.command(t, "mallory", "help") // opens mallory's IM for the ephemeral answers
	b.command(t, "alice", "help")

	_, err = b.slack.SendInteraction(ctx, buttonPayload(b, "mallory", verbApprove, r.ID))
	require.NoError(t, err)
	require.Contains(t, b.slack.LastEphemeral(sid("mallory")), "was not found", "mallory may not even see it")

	for _, tc := range []struct {
		name, user string
		m          meta
		want       string
	}{
		{"ineligible", "mallory", meta{K: kindDecide, U: sid("mallory"), Req: r.ID, Out: "approve"}, "not an eligible approver"},
		{"requester", "alice", meta{K: kindDecide, U: sid("alice"), Req: r.ID, Out: "approve"}, "cannot approve or reject your own request"},
		{"someone else's form", "mallory", meta{K: kindDecide, U: sid("bob"), Req: r.ID, Out: "approve"}, "out of date"},
	} {
		ack, err := b.slack.SendInteraction(ctx, submissionPayload(b, tc.user, tc.m, nil))
		require.NoError(t, err, tc.name)
		require.Contains(t, string(ack.Body), tc.want, tc.name)
	}
	garbled := submissionPayload(b, "mallory", meta{K: kindDecide, U: sid("mallory"), Req: r.ID, Out: "approve"}, nil)
	garbled["view"].(map[string]any)["private_metadata"] = `{"v":1,"k":"decide","u":"UMALLORY","req":"x","out":"approve","admin":true}`
	ack, err := b.slack.SendInteraction(ctx, garbled)
	require.NoError(t, err)
	require.Contains(t, string(ack.Body), "out of date")

	r, err = b.st.RequestGetByID(ctx, r.ID, false)
	require.NoError(t, err)
	require.Equal(t, access.RequestPending, r.State)
	require.Empty(t, r.Decisions)
	events, _, err := b.st.EventList(ctx, store.EventListParams{Action: "request.decision_refused"})
	require.NoError(t, err)
	require.Len(t, events, 2, "both refusals are in the audit log")
}

// TestHTTPSignatures: unsigned, badly signed, stale and query-string
// payloads are refused before anything is parsed.
func TestHTTPSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	h := b.bot.HTTPHandler()
	now := b.clock.Now().Unix()
	post := func(path, body string, ts int64, secret string, query string) int {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, path+query, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if secret != "" {
			req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
			req.Header.Set("X-Slack-Signature", slackfake.Sign(secret, ts, []byte(body)))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	form := url.Values{"user_id": {"UALICE"}, "command": {"/access"}, "text": {"help"}, "trigger_id": {"1.2.3"}}.Encode()
	secret := b.slack.SigningSecret()
	require.Equal(t, http.StatusOK, post("/slack/commands", form, now, secret, ""))
	require.Equal(t, http.StatusUnauthorized, post("/slack/commands", form, now, "", ""), "unsigned")
	require.Equal(t, http.StatusUnauthorized, post("/slack/commands", form, now, "wrong-secret", ""), "wrong secret")
	require.Equal(t, http.StatusUnauthorized, post("/slack/commands", form, now-6*60, secret, ""), "older than 5 minutes")
	require.Equal(t, http.StatusUnauthorized, post("/slack/commands", form, now+6*60, secret, ""), "from the future")
	require.Equal(t, http.StatusOK, post("/slack/commands", form, now-4*60, secret, ""), "within 5 minutes")
	payload := url.QueryEscape(`{"type":"block_actions","user":{"id":"UALICE"}}`)
	require.Equal(t, http.StatusBadRequest, post("/slack/interactions", "", now, secret, "?payload="+payload),
		"a payload outside the signed body is ignored")

	// A bot without a signing secret (socket mode) verifies nothing, so it
	// accepts nothing.
	sock := setup(t, ModeSocket)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/slack/commands", strings.NewReader(form))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now, 10))
	req.Header.Set("X-Slack-Signature", slackfake.Sign("", now, []byte(form)))
	w := httptest.NewRecorder()
	sock.bot.HTTPHandler().ServeHTTP(w, req)
	require.Equal(t, http.StatusNotFound, w.Code)

	big := bytes.Repeat([]byte("x"), maxRequestBody+1)
	require.Equal(t, http.StatusRequestEntityTooLarge, post("/slack/commands", string(big), now, secret, ""))
}

// TestEvents: the url_verification challenge, app_home_opened, and a
// retried event that must not act twice.
func TestEvents(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, mode string) {
		b := setup(t, mode)
		ctx := t.Context()
		if mode == ModeHTTP {
			ack, err := b.slack.URLVerification(ctx, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
			require.NoError(t, err)
			require.JSONEq(t, `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`, string(ack.Body))
		}
		ev := b.slack.HomeOpenedEvent(sid("alice"))
		_, err := b.slack.SendEvent(ctx, ev, 0)
		require.NoError(t, err)
		b.settle(t)
		_, err = b.slack.SendEvent(ctx, ev, 1)
		require.NoError(t, err)
		_, err = b.slack.SendEvent(ctx, ev, 2)
		require.NoError(t, err)
		b.settle(t)
		// In socket mode the work after the ack may still be running.
		require.Eventually(t, func() bool { _, ok := b.slack.Home(sid("alice")); return ok }, 20*time.Second, 10*time.Millisecond)
		b.settle(t)
		require.Len(t, b.slack.Calls("views.publish"), 1, "retries of one event publish once")
		home, ok := b.slack.Home(sid("alice"))
		require.True(t, ok)
		require.Contains(t, home.Text(), "Raise a Ticket")

		_, err = b.slack.OpenHome(ctx, "UGHOST")
		require.NoError(t, err)
		require.Eventually(t, func() bool { _, ok := b.slack.Home("UGHOST"); return ok }, 20*time.Second, 10*time.Millisecond)
		b.settle(t)
		ghost, ok := b.slack.Home("UGHOST")
		require.True(t, ok)
		require.Contains(t, ghost.Text(), "Link my account")
		_, err = b.slack.Click(ctx, "UGHOST", slackfake.InView(ghost.ID), verbLink)
		require.NoError(t, err)
		linkModal, ok := b.slack.Modal("UGHOST")
		require.True(t, ok)
		require.Contains(t, linkModal.Text(), "https://sesame.example.com/slack/link?code=")
		b.noViolations(t)
	})
}

// TestLinking: confirmed emails link by themselves; others use /access
// login and a one-time, expiring code.
func TestLinking(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeSocket)
	ctx := t.Context()

	b.command(t, "frank", "github")
	require.Contains(t, b.slack.LastEphemeral(sid("frank")), "Run `/access login` to link it")
	_, open := b.slack.Modal(sid("frank"))
	require.False(t, open)

	b.command(t, "frank", "login")
	text := b.slack.LastEphemeral(sid("frank"))
	require.Contains(t, text, "https://sesame.example.com/slack/link?code=")
	u, err := url.Parse(text[strings.Index(text, "https://"):strings.Index(text, "|")])
	require.NoError(t, err)
	code := u.Query().Get("code")

	_, err = b.bot.CompleteLink(ctx, code[:len(code)-2]+"xx", "frank@example.com")
	require.ErrorIs(t, err, ErrBadLinkCode, "tampered")
	_, err = b.bot.CompleteLink(ctx, code, "nobody@example.com")
	require.Equal(t, access.CodeNotFound, access.ErrorCode(err))
	linked, err := b.bot.CompleteLink(ctx, code, "Frank@Example.com")
	require.NoError(t, err)
	require.Equal(t, "UFRANK", linked.SlackUserID)
	_, err = b.bot.CompleteLink(ctx, code, "mallory@example.com")
	require.Equal(t, access.CodeConflict, access.ErrorCode(err), "the code cannot link the Slack user a second time")
	events, _, err := b.st.EventList(ctx, store.EventListParams{Action: "user.slack_linked"})
	require.NoError(t, err)
	require.Len(t, events, 1)

	b.command(t, "frank", "github")
	require.Equal(t, "Request access", b.modal(t, "frank").Title())
	b.fillAndSubmit(t, "frank", []string{"github:read"}, "now that I am linked")
	require.Equal(t, access.RequestPending, b.onlyRequest(t, "frank").State)
	b.command(t, "frank", "login")
	require.Contains(t, b.slack.LastEphemeral(sid("frank")), "linked to *frank@example.com*")

	// The link's page shows the code (it binds nothing by itself).
	page := func(code string) string {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/slack/link?code="+url.QueryEscape(code), nil)
		w := httptest.NewRecorder()
		b.bot.HTTPHandler().ServeHTTP(w, req)
		require.Equal(t, http.StatusOK, w.Code)
		return w.Body.String()
	}
	b.command(t, "mallory", "login")
	require.Contains(t, b.slack.LastEphemeral(sid("mallory")), "linked to *mallory@example.com*")
	require.Contains(t, page(code), "sesame slack link CODE --user YOUR-EMAIL")
	require.Contains(t, page(code), `href="/link/slack?code=`+url.QueryEscape(code)+`"`, "the page leads to the dashboard, which binds the signed-in user")
	require.Contains(t, page("<script>"), "invalid or has expired")
	require.NotContains(t, page("<script>"), "<script>")

	b.command(t, "ghost", "login")
	text = b.slack.LastEphemeral("UGHOST")
	u, err = url.Parse(text[strings.Index(text, "https://"):strings.Index(text, "|")])
	require.NoError(t, err)
	b.clock.Advance(LinkTTL + time.Second)
	_, err = b.bot.CompleteLink(ctx, u.Query().Get("code"), "ghost@elsewhere.com")
	require.ErrorIs(t, err, ErrBadLinkCode, "expired")

	// When Slack cannot say who someone is, the answer says so (not "unlinked").
	b.slack.FailNext("users.info", 1, "fatal_error")
	b.command(t, "ghost", "list")
	require.Contains(t, b.slack.LastEphemeral("UGHOST"), "Slack did not say who you are")

	// dave's Slack email is confirmed: his first command links him.
	b.command(t, "dave", "help")
	b.command(t, "dave", "list")
	d, err := b.st.UserGetByID(ctx, "usr_dave")
	require.NoError(t, err)
	require.Equal(t, "UDAVE", d.SlackUserID)
	b.noViolations(t)
}

// TestSlackFailuresAreRetried: Slack failing after a submission loses
// nothing: the request exists, the DM is retried, and never sent twice.
func TestSlackFailuresAreRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeHTTP)
	ctx := t.Context()
	r, err := b.svc.Submit(ctx, "usr_alice", workflowParams("github:admin", "usr_bob"))
	require.NoError(t, err)
	b.slack.FailNextStatus("chat.postMessage", 1, http.StatusTooManyRequests)
	b.slack.FailNextStatus("views.publish", 1, http.StatusTooManyRequests) // after a DM was posted
	b.slack.FailNext("conversations.open", 1, "fatal_error")
	_, del := b.jobs.take()
	require.Len(t, del, 2)
	failures := 0
	for range 4 {
		for _, id := range del {
			if err := b.svc.Deliver(ctx, id); err != nil {
				failures++
			}
		}
	}
	require.Equal(t, 3, failures)
	ns, err := b.st.NotificationListByRequest(ctx, r.ID)
	require.NoError(t, err)
	for _, n := range ns {
		require.Equal(t, access.NotificationSent, n.State, n.Kind)
	}
	require.Len(t, b.slack.DMs(sid("bob")), 1, "one approval DM, not one per attempt")
	require.Len(t, b.slack.DMs(sid("alice")), 1)
	rl := b.slack.Calls("chat.postMessage")
	require.Equal(t, http.StatusTooManyRequests, rl[0].Status)
	b.noViolations(t)
}

// TestSocketReconnect: Slack refreshes the Socket Mode connection; the bot
// reconnects and keeps serving.
func TestSocketReconnect(t *testing.T) {
	t.Parallel()
	b := setup(t, ModeSocket)
	b.slack.Disconnect("refresh_requested")
	require.Eventually(t, func() bool { return b.slack.SocketConnections() == 1 }, 10*time.Second, 20*time.Millisecond)
	b.command(t, "alice", "help")
	require.Contains(t, b.slack.LastEphemeral(sid("alice")), "Sesame")
	require.Len(t, b.slack.Calls("apps.connections.open"), 2)
}
