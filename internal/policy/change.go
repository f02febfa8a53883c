package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// ChangeState is where a policy change is in its review.
type ChangeState string

// Change states: proposed → approved → applied, or proposed → rejected.
const (
	ChangeProposed ChangeState = "proposed"
	ChangeApproved ChangeState = "approved"
	ChangeRejected ChangeState = "rejected"
	ChangeApplied  ChangeState = "applied"
)

// ErrSelfReview is the cause of the error when the proposer of a policy
// change tries to approve it.
var ErrSelfReview = errors.New("the proposer of a policy change cannot approve it")

// Change is a proposed replacement of the whole policy set, made through
// the API. With the org's two-person rule on, a second admin approves it
// before it applies; either way it is audited with Before and After in
// full.
type Change struct {
	ID    string      `json:"id"`
	State ChangeState `json:"state"`
	// ProposedBy is the proposing admin's user ID.
	ProposedBy string    `json:"proposed_by"`
	ProposedAt time.Time `json:"proposed_at"`
	Comment    string    `json:"comment,omitempty"`
	// BaseVersion is the version of the stored set Before was read at: the
	// change applies only on top of it.
	BaseVersion int64    `json:"base_version"`
	Before      []Policy `json:"before"`
	After       []Policy `json:"after"`
	// DecidedBy approved or rejected the change; with the two-person rule
	// off it is the proposer (SelfApproved).
	DecidedBy       string    `json:"decided_by,omitempty"`
	DecidedAt       time.Time `json:"decided_at,omitzero"`
	DecisionComment string    `json:"decision_comment,omitempty"`
	SelfApproved    bool      `json:"self_approved,omitempty"`
	// AppliedVersion is the version of the stored set the change became.
	AppliedAt      time.Time `json:"applied_at,omitzero"`
	AppliedVersion int64     `json:"applied_version,omitempty"`
	// Version is the store's optimistic-concurrency counter.
	Version int `json:"version"`
}

// ProposeParams is a new policy change.
type ProposeParams struct {
	ID       string
	Proposer *access.User
	// Before is the stored set at BaseVersion; After replaces it.
	Before      []Policy
	BaseVersion int64
	After       []Policy
	Comment     string
	Now         time.Time
	// TwoPersonRule is the org's setting (org.policy_changes.two_person_rule).
	TwoPersonRule bool
	// Options validate After (rotations, catalog), as the engine will be
	// built.
	Options []Option
}

// isAdmin returns a coded error unless u is an active admin.
func isAdmin(u *access.User, what string) error {
	if u == nil || !u.Active() || !u.HasRole(access.RoleAdmin) {
		return &access.Error{Code: access.CodeForbidden, Message: "only an active admin may " + what, Err: access.ErrNotEligible}
	}
	return nil
}

// ProposeChange validates p.After and returns the change: proposed with
// the two-person rule on, approved by the proposer (SelfApproved) with it
// off. Errors are coded: forbidden for a non-admin, invalid with one field
// per Problem (field = the problem's path) for a bad After or no change.
func ProposeChange(p ProposeParams) (*Change, error) {
	if err := isAdmin(p.Proposer, "change approval policies"); err != nil {
		return nil, err
	}
	if err := Validate(p.After, p.Options...); err != nil {
		return nil, access.Invalid("invalid policies", problemFields(err)...)
	}
	if same, err := samePolicies(p.Before, p.After); err != nil {
		return nil, err
	} else if same {
		return nil, access.Invalid("invalid policies", access.FieldError{Field: "policies", Message: "are the same as the current ones"})
	}
	c := &Change{ID: p.ID, State: ChangeProposed, ProposedBy: p.Proposer.ID, ProposedAt: p.Now, Comment: p.Comment,
		BaseVersion: p.BaseVersion, Before: clonePolicies(p.Before), After: clonePolicies(p.After)}
	if !p.TwoPersonRule {
		c.State, c.DecidedBy, c.DecidedAt, c.SelfApproved = ChangeApproved, p.Proposer.ID, p.Now, true
		c.DecisionComment = "two-person rule off"
	}
	return c, nil
}

// problemFields turns Validate's error into field errors.
func problemFields(err error) []access.FieldError {
	ve, ok := errors.AsType[*ValidationError](err)
	if !ok {
		return []access.FieldError{{Field: "policies", Message: err.Error()}}
	}
	out := make([]access.FieldError, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = access.FieldError{Field: p.Path, Message: p.Message}
	}
	return out
}

func clonePolicies(ps []Policy) []Policy {
	if ps == nil {
		return nil
	}
	out := make([]Policy, len(ps))
	for i, p := range ps {
		out[i] = clonePolicy(p)
	}
	return out
}

func samePolicies(a, b []Policy) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("encode policies: %w", err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, fmt.Errorf("encode policies: %w", err)
	}
	return bytes.Equal(ja, jb), nil
}

func (c *Change) transition(want ChangeState) error {
	if c.State != want {
		return &access.Error{Code: access.CodeConflict, Err: access.ErrInvalidTransition,
			Message: fmt.Sprintf("policy change %s is %s, not %s", c.ID, c.State, want)}
	}
	return nil
}

// Approve records a second admin's approval of a proposed change. The
// proposer can never approve their own change (ErrSelfReview, forbidden).
func (c *Change) Approve(actor *access.User, comment string, now time.Time) error {
	if err := isAdmin(actor, "approve policy changes"); err != nil {
		return err
	}
	if actor.ID == c.ProposedBy {
		return &access.Error{Code: access.CodeForbidden, Err: ErrSelfReview,
			Message: "you proposed this policy change: another admin must approve it"}
	}
	if err := c.transition(ChangeProposed); err != nil {
		return err
	}
	c.State, c.DecidedBy, c.DecidedAt, c.DecisionComment = ChangeApproved, actor.ID, now, comment
	return nil
}

// Reject records an admin's rejection of a proposed change; the proposer
// may reject (withdraw) their own.
func (c *Change) Reject(actor *access.User, comment string, now time.Time) error {
	if err := isAdmin(actor, "reject policy changes"); err != nil {
		return err
	}
	if err := c.transition(ChangeProposed); err != nil {
		return err
	}
	c.State, c.DecidedBy, c.DecidedAt, c.DecisionComment = ChangeRejected, actor.ID, now, comment
	return nil
}

// Apply marks an approved change applied on top of the stored set at
// version current, which becomes current+1. A set that moved on since the
// change was proposed is a conflict: propose again from the new set.
func (c *Change) Apply(current int64, now time.Time) error {
	if err := c.transition(ChangeApproved); err != nil {
		return err
	}
	if current != c.BaseVersion {
		return &access.Error{Code: access.CodeConflict, Err: access.ErrInvalidTransition,
			Message: fmt.Sprintf("the policies changed since change %s was proposed (version %d, now %d): propose it again", c.ID, c.BaseVersion, current)}
	}
	c.State, c.AppliedAt, c.AppliedVersion = ChangeApplied, now, current+1
	return nil
}

// Record encodes c for the store.
func (c *Change) Record() (*store.PolicyChange, error) {
	before, _, err := EncodeSet(c.Before)
	if err != nil {
		return nil, err
	}
	after, _, err := EncodeSet(c.After)
	if err != nil {
		return nil, err
	}
	return &store.PolicyChange{ID: c.ID, State: string(c.State), ProposedBy: c.ProposedBy, ProposedAt: c.ProposedAt,
		Comment: c.Comment, BaseVersion: c.BaseVersion, Before: before, After: after, DecidedBy: c.DecidedBy,
		DecidedAt: c.DecidedAt, DecisionComment: c.DecisionComment, SelfApproved: c.SelfApproved,
		AppliedAt: c.AppliedAt, AppliedVersion: c.AppliedVersion, Version: c.Version}, nil
}

// ChangeFromRecord decodes a stored change.
func ChangeFromRecord(r *store.PolicyChange) (*Change, error) {
	before, err := DecodeSet(r.Before)
	if err != nil {
		return nil, fmt.Errorf("policy change %s before: %w", r.ID, err)
	}
	after, err := DecodeSet(r.After)
	if err != nil {
		return nil, fmt.Errorf("policy change %s after: %w", r.ID, err)
	}
	return &Change{ID: r.ID, State: ChangeState(r.State), ProposedBy: r.ProposedBy, ProposedAt: r.ProposedAt,
		Comment: r.Comment, BaseVersion: r.BaseVersion, Before: before, After: after, DecidedBy: r.DecidedBy,
		DecidedAt: r.DecidedAt, DecisionComment: r.DecisionComment, SelfApproved: r.SelfApproved,
		AppliedAt: r.AppliedAt, AppliedVersion: r.AppliedVersion, Version: r.Version}, nil
}

// Diff summarises what after changes in before, one line per policy added,
// removed or changed (naming the changed keys), in after's order then
// before's.
func Diff(before, after []Policy) []string {
	old := map[string]Policy{}
	for _, p := range before {
		old[p.ID] = p
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range after {
		seen[p.ID] = true
		o, ok := old[p.ID]
		if !ok {
			out = append(out, "added policy "+p.ID)
			continue
		}
		if keys := changedKeys(o, p); len(keys) > 0 {
			out = append(out, "changed policy "+p.ID+": "+strings.Join(keys, ", "))
		}
	}
	for _, p := range before {
		if !seen[p.ID] {
			out = append(out, "removed policy "+p.ID)
		}
	}
	return out
}

// changedKeys lists the top-level keys whose JSON differs.
func changedKeys(a, b Policy) []string {
	var ma, mb map[string]json.RawMessage
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errors.Join(errA, errB) != nil || json.Unmarshal(ja, &ma) != nil || json.Unmarshal(jb, &mb) != nil {
		return []string{"(unreadable)"}
	}
	var out []string
	for _, k := range []string{"description", "default", "match", "steps", "auto_approve", "max_duration",
		"default_duration", "pending_timeout", "reminders", "reason", "extension"} {
		if !bytes.Equal(ma[k], mb[k]) {
			out = append(out, k)
		}
	}
	return out
}
