package ui_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
	"github.com/sesame-access/sesame/internal/web/signin"
	"github.com/sesame-access/sesame/internal/web/ui"
)

// benchRequests is how many requests the page benchmarks store, and
// benchApps how many apps (the type-ahead's catalog).
const (
	benchRequests = 100_000
	benchApps     = 10_000
)

// seedApps stores n more apps ("app-00042", with an alias) in one
// transaction.
func seedApps(b *testing.B, env *apitest.Env, n int) {
	b.Helper()
	ctx := b.Context()
	now := env.Clock.Now()
	err := env.Store.InTx(ctx, func(q store.Queries) error {
		for i := range n {
			a := &access.App{ID: fmt.Sprintf("app-%05d", i), Name: fmt.Sprintf("Service %05d", i), ConnectorType: "fake",
				Aliases: []string{fmt.Sprintf("svc%d", i)}, Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now}
			if err := q.AppUpsert(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seed apps: %v", err)
	}
}

// seedHistory stores n requests (one in 100 pending for bob or carol,
// one in 100 with an active grant, the rest expired), spread over the
// fixture's requesters, each with one audit event: straight through the
// store, in batches.
func seedHistory(b *testing.B, env *apitest.Env, n int) (pendingID string) {
	b.Helper()
	ctx := b.Context()
	requesters := []*access.User{env.Alice, env.Erin, env.Frank, env.Dave}
	t0 := env.Clock.Now().Add(-time.Duration(n) * time.Minute)
	const batch = 2000
	for done := 0; done < n; done += batch {
		err := env.Store.InTx(ctx, func(q store.Queries) error {
			for i := done; i < min(n, done+batch); i++ {
				at := t0.Add(time.Duration(i) * time.Minute)
				state := access.RequestExpired
				switch i % 100 {
				case 0:
					state = access.RequestPending
				case 1:
					state = access.RequestActive
				}
				ent := []string{"github:read", "github:write", "db:read"}[i%3]
				app := "github"
				if ent == "db:read" {
					app = "db"
				}
				r := &access.Request{ID: ids.New("req", at), RequesterID: requesters[i%len(requesters)].ID, AppID: app,
					EntitlementIDs: []string{ent}, Duration: time.Hour, MaxDuration: 8 * time.Hour, Reason: "history " + fmt.Sprint(i),
					State: state, PolicyID: "default",
					Steps: []access.Step{{Name: "approval", Eligible: []string{env.Bob.ID, env.Carol.ID},
						Notified: []string{env.Bob.ID, env.Carol.ID}, Required: 1, OpenedAt: at}},
					CreatedAt: at, UpdatedAt: at, PendingUntil: env.Clock.Now().Add(24 * time.Hour)}
				if err := q.RequestCreate(ctx, r); err != nil {
					return err
				}
				if state == access.RequestPending {
					pendingID = r.ID
				}
				if state == access.RequestActive {
					g := &access.Grant{ID: ids.New("grt", at), RequestID: r.ID, UserID: r.RequesterID, AppID: app, EntitlementID: ent,
						State: access.GrantActive, Duration: time.Hour, MaxDuration: 8 * time.Hour, ActivatedAt: at,
						ExpiresAt: env.Clock.Now().Add(time.Duration(i%600) * time.Minute), CreatedAt: at, UpdatedAt: at}
					if err := q.GrantCreate(ctx, g); err != nil {
						return err
					}
				}
				if err := q.EventAppend(ctx, &access.Event{ID: ids.New("evt", at), Time: at, ActorID: r.RequesterID,
					Action: "request.submitted", SubjectType: "request", SubjectID: r.ID}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	return pendingID
}

// BenchmarkPages measures the server time of the main pages with
// 100,000 requests (and as many audit events) in real SQLite: one
// iteration is one page rendered through the whole handler (session,
// queries, templates). The target is under 50 ms per page.
func BenchmarkPages(b *testing.B) {
	env := apitest.New(b)
	start := time.Now() //nolint:forbidigo // reports how long seeding took
	pendingID := seedHistory(b, env, benchRequests)
	seedApps(b, env, benchApps)
	b.Logf("seeded %d requests and %d apps in %s", benchRequests, benchApps, time.Since(start).Round(time.Millisecond)) //nolint:forbidigo // see above
	sessions := signin.NewSessions(env.Store, env.Clock, "http://sesame.test", 0)
	h := ui.New(ui.Config{Service: env.Service, Store: env.Store, Clock: env.Clock, Sessions: sessions})
	cookieFor := func(u *access.User) *http.Cookie {
		w := httptest.NewRecorder()
		if _, err := sessions.Start(b.Context(), w, u.ID, "link"); err != nil {
			b.Fatal(err)
		}
		return w.Result().Cookies()[0]
	}
	alice, bob, carol := cookieFor(env.Alice), cookieFor(env.Bob), cookieFor(env.Carol)
	pages := []struct {
		name   string
		cookie *http.Cookie
		path   string
	}{
		{"home", alice, "/"},
		{"home-approver", bob, "/"},
		{"approvals", bob, "/approvals"},
		{"requests-mine", alice, "/requests"},
		{"requests-all", carol, "/requests?scope=all"},
		{"request", bob, "/requests/" + pendingID},
		{"new-request", alice, "/requests/new?app=github"},
		{"access-all", carol, "/access"},
		{"access-expiring", carol, "/access?expiring=2h"},
		{"person", carol, "/people/" + env.Alice.ID},
		{"catalog-app", carol, "/catalog/github"},
		{"audit", carol, "/audit"},
		{"audit-filtered", carol, "/audit?action=request.&actor=alice@example.com"},
		{"apps-json", alice, "/apps.json?q=git"},
		{"apps-json-10k-match", alice, "/apps.json?q=service%200999"},
		{"apps-json-alias", alice, "/apps.json?q=svc9999"},
		{"catalog", carol, "/catalog"},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequestWithContext(b.Context(), http.MethodGet, pg.path, nil)
				r.AddCookie(pg.cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", pg.path, w.Code, w.Body.String())
				}
			}
		})
	}
}
