package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// Simulation explains what would happen to a request: which policy
// applies and why the others do not, whether it would be auto-approved,
// the limits, and who would be asked at each step and why. It is the body
// of POST /api/v1/policies/simulate, and Text renders it for `sesame policy
// test`. Durations are text ("2h", the policy format; "" for none).
type Simulation struct {
	Request SimRequest `json:"request"`
	// Outcome is one of the Outcome constants.
	Outcome string `json:"outcome"`
	// Refused is Evaluate's error when it would refuse the request (a tie,
	// a failing condition, entitlements under different policies).
	Refused  string `json:"refused,omitempty"`
	PolicyID string `json:"policy_id,omitempty"`
	// Invalid lists what the workflow would refuse in the request as
	// given (its duration, its reason), whatever the outcome.
	Invalid []access.FieldError `json:"invalid,omitempty"`
	// Entitlements explains the choice of policy for each entitlement.
	Entitlements []EntitlementMatch `json:"entitlements"`
	AutoApprove  AutoApproveResult  `json:"auto_approve"`
	Durations    DurationResult     `json:"durations"`
	Reason       ReasonResult       `json:"reason"`
	// PendingTimeout is how long the request may wait for decisions.
	PendingTimeout string    `json:"pending_timeout,omitempty"`
	Reminders      Reminders `json:"reminders"`
	// Extension says how the holder would get more time once granted
	// (ExtensionRule, in words).
	Extension string    `json:"extension,omitempty"`
	Steps     []SimStep `json:"steps"`
	// Notified is how many people are asked when the request is submitted
	// (Plan.Notified).
	Notified int `json:"notified"`
	// Unapprovable says why nobody could approve the request (see
	// Plan.Unapprovable); "" when someone can.
	Unapprovable string `json:"unapprovable,omitempty"`
	// Why is Plan.Why.
	Why []string `json:"why"`
	// Plan is what Evaluate returns; nil when refused.
	Plan *Plan `json:"-"`
}

// Outcomes of a simulation.
const (
	OutcomeAutoApproved  = "auto_approved"
	OutcomeNeedsApproval = "needs_approval"
	OutcomeUnapprovable  = "unapprovable"
	OutcomeRefused       = "refused"
)

// SimRequest echoes the simulated request.
type SimRequest struct {
	Requester     string   `json:"requester"`
	RequesterName string   `json:"requester_name,omitempty"`
	Groups        []string `json:"groups"`
	// Manager is the email of the requester's manager ("" for none).
	Manager      string           `json:"manager,omitempty"`
	App          string           `json:"app"`
	AppName      string           `json:"app_name,omitempty"`
	Entitlements []SimEntitlement `json:"entitlements"`
	Duration     string           `json:"duration,omitempty"`
	Reason       string           `json:"reason,omitempty"`
	At           time.Time        `json:"at"`
	// OnCall are the rotations the requester is on call for at At.
	OnCall []string `json:"oncall"`
}

// SimEntitlement describes a requested entitlement.
type SimEntitlement struct {
	ID   string      `json:"id"`
	Name string      `json:"name"`
	Risk access.Risk `json:"risk"`
	Tags []string    `json:"tags,omitempty"`
}

// EntitlementMatch is how the policy for one entitlement was chosen.
type EntitlementMatch struct {
	Entitlement string `json:"entitlement"`
	// PolicyID is the policy for this entitlement on its own ("" on a
	// tie); Simulation.PolicyID is the request's.
	PolicyID string `json:"policy_id,omitempty"`
	// Policies are every policy, the most specific first, the default
	// last.
	Policies []MatchResult `json:"policies"`
}

// MatchResult is one policy's verdict for one entitlement.
type MatchResult struct {
	ID          string `json:"id"`
	Specificity int    `json:"specificity"`
	Default     bool   `json:"default,omitempty"`
	Matched     bool   `json:"matched"`
	Selected    bool   `json:"selected"`
	// Reason says why it matched or not, or why it was not selected.
	Reason string `json:"reason"`
}

// AutoApproveResult says whether a rule approves the request.
type AutoApproveResult struct {
	// Rule is the approving rule ("policy/rule"), "" when none.
	Rule  string       `json:"rule,omitempty"`
	Rules []RuleResult `json:"rules"`
}

// RuleResult is one auto-approve rule's verdict.
type RuleResult struct {
	Name     string `json:"name"`
	Approves bool   `json:"approves"`
	Reason   string `json:"reason"`
}

// DurationResult explains the duration limits.
type DurationResult struct {
	Requested string `json:"requested,omitempty"`
	Default   string `json:"default,omitempty"`
	// Effective is the duration the grant would have.
	Effective string `json:"effective,omitempty"`
	// Max is the smallest of Limits ("" when nothing limits).
	Max    string          `json:"max,omitempty"`
	Limits []DurationLimit `json:"limits"`
	// Problem is why the workflow would refuse the duration.
	Problem string `json:"problem,omitempty"`
}

// DurationLimit is one maximum and where it comes from ("org", "policy
// high-risk", "entitlement github:admin").
type DurationLimit struct {
	Source string `json:"source"`
	Max    string `json:"max"`
}

// ReasonResult is the reason rule and what the given reason breaks.
type ReasonResult struct {
	Rule     ReasonRule          `json:"rule"`
	Problems []access.FieldError `json:"problems,omitempty"`
}

// SimStep is a step with the people it would ask and those it leaves out.
type SimStep struct {
	Name             string     `json:"name"`
	Required         int        `json:"required"`
	All              bool       `json:"all,omitempty"`
	RequesterChooses bool       `json:"requester_chooses"`
	Choose           int        `json:"choose,omitempty"`
	Eligible         []Approver `json:"eligible"`
	// Excluded are the people (or rule parts) that yield nobody, and why:
	// the requester, offboarded and unknown users, empty groups.
	Excluded []Excluded `json:"excluded,omitempty"`
	// Notified is how many people are asked when the step opens.
	Notified           int        `json:"notified"`
	EscalateAfter      string     `json:"escalate_after,omitempty"`
	EscalateTo         []Approver `json:"escalate_to,omitempty"`
	EscalationExcluded []Excluded `json:"escalation_excluded,omitempty"`
}

// Excluded is someone a rule names who cannot approve, and why.
type Excluded struct {
	Who string `json:"who"`
	Why string `json:"why"`
}

// trace collects what an evaluation saw, for Simulate.
type trace struct {
	act    *activation
	ents   []entTrace
	policy *compiled
	auto   []RuleResult
	steps  []stepTrace
}

type entTrace struct {
	id      string
	results map[int]*MatchResult // by compiled.index
}

type stepTrace struct {
	excluded, escalationExcluded []Excluded
}

func (t *trace) record(entID string, c *compiled, ok bool, reason string, err error) {
	if len(t.ents) == 0 || t.ents[len(t.ents)-1].id != entID {
		t.ents = append(t.ents, entTrace{id: entID, results: map[int]*MatchResult{}})
	}
	pm := &MatchResult{ID: c.ID, Specificity: c.spec, Default: c.Default, Matched: ok, Reason: reason}
	if err != nil {
		pm.Reason = "the condition failed: " + err.Error()
	}
	t.ents[len(t.ents)-1].results[c.index] = pm
}

func durText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return access.FormatDuration(d)
}

// Simulate evaluates in as Evaluate does and explains the result. A
// request Evaluate would refuse is a Simulation with Outcome "refused";
// the error is only for bad input and directory failures.
func (e *Engine) Simulate(ctx context.Context, dir Directory, in Input) (*Simulation, error) {
	if err := checkInput(in); err != nil {
		return nil, err
	}
	tr := &trace{}
	plan, evalErr := e.evaluate(ctx, dir, in, tr)
	refused := ""
	if evalErr != nil {
		if access.ErrorCode(evalErr) == "" {
			return nil, evalErr // a directory failure, not a verdict
		}
		refused = evalErr.Error()
	}
	req, err := e.simRequest(ctx, dir, in)
	if err != nil {
		return nil, err
	}
	sim := &Simulation{Plan: plan, Request: req, Why: []string{}, Steps: []SimStep{},
		AutoApprove: AutoApproveResult{Rules: tr.auto}}
	if sim.AutoApprove.Rules == nil {
		sim.AutoApprove.Rules = []RuleResult{}
	}
	if refused != "" {
		sim.Outcome, sim.Refused = OutcomeRefused, refused
	}
	e.explainPolicies(ctx, in, tr, sim)
	if refused != "" {
		return sim, nil
	}
	sim.PolicyID, sim.Why = plan.PolicyID, plan.Why
	sim.AutoApprove.Rule = plan.AutoApproveRule
	sim.PendingTimeout, sim.Reminders = durText(plan.PendingTimeout), plan.Reminders
	sim.Extension = extensionText(plan.Extension)
	sim.Durations = e.durations(tr.policy, plan, in)
	sim.Reason = ReasonResult{Rule: plan.Reason, Problems: plan.CheckReason(in.Reason)}
	if sim.Durations.Problem != "" {
		sim.Invalid = append(sim.Invalid, access.FieldError{Field: "duration", Message: sim.Durations.Problem})
	}
	sim.Invalid = append(sim.Invalid, sim.Reason.Problems...)
	for i, s := range plan.Steps {
		ss := SimStep{Name: s.Name, Required: s.Required, All: s.All, RequesterChooses: s.RequesterChooses, Choose: s.Choose,
			Eligible: nonNilApprovers(s.Eligible), Excluded: tr.steps[i].excluded, EscalateAfter: durText(s.EscalateAfter),
			EscalateTo: s.EscalateTo, EscalationExcluded: tr.steps[i].escalationExcluded, Notified: len(s.Eligible)}
		if s.RequesterChooses {
			ss.Notified = min(s.Choose, len(s.Eligible))
		}
		sim.Steps = append(sim.Steps, ss)
	}
	sim.Notified = plan.Notified()
	_, sim.Unapprovable = plan.Unapprovable()
	switch {
	case plan.AutoApproveRule != "":
		sim.Outcome = OutcomeAutoApproved
	case sim.Unapprovable != "":
		sim.Outcome = OutcomeUnapprovable
	default:
		sim.Outcome = OutcomeNeedsApproval
	}
	return sim, nil
}

func nonNilApprovers(a []Approver) []Approver {
	if a == nil {
		return []Approver{}
	}
	return a
}

func (e *Engine) simRequest(ctx context.Context, dir Directory, in Input) (SimRequest, error) {
	r := SimRequest{Requester: in.Requester.Email, RequesterName: in.Requester.Name, Groups: nonNil(in.Requester.Groups),
		App: in.App.ID, AppName: in.App.Name, Duration: durText(in.Duration), Reason: strings.TrimSpace(in.Reason),
		At: in.Now, OnCall: nonNil(e.onCallFor(in.Requester.Email, in.Now))}
	if in.Requester.ManagerID != "" {
		m, found, err := userByID(ctx, dir, in.Requester.ManagerID)
		if err != nil {
			return r, err
		}
		if found {
			r.Manager = m.Email
		}
	}
	for _, ent := range in.Entitlements {
		r.Entitlements = append(r.Entitlements, SimEntitlement{ID: ent.ID, Name: ent.Name, Risk: ent.Risk, Tags: ent.Tags})
	}
	return r, nil
}

// explainPolicies fills sim.Entitlements: every policy's verdict for every
// entitlement, evaluating those the decision did not need to look at.
func (e *Engine) explainPolicies(ctx context.Context, in Input, tr *trace, sim *Simulation) {
	celCtx, cancel := context.WithTimeout(ctx, e.limits.Timeout)
	defer cancel()
	a := *tr.act
	a.duration = in.Duration
	order := slices.Clone(e.policies)
	slices.SortStableFunc(order, func(x, y *compiled) int {
		if x.Default != y.Default {
			if x.Default {
				return 1
			}
			return -1
		}
		return bySpecificity(x, y)
	})
	for i, ent := range in.Entitlements {
		var et entTrace
		if i < len(tr.ents) {
			et = tr.ents[i]
		} else {
			et = entTrace{id: ent.ID, results: map[int]*MatchResult{}}
		}
		a.ent = ent
		em := EntitlementMatch{Entitlement: ent.ID}
		var chosen *MatchResult
		for _, c := range order {
			pm := et.results[c.index]
			if pm == nil || (c.Default && !pm.Matched) {
				ok, reason, err := c.matches(celCtx, &a)
				pm = &MatchResult{ID: c.ID, Specificity: c.spec, Default: c.Default, Matched: ok, Reason: reason}
				if err != nil {
					pm.Reason = "the condition failed: " + err.Error()
				}
			}
			em.Policies = append(em.Policies, *pm)
		}
		// The chosen policy is the first match in this order (the default
		// when only it matches); none is selected when the request is
		// refused.
		for j := range em.Policies {
			if em.Policies[j].Matched {
				chosen = &em.Policies[j]
				break
			}
		}
		for j := range em.Policies {
			pm := &em.Policies[j]
			switch {
			case chosen == nil:
			case pm == chosen:
				pm.Selected = sim.Refused == ""
				pm.Reason = e.selectedReason(pm, &a)
			case pm.Default:
				pm.Reason = "applies only when no other policy matches"
			case pm.Matched && pm.Specificity == chosen.Specificity:
				pm.Reason = "matches as specifically as " + chosen.ID + ": a tie, so the request is refused"
			case pm.Matched:
				pm.Reason = fmt.Sprintf("matches, but %s is more specific (%d > %d)", chosen.ID, chosen.Specificity, pm.Specificity)
			}
		}
		tie := false
		for _, pm := range em.Policies {
			tie = tie || (chosen != nil && pm.Matched && pm.ID != chosen.ID && !pm.Default && pm.Specificity == chosen.Specificity)
		}
		if chosen != nil && !tie {
			em.PolicyID = chosen.ID
		}
		sim.Entitlements = append(sim.Entitlements, em)
	}
}

func (e *Engine) selectedReason(pm *MatchResult, a *activation) string {
	for _, c := range e.policies {
		if c.ID == pm.ID {
			if c.Default {
				return "no other policy matches"
			}
			return c.because(a)
		}
	}
	return pm.Reason
}

// durations explains the limits of plan.
func (e *Engine) durations(c *compiled, plan *Plan, in Input) DurationResult {
	d := DurationResult{Requested: durText(in.Duration), Default: durText(plan.DefaultDuration), Max: durText(plan.MaxDuration)}
	if e.orgMax > 0 {
		d.Limits = append(d.Limits, DurationLimit{Source: "org", Max: durText(e.orgMax)})
	}
	if c.MaxDuration > 0 {
		d.Limits = append(d.Limits, DurationLimit{Source: "policy " + c.ID, Max: durText(c.MaxDuration)})
	}
	for _, ent := range in.Entitlements {
		if ent.MaxDuration > 0 {
			d.Limits = append(d.Limits, DurationLimit{Source: "entitlement " + ent.ID, Max: durText(ent.MaxDuration)})
		}
	}
	if d.Limits == nil {
		d.Limits = []DurationLimit{}
	}
	eff := cmpOr(in.Duration, plan.DefaultDuration)
	switch {
	case eff <= 0:
		d.Problem = "no duration was given and the policy has no default"
	case plan.MaxDuration > 0 && eff > plan.MaxDuration:
		d.Problem = fmt.Sprintf("%s is longer than the maximum (%s)", durText(eff), durText(plan.MaxDuration))
	default:
		d.Effective = durText(eff)
	}
	return d
}

// extensionText says in words what an extension rule does.
func extensionText(r ExtensionRule) string {
	switch r.Approval {
	case ExtensionAuto:
		return "approved at once"
	case ExtensionDeny:
		return "not allowed"
	}
	if r.AutoWithin > 0 {
		return "up to " + durText(r.AutoWithin) + " past the expiry at once; longer needs the steps again"
	}
	return "need the steps again"
}
