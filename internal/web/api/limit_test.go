package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
)

// gatedStore holds every RequestList until gate is closed.
type gatedStore struct {
	store.Store
	gate    chan struct{}
	entered atomic.Int32
}

func (g *gatedStore) RequestList(ctx context.Context, p store.RequestListParams) ([]*access.Request, string, error) {
	g.entered.Add(1)
	<-g.gate
	return g.Store.RequestList(ctx, p)
}

// TestListConcurrencyIsBounded: with ListConcurrency 1, a second list
// waits for the first (and gives up when its client does), while other
// routes (a submit) do not wait at all.
func TestListConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	gs := &gatedStore{Store: env.Store, gate: make(chan struct{})}
	h := api.New(api.Config{Service: env.Service, Store: gs, Clock: env.Clock, ListConcurrency: 1})
	do := func(ctx context.Context, method, path, body string) *httptest.ResponseRecorder {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequestWithContext(ctx, method, path, nil)
		}
		r.Header.Set("Authorization", "Bearer "+env.Token(env.Alice))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- do(t.Context(), http.MethodGet, "/api/v1/requests", "") }()
	require.Eventually(t, func() bool { return gs.entered.Load() == 1 }, 10*time.Second, time.Millisecond)

	// A second list waits for the slot; its client gives up first.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	do(ctx, http.MethodGet, "/api/v1/requests", "")
	cancel()
	require.Equal(t, int32(1), gs.entered.Load(), "the second list must not have run")

	// A submit is not a list: it runs while the list slot is taken.
	w := do(t.Context(), http.MethodPost, "/api/v1/requests",
		`{"entitlements":["github:read"],"reason":"deploy","approvers":["`+env.Bob.ID+`"]}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())

	close(gs.gate)
	require.Equal(t, http.StatusOK, (<-first).Code)
	require.Equal(t, http.StatusOK, do(t.Context(), http.MethodGet, "/api/v1/requests", "").Code)
	require.Equal(t, int32(2), gs.entered.Load())
}
