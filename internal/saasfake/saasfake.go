// Package saasfake holds what the fakes of SaaS vendor APIs share: a
// fixed-window request limiter and JSON helpers. Each vendor's fake lives
// in its own sub-package (saasfake/github, saasfake/okta, ...) and is an
// http.Handler with in-memory state, meant for httptest.NewServer.
//
// The fakes enforce what the vendors document (authentication, page size
// limits, pagination links or cursors, rate limit responses and headers,
// error bodies, idempotency) so that a connector that passes against a
// fake has a fair chance against the real API. They are not complete
// implementations: each sub-package says which endpoints it serves.
package saasfake

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
)

// Limiter allows Limit requests per fixed Window; the window starts at the
// first request after the previous one ended. A zero Limit means no limit.
// Safe for concurrent use.
type Limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	clock  clock.Clock
	start  time.Time
	count  int
}

// NewLimiter returns a limiter of limit requests per window, reading the
// time from c (clock.Real{} when nil). limit 0 disables limiting.
func NewLimiter(limit int, window time.Duration, c clock.Clock) *Limiter {
	if c == nil {
		c = clock.Real{}
	}
	if window <= 0 {
		window = time.Minute
	}
	return &Limiter{limit: limit, window: window, clock: c}
}

// Set changes the limit and window and starts a new window.
func (l *Limiter) Set(limit int, window time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit, l.window, l.count, l.start = limit, window, 0, time.Time{}
}

// Decision is the outcome of one Take.
type Decision struct {
	// Allowed is false when the request is over the limit.
	Allowed bool
	// Limit is the configured limit (0: unlimited).
	Limit int
	// Remaining is how many requests are left in the window after this one.
	Remaining int
	// Used is how many requests the window has seen, this one included.
	Used int
	// Reset is when the window ends.
	Reset time.Time
	// RetryAfter is how long until Reset, rounded up to a whole second.
	RetryAfter time.Duration
}

// Take counts one request and says whether it is allowed.
func (l *Limiter) Take() Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if l.start.IsZero() || !now.Before(l.start.Add(l.window)) {
		l.start, l.count = now, 0
	}
	reset := l.start.Add(l.window)
	wait := reset.Sub(now)
	if rem := wait % time.Second; rem != 0 {
		wait += time.Second - rem
	}
	if l.limit <= 0 {
		return Decision{Allowed: true, Reset: reset, RetryAfter: wait, Remaining: 1 << 30}
	}
	l.count++
	d := Decision{Limit: l.limit, Used: l.count, Reset: reset, RetryAfter: wait}
	if l.count > l.limit {
		d.Used = l.limit
		return d
	}
	d.Allowed = true
	d.Remaining = l.limit - l.count
	return d
}

// WriteJSON writes v as JSON with status. Encoding errors are ignored: the
// fakes only encode values they built.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		return
	}
}

// Counter counts requests by a key (a path, an operation); tests use it to
// check that a connector made the calls they expect. Safe for concurrent
// use.
type Counter struct {
	mu sync.Mutex
	m  map[string]int
}

// Inc adds one to key.
func (c *Counter) Inc(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[key]++
}

// Get returns the count of key.
func (c *Counter) Get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}
