package slackbot

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/slackfake"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden") //nolint:gochecknoglobals // the test flag of golden files

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, got, 0o600))
	}
	want, err := os.ReadFile(path) //nolint:gosec // a test fixture path
	require.NoError(t, err, "run go test ./internal/slackbot -update to create %s", path)
	require.Equal(t, string(want), string(got), "%s differs; rerun with -update if the change is intended", path)
}

func goldenJSON(t *testing.T, name string, v any) []byte {
	t.Helper()
	js, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	golden(t, name, append(js, '\n'))
	return js
}

// goldenModal checks a modal against its golden file and Slack's limits.
func goldenModal(t *testing.T, name string, v slack.ModalViewRequest) {
	t.Helper()
	js := goldenJSON(t, name, v)
	require.NoError(t, slackfake.ValidateView(js), name)
}

func goldenHome(t *testing.T, name string, v slack.HomeTabViewRequest) {
	t.Helper()
	js := goldenJSON(t, name, v)
	require.NoError(t, slackfake.ValidateView(js), name)
}

func goldenMessage(t *testing.T, name, text string, blocks []slack.Block) {
	t.Helper()
	goldenJSON(t, name, map[string]any{"text": text, "blocks": blocks})
	js, err := json.Marshal(blocks)
	require.NoError(t, err)
	require.NoError(t, slackfake.ValidateMessage(text, js), name)
}

// fixtures: people, an app, requests in every state, grants.
type fixtures struct {
	alice, bob, carol, dave *access.User
	app                     *access.App
	admin, read             *access.Entitlement
}

func newFixtures() fixtures {
	u := func(id, name, slackID string) *access.User {
		return &access.User{ID: "usr_" + id, Email: id + "@example.com", Name: name, SlackUserID: slackID, Status: access.UserActive}
	}
	return fixtures{
		alice: u("alice", "Alice", "UALICE"), bob: u("bob", "Bob", "UBOB"), carol: u("carol", "Carol", ""), dave: u("dave", "Dave", "UDAVE"),
		app: &access.App{ID: "github", Name: "GitHub", Description: "Source code and CI", Owners: []string{"usr_bob"}},
		admin: &access.Entitlement{ID: "github:admin", AppID: "github", Key: "admin", Name: "admin", Description: "Organization owner",
			Risk: access.RiskHigh, MaxDuration: 4 * time.Hour, Requestable: true},
		read: &access.Entitlement{ID: "github:read", AppID: "github", Key: "read", Name: "read", Requestable: true},
	}
}

func (f fixtures) info(r *access.Request) *requestInfo {
	users := map[string]*access.User{}
	for _, u := range []*access.User{f.alice, f.bob, f.carol, f.dave} {
		users[u.ID] = u
	}
	return &requestInfo{Req: r, App: f.app, Ents: []*access.Entitlement{f.admin}, Users: users}
}

func pendingRequest() *access.Request {
	return &access.Request{ID: "req_01GOLDEN", RequesterID: "usr_alice", AppID: "github", EntitlementIDs: []string{"github:admin"},
		Duration: 2 * time.Hour, MaxDuration: 4 * time.Hour, Reason: "incident <42> & the deploy is stuck\nsee the runbook",
		State: access.RequestPending, PolicyID: "default", CreatedAt: t0, PendingUntil: t0.Add(24 * time.Hour),
		Steps: []access.Step{{Name: "Owner approval", Eligible: []string{"usr_bob", "usr_carol"}, Notified: []string{"usr_bob", "usr_carol"}, Required: 1}}}
}

func twoStepRequest() *access.Request {
	r := pendingRequest()
	r.Steps = []access.Step{
		{Name: "Manager", Eligible: []string{"usr_bob"}, Notified: []string{"usr_bob"}, Required: 1},
		{Name: "Security", Eligible: []string{"usr_carol", "usr_dave"}, Notified: []string{"usr_carol", "usr_dave"}, Required: 2},
	}
	r.CurrentStep = 1
	r.Decisions = []access.Decision{
		{ID: "dec_1", ApproverID: "usr_bob", Outcome: access.Approve, Step: 0, CreatedAt: t0},
		{ID: "dec_2", ApproverID: "usr_dave", Outcome: access.Approve, Step: 1, CreatedAt: t0},
	}
	return r
}

func decided(state access.RequestState, d access.Decision) *access.Request {
	r := pendingRequest()
	r.State = state
	r.Decisions = []access.Decision{d}
	r.CurrentStep = 1
	return r
}

func plan(chooses bool, eligible int) *policy.Plan {
	all := []policy.Approver{{UserID: "usr_bob", Email: "bob@example.com", Name: "Bob", Reason: "owner of GitHub"},
		{UserID: "usr_carol", Email: "carol@example.com", Name: "Carol", Reason: "owner of GitHub"}}
	return &policy.Plan{PolicyID: "default", MaxDuration: 4 * time.Hour, DefaultDuration: time.Hour,
		Reason: policy.ReasonRule{Required: true, MinLength: 5},
		Steps:  []policy.PlanStep{{Name: "Owner approval", Eligible: all[:eligible], Required: 1, RequesterChooses: chooses, Choose: 1}}}
}

func TestGoldenModals(t *testing.T) {
	t.Parallel()
	f := newFixtures()
	m := meta{K: kindRequest, U: "UALICE"}
	withApp := requestForm{Meta: meta{K: kindRequest, U: "UALICE", App: "github"}, App: f.app, Ents: []*access.Entitlement{f.admin, f.read}}
	chosen := withApp
	chosen.Selected, chosen.Plan, chosen.Duration = []string{"github:admin"}, plan(true, 2), time.Hour
	chosen.Holding = map[string]time.Time{"github:admin": t0.Add(time.Hour)}
	auto := chosen
	auto.Plan = &policy.Plan{PolicyID: "oncall", MaxDuration: 2 * time.Hour, AutoApproveRule: "oncall/short"}
	auto.Holding = nil
	nobody := chosen
	nobody.Plan, nobody.Holding = plan(false, 0), nil
	failed := withApp
	failed.Selected, failed.PlanError = []string{"github:admin"}, "Policies a and b both match this request equally; make one more specific"
	empty := requestForm{Meta: meta{K: kindRequest, U: "UALICE", App: "github"}, App: f.app}

	goldenModal(t, "modal_request_search", requestModal(requestForm{Meta: m}))
	goldenModal(t, "modal_request_matches", requestModal(requestForm{Meta: m, Query: "git",
		Choices: []*access.App{f.app, {ID: "github-enterprise", Name: "GitHub Enterprise"}}}))
	goldenModal(t, "modal_request_app", requestModal(withApp))
	goldenModal(t, "modal_request_plan", requestModal(chosen))
	goldenModal(t, "modal_request_auto", requestModal(auto))
	goldenModal(t, "modal_request_nobody", requestModal(nobody))
	goldenModal(t, "modal_request_plan_error", requestModal(failed))
	goldenModal(t, "modal_request_no_roles", requestModal(empty))

	pending := f.info(pendingRequest())
	goldenModal(t, "modal_submitted", submittedModal("UALICE", pending, "https://sesame.example.com"))
	autoReq := pendingRequest()
	autoReq.State, autoReq.AutoApproveRule, autoReq.CurrentStep = access.RequestApproved, "oncall/short", 1
	goldenModal(t, "modal_submitted_auto", submittedModal("UALICE", f.info(autoReq), ""))
	goldenModal(t, "modal_decide_approve", decideModal(meta{K: kindDecide, U: "UBOB", Req: "req_01GOLDEN", Out: "approve"}, pending))
	goldenModal(t, "modal_decide_reject", decideModal(meta{K: kindDecide, U: "UBOB", Req: "req_01GOLDEN", Out: "reject"}, pending))
	g := &access.Grant{ID: "grt_01GOLDEN", UserID: "usr_alice", AppID: "github", EntitlementID: "github:admin", State: access.GrantActive,
		Duration: 2 * time.Hour, MaxDuration: 4 * time.Hour, ExpiresAt: t0.Add(2 * time.Hour)}
	goldenModal(t, "modal_extend", extendModal(meta{K: kindExtend, U: "UCAROL", Grt: g.ID}, &grantInfo{Grant: g, App: f.app, Ent: f.admin}))
	goldenModal(t, "modal_notice", noticeModal("UALICE", "Reminder sent", "⏰ I reminded the approvers."))

	// The holder's extension form, under each extension rule.
	gi := &grantInfo{Grant: g, App: f.app, Ent: f.admin}
	steps := plan(false, 2)
	steps.Extension = policy.ExtensionRule{AutoWithin: time.Hour}
	goldenModal(t, "modal_extension", extensionModal(meta{K: kindExtend, U: "UALICE", Grt: g.ID}, gi, steps))
	autoExt := plan(false, 2)
	autoExt.Extension = policy.ExtensionRule{Approval: policy.ExtensionAuto}
	goldenModal(t, "modal_extension_auto", extensionModal(meta{K: kindExtend, U: "UALICE", Grt: g.ID}, gi, autoExt))
	ext := f.extension(g)
	goldenModal(t, "modal_submitted_extension", submittedModal("UALICE", ext, "https://sesame.example.com"))
	goldenModal(t, "modal_decide_approve_extension", decideModal(meta{K: kindDecide, U: "UBOB", Req: ext.Req.ID, Out: "approve"}, ext))
	extended := f.extension(g)
	extended.Req.State, extended.Req.AutoApproveRule, extended.Req.CurrentStep = access.RequestExtended, "default/extension:auto", 1
	extended.Extends.ExpiresAt = t0.Add(3 * time.Hour)
	goldenModal(t, "modal_submitted_extended", submittedModal("UALICE", extended, ""))
}

// extension is alice's pending extension request of g (3h from the
// approval), with the grant loaded.
func (f fixtures) extension(g *access.Grant) *requestInfo {
	r := pendingRequest()
	r.ID, r.ExtendsGrantID, r.Reason, r.Duration = "req_02EXTEND", g.ID, "the migration runs late", 3*time.Hour
	cp := *g
	ri := f.info(r)
	ri.Extends = &cp
	return ri
}

func TestGoldenHome(t *testing.T) {
	t.Parallel()
	f := newFixtures()
	active := &access.Grant{ID: "grt_1", UserID: "usr_alice", AppID: "github", EntitlementID: "github:admin", State: access.GrantActive,
		ExpiresAt: t0.Add(2 * time.Hour)}
	setup := &access.Grant{ID: "grt_2", UserID: "usr_alice", AppID: "github", EntitlementID: "github:read", State: access.GrantProvisioning}
	approved := pendingRequest()
	approved.ID, approved.State = "req_02GOLDEN", access.RequestApproved
	forBob := pendingRequest()
	forBob.ID = "req_03GOLDEN"
	goldenHome(t, "home_full", homeView(homeData{User: f.alice, Command: "/access", BaseURL: "https://sesame.example.com",
		Waiting: []*requestInfo{f.info(forBob)}, MoreWaiting: true,
		Open:   []*requestInfo{f.info(pendingRequest()), f.info(approved)},
		Grants: []*grantInfo{{Grant: active, App: f.app, Ent: f.admin}, {Grant: setup, App: f.app, Ent: f.read}}, MoreGrants: true}))
	goldenHome(t, "home_empty", homeView(homeData{User: f.bob, Command: "/access"}))
	extFor := f.extension(active)
	extFor.Req.RequesterID = "usr_carol"
	goldenHome(t, "home_extensions", homeView(homeData{User: f.alice, Command: "/access",
		Waiting: []*requestInfo{extFor}, Open: []*requestInfo{f.extension(active)},
		Grants: []*grantInfo{{Grant: active, App: f.app, Ent: f.admin}}}))
	goldenHome(t, "home_unlinked", unlinkedHomeView("/access"))

	// The fullest Home stays within Slack's 100 blocks.
	var many homeData
	many.User, many.Command = f.alice, "/access"
	for range homeLimit {
		many.Waiting = append(many.Waiting, f.info(pendingRequest()))
		many.Open = append(many.Open, f.info(pendingRequest()))
		many.Grants = append(many.Grants, &grantInfo{Grant: active, App: f.app, Ent: f.admin})
	}
	many.MoreWaiting, many.MoreOpen, many.MoreGrants = true, true, true
	js, err := json.Marshal(homeView(many))
	require.NoError(t, err)
	require.NoError(t, slackfake.ValidateView(js))

	text, blocks := listMessage(homeData{User: f.alice, Open: []*requestInfo{f.info(pendingRequest())},
		Grants: []*grantInfo{{Grant: active, App: f.app, Ent: f.admin}}, Waiting: []*requestInfo{f.info(forBob)}})
	goldenMessage(t, "msg_list", text, blocks)
	golden(t, "help", []byte(helpText("/access")+"\n"))
	golden(t, "login", []byte(loginText("https://sesame.example.com/slack/link?code=abc")+"\n"))
	golden(t, "manifest_socket", []byte(Manifest(ModeSocket, "/access", "")))
	golden(t, "manifest_http", []byte(Manifest(ModeHTTP, "/access", "https://sesame.example.com")))
}

func TestGoldenApprovalMessages(t *testing.T) {
	t.Parallel()
	f := newFixtures()
	base := "https://sesame.example.com"
	msg := func(name string, r *access.Request, approver *access.User, reminder bool) {
		t.Helper()
		text, blocks := approvalMessage(f.info(r), approver, reminder, base)
		goldenMessage(t, name, text, blocks)
	}
	msg("msg_approval", pendingRequest(), f.bob, false)
	msg("msg_approval_reminder", pendingRequest(), f.bob, true)
	msg("msg_approval_progress", twoStepRequest(), f.carol, false)
	msg("msg_approval_you_approved", twoStepRequest(), f.dave, false)
	msg("msg_approval_step_done", twoStepRequest(), f.bob, false)
	msg("msg_approval_approved", decided(access.RequestActive, access.Decision{ApproverID: "usr_bob", Outcome: access.Approve,
		Duration: 90 * time.Minute, Comment: "ok, <b>careful</b>"}), f.carol, false)
	msg("msg_approval_rejected", decided(access.RequestRejected, access.Decision{ApproverID: "usr_carol", Outcome: access.Reject,
		Comment: "use the read-only role"}), f.bob, false)
	cancelled := pendingRequest()
	cancelled.State = access.RequestCancelled
	msg("msg_approval_cancelled", cancelled, f.bob, false)
	timedOut := pendingRequest()
	timedOut.State = access.RequestTimedOut
	msg("msg_approval_timed_out", timedOut, f.bob, false)

	g := &access.Grant{ID: "grt_01GOLDEN", UserID: "usr_alice", AppID: "github", EntitlementID: "github:admin", State: access.GrantActive,
		ExpiresAt: t0.Add(time.Hour)}
	extMsg := func(name string, ri *requestInfo, approver *access.User, reminder bool) {
		t.Helper()
		text, blocks := approvalMessage(ri, approver, reminder, base)
		goldenMessage(t, name, text, blocks)
	}
	extMsg("msg_approval_extension", f.extension(g), f.bob, false)
	extMsg("msg_approval_extension_reminder", f.extension(g), f.bob, true)
	done := f.extension(g)
	done.Req.State, done.Req.CurrentStep = access.RequestExtended, 1
	done.Req.Decisions = []access.Decision{{ApproverID: "usr_bob", Outcome: access.Approve, Comment: "ok"}}
	done.Extends.ExpiresAt = t0.Add(3 * time.Hour)
	extMsg("msg_approval_extension_extended", done, f.carol, false)
}

func TestGoldenNotices(t *testing.T) {
	t.Parallel()
	f := newFixtures()
	g := &access.Grant{ID: "grt_01GOLDEN", RequestID: "req_01GOLDEN", UserID: "usr_alice", AppID: "github", EntitlementID: "github:admin",
		State: access.GrantActive, ExpiresAt: t0.Add(2 * time.Hour), Attempts: 3}
	gi := &grantInfo{Grant: g, App: f.app, Ent: f.admin}
	approved := decided(access.RequestApproved, access.Decision{ApproverID: "usr_bob", Outcome: access.Approve, Comment: "go ahead"})
	auto := pendingRequest()
	auto.State, auto.AutoApproveRule = access.RequestApproved, "oncall/short"
	for _, tc := range []struct {
		name      string
		kind      access.NotificationKind
		r         *access.Request
		grant     *grantInfo
		recipient *access.User
		by        *access.User
		data      map[string]string
	}{
		{"request_created", access.NotifyRequestCreated, pendingRequest(), nil, f.alice, nil, nil},
		{"request_created_auto", access.NotifyRequestCreated, auto, nil, f.alice, nil, nil},
		{"request_approved", access.NotifyRequestApproved, approved, nil, f.alice, f.bob, map[string]string{"by": "usr_bob"}},
		{"request_approved_auto", access.NotifyRequestApproved, auto, nil, f.alice, nil, nil},
		{"request_rejected", access.NotifyRequestRejected, pendingRequest(), nil, f.alice, f.carol,
			map[string]string{"by": "usr_carol", "comment": "not during the freeze"}},
		{"request_cancelled", access.NotifyRequestCancelled, pendingRequest(), nil, f.alice, f.carol, map[string]string{"by": "usr_carol"}},
		{"request_timed_out", access.NotifyRequestTimedOut, pendingRequest(), nil, f.alice, nil, nil},
		{"grant_active", access.NotifyGrantActive, approved, gi, f.alice, nil, nil},
		{"grant_failed", access.NotifyGrantFailed, approved, gi, f.alice, nil, map[string]string{"error": "github: 403 resource not accessible"}},
		{"grant_failed_owner", access.NotifyGrantFailed, approved, gi, f.bob, nil, map[string]string{"error": "github: 403 resource not accessible"}},
		{"grant_expiring", access.NotifyGrantExpiring, approved, gi, f.alice, nil, nil},
		{"grant_revoked", access.NotifyGrantRevoked, approved, gi, f.alice, nil, map[string]string{"reason": "expired"}},
		{"grant_revoked_early", access.NotifyGrantRevoked, approved, gi, f.alice, nil, map[string]string{"reason": "revoked by carol@example.com: incident over"}},
		{"manual_task", access.NotifyManualTask, approved, gi, f.bob, nil, map[string]string{"task": "Add alice to the admins team by hand."}},
		{"revoke_failed", access.NotifyRevokeFailed, approved, gi, f.bob, nil, map[string]string{"error": "connection refused"}},
	} {
		d := noticeData{Kind: tc.kind, Recipient: tc.recipient, Req: f.info(tc.r), Grant: tc.grant, Data: tc.data, By: tc.by,
			Owners: []*access.User{f.bob}, BaseURL: "https://sesame.example.com", Command: "/access"}
		text, blocks := noticeMessage(d)
		goldenMessage(t, "msg_"+tc.name, text, blocks)
	}

	// Extension requests: sent, approved at once, the grant extended
	// (by an approver, automatically), and too late.
	extended := map[string]string{"expires_at": "2026-11-02T12:00:00Z", "previous_expires_at": "2026-11-02T10:00:00Z", "by": "usr_bob"}
	autoExtended := map[string]string{"expires_at": "2026-11-02T12:00:00Z", "previous_expires_at": "2026-11-02T10:00:00Z", "rule": "default/extension:auto"}
	extAuto := f.extension(g)
	extAuto.Req.State, extAuto.Req.AutoApproveRule = access.RequestExtended, "default/extension:auto"
	for _, tc := range []struct {
		name string
		kind access.NotificationKind
		ri   *requestInfo
		by   *access.User
		data map[string]string
	}{
		{"extension_created", access.NotifyRequestCreated, f.extension(g), nil, map[string]string{"extends_grant": g.ID}},
		{"extension_created_auto", access.NotifyRequestCreated, extAuto, nil, map[string]string{"extends_grant": g.ID}},
		{"grant_extended", access.NotifyGrantExtended, f.info(approved), f.bob, extended},
		{"grant_extended_auto", access.NotifyGrantExtended, f.info(approved), nil, autoExtended},
		{"grant_extended_credentials", access.NotifyGrantExtended, f.info(approved), nil,
			map[string]string{"expires_at": "2026-11-02T12:00:00Z", "credentials": "reissued"}},
		{"extension_rejected", access.NotifyRequestRejected, f.extension(g), f.carol,
			map[string]string{"by": "usr_carol", "comment": "finish tomorrow"}},
		{"extension_failed", access.NotifyExtensionFailed, f.extension(g), nil,
			map[string]string{"error": "grant grt_01GOLDEN is revoked: it ended before the extension was approved; request the access again"}},
	} {
		d := noticeData{Kind: tc.kind, Recipient: f.alice, Req: tc.ri, Grant: gi, Data: tc.data, By: tc.by,
			BaseURL: "https://sesame.example.com", Command: "/access"}
		text, blocks := noticeMessage(d)
		goldenMessage(t, "msg_"+tc.name, text, blocks)
	}
}

// TestFormFitsAnAck: the largest request form stays small enough to be a
// Socket Mode ack (response_action update), and valid.
func TestFormFitsAnAck(t *testing.T) {
	t.Parallel()
	f := newFixtures()
	long := strings.Repeat("x", 200)
	var ents []*access.Entitlement
	var selected []string
	for i := range 100 {
		id := fmt.Sprintf("github:%s-%03d", strings.Repeat("k", 100), i)
		ents = append(ents, &access.Entitlement{ID: id, AppID: "github", Key: id, Name: long, Description: long, Requestable: true})
		selected = append(selected, id)
	}
	p := plan(true, 2)
	for i := range 100 {
		p.Steps[0].Eligible = append(p.Steps[0].Eligible, policy.Approver{UserID: fmt.Sprintf("usr_%03d", i),
			Email: long + "@example.com", Name: long, Reason: long})
	}
	form := requestForm{Meta: meta{K: kindRequest, U: "UALICE", App: "github"}, App: f.app, Ents: ents,
		Selected: selected[:20], Plan: p, Duration: time.Hour}
	js, err := json.Marshal(slack.NewUpdateViewSubmissionResponse(new(requestModal(form))))
	require.NoError(t, err)
	require.Less(t, len(js), maxAckBytes)
	view, err := json.Marshal(requestModal(form))
	require.NoError(t, err)
	require.NoError(t, slackfake.ValidateView(view))
}
