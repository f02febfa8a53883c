package api_test

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
)

// benchPeople is how many extra users the list benchmark's requests come
// from and are approved by, and benchListed how many requests it stores.
const (
	benchPeople = 20
	benchListed = 2000
)

// seedListed stores n decided requests straight through the store: each
// from one of people, with two steps of two notified approvers among
// people and one approval per step, so that a 50-row page names many
// distinct users and carries two decisions per request.
func seedListed(b *testing.B, env *apitest.Env, people []*access.User, n int) {
	b.Helper()
	ctx := b.Context()
	t0 := env.Clock.Now().Add(-time.Duration(n) * time.Minute)
	err := env.Store.InTx(ctx, func(q store.Queries) error {
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Minute)
			p := func(k int) string { return people[(i+k)%len(people)].ID }
			r := &access.Request{ID: ids.New("req", at), RequesterID: p(0), AppID: "github",
				EntitlementIDs: []string{"github:read", "github:write"}, Duration: time.Hour, MaxDuration: 8 * time.Hour,
				Reason: fmt.Sprintf("on-call ticket %d", i), State: access.RequestExpired, PolicyID: "default", CurrentStep: 1,
				Steps: []access.Step{
					{Name: "manager", Eligible: []string{p(1), p(2)}, Notified: []string{p(1), p(2)}, Required: 1, OpenedAt: at},
					{Name: "owner", Eligible: []string{p(3), p(4)}, Notified: []string{p(3), p(4)}, Required: 1, OpenedAt: at.Add(time.Minute)},
				},
				CreatedAt: at, UpdatedAt: at.Add(2 * time.Minute), PendingUntil: at.Add(24 * time.Hour), LastRemindedAt: at.Add(30 * time.Second)}
			for step, k := range []int{1, 3} {
				r.Decisions = append(r.Decisions, access.Decision{ID: ids.New("dec", at.Add(time.Duration(step+1)*time.Minute)),
					RequestID: r.ID, Step: step, ApproverID: p(k), Outcome: access.Approve, Comment: "ok",
					CreatedAt: at.Add(time.Duration(step+1) * time.Minute)})
			}
			if err := q.RequestCreate(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
}

// BenchmarkListRequests measures GET /api/v1/requests through the whole
// handler (token, query, users, JSON) on real SQLite: an admin's page of
// 50 requests, and a requester's own requests (requester=me).
func BenchmarkListRequests(b *testing.B) {
	env := apitest.New(b)
	ctx := b.Context()
	now := env.Clock.Now()
	people := make([]*access.User, 0, benchPeople+1)
	for i := range benchPeople {
		u := &access.User{ID: fmt.Sprintf("usr_p%02d", i), Email: fmt.Sprintf("person%02d@example.com", i),
			Name: fmt.Sprintf("Person %02d", i), Groups: []string{"eng"}, Status: access.UserActive, CreatedAt: now, UpdatedAt: now}
		if err := env.Store.UserUpsert(ctx, u); err != nil {
			b.Fatal(err)
		}
		people = append(people, u)
	}
	seedListed(b, env, append(people, env.Alice), benchListed)
	for _, tc := range []struct {
		name string
		as   *access.User
		path string
	}{
		{"admin-limit50", env.Carol, "/api/v1/requests?limit=50"},
		{"requester-me", env.Alice, "/api/v1/requests?requester=me"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			auth := "Bearer " + env.Token(tc.as)
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequestWithContext(b.Context(), http.MethodGet, tc.path, nil)
				r.Header.Set("Authorization", auth)
				w := httptest.NewRecorder()
				env.Handler.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", tc.path, w.Code, w.Body.String())
				}
			}
		})
	}
}
