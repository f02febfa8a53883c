package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/store"
)

// Opener returns a new empty store for t and closes it when t ends.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite against stores made by open. Each group and
// each subtest runs in parallel, on a store of its own.
func Run(t *testing.T, open Opener) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"Users", testUsers},
		{"Catalog", testCatalog},
		{"Requests", testRequests},
		{"RequestLists", testRequestLists},
		{"Grants", testGrants},
		{"GrantLists", testGrantLists},
		{"Notifications", testNotifications},
		{"Audit", testAudit},
		{"Tokens", testTokens},
		{"Policies", testPolicies},
		{"Transactions", testTransactions},
		{"Concurrency", testConcurrency},
		{"Web", testWeb},
		{"Directory", testDirectory},
		{"Findings", testFindings},
		{"Integrations", testIntegrations},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, open)
		})
	}
}

// testBundle is what every subtest starts with.
type testBundle struct {
	st  store.Store
	ctx context.Context
	// now is a fixed instant with nanoseconds, so that every round trip
	// also checks truncation to microseconds.
	now time.Time
}

func setup(t *testing.T, open Opener) *testBundle {
	t.Helper()
	st := open(t)
	require.NotNil(t, st)
	return &testBundle{
		st:  st,
		ctx: t.Context(),
		now: time.Date(2025, 6, 2, 9, 30, 15, 123456789, time.UTC),
	}
}

// at returns now moved by d.
func (b *testBundle) at(d time.Duration) time.Time { return b.now.Add(d) }

// tr is a time as a store returns it: UTC, whole microseconds.
func tr(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// ids returns the IDs of items, in order.
func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

// collectPages lists every page of limit items and checks the last page
// has an empty cursor and no page is empty or over limit.
func collectPages[T any](t *testing.T, limit int, list func(p store.Page) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	cursor := ""
	for range 100 {
		items, next, err := list(store.Page{Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		require.LessOrEqual(t, len(items), limit)
		all = append(all, items...)
		if next == "" {
			return all
		}
		require.Len(t, items, limit, "a page before the last is full")
		require.NotEqual(t, cursor, next)
		cursor = next
	}
	t.Fatal("pagination did not end")
	return nil
}
