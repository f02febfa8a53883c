package integrations

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// recorder is an Enqueuer that keeps what it was given; tests run the
// deliveries themselves.
type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) EnqueueDeliveries(_ context.Context, jobs []Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range jobs {
		r.ids = append(r.ids, j.DeliveryID)
	}
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ids
	r.ids = nil
	return out
}

type testBundle struct {
	ctx   context.Context
	st    store.Store
	clock *clock.Fake
	slack *slackfake.Server
	svc   *Service
	enq   *recorder
	admin *access.User
	alice *access.User
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	fake := slackfake.New(slackfake.Options{Clock: clk})
	t.Cleanup(fake.Close)
	box, err := secrets.New(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	sets, err := ParseSets(map[string][]string{"cloud-accounts": {"connector:awsidc", "app:gcp-prod"}})
	require.NoError(t, err)
	svc, err := New(Config{Store: st, Clock: clk, Secrets: box, BaseURL: "https://sesame.example.com",
		SlackAPIURL: fake.APIURL(), BotToken: fake.BotToken(), Sets: sets, AllowLoopback: true})
	require.NoError(t, err)
	enq := &recorder{}
	svc.SetEnqueuer(enq)
	b := &testBundle{ctx: ctx, st: st, clock: clk, slack: fake, svc: svc, enq: enq}
	for _, a := range []*access.App{
		{ID: "aws-prod", Name: "AWS production", ConnectorType: "awsidc", Source: access.SourceConfig},
		{ID: "gcp-prod", Name: "GCP production", ConnectorType: "gcp", Source: access.SourceConfig},
		{ID: "bastion", Name: "Bastion", ConnectorType: "sshca", Source: access.SourceConfig},
	} {
		require.NoError(t, st.AppUpsert(ctx, a))
	}
	for _, e := range []*access.Entitlement{
		{ID: "bastion:gateway", AppID: "bastion", Key: "gateway", Name: "Gateway", Tags: []string{"gateway"}, Risk: access.RiskLow},
		{ID: "bastion:db", AppID: "bastion", Key: "db", Name: "DB server", Tags: []string{"private-server"}, Risk: access.RiskLow},
	} {
		require.NoError(t, st.EntitlementUpsert(ctx, e))
	}
	b.admin = &access.User{ID: "usr_admin", Email: "carol@example.com", Name: "Carol", Roles: []access.Role{access.RoleAdmin},
		Status: access.UserActive, SlackUserID: "U0ADMIN"}
	b.alice = &access.User{ID: "usr_alice", Email: "alice@example.com", Name: "Alice", Status: access.UserActive, SlackUserID: "U0ALICE"}
	require.NoError(t, st.UserUpsert(ctx, b.admin))
	require.NoError(t, st.UserUpsert(ctx, b.alice))
	fake.AddUser(slackfake.User{ID: "U0ADMIN", Name: "carol", Email: "carol@example.com", EmailConfirmed: true})
	return b
}

func (b *testBundle) create(t *testing.T, spec Spec) *store.Integration {
	t.Helper()
	i, err := b.svc.Create(b.ctx, b.admin, spec)
	require.NoError(t, err)
	return i
}

// run delivers everything enqueued, until nothing new is, and returns the
// errors of the last round.
func (b *testBundle) run(t *testing.T) []error {
	t.Helper()
	var errs []error
	for range 10 {
		ids := b.enq.take()
		if len(ids) == 0 {
			return errs
		}
		errs = nil
		for _, id := range ids {
			if err := b.svc.Deliver(b.ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// drain delivers the pending deliveries of integrationID as the queue
// would: again after each Retry-After (the clock advances a second per
// round).
func (b *testBundle) drain(t *testing.T, integrationID string) {
	t.Helper()
	for range 30 {
		pending, err := b.st.DeliveryList(b.ctx, integrationID, []store.DeliveryState{store.DeliveryPending}, 100)
		require.NoError(t, err)
		if len(pending) == 0 {
			b.run(t)
			return
		}
		for _, d := range pending {
			if !d.NextAt.After(b.clock.Now()) {
				_ = b.svc.Deliver(b.ctx, d.ID) //nolint:errcheck // retried next round
			}
		}
		b.clock.Advance(time.Second)
	}
	t.Fatalf("deliveries of %s still pending", integrationID)
}

func names(ds []Destination) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

func msg(text string) Message { return Message{Text: text} }

func TestRouteByAccountSetTagAndCategory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cloudHook, allHook := b.slack.AddWebhook("C0CLOUD"), b.slack.AddWebhook("C0ALL")
	b.slack.AddChannel("C0GATE", "gateways", "U0BOT")
	b.create(t, Spec{Name: "cloud", WebhookURL: cloudHook, Covers: []string{"set:cloud-accounts"}, Categories: []string{"grants", "alerts"}})
	b.create(t, Spec{Name: "gateways", Channel: "C0GATE", Covers: []string{"tag:gateway"}, Categories: []string{"alerts"}})
	b.create(t, Spec{Name: "everything", WebhookURL: allHook, Covers: []string{"*"}, Categories: []string{"decisions"}})

	for _, tc := range []struct {
		cat  Category
		app  string
		want []string
	}{
		{CategoryAlerts, "aws-prod", []string{"cloud"}},
		{CategoryAlerts, "gcp-prod", []string{"cloud"}},
		{CategoryAlerts, "bastion", []string{"gateways"}},
		{CategoryGrants, "aws-prod", []string{"cloud"}},
		{CategoryGrants, "bastion", nil},
		{CategoryDecisions, "bastion", []string{"everything"}},
		{CategoryApprovalRequests, "aws-prod", nil},
	} {
		got, err := b.svc.Route(b.ctx, tc.cat, tc.app)
		require.NoError(t, err)
		require.Equal(t, tc.want, names(got), "%s %s", tc.cat, tc.app)
	}

	got, err := b.svc.Route(b.ctx, CategoryAlerts, "discovered-notion")
	require.NoError(t, err)
	require.Empty(t, got, "an app outside the catalog: no set, tag or connector covers it")
	n, err := b.svc.Post(b.ctx, CategoryAlerts, "aws-prod", "finding-1", msg("new sign-up on AWS"))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = b.svc.Post(b.ctx, CategoryAlerts, "aws-prod", "finding-1", msg("new sign-up on AWS"))
	require.NoError(t, err)
	require.Zero(t, n, "the same finding is posted once")
	n, err = b.svc.Post(b.ctx, CategoryAlerts, "bastion", "finding-2", msg("new sign-up on the bastion"))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, b.run(t))
	require.Len(t, b.slack.Messages("C0CLOUD"), 1)
	require.Equal(t, "new sign-up on AWS", b.slack.Messages("C0CLOUD")[0].Text)
	require.Len(t, b.slack.Messages("C0GATE"), 1, "posted with chat.postMessage")
	require.Empty(t, b.slack.Messages("C0ALL"))
	require.Empty(t, b.slack.Violations())

	b.create(t, Spec{Name: "security", WebhookURL: b.slack.AddWebhook("C0SEC"), Covers: []string{"*"}, Categories: []string{"alerts"}})
	got, err = b.svc.Route(b.ctx, CategoryAlerts, "discovered-notion")
	require.NoError(t, err)
	require.Equal(t, []string{"security"}, names(got), "but * does")
	got, err = b.svc.Route(b.ctx, CategoryAlerts, "")
	require.NoError(t, err)
	require.Equal(t, []string{"security"}, names(got))
}

func TestCategoryAndEventKeys(t *testing.T) {
	t.Parallel()
	for kind, want := range map[access.NotificationKind]Category{
		access.NotifyApprovalRequested: CategoryApprovalRequests, access.NotifyRequestApproved: CategoryDecisions,
		access.NotifyRequestRejected: CategoryDecisions, access.NotifyRequestTimedOut: CategoryDecisions,
		access.NotifyGrantActive: CategoryGrants, access.NotifyRevokeFailed: CategoryGrants,
		access.NotifyUnmanagedAccess: CategoryAlerts, access.NotifyReminder: "", access.NotifyRequestDecided: "",
		access.NotifyGrantExpiring: "", access.NotifyGrantExtended: CategoryGrants, access.NotifyExtensionFailed: CategoryGrants,
	} {
		got, ok := categoryOf(kind)
		require.Equal(t, want, got, kind)
		require.Equal(t, want != "", ok, kind)
	}
	a := &access.Notification{Kind: access.NotifyApprovalRequested, RecipientID: "usr_a", DedupKey: "approval_requested/usr_a/req_1/0"}
	c := &access.Notification{Kind: access.NotifyApprovalRequested, RecipientID: "usr_b", DedupKey: "approval_requested/usr_b/req_1/0"}
	require.Equal(t, eventKey(a), eventKey(c), "every approver's copy is one event")
	d := &access.Notification{Kind: access.NotifyApprovalRequested, RecipientID: "usr_b", DedupKey: "approval_requested/usr_b/req_1/1"}
	require.NotEqual(t, eventKey(a), eventKey(d), "the next step is another")
}

// A revoked webhook: messages are held (not dropped), the integration is
// failing, admins are DMed once; when it works again a probe notices,
// health returns, held messages go out and admins are told.
func TestFailingWebhookEpisode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hook := b.slack.AddWebhook("C0CLOUD")
	i := b.create(t, Spec{Name: "cloud", WebhookURL: hook, Covers: []string{"app:aws-prod"}, Categories: []string{"alerts"}})
	b.slack.SetWebhookState(hook, slackfake.WebhookRevoked)
	for _, id := range []string{"f1", "f2", "f3"} {
		_, err := b.svc.Post(b.ctx, CategoryAlerts, "aws-prod", id, msg("alert "+id))
		require.NoError(t, err)
		b.clock.Advance(2 * time.Second) // past the webhook's rate limit
	}
	require.Empty(t, b.run(t), "destination failures are not retried by the queue")
	got, err := b.svc.Get(b.ctx, i.ID)
	require.NoError(t, err)
	require.Equal(t, store.HealthFailing, got.Health)
	require.Equal(t, "invalid_token", got.LastError)
	held, err := b.st.DeliveryList(b.ctx, i.ID, []store.DeliveryState{store.DeliveryHeld}, 10)
	require.NoError(t, err)
	require.Len(t, held, 3, "nothing dropped")
	dms := b.slack.DMs("U0ADMIN")
	require.Len(t, dms, 1, "the admin is told once per episode, not per message")
	require.Contains(t, dms[0].Text, "cloud")
	require.Empty(t, b.slack.DMs("U0ALICE"), "only admins")

	// Still failing at the next probe: held again, nobody told again.
	b.clock.Advance(ProbeEvery)
	res, err := b.svc.Sweep(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Probes)
	require.Empty(t, b.run(t))
	require.Len(t, b.slack.DMs("U0ADMIN"), 1)

	b.slack.SetWebhookState(hook, slackfake.WebhookOK)
	b.clock.Advance(ProbeEvery)
	res, err = b.svc.Sweep(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Probes)
	b.run(t)
	b.drain(t, i.ID) // one message per second per webhook: the rest wait for Retry-After
	require.Len(t, b.slack.Messages("C0CLOUD"), 3, "the held messages went out")
	got, err = b.svc.Get(b.ctx, i.ID)
	require.NoError(t, err)
	require.Equal(t, store.HealthHealthy, got.Health)
	require.Empty(t, got.LastError)
	dms = b.slack.DMs("U0ADMIN")
	require.Len(t, dms, 2)
	require.Contains(t, dms[1].Text, "delivers again")

	evs, _, err := b.st.EventList(b.ctx, store.EventListParams{SubjectID: i.ID, Page: store.Page{Limit: 50}})
	require.NoError(t, err)
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
		for _, raw := range [][]byte{e.Before, e.After, e.Data} {
			require.NotContains(t, string(raw), hook, "the webhook URL is never in the audit log")
		}
	}
	require.Contains(t, actions, "integration.failing")
	require.Contains(t, actions, "integration.recovered")
}

func TestRateLimitedWebhookRetriesAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hook := b.slack.AddWebhook("C0CLOUD")
	b.create(t, Spec{Name: "cloud", WebhookURL: hook, Covers: []string{"*"}, Categories: []string{"alerts"}})
	for _, id := range []string{"f1", "f2"} {
		_, err := b.svc.Post(b.ctx, CategoryAlerts, "aws-prod", id, msg("alert "+id))
		require.NoError(t, err)
	}
	ids := b.enq.take()
	require.Len(t, ids, 2)
	require.NoError(t, b.svc.Deliver(b.ctx, ids[0]))
	err := b.svc.Deliver(b.ctx, ids[1])
	re, ok := err.(*RetryError) //nolint:errorlint // the type itself is the contract
	require.True(t, ok, "%v", err)
	require.GreaterOrEqual(t, re.After, time.Second, "Slack's Retry-After")
	d, err := b.st.DeliveryGetByID(b.ctx, ids[1])
	require.NoError(t, err)
	require.Equal(t, store.DeliveryPending, d.State)
	require.Zero(t, d.Attempts, "a rate limit is not a failed attempt")
	b.clock.Advance(re.After)
	require.NoError(t, b.svc.Deliver(b.ctx, ids[1]))
	require.NoError(t, b.svc.Deliver(b.ctx, ids[1]), "a second run sends nothing")
	require.Len(t, b.slack.Messages("C0CLOUD"), 2)
	i, err := b.svc.Get(b.ctx, d.IntegrationID)
	require.NoError(t, err)
	require.Equal(t, store.HealthHealthy, i.Health, "a rate limit is not a failure")
}

func TestChannelNotInChannelAndArchived(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.slack.AddChannel("C0GATE", "gateways") // the bot is not a member
	i := b.create(t, Spec{Name: "gateways", Channel: "C0GATE", Covers: []string{"*"}, Categories: []string{"alerts"}})
	res, err := b.svc.Test(b.ctx, b.admin, i.ID)
	require.NoError(t, err)
	require.Equal(t, TestResult{OK: false, Error: "not_in_channel", Class: FailDestination}, res)
	got, err := b.svc.Get(b.ctx, i.ID)
	require.NoError(t, err)
	require.Equal(t, store.HealthFailing, got.Health)
	require.Empty(t, b.run(t))
	require.Len(t, b.slack.DMs("U0ADMIN"), 1)

	b.slack.SetMembers("C0GATE", "U0BOT")
	res, err = b.svc.Test(b.ctx, b.admin, i.ID)
	require.NoError(t, err)
	require.True(t, res.OK)
	got, err = b.svc.Get(b.ctx, i.ID)
	require.NoError(t, err)
	require.Equal(t, store.HealthHealthy, got.Health)
	require.Len(t, b.slack.Messages("C0GATE"), 1)
	require.Contains(t, b.slack.Messages("C0GATE")[0].Text, "Test message")

	b.slack.ArchiveChannel("C0GATE", true)
	_, err = b.svc.Post(b.ctx, CategoryAlerts, "bastion", "f9", msg("alert"))
	require.NoError(t, err)
	require.Empty(t, b.run(t))
	got, err = b.svc.Get(b.ctx, i.ID)
	require.NoError(t, err)
	require.Equal(t, store.HealthFailing, got.Health)
	require.Equal(t, "is_archived", got.LastError)
}

func TestManageIntegrations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hook := b.slack.AddWebhook("C0CLOUD")
	_, err := b.svc.Create(b.ctx, b.alice, Spec{Name: "x", WebhookURL: hook, Covers: []string{"*"}, Categories: []string{"alerts"}})
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	_, err = b.svc.Create(b.ctx, b.admin, Spec{Name: "Bad Name", WebhookURL: "https://example.com/x", Covers: []string{"set:nope"}, Categories: []string{"emails"}})
	require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
	var ae *access.Error
	require.ErrorAs(t, err, &ae)
	var fields []string
	for _, f := range ae.Fields {
		fields = append(fields, f.Field)
	}
	require.ElementsMatch(t, []string{"name", "webhook_url", "covers", "categories"}, fields)

	i := b.create(t, Spec{Name: "cloud", WebhookURL: hook, Covers: []string{"app:aws-prod"}, Categories: []string{"alerts"}})
	require.Equal(t, KindWebhook, i.Kind)
	require.NotContains(t, i.WebhookMask, hook[strings.LastIndex(hook, "/")+1:], "masked")
	require.NotContains(t, i.WebhookSealed, "services", "sealed")
	js, err := json.Marshal(i)
	require.NoError(t, err)
	require.NotContains(t, string(js), hook)
	_, err = b.svc.Create(b.ctx, b.admin, Spec{Name: "cloud", Channel: "C0X1", Covers: []string{"*"}, Categories: []string{"alerts"}})
	require.Equal(t, access.CodeConflict, access.ErrorCode(err))

	cats := []string{"grants"}
	ch := "C0GATE"
	up, err := b.svc.Update(b.ctx, b.admin, i.ID, Patch{Categories: &cats, Channel: &ch})
	require.NoError(t, err)
	require.Equal(t, KindChannel, up.Kind)
	require.Empty(t, up.WebhookSealed)
	require.Equal(t, []string{"grants"}, up.Categories)
	require.Equal(t, []string{"app:aws-prod"}, up.Covers, "kept")
	require.NoError(t, b.svc.Delete(b.ctx, b.admin, i.ID))
	_, err = b.svc.Get(b.ctx, i.ID)
	require.Equal(t, access.CodeNotFound, access.ErrorCode(err))
}

func TestSyncConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hook := b.slack.AddWebhook("C0CLOUD")
	api := b.create(t, Spec{Name: "from-api", Channel: "C0API", Covers: []string{"*"}, Categories: []string{"alerts"}})
	specs := []Spec{
		{Name: "cloud", WebhookURL: hook, Covers: []string{"set:cloud-accounts"}, Categories: []string{"grants"}},
		{Name: "gateways", Channel: "C0GATE", Covers: []string{"tag:gateway"}, Categories: []string{"alerts"}},
	}
	c, u, r, err := b.svc.SyncConfig(b.ctx, specs)
	require.NoError(t, err)
	require.Equal(t, []int{2, 0, 0}, []int{c, u, r})
	c, u, r, err = b.svc.SyncConfig(b.ctx, specs)
	require.NoError(t, err)
	require.Equal(t, []int{0, 0, 0}, []int{c, u, r}, "nothing changed")
	specs[1].Categories = []string{"alerts", "grants"}
	c, u, r, err = b.svc.SyncConfig(b.ctx, specs[1:])
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 1}, []int{c, u, r})
	all, err := b.svc.List(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	for _, i := range all {
		if i.Name == "gateways" {
			require.Equal(t, SourceConfig, i.Source)
			name := "renamed"
			_, err := b.svc.Update(b.ctx, b.admin, i.ID, Patch{Name: &name})
			require.Equal(t, access.CodeConflict, access.ErrorCode(err), "read-only through the API")
		} else {
			require.Equal(t, api.ID, i.ID, "API integrations are left alone")
		}
	}
	_, _, _, err = b.svc.SyncConfig(b.ctx, []Spec{{Name: "bad", WebhookURL: "https://example.com/services/a/b/c", Covers: []string{"*"}, Categories: []string{"alerts"}}})
	require.ErrorContains(t, err, "integrations.routes[0].webhook_url")
}

// Two replicas starting together sync the same file at once: both
// succeed, and each integration exists once.
func TestSyncConfigConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	specs := []Spec{
		{Name: "a", WebhookURL: b.slack.AddWebhook("C0A"), Covers: []string{"*"}, Categories: []string{"grants"}},
		{Name: "b", Channel: "C0B", Covers: []string{"tag:gateway"}, Categories: []string{"alerts"}},
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for n := range errs {
		wg.Go(func() { _, _, _, errs[n] = b.svc.SyncConfig(b.ctx, specs) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	all, err := b.svc.List(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
}

// Jobs racing for one delivery (a re-enqueued job next to the first) send
// it once.
func TestConcurrentDeliverSendsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hook := b.slack.AddWebhook("C0CLOUD")
	b.create(t, Spec{Name: "cloud", WebhookURL: hook, Covers: []string{"*"}, Categories: []string{"alerts"}})
	_, err := b.svc.Post(b.ctx, CategoryAlerts, "aws-prod", "f1", msg("once"))
	require.NoError(t, err)
	ids := b.enq.take()
	require.Len(t, ids, 1)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { _ = b.svc.Deliver(b.ctx, ids[0]) }) //nolint:errcheck // the losers may be told to wait
	}
	wg.Wait()
	require.Len(t, b.slack.Messages("C0CLOUD"), 1)
	d, err := b.st.DeliveryGetByID(b.ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, store.DeliverySent, d.State)
}
