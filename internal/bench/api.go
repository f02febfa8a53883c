package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api"
)

// SeedRequests stores n closed (expired) requests spread over the
// benchmark users, straight through the store in batches, as history for
// the API benchmark.
func (s *Stack) SeedRequests(ctx context.Context, n int) error {
	const batch = 2000
	t0 := clock.Real{}.Now().Add(-30 * 24 * time.Hour)
	for done := 0; done < n; done += batch {
		err := s.Store.InTx(ctx, func(q store.Queries) error {
			for i := done; i < min(n, done+batch); i++ {
				at := t0.Add(time.Duration(i) * time.Second)
				r := &access.Request{ID: ids.New("req", at), RequesterID: UserID(i % Users), AppID: "bench",
					EntitlementIDs: []string{EntitlementID(i % Entitlements)}, Duration: time.Hour, MaxDuration: 8 * time.Hour,
					Reason: "history", State: access.RequestExpired, PolicyID: "default", CurrentStep: 1,
					Steps:     []access.Step{{Name: "Owner", Eligible: []string{"owner0", "owner1"}, Notified: []string{"owner0", "owner1"}, Required: 1}},
					CreatedAt: at, UpdatedAt: at, PendingUntil: at.Add(24 * time.Hour)}
				if err := q.RequestCreate(ctx, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed requests: %w", err)
		}
	}
	return nil
}

// APIResult is the latency of one kind of call.
type APIResult struct {
	Name     string
	Calls    int
	P50, P99 time.Duration
}

// APILatency serves the REST API on loopback and runs clients concurrent
// clients for d: half submit new requests (POST /requests), half list
// (GET /requests: the caller's own, and an admin's newest page). offset
// picks fresh (user, entitlement) pairs for the submits.
func (s *Stack) APILatency(ctx context.Context, clients int, d time.Duration, offset int) ([]APIResult, error) {
	// As sesame serve wires it: token uses saved in the background.
	uses := auth.NewUseRecorder(s.Store, nil)
	defer uses.Close()
	srv := httptest.NewServer(api.New(api.Config{Service: s.Service, Store: s.Store, Clock: clock.Real{}, TokenUses: uses}))
	defer srv.Close()
	tokens := make([]string, Users)
	var admin string
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		now := clock.Real{}.Now()
		for i := range Users {
			secret, _, err := auth.CreateToken(ctx, q, UserID(i), "bench", time.Time{}, now)
			if err != nil {
				return err
			}
			tokens[i] = secret
		}
		var err error
		admin, _, err = auth.CreateToken(ctx, q, "owner0", "bench", time.Time{}, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	call := func(method, path, token, body string) (time.Duration, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		start := now()
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		elapsed := now().Sub(start)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		if err == nil && resp.StatusCode >= 300 {
			err = fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
		}
		return elapsed, err
	}

	var mu sync.Mutex
	var post, get []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := now()
	next := offset
	for c := range clients {
		wg.Go(func() {
			for now().Sub(start) < d {
				var err error
				var dur time.Duration
				if c%2 == 0 {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					u, e := i%Users, (i/Users)%Entitlements
					dur, err = call("POST", "/api/v1/requests", tokens[u],
						fmt.Sprintf(`{"entitlements":[%q],"duration":"1h","reason":"benchmark"}`, EntitlementID(e)))
					mu.Lock()
					post = append(post, dur)
					mu.Unlock()
				} else {
					path, tok := "/api/v1/requests?requester=me", tokens[c%Users]
					if c%4 == 1 {
						path, tok = "/api/v1/requests?limit=50", admin
					}
					dur, err = call("GET", path, tok, "")
					mu.Lock()
					get = append(get, dur)
					mu.Unlock()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	p50, p99 := Percentiles(post)
	g50, g99 := Percentiles(get)
	return []APIResult{{"POST /api/v1/requests", len(post), p50, p99}, {"GET /api/v1/requests", len(get), g50, g99}}, nil
}
