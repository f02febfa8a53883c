package slackbot

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/connector/manual"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/workflow"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// jobs is an Enqueuer that records jobs; tests run them with runJobs.
type jobs struct {
	mu        sync.Mutex
	provision []string
	deliver   []string
	revoke    []string
}

func (j *jobs) Enqueue(_ context.Context, batch workflow.Batch) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.provision = append(j.provision, batch.Provision...)
	j.deliver = append(j.deliver, batch.Deliver...)
	for _, r := range batch.Revoke {
		j.revoke = append(j.revoke, r.ID)
	}
	return nil
}

func (j *jobs) take() (provision, deliver []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	provision, deliver = j.provision, j.deliver
	j.provision, j.deliver = nil, nil
	return provision, deliver
}

type testBundle struct {
	mode    string
	st      store.Store
	clock   *clock.Fake
	svc     *workflow.Service
	backend *fake.Backend
	jobs    *jobs
	slack   *slackfake.Server
	bot     *Bot
	users   map[string]*access.User // by short name
}

// slack user IDs of the test people.
func sid(name string) string { return "U" + strings.ToUpper(name) }

func testPolicies() []policy.Policy {
	return []policy.Policy{
		{ID: "default", Default: true, MaxDuration: 8 * time.Hour, DefaultDuration: time.Hour,
			Steps:  []policy.StepRule{{Name: "Owner approval", Approvers: policy.ApproverRule{AppOwners: true}, RequesterChooses: true}},
			Reason: policy.ReasonRule{Required: true, MinLength: 5}},
		{ID: "aws", Match: policy.Match{Apps: []string{"aws-prod"}}, MaxDuration: 2 * time.Hour,
			Steps: []policy.StepRule{
				{Name: "Manager", Approvers: policy.ApproverRule{Manager: true}},
				{Name: "Security", Approvers: policy.ApproverRule{Groups: []string{"security"}}, Required: 2},
			}},
	}
}

type setupOpts struct {
	mode      string
	fakeOpts  slackfake.Options
	ackBudget time.Duration
	// postgres stores on the test PostgreSQL (SESAME_TEST_POSTGRES_URL)
	// instead of SQLite.
	postgres bool
}

func setup(t testing.TB, mode string) *testBundle {
	t.Helper()
	return setupWith(t, setupOpts{mode: mode})
}

func setupWith(t testing.TB, o setupOpts) *testBundle {
	t.Helper()
	ctx := t.Context()
	var st store.Store
	if o.postgres {
		st = postgres.OpenTest(t)
	} else {
		st = sqlite.OpenTest(t)
	}
	b := &testBundle{mode: o.mode, st: st, clock: clock.NewFake(t0), backend: fake.NewBackend(), jobs: &jobs{},
		users: map[string]*access.User{}}
	engine, err := policy.New(testPolicies(), 12*time.Hour)
	require.NoError(t, err)
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, b.backend.Factory())
	reg.Register(manual.TypeName, manual.New)
	b.svc, err = workflow.New(workflow.Config{Store: b.st, Clock: b.clock, Policy: engine, Connectors: reg, ProvisionAttempts: 2})
	require.NoError(t, err)
	b.svc.SetEnqueuer(b.jobs)

	fo := o.fakeOpts
	fo.Clock = b.clock
	b.slack = slackfake.New(fo)
	t.Cleanup(b.slack.Close)

	for _, u := range []struct {
		name, manager string
		groups        []string
		roles         []access.Role
		linked        bool
	}{
		{"alice", "bob", []string{"eng"}, nil, true},
		{"bob", "", []string{"eng"}, nil, true},
		{"carol", "", []string{"security"}, []access.Role{access.RoleAdmin}, true},
		{"dave", "", []string{"security"}, nil, false}, // linked on first contact by confirmed email
		{"erin", "", []string{"security"}, nil, true},
		{"mallory", "", nil, nil, true},
		{"frank", "", []string{"eng"}, nil, false}, // Slack email unconfirmed: must use /access login
	} {
		usr := &access.User{ID: "usr_" + u.name, Email: u.name + "@example.com", Name: strings.ToUpper(u.name[:1]) + u.name[1:],
			Groups: u.groups, Roles: u.roles, Status: access.UserActive, CreatedAt: t0, UpdatedAt: t0}
		if u.manager != "" {
			usr.ManagerID = "usr_" + u.manager
		}
		if u.linked {
			usr.SlackUserID = sid(u.name)
		}
		require.NoError(t, b.st.UserUpsert(ctx, usr))
		b.users[u.name] = usr
		b.slack.AddUser(slackfake.User{ID: sid(u.name), Name: u.name, RealName: usr.Name, Email: usr.Email, EmailConfirmed: u.name != "frank"})
	}
	// A Slack user with no Sesame account at all.
	b.slack.AddUser(slackfake.User{ID: "UGHOST", Name: "ghost", Email: "ghost@elsewhere.com", EmailConfirmed: true})
	for _, app := range []*access.App{
		{ID: "github", Name: "GitHub", Description: "Source code", ConnectorType: fake.TypeName, Owners: []string{"usr_bob", "usr_carol"},
			Aliases: []string{"gh"}, Source: access.SourceConfig},
		{ID: "github-enterprise", Name: "GitHub Enterprise", ConnectorType: fake.TypeName, Owners: []string{"usr_bob"}, Source: access.SourceConfig},
		{ID: "aws-prod", Name: "AWS Production", ConnectorType: fake.TypeName, Owners: []string{"usr_carol"}, Aliases: []string{"amazon"}, Source: access.SourceConfig},
		{ID: "grafana", Name: "Grafana", ConnectorType: fake.TypeName, Owners: []string{"usr_bob"}, Source: access.SourceConfig},
		{ID: "printer", Name: "Office printer", ConnectorType: manual.TypeName, Owners: []string{"usr_bob"}, Source: access.SourceConfig},
		{ID: "broken", Name: "Broken", ConnectorType: fake.TypeName, ConnectorSettings: map[string]string{"deny": "grant"},
			Owners: []string{"usr_bob"}, Source: access.SourceConfig},
	} {
		app.CreatedAt, app.UpdatedAt = t0, t0
		require.NoError(t, b.st.AppUpsert(ctx, app))
		for _, key := range []string{"read", "admin"} {
			require.NoError(t, b.st.EntitlementUpsert(ctx, &access.Entitlement{ID: access.EntitlementID(app.ID, key), AppID: app.ID, Key: key,
				Name: key, Description: key + " access to " + app.Name, Requestable: true, Risk: access.RiskLow,
				MaxDuration: 4 * time.Hour, CreatedAt: t0, UpdatedAt: t0}))
		}
	}

	var log *slog.Logger
	if os.Getenv("SLACKBOT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := Config{Service: b.svc, Clock: b.clock, Logger: log, BotToken: b.slack.BotToken(), APIURL: b.slack.APIURL(),
		BaseURL: "https://sesame.example.com", LinkSecret: []byte("0123456789abcdef0123456789abcdef"), AckBudget: o.ackBudget}
	switch o.mode {
	case ModeHTTP:
		cfg.Mode, cfg.SigningSecret = ModeHTTP, b.slack.SigningSecret()
	default:
		cfg.Mode, cfg.AppToken = ModeSocket, b.slack.AppToken()
	}
	b.bot, err = New(cfg)
	require.NoError(t, err)
	b.svc.SetNotifier(b.bot.Notifier())
	if o.mode == ModeHTTP {
		srv := httptest.NewServer(b.bot.HTTPHandler())
		t.Cleanup(srv.Close)
		b.slack.SetRequestURL(srv.URL)
	} else {
		runCtx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- b.bot.RunSocketMode(runCtx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunSocketMode: %v", err)
			}
		})
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		require.NoError(t, b.slack.WaitSocket(wctx))
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
		defer cancel()
		if err := b.bot.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b
}

// modes runs fn against both transports.
func modes(t *testing.T, fn func(t *testing.T, mode string)) {
	t.Helper()
	for _, mode := range []string{ModeHTTP, ModeSocket} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			fn(t, mode)
		})
	}
}

// settle waits for the bot's background work (Home refreshes, message
// updates after a decision).
func (b *testBundle) settle(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, b.bot.Shutdown(ctx))
}

// runJobs runs enqueued provisioning and deliveries until none is left,
// as the job queue would, moving the clock a little between rounds.
func (b *testBundle) runJobs(t testing.TB) {
	t.Helper()
	b.settle(t)
	for range 20 {
		prov, del := b.jobs.take()
		if len(prov) == 0 && len(del) == 0 {
			b.settle(t)
			return
		}
		for _, id := range prov {
			require.NoError(t, b.svc.Provision(t.Context(), id))
		}
		for _, id := range del {
			require.NoError(t, b.svc.Deliver(t.Context(), id), "deliver %s", id)
		}
		b.clock.Advance(2 * time.Second)
		b.settle(t)
	}
	t.Fatal("jobs did not settle")
}

func (b *testBundle) command(t testing.TB, user, text string) *slackfake.Ack {
	t.Helper()
	ack, err := b.slack.Command(t.Context(), sid(user), "/access", text)
	require.NoError(t, err)
	return ack
}

func (b *testBundle) modal(t testing.TB, user string) *slackfake.View {
	t.Helper()
	b.settle(t) // form refreshes run after the ack
	v, ok := b.slack.Modal(sid(user))
	require.True(t, ok, "%s has no modal open", user)
	return v
}

// lastDM returns user's last DM containing text.
func (b *testBundle) lastDM(t testing.TB, user, text string) slackfake.Message {
	t.Helper()
	dms := b.slack.DMs(sid(user))
	for _, m := range slices.Backward(dms) {
		if strings.Contains(m.Text+"\n"+slackfake.BlockText(m.Blocks), text) {
			return m
		}
	}
	var all []string
	for _, m := range dms {
		all = append(all, m.Text)
	}
	t.Fatalf("%s has no DM containing %q; DMs: %q", user, text, all)
	return slackfake.Message{}
}

func (b *testBundle) noViolations(t testing.TB) {
	t.Helper()
	require.Empty(t, b.slack.Violations())
}

// requestFor fills and submits the request form as user: roles, reason,
// approvers (values), and returns the ack.
func (b *testBundle) fillAndSubmit(t testing.TB, user string, roles []string, reason string, approvers ...string) *slackfake.Ack {
	t.Helper()
	ctx := t.Context()
	v := b.modal(t, user)
	_, err := b.slack.SelectOptions(ctx, sid(user), v.ID, actionRoles, roles...)
	require.NoError(t, err)
	v = b.modal(t, user)
	require.Contains(t, v.Text(), "You are asking for", "the form shows the policy once roles are chosen")
	if reason != "" {
		require.NoError(t, b.slack.TypeText(sid(user), v.ID, actionReason, reason))
	}
	if len(approvers) > 0 {
		_, err := b.slack.SelectOptions(ctx, sid(user), v.ID, approversActionID(0), approvers...)
		require.NoError(t, err)
	}
	ack, err := b.slack.Submit(ctx, sid(user), v.ID)
	require.NoError(t, err)
	return ack
}

func (b *testBundle) onlyRequest(t testing.TB, user string) *access.Request {
	t.Helper()
	rs, _, err := b.st.RequestList(t.Context(), store.RequestListParams{RequesterID: b.users[user].ID})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	return rs[0]
}
