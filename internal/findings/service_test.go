package findings_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// poster records messages like a channel would; FailWith fails the next
// calls.
type poster struct {
	mu       sync.Mutex
	posts    map[string]findings.Message // by ts
	updates  int
	FailWith []error
}

func (p *poster) fail() error {
	if len(p.FailWith) == 0 {
		return nil
	}
	err := p.FailWith[0]
	p.FailWith = p.FailWith[1:]
	return err
}

func (p *poster) PostAlert(_ context.Context, channel string, m findings.Message) (string, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail(); err != nil {
		return "", "", err
	}
	ts := fmt.Sprintf("%s.%06d", channel, len(p.posts)+1)
	c := *m.Alert
	p.posts[ts] = findings.Message{Alert: &c, ReviewURL: m.ReviewURL}
	return channel, ts, nil
}

func (p *poster) UpdateAlert(_ context.Context, _, ts string, m findings.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail(); err != nil {
		return err
	}
	if _, ok := p.posts[ts]; !ok {
		return connector.Permanent(errors.New("message_not_found"))
	}
	c := *m.Alert
	p.posts[ts] = findings.Message{Alert: &c, ReviewURL: m.ReviewURL}
	p.updates++
	return nil
}

// forwarder records the alerts forwarded to integrations.
type forwarder struct {
	mu  sync.Mutex
	ids []string
}

func (f *forwarder) ForwardAlert(_ context.Context, m findings.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, m.Alert.ID)
	return nil
}

// enqueuer records the alerts queued for delivery.
type enqueuer struct {
	mu  sync.Mutex
	ids []findings.Delivery
}

func (e *enqueuer) EnqueueAlerts(_ context.Context, ds []findings.Delivery) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = append(e.ids, ds...)
	return nil
}

func (e *enqueuer) take() []findings.Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.ids
	e.ids = nil
	return out
}

// lister is a connector whose accounts the test sets.
type lister struct {
	accounts map[string][]connector.Account // by app
	app      string
}

func (l *lister) Grant(context.Context, connector.Target) error  { return nil }
func (l *lister) Revoke(context.Context, connector.Target) error { return nil }
func (l *lister) ForApp(app string) connector.Connector {
	return &lister{accounts: l.accounts, app: app}
}
func (l *lister) ListAccounts(context.Context) ([]connector.Account, error) {
	return slices.Clone(l.accounts[l.app]), nil
}

type testBundle struct {
	ctx    context.Context
	st     store.Store
	clock  *clock.Fake
	svc    *findings.Service
	poster *poster
	enq    *enqueuer
	list   *lister
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, sqlite.OpenTest(t))
}

func setupWith(t *testing.T, st store.Store) *testBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC))
	l := &lister{accounts: map[string][]connector.Account{}}
	reg := connector.NewRegistry()
	reg.Register("listing", func(map[string]string) (connector.Connector, error) { return l, nil })
	svc, err := findings.New(findings.Config{Store: st, Clock: clk, Connectors: reg, BaseURL: "https://sesame.example.com",
		DefaultChannel: "C0SEC", MaxSignupAlerts: 2, PageSize: 3})
	require.NoError(t, err)
	p := &poster{posts: map[string]findings.Message{}}
	e := &enqueuer{}
	svc.SetPoster(p)
	svc.SetEnqueuer(e)
	b := &testBundle{ctx: t.Context(), st: st, clock: clk, svc: svc, poster: p, enq: e, list: l}
	for _, u := range []*access.User{
		{ID: "usr_carol", Email: "carol@example.com", Name: "Carol", Status: access.UserActive, Roles: []access.Role{access.RoleAdmin}},
		{ID: "usr_alice", Email: "alice@example.com", Name: "Alice", Status: access.UserActive},
		{ID: "usr_frank", Email: "frank@example.com", Name: "Frank", Status: access.UserOffboarded},
	} {
		require.NoError(t, st.UserUpsert(b.ctx, u))
	}
	for _, a := range []*access.App{
		{ID: "github", Name: "GitHub", ConnectorType: "listing", Watchlist: true, Source: access.SourceConfig},
		{ID: "grafana", Name: "Grafana", ConnectorType: "listing", Source: access.SourceConfig},
	} {
		require.NoError(t, st.AppUpsert(b.ctx, a))
	}
	return b
}

func (b *testBundle) alerts(t *testing.T, typ access.AlertType) []*access.Alert {
	t.Helper()
	list, _, err := b.st.AlertList(b.ctx, store.AlertListParams{Types: []access.AlertType{typ}, Page: store.Page{Limit: 500}})
	require.NoError(t, err)
	return list
}

func (b *testBundle) deliverAll(t *testing.T) {
	t.Helper()
	for _, d := range b.enq.take() {
		require.NoError(t, b.svc.Deliver(b.ctx, d.AlertID, d.Rev))
	}
}

func TestIngestDeduplicatesAndAlertsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev := func(name, domain, email string) findings.Event {
		return findings.Event{Source: "email-gateway", AppName: name, AppDomain: domain, AccountEmail: email, SeenAt: b.clock.Now()}
	}
	res, err := b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{
		ev("Notion Labs, Inc.", "", ""), ev("", "https://www.notion.so", "alice@example.com"), ev("notion", "", ""),
		ev("GitHub", "", "mallory@example.com"), // a catalog app on the watchlist: a sign-up, not a new app
		ev("Grafana", "", "alice@example.com"),  // in the catalog, not on the watchlist: nothing
	})
	require.NoError(t, err)
	require.Equal(t, findings.IngestResult{Events: 5, NewApps: 1, NewAccounts: 2, Alerts: 2}, res)
	newApps := b.alerts(t, access.AlertNewAppDiscovered)
	require.Len(t, newApps, 1)
	require.Equal(t, "key:notion", newApps[0].AppKey)
	require.Equal(t, "email-gateway", newApps[0].Source)
	signups := b.alerts(t, access.AlertWatchlistSignup)
	require.Len(t, signups, 1)
	require.Equal(t, "signup:github:email:mallory@example.com", signups[0].DedupKey)

	// The same events again (a replay, a restart): nothing new.
	res, err = b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{ev("NOTION", "notion.so", ""), ev("GitHub", "", "mallory@example.com")})
	require.NoError(t, err)
	require.Equal(t, findings.IngestResult{Events: 2}, res)
	require.Len(t, b.alerts(t, access.AlertNewAppDiscovered), 1)
	d, err := b.st.DiscoveredAppGet(b.ctx, "notion")
	require.NoError(t, err)
	require.Equal(t, int64(4), d.SeenCount)
	require.Len(t, b.enq.take(), 2, "each alert's delivery was queued once")

	// An account of an offboarded person, reported by a source.
	_, err = b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{ev("GitHub", "", "frank@example.com")})
	require.NoError(t, err)
	off := b.alerts(t, access.AlertOffboardedWithAccounts)
	require.Len(t, off, 1)
	require.Equal(t, "usr_frank", off[0].UserID)
	require.Contains(t, off[0].Details[0], "github: frank@example.com")

	// Only admins (and Sesame itself) ingest, whoever calls the service.
	_, err = b.svc.Ingest(b.ctx, "usr_alice", []findings.Event{ev("Figma", "figma.com", "")})
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	_, err = b.st.DiscoveredAppGet(b.ctx, "figma")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused batch stores nothing")
}

func TestSyncAccountsDiffs(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testSyncAccountsDiffs(t, setup(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		if postgres.TestURL(t) == "" {
			t.Skip("SESAME_TEST_POSTGRES_URL is not set")
		}
		testSyncAccountsDiffs(t, setupWith(t, postgres.OpenTest(t)))
	})
}

func testSyncAccountsDiffs(t *testing.T, b *testBundle) {
	t.Helper()
	acc := func(id, email string) connector.Account {
		return connector.Account{ExternalID: id, Email: email, Name: id}
	}
	b.list.accounts["github"] = []connector.Account{acc("u1", "Alice@Example.com"), acc("u2", ""), acc("u3", "x@example.com"),
		acc("u4", ""), acc("u2", ""), acc("", "ignored@example.com")}
	// An account a discovery source reported stays when the connector
	// does not list it.
	require.NoError(t, b.st.AccountUpsertBatch(b.ctx, []*access.Account{{AppID: "github", ExternalID: "email:src@example.com",
		Email: "src@example.com", FirstSeen: b.clock.Now(), LastSeen: b.clock.Now()}}))
	rep, err := b.svc.SyncAll(b.ctx)
	require.NoError(t, err)
	gh := rep.Apps[0]
	require.Equal(t, findings.AppReport{AppID: "github", Seen: 4, New: 4}, gh, "the baseline (no connector-listed account yet): no alerts")
	require.Empty(t, b.alerts(t, access.AlertWatchlistSignup))

	b.clock.Advance(time.Hour)
	b.list.accounts["github"] = []connector.Account{acc("u0", "new0@example.com"), acc("u1", "alice@example.com"),
		{ExternalID: "u3", Email: "x@example.com", Name: "Renamed"}, acc("u5", "new5@example.com"), acc("u6", "new6@example.com"), acc("u7", "frank@example.com")}
	rep, err = b.svc.SyncAll(b.ctx)
	require.NoError(t, err)
	require.Equal(t, findings.AppReport{AppID: "github", Seen: 6, New: 4, Gone: 2, Alerts: 2}, rep.Apps[0],
		"u2 and u4 are gone; four new accounts, alerts capped at 2")
	require.Equal(t, 1, rep.Offboarded)
	require.Len(t, b.alerts(t, access.AlertWatchlistSignup), 2)

	all, err := b.st.AccountListByApp(b.ctx, "github", "", 100)
	require.NoError(t, err)
	byID := map[string]*access.Account{}
	for _, a := range all {
		byID[a.ExternalID] = a
	}
	require.Len(t, byID, 9)
	require.True(t, byID["email:src@example.com"].Active(), "a source's account is not gone because the connector does not list it")
	require.Equal(t, "usr_alice", byID["u1"].UserID)
	require.Equal(t, "alice@example.com", byID["u1"].Email)
	require.Equal(t, time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC), byID["u1"].FirstSeen)
	require.Equal(t, b.clock.Now(), byID["u0"].LastSeen)
	require.Equal(t, b.clock.Now(), byID["u3"].LastSeen, "renamed: rewritten")
	require.Equal(t, "Renamed", byID["u3"].Name)
	require.Equal(t, time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC), byID["u1"].LastSeen, "only its email's case changed")
	require.False(t, byID["u2"].Active())
	require.True(t, byID["u7"].Active())

	// A third sync with nothing new raises nothing and posts nothing new;
	// 13 hours on, LastSeen is refreshed.
	b.deliverAll(t)
	posted := len(b.poster.posts)
	b.clock.Advance(13 * time.Hour)
	rep, err = b.svc.SyncAll(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 0, rep.Apps[0].New)
	require.Zero(t, rep.Offboarded, "frank's alert was raised already")
	require.Empty(t, b.enq.take())
	require.Len(t, b.poster.posts, posted)
	u1, err := b.st.AccountGet(b.ctx, "github", "u1")
	require.NoError(t, err)
	require.Equal(t, b.clock.Now(), u1.LastSeen)
}

func TestDeliverAndButtons(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fwd := &forwarder{}
	b.svc.SetForwarder(fwd)
	_, err := b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{{Source: "s", AppName: "Notion", AppDomain: "notion.so", SeenAt: b.clock.Now()}})
	require.NoError(t, err)
	ds := b.enq.take()
	require.Len(t, ds, 1)
	id := ds[0].AlertID
	require.Zero(t, ds[0].Rev)

	// Slack fails twice (rate limited, then a 500), then works.
	b.poster.FailWith = []error{&connector.RetryAfterError{After: 3 * time.Second, Err: errors.New("ratelimited")}, errors.New("http 500")}
	err = b.svc.Deliver(b.ctx, id, 0)
	after, ok := connector.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, after)
	require.Error(t, b.svc.Deliver(b.ctx, id, 0))
	require.NoError(t, b.svc.Deliver(b.ctx, id, 0))
	require.NoError(t, b.svc.Deliver(b.ctx, id, 0), "a repeated job does nothing")
	require.Len(t, b.poster.posts, 1, "posted once")
	a, err := b.svc.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, access.DeliveryPosted, a.Delivery)
	require.Equal(t, "C0SEC", a.Channel)
	require.Equal(t, 3, a.Attempts)
	msg := b.poster.posts[a.TS]
	require.Equal(t, "https://sesame.example.com/catalog/discovered/notion", msg.ReviewURL)

	// A non-admin is refused, audited, and nothing changes.
	_, err = b.svc.Act(b.ctx, "usr_alice", id, findings.ActionWatch)
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	same, err := b.svc.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, a, same)
	evs, _, err := b.st.EventList(b.ctx, store.EventListParams{Action: findings.AuditAlertRefused})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "usr_alice", evs[0].ActorID)

	// The admin adds the discovered app to the watchlist: it becomes a
	// catalog app, the message is updated.
	w, err := b.svc.Act(b.ctx, "usr_carol", id, findings.ActionWatch)
	require.NoError(t, err)
	require.Equal(t, access.AlertWatching, w.State)
	require.Equal(t, "notion", w.AppID)
	app, err := b.st.AppGetByID(b.ctx, "notion")
	require.NoError(t, err)
	require.True(t, app.Watchlist)
	require.Equal(t, access.SourceDiscovered, app.Source)
	b.deliverAll(t)
	require.Equal(t, 1, b.poster.updates)
	require.Equal(t, access.AlertWatching, b.poster.posts[a.TS].Alert.State)

	// Sign-ups in it now raise alerts; Ignore then mutes the app.
	_, err = b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{{Source: "s", AppName: "notion", AccountEmail: "bob@example.com", SeenAt: b.clock.Now()}})
	require.NoError(t, err)
	signups := b.alerts(t, access.AlertWatchlistSignup)
	require.Len(t, signups, 1)
	b.deliverAll(t)
	require.Equal(t, []string{signups[0].ID}, fwd.ids, "an alert about a catalog app is forwarded once; the new-app alert was not")
	_, err = b.svc.Act(b.ctx, "usr_carol", signups[0].ID, findings.ActionIgnore)
	require.NoError(t, err)
	_, err = b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{{Source: "s", AppName: "notion", AccountEmail: "eve@example.com", SeenAt: b.clock.Now()}})
	require.NoError(t, err)
	require.Len(t, b.alerts(t, access.AlertWatchlistSignup), 1, "the app is ignored")
	evs, _, err = b.st.EventList(b.ctx, store.EventListParams{Action: "alert."})
	require.NoError(t, err)
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	require.Contains(t, actions, findings.AuditAlertWatched)
	require.Contains(t, actions, findings.AuditAlertIgnored)
	require.Contains(t, actions, findings.AuditAlertPosted)
}

func TestDeliverySettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.PutSettings(b.ctx, "usr_alice", []access.AlertSetting{{Type: access.AlertNewAppDiscovered}})
	require.Equal(t, access.CodeForbidden, access.ErrorCode(err))
	_, err = b.svc.PutSettings(b.ctx, "usr_carol", []access.AlertSetting{{Type: "nope"}, {Type: access.AlertNewAppDiscovered, Channel: "not a channel"}})
	require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
	got, err := b.svc.PutSettings(b.ctx, "usr_carol", []access.AlertSetting{{Type: access.AlertNewAppDiscovered, Enabled: false},
		{Type: access.AlertWatchlistSignup, Enabled: true, Channel: "C0WATCH"}})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "C0WATCH", got[0].Channel)
	require.False(t, got[2].Enabled)

	_, err = b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{{Source: "s", AppName: "Figma", SeenAt: b.clock.Now()},
		{Source: "s", AppName: "GitHub", AccountEmail: "z@example.com", SeenAt: b.clock.Now()}})
	require.NoError(t, err)
	b.deliverAll(t)
	require.Equal(t, access.DeliverySkipped, b.alerts(t, access.AlertNewAppDiscovered)[0].Delivery, "the type is off")
	signup := b.alerts(t, access.AlertWatchlistSignup)[0]
	require.Equal(t, "C0WATCH", signup.Channel)

	// A channel that is gone fails the delivery for good.
	b.poster.FailWith = []error{connector.Permanent(errors.New("channel_not_found"))}
	_, err = b.svc.Ingest(b.ctx, "usr_carol", []findings.Event{{Source: "s", AppName: "GitHub", AccountEmail: "y@example.com", SeenAt: b.clock.Now()}})
	require.NoError(t, err)
	b.deliverAll(t)
	var failed *access.Alert
	for _, a := range b.alerts(t, access.AlertWatchlistSignup) {
		if a.DedupKey == "signup:github:email:y@example.com" {
			failed = a
		}
	}
	require.NotNil(t, failed)
	require.Equal(t, access.DeliveryFailed, failed.Delivery)
	require.Contains(t, failed.LastError, "channel_not_found")
}
