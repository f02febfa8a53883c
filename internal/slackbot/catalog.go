package slackbot

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/store"
)

// CatalogTTL is how old the in-memory copy of the app list may get before
// a search refreshes it (in the background). New apps show up in
// type-ahead within this time; a removed app that is still offered is
// refused with a clear message when chosen.
const CatalogTTL = 30 * time.Second

// catalogEntry is an app with its lowercased ID, name and aliases.
type catalogEntry struct {
	app    *access.App
	fields []string
}

// catalog keeps a copy of the app list in memory for type-ahead: scoring
// 10,000 apps in memory takes about a millisecond, where a LIKE scan of
// the table costs tens. Every replica keeps its own copy; the store stays
// the source of truth (what is submitted is checked there).
type catalog struct {
	st    store.Store
	clock clock.Clock
	log   *slog.Logger
	bg    *background
	ttl   time.Duration

	mu       sync.Mutex
	entries  []catalogEntry // sorted by name
	byID     map[string]*access.App
	loadedAt time.Time
	loading  bool
}

func newCatalog(st store.Store, clk clock.Clock, log *slog.Logger, bg *background, ttl time.Duration) *catalog {
	return &catalog{st: st, clock: clk, log: log, bg: bg, ttl: ttl}
}

// snapshot returns the current copy (ok false before the first load) and
// starts a refresh when it is missing or older than the TTL.
func (c *catalog) snapshot(ctx context.Context) ([]catalogEntry, map[string]*access.App, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loading && (c.entries == nil || c.clock.Now().Sub(c.loadedAt) > c.ttl) {
		c.loading = true
		c.bg.goTimeout(ctx, "load app catalog", time.Minute, c.refresh)
	}
	return c.entries, c.byID, c.entries != nil
}

// invalidate makes the next snapshot refresh the copy.
func (c *catalog) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadedAt = time.Time{}
}

// refresh reads every app, page by page, and swaps the copy in.
func (c *catalog) refresh(ctx context.Context) error {
	started := c.clock.Now()
	var entries []catalogEntry
	byID := map[string]*access.App{}
	cursor := ""
	for {
		page, next, err := c.st.AppList(ctx, store.AppListParams{Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			c.mu.Lock()
			c.loading = false
			c.mu.Unlock()
			return fmt.Errorf("load app catalog: %w", err)
		}
		for _, a := range page {
			fields := []string{strings.ToLower(a.ID), strings.ToLower(a.Name)}
			for _, al := range a.Aliases {
				fields = append(fields, strings.ToLower(al))
			}
			entries = append(entries, catalogEntry{app: a, fields: fields})
			byID[strings.ToLower(a.ID)] = a
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.SortFunc(entries, func(x, y catalogEntry) int {
		return cmp.Or(cmp.Compare(x.fields[1], y.fields[1]), cmp.Compare(x.app.ID, y.app.ID))
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries, c.byID, c.loadedAt, c.loading = entries, byID, started, false
	return nil
}

// fewMatches is how many apps containing the query are too few to stop
// there: below it, subsequence and typo matches are added.
const fewMatches = 10

// searchEntries ranks the catalog (sorted by name) for q: apps containing
// it always; subsequence and typo matches when fewer than fewMatches
// contain it.
func searchEntries(q string, entries []catalogEntry, limit int) []scored {
	if q == "" {
		out := make([]scored, 0, min(limit, len(entries)))
		for _, e := range entries[:min(limit, len(entries))] {
			out = append(out, scored{e.app, 1})
		}
		return out
	}
	m := newMatcher(q)
	var out []scored
	var rest []int
	exact := false
	for i, e := range entries {
		best := 0
		for _, f := range e.fields {
			best = max(best, m.contains(f))
		}
		if best > 0 {
			out = append(out, scored{e.app, best})
			exact = exact || best >= exactScore
		} else {
			rest = append(rest, i)
		}
	}
	if len(out) < fewMatches && !exact {
		for _, i := range rest {
			best := 0
			for _, f := range entries[i].fields {
				best = max(best, m.fuzzy(f))
			}
			if best > 0 {
				out = append(out, scored{entries[i].app, best})
			}
		}
		slices.SortStableFunc(out, func(x, y scored) int {
			return cmp.Compare(strings.ToLower(x.app.Name), strings.ToLower(y.app.Name))
		})
	}
	return topScored(out, limit)
}

// topScored orders by score, keeping the given (name) order among equal
// scores, and keeps limit.
func topScored(out []scored, limit int) []scored {
	slices.SortStableFunc(out, func(x, y scored) int { return cmp.Compare(y.score, x.score) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
