package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sesame-access/sesame/internal/store"
)

// The active policy set lives in the store (store.PolicySet), versioned.
// The config file seeds it: see SeedFromConfig. API changes replace it
// through a Change. Every replica builds its Engine from the stored set and
// swaps it (Current) when the version moves.

// Policy sources recorded in store.PolicySet.Source.
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// EncodeSet returns the JSON of policies (the API format) and its
// digest, "sha256:" + hex. A nil set encodes as [].
func EncodeSet(policies []Policy) (json.RawMessage, string, error) {
	if policies == nil {
		policies = []Policy{}
	}
	b, err := json.Marshal(policies)
	if err != nil {
		return nil, "", fmt.Errorf("encode policies: %w", err)
	}
	sum := sha256.Sum256(b)
	return b, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// DecodeSet reads what EncodeSet writes (strictly: unknown keys are
// errors). It does not validate: build an Engine for that.
func DecodeSet(data []byte) ([]Policy, error) {
	var out []Policy
	if err := strict(data, &out); err != nil {
		return nil, fmt.Errorf("decode policies: %w", err)
	}
	return out, nil
}

// SeedFromConfig decides whether the config file's policies replace the
// stored set at startup, and returns the set to put (with the stored
// version, for PolicySetPut's check) when they do:
//
//   - nothing stored yet: the file seeds version 1;
//   - the file's policies changed since they last seeded (ConfigDigest
//     differs): the file wins, replacing any API change made since (a file
//     change is reviewed where the file lives; audit it as
//     "policy.seeded" with the stored set as Before);
//   - otherwise the stored set stays, API changes included.
//
// stored is nil when the store has none (store.ErrNotFound).
func SeedFromConfig(stored *store.PolicySet, file []Policy, by string, now time.Time) (*store.PolicySet, bool, error) {
	data, digest, err := EncodeSet(file)
	if err != nil {
		return nil, false, err
	}
	if stored != nil && stored.ConfigDigest == digest {
		return nil, false, nil
	}
	next := &store.PolicySet{Policies: data, Digest: digest, ConfigDigest: digest, Source: SourceConfig,
		UpdatedBy: by, UpdatedAt: now}
	if stored != nil {
		next.Version = stored.Version
	}
	return next, true, nil
}

// NextSet returns the set an applied change c stores on top of stored:
// the file's digest carries over, so that an unchanged file does not undo
// the change at the next start.
func NextSet(stored *store.PolicySet, c *Change, now time.Time) (*store.PolicySet, error) {
	if stored == nil {
		return nil, errors.New("policy: no stored policy set to change")
	}
	data, digest, err := EncodeSet(c.After)
	if err != nil {
		return nil, err
	}
	return &store.PolicySet{Version: stored.Version, Policies: data, Digest: digest, ConfigDigest: stored.ConfigDigest,
		Source: SourceAPI, ChangeID: c.ID, UpdatedBy: c.ProposedBy, UpdatedAt: now}, nil
}

// Current holds the engine in use and the version of the stored set it
// was built from, for a replica to swap when the stored version moves. Its
// Evaluate satisfies workflow.Policy and its Simulate workflow.Simulator.
// It also knows how every engine of the process is built (Build: the
// org's maximum duration and the options), so that a set loaded from the
// store is compiled exactly as the file's would be. The zero value holds
// nothing and builds with no org maximum and no options; use NewCurrent.
type Current struct {
	p      atomic.Pointer[current]
	orgMax time.Duration
	opts   []Option
}

type current struct {
	e       *Engine
	version int64
}

// NewCurrent returns an empty Current whose Build compiles with orgMax
// (the org-wide maximum duration, zero for none) and opts, as New does.
func NewCurrent(orgMax time.Duration, opts ...Option) *Current {
	return &Current{orgMax: orgMax, opts: slices.Clone(opts)}
}

// Build validates policies and compiles them as New(policies, orgMax,
// opts...) with c's org maximum and options. It does not make the engine
// current: see Set and SetIfNewer.
func (c *Current) Build(policies []Policy) (*Engine, error) {
	return New(policies, c.orgMax, c.opts...)
}

// Options returns the options c builds with (for Validate and
// ProposeParams.Options).
func (c *Current) Options() []Option { return slices.Clone(c.opts) }

// Set makes e, built from the stored set at version, the engine in use.
func (c *Current) Set(e *Engine, version int64) { c.p.Store(&current{e: e, version: version}) }

// SetIfNewer is Set when version is greater than the version in use (or
// nothing is in use), and reports whether it set. Stored versions only
// grow, so a replica that reloads while a change applies never goes back
// to an older set.
func (c *Current) SetIfNewer(e *Engine, version int64) bool {
	next := &current{e: e, version: version}
	for {
		old := c.p.Load()
		if old != nil && old.version >= version {
			return false
		}
		if c.p.CompareAndSwap(old, next) {
			return true
		}
	}
}

// Engine returns the engine in use and its version (nil, 0 before Set).
func (c *Current) Engine() (*Engine, int64) {
	cur := c.p.Load()
	if cur == nil {
		return nil, 0
	}
	return cur.e, cur.version
}

// errNotLoaded is returned before the first Set.
var errNotLoaded = errors.New("policy: no policies loaded")

// Evaluate evaluates with the engine in use.
func (c *Current) Evaluate(ctx context.Context, dir Directory, in Input) (*Plan, error) {
	e, _ := c.Engine()
	if e == nil {
		return nil, errNotLoaded
	}
	return e.Evaluate(ctx, dir, in)
}

// Simulate simulates with the engine in use.
func (c *Current) Simulate(ctx context.Context, dir Directory, in Input) (*Simulation, error) {
	e, _ := c.Engine()
	if e == nil {
		return nil, errNotLoaded
	}
	return e.Simulate(ctx, dir, in)
}
