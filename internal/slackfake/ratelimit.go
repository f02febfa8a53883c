package slackfake

import (
	"maps"
	"math"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
)

// Limit is a token bucket: at most Burst calls at once, refilled at Burst
// per Per.
type Limit struct {
	Burst int
	Per   time.Duration
}

// DefaultLimits are the limits of the methods the fake serves, from
// Slack's published tiers ("per method per workspace per app"): Tier 1 is
// 1+ per minute, Tier 3 50+, Tier 4 100+, with small bursts tolerated.
// chat.postMessage is special: about one message per second per channel,
// short bursts allowed.
func DefaultLimits() map[string]Limit {
	tier1 := Limit{Burst: 5, Per: 5 * time.Minute}
	tier3 := Limit{Burst: 50, Per: time.Minute}
	tier4 := Limit{Burst: 100, Per: time.Minute}
	postMessagePerChannel := Limit{Burst: 5, Per: 5 * time.Second}
	return map[string]Limit{
		"apps.connections.open": tier1,
		"auth.test":             tier4,
		"chat.postMessage":      postMessagePerChannel,
		"chat.update":           tier3,
		"chat.postEphemeral":    tier4,
		"conversations.open":    tier3,
		"views.open":            tier4,
		"views.push":            tier4,
		"views.update":          tier4,
		"views.publish":         tier4,
		"users.info":            tier4,
		"users.lookupByEmail":   tier3,
		// Incoming webhooks: one message per second per webhook.
		WebhookMethod: {Burst: 1, Per: time.Second},
	}
}

type bucket struct {
	tokens float64
	last   time.Time
}

type limiter struct {
	clock  clock.Clock
	off    bool
	mu     sync.Mutex
	limits map[string]Limit
	state  map[string]*bucket
}

func newLimiter(c clock.Clock, overrides map[string]Limit, off bool) *limiter {
	l := &limiter{clock: c, off: off, limits: DefaultLimits(), state: map[string]*bucket{}}
	maps.Copy(l.limits, overrides)
	return l
}

func (l *limiter) set(method string, lim Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits[method] = lim
	for k := range l.state {
		if k == method || len(k) > len(method) && k[:len(method)+1] == method+"#" {
			delete(l.state, k)
		}
	}
}

// take spends a token of method (key further narrows it, e.g. a channel)
// and reports how long to wait when none is left.
func (l *limiter) take(method, key string) (ok bool, retryAfter time.Duration) {
	if l.off {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, found := l.limits[method]
	if !found || lim.Burst <= 0 || lim.Per <= 0 {
		return true, 0
	}
	now := l.clock.Now()
	id := method + "#" + key
	b, found := l.state[id]
	if !found {
		b = &bucket{tokens: float64(lim.Burst), last: now}
		l.state[id] = b
	}
	rate := float64(lim.Burst) / lim.Per.Seconds() // tokens per second
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(lim.Burst), b.tokens+el*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1-b.tokens)/rate)) * time.Second
	return false, max(wait, time.Second)
}
