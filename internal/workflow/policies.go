package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
)

// The active approval policies live in the store (store.PolicySet,
// versioned). SeedPolicies loads them at startup (the config file seeds
// them), the policy-change use cases replace them, and RefreshPolicies
// picks up a version another replica stored. All of these need the
// Service's Policy to be a *policy.Current: it builds every engine with the
// org's maximum duration and options, and is swapped without a restart.

// PolicySet is the stored policy set as the use cases return it.
type PolicySet struct {
	Version int64  `json:"version"`
	Source  string `json:"source"` // policy.SourceConfig or policy.SourceAPI
	// ChangeID is the policy change an API version applied.
	ChangeID  string          `json:"change_id,omitempty"`
	UpdatedBy string          `json:"updated_by,omitempty"`
	UpdatedAt time.Time       `json:"updated_at"`
	Digest    string          `json:"digest"`
	Policies  []policy.Policy `json:"policies"`
}

// decodePolicySet decodes a stored set.
func decodePolicySet(s *store.PolicySet) (*PolicySet, error) {
	ps, err := policy.DecodeSet(s.Policies)
	if err != nil {
		return nil, fmt.Errorf("policy set version %d: %w", s.Version, err)
	}
	if ps == nil {
		ps = []policy.Policy{}
	}
	return &PolicySet{Version: s.Version, Source: s.Source, ChangeID: s.ChangeID, UpdatedBy: s.UpdatedBy,
		UpdatedAt: s.UpdatedAt, Digest: s.Digest, Policies: ps}, nil
}

// currentPolicy returns the Service's *policy.Current, or an unavailable
// error when it was built with a bare engine (a wiring bug).
func (s *Service) currentPolicy() (*policy.Current, error) {
	cur, ok := s.policy.(*policy.Current)
	if !ok {
		return nil, access.Errorf(access.CodeUnavailable, "policies cannot be changed: the service does not hold them in a policy.Current")
	}
	return cur, nil
}

// SeedPolicies loads the active policy set at startup: in one transaction
// it lets the config file's policies seed the store (policy.SeedFromConfig:
// when none is stored, or when the file's policies changed since they last
// seeded it; audited "policy.seeded" with the replaced set as Before), then
// builds the engine from the stored set and makes it current. It returns
// that engine and the stored version. Running it again with the same file
// writes nothing.
//
// A stored set the current configuration makes invalid (an API change
// naming a rotation since removed from the file) is an error: the server
// must not start with policies it cannot enforce. Changing the file's
// policies makes the file win again.
func (s *Service) SeedPolicies(ctx context.Context, cfgPolicies []policy.Policy) (*policy.Engine, int64, error) {
	cur, err := s.currentPolicy()
	if err != nil {
		return nil, 0, err
	}
	var stored *PolicySet
	err = s.run(ctx, func(q store.Queries, fx *effects) error {
		prev, err := q.PolicySetGet(ctx)
		switch {
		case errors.Is(err, store.ErrNotFound):
			prev = nil
		case err != nil:
			return fmt.Errorf("load policy set: %w", err)
		}
		next, put, err := policy.SeedFromConfig(prev, cfgPolicies, access.SystemActor, fx.now)
		if err != nil {
			return err
		}
		if !put {
			stored, err = decodePolicySet(prev)
			return err
		}
		var before any // nil when nothing was stored
		data := map[string]any{"config_digest": next.ConfigDigest}
		if prev != nil {
			old, err := decodePolicySet(prev)
			if err != nil {
				return err
			}
			before = old
			data["previous_version"], data["previous_source"] = prev.Version, prev.Source
			data["diff"] = policy.Diff(old.Policies, cfgPolicies)
		}
		if err := q.PolicySetPut(ctx, next); err != nil {
			return fmt.Errorf("store policy set: %w", err)
		}
		if stored, err = decodePolicySet(next); err != nil {
			return err
		}
		return fx.audit(ctx, q, access.SystemActor, "policy.seeded", "policy_set", strconv.FormatInt(next.Version, 10),
			before, stored, data)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("seed policies: %w", err)
	}
	e, err := cur.Build(stored.Policies)
	if err != nil {
		return nil, 0, fmt.Errorf("stored policies (version %d, source %s) are not valid with this configuration: %w",
			stored.Version, stored.Source, err)
	}
	cur.SetIfNewer(e, stored.Version)
	return e, stored.Version, nil
}

// RefreshPolicies makes the stored set current when another replica (or
// a change applied elsewhere) stored a newer version than the one in use;
// it does nothing when the versions match or nothing is stored. Call it
// periodically on every replica. A newer set that does not build is an
// error and the engine in use stays; so is a stored version older than
// the one in use (a restored database: restart to reload).
func (s *Service) RefreshPolicies(ctx context.Context) error {
	cur, err := s.currentPolicy()
	if err != nil {
		return err
	}
	rec, err := s.st.PolicySetGet(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("refresh policies: %w", err)
	}
	_, inUse := cur.Engine()
	switch {
	case rec.Version == inUse:
		return nil
	case rec.Version < inUse:
		return fmt.Errorf("refresh policies: the stored version %d is older than the one in use (%d)", rec.Version, inUse)
	}
	set, err := decodePolicySet(rec)
	if err != nil {
		return fmt.Errorf("refresh policies: %w", err)
	}
	e, err := cur.Build(set.Policies)
	if err != nil {
		return fmt.Errorf("refresh policies: version %d does not build; keeping version %d: %w", set.Version, inUse, err)
	}
	if cur.SetIfNewer(e, set.Version) {
		s.log.InfoContext(ctx, "policies reloaded", "version", set.Version, "previous", inUse, "source", set.Source)
	}
	return nil
}

// ActivePolicies returns the stored policy set in force (CodeNotFound
// when none is stored yet). It checks no actor: front ends decide who may
// read it (admins and auditors in the API).
func (s *Service) ActivePolicies(ctx context.Context) (*PolicySet, error) {
	rec, err := s.st.PolicySetGet(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeNotFound, "no policy set is stored yet")
	}
	if err != nil {
		return nil, fmt.Errorf("load policy set: %w", err)
	}
	return decodePolicySet(rec)
}

// ListPolicyChanges returns policy changes newest first, and the cursor
// of the next page ("" on the last). Like ActivePolicies it checks no
// actor.
func (s *Service) ListPolicyChanges(ctx context.Context, p store.PolicyChangeListParams) ([]*policy.Change, string, error) {
	recs, next, err := s.st.PolicyChangeList(ctx, p)
	if err != nil {
		return nil, "", fmt.Errorf("list policy changes: %w", err)
	}
	out := make([]*policy.Change, 0, len(recs))
	for _, r := range recs {
		c, err := policy.ChangeFromRecord(r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, c)
	}
	return out, next, nil
}

// GetPolicyChange returns one policy change (CodeNotFound when unknown).
// Like ActivePolicies it checks no actor.
func (s *Service) GetPolicyChange(ctx context.Context, id string) (*policy.Change, error) {
	return loadChange(ctx, s.st, id)
}

func loadChange(ctx context.Context, q store.Queries, id string) (*policy.Change, error) {
	r, err := q.PolicyChangeGetByID(ctx, id)
	if err != nil {
		return nil, notFound(err, "policy change", id)
	}
	return policy.ChangeFromRecord(r)
}

// loadStoredSet returns the stored set a change applies to. Changes need
// one: SeedPolicies stores it at startup.
func loadStoredSet(ctx context.Context, q store.Queries) (*store.PolicySet, *PolicySet, error) {
	rec, err := q.PolicySetGet(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, access.Errorf(access.CodeConflict, "no policy set is stored yet: the server seeds it from the config file at startup")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load policy set: %w", err)
	}
	set, err := decodePolicySet(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, set, nil
}

// applied is an engine to make current once its transaction commits.
type applied struct {
	engine  *policy.Engine
	version int64
}

// ProposePolicyChange proposes after as the new policy set (only active
// admins; after is validated as the engine will be built, problems coming
// back as CodeInvalid with one field per problem path). It is audited
// "policy.change_proposed" with the stored set as Before and the proposed
// one as After. With twoPersonRule (org.policy_changes.two_person_rule)
// the change waits for a second admin (ApprovePolicyChange); without it, it
// applies at once in the same transaction and the engine in use switches.
func (s *Service) ProposePolicyChange(ctx context.Context, actorID string, after []policy.Policy, comment string, twoPersonRule bool) (*policy.Change, error) {
	cur, err := s.currentPolicy()
	if err != nil {
		return nil, err
	}
	var out *policy.Change
	var done *applied
	err = s.run(ctx, func(q store.Queries, fx *effects) error {
		done = nil
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		rec, before, err := loadStoredSet(ctx, q)
		if err != nil {
			return err
		}
		c, err := policy.ProposeChange(policy.ProposeParams{ID: ids.New("pch", fx.now), Proposer: actor,
			Before: before.Policies, BaseVersion: rec.Version, After: after, Comment: comment, Now: fx.now,
			TwoPersonRule: twoPersonRule, Options: cur.Options()})
		if err != nil {
			return err
		}
		r, err := c.Record()
		if err != nil {
			return err
		}
		if err := q.PolicyChangeCreate(ctx, r); err != nil {
			return fmt.Errorf("create policy change: %w", err)
		}
		if err := fx.audit(ctx, q, actor.ID, "policy.change_proposed", "policy_change", c.ID, before,
			proposedSet(c), map[string]any{"comment": c.Comment, "base_version": c.BaseVersion,
				"two_person_rule": twoPersonRule, "diff": policy.Diff(c.Before, c.After)}); err != nil {
			return err
		}
		if c.State == policy.ChangeApproved {
			if done, err = s.applyChange(ctx, q, fx, cur, actor, c, rec, before); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "policy.change_propose_refused", "policy_change", "", err)
		return nil, err
	}
	s.swap(ctx, cur, done)
	return out, nil
}

// proposedSet is a change's After as audited.
func proposedSet(c *policy.Change) map[string]any {
	return map[string]any{"base_version": c.BaseVersion, "policies": c.After}
}

// ApprovePolicyChange approves a proposed change as a second admin (never
// its proposer: CodeForbidden) and applies it: the change must still be on
// top of the stored version it was proposed from, else CodeConflict (the
// policies moved on: propose again). Audited "policy.change_approved" and
// "policy.changed" (the stored set before and after, in full); the engine
// in use switches at commit.
func (s *Service) ApprovePolicyChange(ctx context.Context, actorID, id, comment string) (*policy.Change, error) {
	cur, err := s.currentPolicy()
	if err != nil {
		return nil, err
	}
	var out *policy.Change
	var done *applied
	err = s.run(ctx, func(q store.Queries, fx *effects) error {
		done = nil
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		c, err := loadChange(ctx, q, id)
		if err != nil {
			return err
		}
		if err := c.Approve(actor, comment, fx.now); err != nil {
			return err
		}
		rec, before, err := loadStoredSet(ctx, q)
		if err != nil {
			return err
		}
		if err := fx.audit(ctx, q, actor.ID, "policy.change_approved", "policy_change", c.ID, nil, nil,
			map[string]any{"comment": comment, "proposed_by": c.ProposedBy, "base_version": c.BaseVersion}); err != nil {
			return err
		}
		if done, err = s.applyChange(ctx, q, fx, cur, actor, c, rec, before); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "policy.change_approve_refused", "policy_change", id, err)
		return nil, err
	}
	s.swap(ctx, cur, done)
	return out, nil
}

// RejectPolicyChange rejects a proposed change (any active admin; the
// proposer withdrawing their own too). Audited "policy.change_rejected".
func (s *Service) RejectPolicyChange(ctx context.Context, actorID, id, comment string) (*policy.Change, error) {
	var out *policy.Change
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		c, err := loadChange(ctx, q, id)
		if err != nil {
			return err
		}
		if err := c.Reject(actor, comment, fx.now); err != nil {
			return err
		}
		if err := saveChange(ctx, q, c); err != nil {
			return err
		}
		if err := fx.audit(ctx, q, actor.ID, "policy.change_rejected", "policy_change", c.ID, nil, nil,
			map[string]any{"comment": comment, "proposed_by": c.ProposedBy, "withdrawn": actor.ID == c.ProposedBy}); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "policy.change_reject_refused", "policy_change", id, err)
		return nil, err
	}
	return out, nil
}

// applyChange applies the approved change c on top of the stored set rec
// (before, decoded): the new version is stored, c saved as applied, and
// "policy.changed" audited. It returns the engine to make current after
// commit.
func (s *Service) applyChange(ctx context.Context, q store.Queries, fx *effects, cur *policy.Current, actor *access.User,
	c *policy.Change, rec *store.PolicySet, before *PolicySet) (*applied, error) {
	if err := c.Apply(rec.Version, fx.now); err != nil {
		return nil, err
	}
	// Built again here: the catalog or the rotations may have changed
	// since the proposal.
	e, err := cur.Build(c.After)
	if err != nil {
		return nil, invalidPolicies(err)
	}
	next, err := policy.NextSet(rec, c, fx.now)
	if err != nil {
		return nil, err
	}
	if err := q.PolicySetPut(ctx, next); err != nil {
		return nil, fmt.Errorf("store policy set: %w", err)
	}
	if next.Version != c.AppliedVersion {
		return nil, fmt.Errorf("policy set stored as version %d, expected %d", next.Version, c.AppliedVersion)
	}
	if err := saveChange(ctx, q, c); err != nil {
		return nil, err
	}
	after, err := decodePolicySet(next)
	if err != nil {
		return nil, err
	}
	if err := fx.audit(ctx, q, actor.ID, "policy.changed", "policy_set", strconv.FormatInt(next.Version, 10), before, after,
		map[string]any{"change_id": c.ID, "proposed_by": c.ProposedBy, "approved_by": c.DecidedBy,
			"self_approved": c.SelfApproved, "diff": policy.Diff(c.Before, c.After)}); err != nil {
		return nil, err
	}
	return &applied{engine: e, version: next.Version}, nil
}

// saveChange stores c's review fields.
func saveChange(ctx context.Context, q store.Queries, c *policy.Change) error {
	r, err := c.Record()
	if err != nil {
		return err
	}
	if err := q.PolicyChangeUpdate(ctx, r); err != nil {
		return fmt.Errorf("save policy change: %w", err)
	}
	c.Version = r.Version
	return nil
}

// swap makes an applied engine current after commit.
func (s *Service) swap(ctx context.Context, cur *policy.Current, a *applied) {
	if a == nil {
		return
	}
	if cur.SetIfNewer(a.engine, a.version) {
		s.log.InfoContext(ctx, "policies changed", "version", a.version)
	}
}

// invalidPolicies turns a build error into CodeInvalid with one field per
// problem (paths like "policies[2].match.condition").
func invalidPolicies(err error) error {
	ve, ok := errors.AsType[*policy.ValidationError](err)
	if !ok {
		return access.Invalid("invalid policies", access.FieldError{Field: "policies", Message: err.Error()})
	}
	fields := make([]access.FieldError, len(ve.Problems))
	for i, p := range ve.Problems {
		fields[i] = access.FieldError{Field: p.Path, Message: p.Message}
	}
	return access.Invalid("invalid policies", fields...)
}
