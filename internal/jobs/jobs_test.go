package jobs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/jobs"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/workflow"
)

type testBundle struct {
	st      store.Store
	svc     *workflow.Service
	q       *jobs.Queue
	backend *fake.Backend
}

// newQueueFunc opens a store and a queue on one fresh database.
type newQueueFunc func(t *testing.T, cfg jobs.Config) (store.Store, *jobs.Queue)

func sqliteQueue(t *testing.T, cfg jobs.Config) (store.Store, *jobs.Queue) {
	path := filepath.Join(t.TempDir(), "sesame.db")
	st, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	db := st.SQL()
	require.NoError(t, jobs.MigrateSQLite(t.Context(), db))
	q, err := jobs.NewSQLite(db, cfg)
	require.NoError(t, err)
	return st, q
}

func postgresQueue(t *testing.T, cfg jobs.Config) (store.Store, *jobs.Queue) {
	url := postgres.TestURL(t)
	pool, err := postgres.OpenPool(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st, err := postgres.FromPool(t.Context(), pool)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, jobs.MigratePostgres(t.Context(), pool))
	q, err := jobs.NewPostgres(pool, cfg)
	require.NoError(t, err)
	return st, q
}

func drivers() map[string]newQueueFunc {
	return map[string]newQueueFunc{"sqlite": sqliteQueue, "postgres": postgresQueue}
}

// lazyService lets the queue be built before the service exists.
type lazyService struct {
	svc atomic.Pointer[workflow.Service]
}

func (l *lazyService) Provision(ctx context.Context, id string) error {
	return l.svc.Load().Provision(ctx, id)
}
func (l *lazyService) Revoke(ctx context.Context, id string) error {
	return l.svc.Load().Revoke(ctx, id)
}
func (l *lazyService) ExtendTarget(ctx context.Context, id string) error {
	return l.svc.Load().ExtendTarget(ctx, id)
}
func (l *lazyService) Deliver(ctx context.Context, id string) error {
	return l.svc.Load().Deliver(ctx, id)
}
func (l *lazyService) TimeOut(ctx context.Context, id string) error {
	return l.svc.Load().TimeOut(ctx, id)
}
func (l *lazyService) RemindAuto(ctx context.Context, id string, n int) error {
	return l.svc.Load().RemindAuto(ctx, id, n)
}
func (l *lazyService) Sweep(ctx context.Context) (workflow.SweepResult, error) {
	return l.svc.Load().Sweep(ctx)
}
func (l *lazyService) ReconcileAll(ctx context.Context) ([]workflow.DriftReport, error) {
	return l.svc.Load().ReconcileAll(ctx)
}
func (l *lazyService) EnqueueDue(ctx context.Context, limit int) (int, error) {
	return l.svc.Load().EnqueueDue(ctx, limit)
}

func setup(t *testing.T, newQ newQueueFunc) *testBundle {
	t.Helper()
	lazy := &lazyService{}
	st, q := newQ(t, jobs.Config{Service: lazy, Clock: clock.Real{}, PollInterval: 50 * time.Millisecond,
		SweepInterval: 500 * time.Millisecond, ProvisionAttempts: 3, RetryBase: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	b := &testBundle{st: st, q: q, backend: fake.NewBackend()}
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, b.backend.Factory())
	engine, err := policy.New([]policy.Policy{{ID: "default", Default: true,
		Steps: []policy.StepRule{{Name: "owners", Approvers: policy.ApproverRule{AppOwners: true}}}}}, 0)
	require.NoError(t, err)
	svc, err := workflow.New(workflow.Config{Store: st, Clock: clock.Real{}, Policy: engine, Connectors: reg,
		ProvisionAttempts: 3, StallAfter: time.Second})
	require.NoError(t, err)
	lazy.svc.Store(svc)
	svc.SetEnqueuer(q)
	b.svc = svc

	ctx := t.Context()
	now := clock.Real{}.Now()
	for _, id := range []string{"alice", "bob"} {
		require.NoError(t, st.UserUpsert(ctx, &access.User{ID: id, Email: id + "@example.com", Name: id, Status: access.UserActive, CreatedAt: now, UpdatedAt: now}))
	}
	require.NoError(t, st.AppUpsert(ctx, &access.App{ID: "github", Name: "GitHub", ConnectorType: fake.TypeName, Owners: []string{"bob"}, Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now}))
	require.NoError(t, st.EntitlementUpsert(ctx, &access.Entitlement{ID: "github:admin", AppID: "github", Key: "admin", Name: "Admin", Requestable: true, Risk: access.RiskHigh, CreatedAt: now, UpdatedAt: now}))

	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		require.NoError(t, q.Stop(ctx))
	})
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) //nolint:forbidigo // a real-time wait on River
	for !cond() {
		if time.Now().After(deadline) { //nolint:forbidigo // see above
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *testBundle) grantState(t *testing.T, reqID string) access.GrantState {
	gs, err := b.st.GrantListByRequest(t.Context(), reqID)
	require.NoError(t, err)
	if len(gs) == 0 {
		return ""
	}
	return gs[0].State
}

// TestQueueRunsTheLifecycle drives a request through River: approval
// enqueues provisioning, provisioning schedules revocation at expiry, and
// notifications are delivered, each exactly once.
func TestQueueRunsTheLifecycle(t *testing.T) {
	t.Parallel()
	for name, newQ := range drivers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, newQ)
			ctx := t.Context()
			r, err := b.svc.Submit(ctx, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin"}, Duration: 2 * time.Second, Reason: "incident"})
			require.NoError(t, err)
			_, err = b.svc.Decide(ctx, "bob", workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
			require.NoError(t, err)
			waitFor(t, "grant active", func() bool { return b.grantState(t, r.ID) == access.GrantActive })
			require.True(t, b.backend.Has("github", "alice@example.com", "admin"))
			waitFor(t, "grant revoked at expiry", func() bool { return b.grantState(t, r.ID) == access.GrantRevoked })
			require.False(t, b.backend.Has("github", "alice@example.com", "admin"))
			gs, err := b.st.GrantListByRequest(ctx, r.ID)
			require.NoError(t, err)
			require.False(t, gs[0].RevokedAt.Before(gs[0].ExpiresAt), "never revoked early")
			t.Logf("revocation lag %v (the target lives in the benchmark)", gs[0].RevokedAt.Sub(gs[0].ExpiresAt))
			grants, revokes := b.backend.Counts()
			require.Equal(t, 1, grants)
			require.Equal(t, 1, revokes)
			waitFor(t, "notifications delivered", func() bool {
				ns, err := b.st.NotificationListByRequest(ctx, r.ID)
				require.NoError(t, err)
				for _, n := range ns {
					if n.State != access.NotificationSent {
						return false
					}
				}
				return len(ns) >= 5
			})
			ns, err := b.st.NotificationListByRequest(ctx, r.ID)
			require.NoError(t, err)
			for _, n := range ns {
				require.Equal(t, 1, n.Attempts, "%s delivered once", n.Kind)
			}
		})
	}
}

// TestQueueProvisionsAnApprovalInOneJob approves a request for five
// entitlements: one provisioning job carries the five grants, a target
// that fails once is retried without granting the others again, and every
// grant ends active.
func TestQueueProvisionsAnApprovalInOneJob(t *testing.T) {
	t.Parallel()
	for name, newQ := range drivers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, newQ)
			ctx := t.Context()
			var ents []string
			for i := range 5 {
				ents = append(ents, fmt.Sprintf("github:team%d", i))
			}
			b.addEntitlements(t, ents...)
			var mu sync.Mutex
			calls := map[string]int{}
			b.backend.GrantFunc = func(tg connector.Target) error {
				mu.Lock()
				defer mu.Unlock()
				calls[tg.EntitlementKey]++
				if tg.EntitlementKey == "team3" && calls["team3"] == 1 {
					return errors.New("target briefly down")
				}
				return nil
			}
			r, err := b.svc.Submit(ctx, "alice", workflow.SubmitParams{Entitlements: ents, Duration: time.Hour, Reason: "onboarding"})
			require.NoError(t, err)
			_, err = b.svc.Decide(ctx, "bob", workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
			require.NoError(t, err)
			waitFor(t, "every grant active", func() bool {
				gs, err := b.st.GrantListByRequest(ctx, r.ID)
				require.NoError(t, err)
				for _, g := range gs {
					if g.State != access.GrantActive {
						return false
					}
				}
				return len(gs) == 5
			})
			mu.Lock()
			require.Equal(t, map[string]int{"team0": 1, "team1": 1, "team2": 1, "team3": 2, "team4": 1}, calls,
				"the retry grants only what failed")
			mu.Unlock()
			pj := provisionJobs(t, b)
			require.Len(t, pj, 2, "one provisioning job for the approval, and one for the grant that failed")
			require.Len(t, pj[0].GrantIDs, 5)
			gs, err := b.st.GrantListByRequest(ctx, r.ID)
			require.NoError(t, err)
			var team3 string
			for _, g := range gs {
				if g.EntitlementID == "github:team3" {
					team3 = g.ID
				}
			}
			require.Equal(t, jobs.ProvisionArgs{GrantID: team3}, pj[1], "the failed grant's retry is a job of its own")
		})
	}
}

// addEntitlements adds requestable entitlements of the github app.
func (b *testBundle) addEntitlements(t *testing.T, ids ...string) {
	t.Helper()
	now := clock.Real{}.Now()
	for _, id := range ids {
		_, key, _ := access.SplitEntitlementID(id)
		require.NoError(t, b.st.EntitlementUpsert(t.Context(), &access.Entitlement{ID: id, AppID: "github", Key: key, Name: key,
			Requestable: true, Risk: access.RiskLow, CreatedAt: now, UpdatedAt: now}))
	}
}

// provisionJobs returns the arguments of the provisioning jobs in b's
// database, oldest first.
func provisionJobs(t *testing.T, b *testBundle) []jobs.ProvisionArgs {
	t.Helper()
	var out []jobs.ProvisionArgs
	for _, raw := range jobArgs(t, b, "provision") {
		var a jobs.ProvisionArgs
		require.NoError(t, json.Unmarshal(raw, &a))
		out = append(out, a)
	}
	return out
}

// jobArgs returns the JSON arguments of the River jobs of kind in b's
// database, oldest first.
func jobArgs(t *testing.T, b *testBundle, kind string) [][]byte {
	t.Helper()
	sq, ok := b.st.(interface{ SQL() *sql.DB })
	require.True(t, ok, "the store exposes its *sql.DB")
	col := "args::text"
	if b.st.Dialect() == "sqlite" {
		col = "json(args)" // River keeps it as JSONB
	}
	rows, err := sq.SQL().QueryContext(t.Context(), `SELECT `+col+` FROM river_job WHERE kind = '`+kind+`' ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close() //nolint:errcheck // rows.Err is checked
	var out [][]byte
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		out = append(out, raw)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestSweeperAddsNoSecondProvisionJob leaves two grants whose target
// asked to wait an hour with their retry jobs scheduled, lets them stall,
// and sweeps: the sweeper's jobs for them are the same unique jobs, not a
// second job for both.
func TestSweeperAddsNoSecondProvisionJob(t *testing.T) {
	t.Parallel()
	b := setup(t, sqliteQueue)
	ctx := t.Context()
	b.addEntitlements(t, "github:a", "github:b", "github:c")
	b.backend.GrantFunc = func(tg connector.Target) error {
		if tg.EntitlementKey != "a" {
			return &connector.RetryAfterError{After: time.Hour, Err: errors.New("429 too many requests")}
		}
		return nil
	}
	r, err := b.svc.Submit(ctx, "alice", workflow.SubmitParams{Entitlements: []string{"github:a", "github:b", "github:c"}, Duration: time.Hour, Reason: "onboarding"})
	require.NoError(t, err)
	_, err = b.svc.Decide(ctx, "bob", workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	waitFor(t, "the rate-limited grants' own retry jobs", func() bool { return len(provisionJobs(t, b)) == 3 })
	// Stalled: untouched for longer than StallAfter (1 s in setup).
	time.Sleep(1100 * time.Millisecond)
	res, err := b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, res.Provisions, "the sweeper finds the stalled grants")
	require.Len(t, provisionJobs(t, b), 3, "and their jobs are the ones already waiting")
}

// deliveryJobs returns the notification IDs of each delivery job in b's
// database, oldest first.
func deliveryJobs(t *testing.T, b *testBundle) [][]string {
	t.Helper()
	var out [][]string
	for _, raw := range jobArgs(t, b, "deliver") {
		var a jobs.DeliverArgs
		require.NoError(t, json.Unmarshal(raw, &a))
		out = append(out, a.NotificationIDs)
	}
	return out
}

// limitedNotifier answers every delivery to one recipient with Slack's
// 429 and an hour's Retry-After.
type limitedNotifier struct{ recipient string }

func (l limitedNotifier) Deliver(_ context.Context, n *access.Notification) error {
	if n.RecipientID == l.recipient {
		return &connector.RetryAfterError{After: time.Hour, Err: errors.New("slack: rate limited")}
	}
	return nil
}

// TestDeliveryRetriesAFailureInAJobOfItsOwn submits two requests whose
// approver's DMs are rate-limited: the requester's copies are sent, each
// approver's DM is retried in a job of its own due when Slack asked, and
// the sweeper, finding both stalled, adds no second job for them.
func TestDeliveryRetriesAFailureInAJobOfItsOwn(t *testing.T) {
	t.Parallel()
	b := setup(t, sqliteQueue)
	ctx := t.Context()
	b.addEntitlements(t, "github:read")
	b.svc.SetNotifier(limitedNotifier{recipient: "bob"})
	var bobs []string
	sent := map[string]bool{}
	for _, ent := range []string{"github:admin", "github:read"} {
		r, err := b.svc.Submit(ctx, "alice", workflow.SubmitParams{Entitlements: []string{ent}, Duration: time.Hour, Reason: "incident"})
		require.NoError(t, err)
		ns, err := b.st.NotificationListByRequest(ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, ns, 2)
		for _, n := range ns {
			if n.RecipientID == "bob" {
				bobs = append(bobs, n.ID)
			} else {
				sent[n.ID] = true
			}
		}
	}
	require.Len(t, bobs, 2)
	waitFor(t, "each rate-limited DM's own job", func() bool {
		var alone []string
		for _, ids := range deliveryJobs(t, b) {
			if len(ids) == 1 && slices.Contains(bobs, ids[0]) {
				alone = append(alone, ids[0])
			}
		}
		return len(alone) == 2
	})
	jobs0 := len(deliveryJobs(t, b))
	for _, id := range append(slices.Clone(bobs), slices.Collect(maps.Keys(sent))...) {
		got, err := b.st.NotificationGetByID(ctx, id)
		require.NoError(t, err)
		if sent[id] {
			require.Equal(t, access.NotificationSent, got.State, "the requester's copies are not held back")
		} else {
			require.Equal(t, access.NotificationPending, got.State)
		}
	}
	time.Sleep(1100 * time.Millisecond) // stalled: pending for longer than StallAfter (1 s in setup)
	res, err := b.svc.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, res.Deliveries, "the sweeper finds the pending DMs")
	require.Len(t, deliveryJobs(t, b), jobs0, "and their jobs are the ones already waiting")
}

// TestQueueRetriesThenFails checks River retries provisioning with backoff
// and the workflow fails the grant after its attempts.
func TestQueueRetriesThenFails(t *testing.T) {
	t.Parallel()
	b := setup(t, sqliteQueue)
	ctx := t.Context()
	var calls atomic.Int32
	b.backend.GrantFunc = func(connector.Target) error {
		calls.Add(1)
		return errors.New("target down")
	}
	r, err := b.svc.Submit(ctx, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin"}, Duration: time.Hour, Reason: "incident"})
	require.NoError(t, err)
	_, err = b.svc.Decide(ctx, "bob", workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
	require.NoError(t, err)
	waitFor(t, "grant failed", func() bool { return b.grantState(t, r.ID) == access.GrantFailed })
	require.Equal(t, int32(3), calls.Load())
}

// TestSweeperRecoversLostJobs stores approved work without enqueueing it
// (as after a crash between commit and enqueue) and checks the periodic
// sweep provisions it.
func TestSweeperRecoversLostJobs(t *testing.T) {
	t.Parallel()
	for name, newQ := range drivers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, newQ)
			ctx := t.Context()
			b.svc.SetEnqueuer(dropAll{})
			r, err := b.svc.Submit(ctx, "alice", workflow.SubmitParams{Entitlements: []string{"github:admin"}, Duration: time.Hour, Reason: "incident"})
			require.NoError(t, err)
			_, err = b.svc.Decide(ctx, "bob", workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
			require.NoError(t, err)
			b.svc.SetEnqueuer(b.q)
			waitFor(t, "sweeper provisions the lost grant", func() bool { return b.grantState(t, r.ID) == access.GrantActive })
		})
	}
}

// TestSweeperRecoversLostTargetExtension extends a grant on a connector
// that keeps its own expiry in the target while every job is lost (as
// after a crash between commit and enqueue): the grant records that its
// target is behind, and the periodic sweep has the target moved.
func TestSweeperRecoversLostTargetExtension(t *testing.T) {
	t.Parallel()
	for name, newQ := range drivers() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, newQ)
			ctx := t.Context()
			now := clock.Real{}.Now()
			require.NoError(t, b.st.AppUpsert(ctx, &access.App{ID: "pgdb", Name: "Postgres", ConnectorType: fake.TypeName,
				ConnectorSettings: map[string]string{"expiry": "true"}, Owners: []string{"bob"}, Source: access.SourceConfig,
				CreatedAt: now, UpdatedAt: now}))
			require.NoError(t, b.st.EntitlementUpsert(ctx, &access.Entitlement{ID: "pgdb:read", AppID: "pgdb", Key: "read", Name: "Read",
				Requestable: true, Risk: access.RiskLow, CreatedAt: now, UpdatedAt: now}))
			r, err := b.svc.Submit(ctx, "alice", workflow.SubmitParams{Entitlements: []string{"pgdb:read"}, Duration: time.Hour, Reason: "incident"})
			require.NoError(t, err)
			_, err = b.svc.Decide(ctx, "bob", workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
			require.NoError(t, err)
			waitFor(t, "grant active", func() bool { return b.grantState(t, r.ID) == access.GrantActive })
			gs, err := b.st.GrantListByRequest(ctx, r.ID)
			require.NoError(t, err)
			g := gs[0]

			b.svc.SetEnqueuer(dropAll{})
			_, err = b.svc.Extend(ctx, "bob", g.ID, 3*time.Hour)
			require.NoError(t, err)
			g, err = b.st.GrantGetByID(ctx, g.ID, false)
			require.NoError(t, err)
			require.True(t, g.TargetBehind(), "the extension is recorded as not applied yet")
			require.Empty(t, b.backend.Expiries(g.ID))

			b.svc.SetEnqueuer(b.q)
			waitFor(t, "the sweeper has the target moved", func() bool {
				got, err := b.st.GrantGetByID(ctx, g.ID, false)
				require.NoError(t, err)
				return !got.TargetBehind()
			})
			got, err := b.st.GrantGetByID(ctx, g.ID, false)
			require.NoError(t, err)
			require.Equal(t, g.ExpiresAt, got.ExpiresAt)
			require.Equal(t, got.ExpiresAt, got.TargetExpiresAt)
			moved := b.backend.Expiries(g.ID)
			require.NotEmpty(t, moved)
			for _, at := range moved {
				require.True(t, at.Equal(g.ExpiresAt), "the target was moved to the extended expiry, got %v", at)
			}
		})
	}
}

type dropAll struct{}

func (dropAll) Enqueue(context.Context, workflow.Batch) error { return nil }
