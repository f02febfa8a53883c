package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// Directory is how the engine reads people. store.Queries satisfies it.
type Directory interface {
	UserGetByID(ctx context.Context, id string) (*access.User, error)
	UserGetByEmail(ctx context.Context, email string) (*access.User, error)
	UserListByGroup(ctx context.Context, group string) ([]*access.User, error)
}

// Input is a request to evaluate.
type Input struct {
	Requester    *access.User
	App          *access.App
	Entitlements []*access.Entitlement
	Duration     time.Duration
	Reason       string
	Now          time.Time
}

// Approver is one person eligible at a step, and why.
type Approver struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// PlanStep is a step resolved to people.
type PlanStep struct {
	Name             string     `json:"name"`
	Eligible         []Approver `json:"eligible"`
	Required         int        `json:"required"`
	RequesterChooses bool       `json:"requester_chooses"`
	Choose           int        `json:"choose"`
}

// Plan is the outcome of evaluating a request: which policy applies, the
// steps, the limits.
type Plan struct {
	PolicyID string `json:"policy_id"`
	// Why explains the match, and why other policies did not match.
	Why             []string      `json:"why"`
	Steps           []PlanStep    `json:"steps"`
	MaxDuration     time.Duration `json:"max_duration"`
	DefaultDuration time.Duration `json:"default_duration"`
	PendingTimeout  time.Duration `json:"pending_timeout"`
	Reminders       Reminders     `json:"reminders"`
	Reason          ReasonRule    `json:"reason"`
	// AutoApproveRule names the rule that approves without people; ""
	// when people must approve.
	AutoApproveRule string `json:"auto_approve_rule,omitempty"`
}

// Engine evaluates a validated set of policies. Safe for concurrent use;
// it is immutable once built.
type Engine struct {
	policies []Policy
	def      *Policy
	orgMax   time.Duration
}

// New validates policies and returns an engine. orgMax is the org-wide
// maximum duration (zero: none).
func New(policies []Policy, orgMax time.Duration) (*Engine, error) {
	if err := Validate(policies); err != nil {
		return nil, err
	}
	e := &Engine{policies: slices.Clone(policies), orgMax: orgMax}
	for i := range e.policies {
		if e.policies[i].Default {
			e.def = &e.policies[i]
		}
	}
	return e, nil
}

// Policies returns a copy of the engine's policies.
func (e *Engine) Policies() []Policy { return slices.Clone(e.policies) }

// Validate checks a set of policies and returns every problem found,
// joined, each naming the policy index and field path.
func Validate(policies []Policy) error {
	var errs []error
	add := func(i int, path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("policies[%d]%s: %s", i, path, fmt.Sprintf(format, args...)))
	}
	ids := map[string]bool{}
	defaults := 0
	for i, p := range policies {
		if p.ID == "" {
			add(i, ".id", "is required")
		} else if ids[p.ID] {
			add(i, ".id", "%q is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Default {
			defaults++
			if !p.Match.empty() {
				add(i, ".match", "the default policy cannot have match rules")
			}
		}
		for _, r := range p.Match.Risk {
			if !access.ValidRisk(r) {
				add(i, ".match.risk", "%q is not low, medium or high", r)
			}
		}
		if len(p.Steps) == 0 {
			add(i, ".steps", "at least one approval step is required")
		}
		for j, s := range p.Steps {
			sp := fmt.Sprintf(".steps[%d]", j)
			a := s.Approvers
			if len(a.Users) == 0 && len(a.Groups) == 0 && !a.Manager && !a.AppOwners && !a.EntitlementOwners {
				add(i, sp+".approvers", "names nobody: set users, groups, manager, app_owners or entitlement_owners")
			}
			if s.Required < 0 {
				add(i, sp+".required", "must be at least 1")
			}
			if s.All && s.Required > 0 {
				add(i, sp+".required", "cannot be combined with all")
			}
			if s.Choose < 0 {
				add(i, sp+".choose", "must not be negative")
			}
			if s.Choose > 0 && !s.RequesterChooses {
				add(i, sp+".choose", "needs requester_chooses")
			}
			if s.Choose > 0 && s.Choose < s.required() {
				add(i, sp+".choose", "must be at least required (%d)", s.required())
			}
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"max_duration", p.MaxDuration}, {"default_duration", p.DefaultDuration}, {"pending_timeout", p.PendingTimeout},
			{"reminders.after", p.Reminders.After}, {"reminders.every", p.Reminders.Every}} {
			if d.v < 0 {
				add(i, "."+d.name, "must not be negative")
			}
		}
		if p.MaxDuration > 0 && p.DefaultDuration > p.MaxDuration {
			add(i, ".default_duration", "is longer than max_duration")
		}
		if p.Reason.MinLength < 0 {
			add(i, ".reason.min_length", "must not be negative")
		}
	}
	if defaults != 1 {
		errs = append(errs, fmt.Errorf("policies: exactly one policy must have default: true (found %d)", defaults))
	}
	return errors.Join(errs...)
}

func (m Match) empty() bool {
	return len(m.Apps) == 0 && len(m.Entitlements) == 0 && len(m.Risk) == 0 && len(m.Groups) == 0
}

func (s StepRule) required() int {
	if s.Required > 0 {
		return s.Required
	}
	return 1
}

// specificity ranks a match: entitlements beat apps beat risk beat groups.
func (m Match) specificity() int {
	n := 0
	if len(m.Entitlements) > 0 {
		n += 8
	}
	if len(m.Apps) > 0 {
		n += 4
	}
	if len(m.Risk) > 0 {
		n += 2
	}
	if len(m.Groups) > 0 {
		n++
	}
	return n
}

// matches reports whether m applies to in, and if not, why.
func (m Match) matches(in Input) (bool, string) {
	if len(m.Apps) > 0 && !slices.Contains(m.Apps, in.App.ID) {
		return false, "app " + in.App.ID + " is not in " + strings.Join(m.Apps, ", ")
	}
	for _, e := range in.Entitlements {
		if len(m.Entitlements) > 0 && !slices.Contains(m.Entitlements, e.ID) {
			return false, "entitlement " + e.ID + " is not in " + strings.Join(m.Entitlements, ", ")
		}
		if len(m.Risk) > 0 && !slices.Contains(m.Risk, e.Risk) {
			return false, "entitlement " + e.ID + " has risk " + string(e.Risk)
		}
	}
	if len(m.Groups) > 0 && !slices.ContainsFunc(m.Groups, in.Requester.InGroup) {
		return false, "the requester is in none of the groups " + strings.Join(m.Groups, ", ")
	}
	return true, ""
}

// Evaluate picks the most specific matching policy (the default when none
// matches) and resolves its steps to active people other than the
// requester. A tie between two equally specific matches is an error.
func (e *Engine) Evaluate(ctx context.Context, dir Directory, in Input) (*Plan, error) {
	if in.Requester == nil || in.App == nil || len(in.Entitlements) == 0 {
		return nil, errors.New("policy: input needs a requester, an app and entitlements")
	}
	var best *Policy
	tie := ""
	var why []string
	for i := range e.policies {
		p := &e.policies[i]
		if p.Default {
			continue
		}
		ok, reason := p.Match.matches(in)
		if !ok {
			why = append(why, fmt.Sprintf("policy %s does not match: %s", p.ID, reason))
			continue
		}
		switch {
		case best == nil || p.Match.specificity() > best.Match.specificity():
			best, tie = p, ""
		case p.Match.specificity() == best.Match.specificity():
			tie = p.ID
		}
	}
	if best != nil && tie != "" {
		return nil, access.Errorf(access.CodeInvalid, "policies %s and %s both match this request equally; make one more specific", best.ID, tie)
	}
	if best == nil {
		best = e.def
		why = append([]string{"no policy matches; the default policy " + best.ID + " applies"}, why...)
	} else {
		why = append([]string{"policy " + best.ID + " matches and is the most specific"}, why...)
	}
	plan := &Plan{
		PolicyID:        best.ID,
		Why:             why,
		MaxDuration:     e.maxDuration(best, in.Entitlements),
		DefaultDuration: best.DefaultDuration,
		PendingTimeout:  cmpOr(best.PendingTimeout, DefaultPendingTimeout),
		Reminders:       best.Reminders,
		Reason:          best.Reason,
	}
	for _, s := range best.Steps {
		ps, err := resolveStep(ctx, dir, s, in)
		if err != nil {
			return nil, err
		}
		plan.Steps = append(plan.Steps, ps)
	}
	return plan, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// maxDuration is the smallest positive limit among org, policy and
// entitlements (zero if none is set).
func (e *Engine) maxDuration(p *Policy, ents []*access.Entitlement) time.Duration {
	limits := []time.Duration{e.orgMax, p.MaxDuration}
	for _, ent := range ents {
		limits = append(limits, ent.MaxDuration)
	}
	var out time.Duration
	for _, l := range limits {
		if l > 0 && (out == 0 || l < out) {
			out = l
		}
	}
	return out
}

// resolveStep turns a step rule into eligible active people, never the
// requester, each with the first reason found.
func resolveStep(ctx context.Context, dir Directory, s StepRule, in Input) (PlanStep, error) {
	ps := PlanStep{Name: s.Name, RequesterChooses: s.RequesterChooses}
	seen := map[string]bool{}
	add := func(u *access.User, reason string) {
		if u == nil || !u.Active() || u.ID == in.Requester.ID || seen[u.ID] {
			return
		}
		seen[u.ID] = true
		ps.Eligible = append(ps.Eligible, Approver{UserID: u.ID, Email: u.Email, Name: u.Name, Reason: reason})
	}
	byID := func(id, reason string) error {
		u, err := dir.UserGetByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("resolve approver %s: %w", id, err)
		}
		add(u, reason)
		return nil
	}
	for _, email := range s.Approvers.Users {
		u, err := dir.UserGetByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return ps, fmt.Errorf("resolve approver %s: %w", email, err)
		}
		add(u, "named in the policy")
	}
	for _, g := range s.Approvers.Groups {
		members, err := dir.UserListByGroup(ctx, g)
		if err != nil {
			return ps, fmt.Errorf("resolve group %s: %w", g, err)
		}
		for _, u := range members {
			add(u, "member of group "+g)
		}
	}
	if s.Approvers.Manager && in.Requester.ManagerID != "" {
		if err := byID(in.Requester.ManagerID, "the requester's manager"); err != nil {
			return ps, err
		}
	}
	if s.Approvers.AppOwners {
		for _, id := range in.App.Owners {
			if err := byID(id, "owner of "+in.App.Name); err != nil {
				return ps, err
			}
		}
	}
	if s.Approvers.EntitlementOwners {
		for _, ent := range in.Entitlements {
			for _, id := range ent.Owners {
				if err := byID(id, "owner of "+ent.Name); err != nil {
					return ps, err
				}
			}
		}
	}
	ps.Required = s.required()
	if s.All {
		ps.Required = max(1, len(ps.Eligible))
	}
	ps.Choose = s.Choose
	if ps.RequesterChooses && ps.Choose == 0 {
		ps.Choose = ps.Required
	}
	return ps, nil
}
