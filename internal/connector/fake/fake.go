// Package fake is a stateful in-memory connector for tests and the demo
// catalog. It remembers which (email, entitlement) pairs are granted, per
// app, in a Backend shared by every connector built from one Backend, and
// can be told to fail or to be slow. With the "expiry" setting it also
// keeps an expiry per grant in the target, which extensions move
// (connector.ExpiryExtender).
package fake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "fake"

// Backend is the pretend target system: the set of granted pairs per app.
// Safe for concurrent use.
type Backend struct {
	mu      sync.Mutex
	granted map[string]map[string]bool // app -> "email\x00key" -> true
	grants  int
	revokes int
	// GrantFunc, when set, runs before every Grant; a non-nil error is
	// returned instead of granting.
	GrantFunc func(t connector.Target) error
	// RevokeFunc, when set, runs before every Revoke likewise.
	RevokeFunc func(t connector.Target) error
	// ExtendFunc, when set, runs before every ExtendGrant (connectors with
	// the "expiry" setting) likewise; wrap its error with
	// connector.Permanent for a target that refuses for good.
	ExtendFunc func(t connector.Target) error
	// expiries are the expiries ExtendGrant set, per grant ID, in order.
	expiries map[string][]time.Time
}

// NewBackend returns an empty backend.
func NewBackend() *Backend {
	return &Backend{granted: map[string]map[string]bool{}, expiries: map[string][]time.Time{}}
}

// Factory returns a connector.Factory whose connectors share b. Settings:
// "delay" (a Go duration, default 0) slows every call; "fail" ("grant",
// "revoke" or "both") makes calls fail with a retryable error; "deny"
// likewise with a permanent one; "expiry" ("true" or "false", default
// false) makes an *Extender, which moves a grant's expiry in the target
// when it is extended.
func (b *Backend) Factory() connector.Factory {
	return func(settings map[string]string) (connector.Connector, error) {
		c := &Connector{b: b}
		expiry := false
		for k, v := range settings {
			switch k {
			case "expiry":
				switch v {
				case "true":
					expiry = true
				case "false", "":
				default:
					return nil, fmt.Errorf("setting expiry: %q must be true or false", v)
				}
			case "delay":
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 {
					return nil, fmt.Errorf("setting delay: %q is not a duration like 500ms", v)
				}
				c.delay = d
			case "fail", "deny":
				if v != "grant" && v != "revoke" && v != "both" && v != "" {
					return nil, fmt.Errorf("setting %s: %q must be grant, revoke or both", k, v)
				}
				if k == "fail" {
					c.fail = v
				} else {
					c.deny = v
				}
			default:
				return nil, fmt.Errorf("unknown setting %q (known: delay, fail, deny, expiry)", k)
			}
		}
		if expiry {
			return &Extender{Connector: c}, nil
		}
		return c, nil
	}
}

// Connector is one app's view of a Backend.
type Connector struct {
	b     *Backend
	delay time.Duration
	fail  string
	deny  string
	// app, when set (ForApp), limits ListGrants to one app.
	app string
}

// ForApp implements connector.AppScoped.
func (c *Connector) ForApp(appID string) connector.Connector { return c.forApp(appID) }

func (c *Connector) forApp(appID string) *Connector {
	cc := *c
	cc.app = appID
	return &cc
}

// Extender is a Connector that also keeps an expiry per grant in the
// target and moves it when a grant is extended (the "expiry" setting).
type Extender struct {
	*Connector
}

var _ connector.ExpiryExtender = (*Extender)(nil)

// ForApp implements connector.AppScoped; the result is an Extender still.
func (e *Extender) ForApp(appID string) connector.Connector {
	return &Extender{Connector: e.forApp(appID)}
}

// ExtendGrant implements connector.ExpiryExtender: it records t.ExpiresAt
// as t.GrantID's expiry (see Backend.Expiries), after the delay and
// ExtendFunc. It issues no credentials.
func (e *Extender) ExtendGrant(ctx context.Context, t connector.Target) (*connector.Credentials, error) {
	if err := e.wait(ctx); err != nil {
		return nil, err
	}
	if f := e.b.ExtendFunc; f != nil {
		if err := f(t); err != nil {
			return nil, err
		}
	}
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	e.b.expiries[t.GrantID] = append(e.b.expiries[t.GrantID], t.ExpiresAt)
	return nil, nil //nolint:nilnil // the ExpiryExtender contract: nil credentials mean the holder keeps theirs
}

var _ connector.Connector = (*Connector)(nil)

func key(t connector.Target) string { return strings.ToLower(t.Email) + "\x00" + t.EntitlementKey }

func (c *Connector) wait(ctx context.Context) error {
	if c.delay <= 0 {
		return nil
	}
	timer := time.NewTimer(c.delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func (c *Connector) injected(op string) error {
	if c.deny == op || c.deny == "both" {
		return connector.Permanent(errors.New("fake: permission denied"))
	}
	if c.fail == op || c.fail == "both" {
		return errors.New("fake: target unavailable")
	}
	return nil
}

// Grant records the pair; granting twice is a no-op.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	if err := c.injected("grant"); err != nil {
		return err
	}
	if f := c.b.GrantFunc; f != nil {
		if err := f(t); err != nil {
			return err
		}
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	m := c.b.granted[t.AppID]
	if m == nil {
		m = map[string]bool{}
		c.b.granted[t.AppID] = m
	}
	if !m[key(t)] {
		m[key(t)] = true
		c.b.grants++
	}
	return nil
}

// Revoke forgets the pair; revoking what is not granted is a no-op.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	if err := c.injected("revoke"); err != nil {
		return err
	}
	if f := c.b.RevokeFunc; f != nil {
		if err := f(t); err != nil {
			return err
		}
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if m := c.b.granted[t.AppID]; m[key(t)] {
		delete(m, key(t))
		c.b.revokes++
	}
	return nil
}

// Expiries returns the expiries ExtendGrant set for grantID, in order
// (a repeated call appears each time); nil when there are none.
func (b *Backend) Expiries(grantID string) []time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Time(nil), b.expiries[grantID]...)
}

// Has reports whether email holds entitlement key in app.
func (b *Backend) Has(app, email, key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.granted[app][strings.ToLower(email)+"\x00"+key]
}

// Counts returns how many grants and revokes changed state (idempotent
// repeats are not counted).
func (b *Backend) Counts() (grants, revokes int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.grants, b.revokes
}

// Granted lists "app/email/key" for every granted pair, sorted.
func (b *Backend) Granted() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for app, m := range b.granted {
		for k := range m {
			email, ent, _ := strings.Cut(k, "\x00")
			out = append(out, app+"/"+email+"/"+ent)
		}
	}
	sort.Strings(out)
	return out
}

// ListGrants implements connector.GrantLister: the pairs of its app (see
// ForApp), or of every app when it was not narrowed to one.
func (c *Connector) ListGrants(_ context.Context) ([]connector.GrantRecord, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	var out []connector.GrantRecord
	for app, m := range c.b.granted {
		if c.app != "" && app != c.app {
			continue
		}
		for k := range m {
			email, ent, _ := strings.Cut(k, "\x00")
			out = append(out, connector.GrantRecord{Account: email, AccountEmail: email, EntitlementKey: ent})
		}
	}
	return out, nil
}
