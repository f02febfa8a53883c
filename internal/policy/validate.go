package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// Problem is one thing wrong with a set of policies or rotations. Path
// names the key in the file's layout: "policies[2].match.condition",
// "oncall[0].timezone", or "policies" for the set as a whole.
type Problem struct {
	Path    string
	Message string
}

// String is "path: message".
func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidationError lists every problem of a set of policies, in the order
// found (policy by policy, then ties).
type ValidationError struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Validate compiles policies (and the rotations and catalog given as
// options) and returns nil or a *ValidationError listing every problem:
// structure, CEL conditions (parsed, type-checked, bool), regular
// expressions, references to rotations, and two policies of equal
// specificity that can match one request (see Specificity). It returns nil
// when New would succeed.
func Validate(policies []Policy, opts ...Option) error {
	_, err := compile(policies, 0, opts)
	return err
}

// idRE is what policy IDs and auto-approve rule names look like.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// problems collects Problems.
type problems []Problem

func (ps *problems) addf(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// compilePolicy checks p (policies[i]) and compiles its conditions and
// patterns. It returns nil when p has a problem.
func compilePolicy(i int, p Policy, env *celEnv, rotations map[string]*rotation, ps *problems) *compiled {
	before := len(*ps)
	pp := fmt.Sprintf("policies[%d]", i)
	add := func(path, format string, args ...any) { ps.addf(pp+path, format, args...) }
	c := &compiled{Policy: clonePolicy(p), index: i}
	if p.ID == "" {
		add(".id", "is required")
	} else if !idRE.MatchString(p.ID) {
		add(".id", "%q is not an id: letters, digits, '.', '_' and '-', at most 64", p.ID)
	}
	if p.Default && !p.Match.empty() {
		add(".match", "the default policy cannot have match rules")
	}
	compileMatch(c, env, add)
	if len(p.Steps) == 0 {
		add(".steps", "at least one approval step is required")
	}
	timeout := cmpOr(p.PendingTimeout, DefaultPendingTimeout)
	for j, s := range p.Steps {
		checkStep(fmt.Sprintf(".steps[%d]", j), s, timeout, rotations, add)
	}
	names := map[string]bool{}
	for j, r := range p.AutoApprove {
		rp := fmt.Sprintf(".auto_approve[%d]", j)
		switch {
		case r.Name == "":
			add(rp+".name", "is required")
		case !idRE.MatchString(r.Name):
			add(rp+".name", "%q is not a name: letters, digits, '.', '_' and '-', at most 64", r.Name)
		case names[r.Name]:
			add(rp+".name", "%q is used twice in this policy", r.Name)
		}
		names[r.Name] = true
		if strings.TrimSpace(r.Condition) == "" {
			add(rp+".condition", "is required: an auto-approve rule without a condition would approve everything")
			continue
		}
		cond, err := env.compile(r.Condition)
		if err != nil {
			add(rp+".condition", "%v", err)
			continue
		}
		c.auto = append(c.auto, autoRule{name: r.Name, qualified: p.ID + "/" + r.Name, cond: cond})
		c.usesManager = c.usesManager || cond.usesManager
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max_duration", p.MaxDuration}, {"default_duration", p.DefaultDuration}, {"pending_timeout", p.PendingTimeout},
		{"reminders.after", p.Reminders.After}, {"reminders.every", p.Reminders.Every},
		{"extension.auto_within", p.Extension.AutoWithin}} {
		if d.v < 0 {
			add("."+d.name, "must not be negative")
		}
	}
	if p.MaxDuration > 0 && p.DefaultDuration > p.MaxDuration {
		add(".default_duration", "is longer than max_duration")
	}
	if p.Reminders.Max < 0 {
		add(".reminders.max", "must not be negative")
	}
	checkExtension(p.Extension, add)
	checkReasonRule(c, add)
	if len(*ps) > before {
		return nil
	}
	return c
}

// compileMatch checks the selectors of c and compiles its condition.
func compileMatch(c *compiled, env *celEnv, add func(path, format string, args ...any)) {
	m := c.Match
	for _, r := range m.Risk {
		if !access.ValidRisk(r) {
			add(".match.risk", "%q is not low, medium or high", r)
		}
	}
	for j, e := range m.Entitlements {
		if app, key, ok := access.SplitEntitlementID(e); !ok || app == "" || key == "" {
			add(fmt.Sprintf(".match.entitlements[%d]", j), "%q is not an entitlement ID like github:admin", e)
		}
	}
	for _, list := range []struct {
		name string
		vals []string
	}{{"apps", m.Apps}, {"tags", m.Tags}, {"groups", m.Groups}} {
		for j, v := range list.vals {
			if strings.TrimSpace(v) == "" {
				add(fmt.Sprintf(".match.%s[%d]", list.name, j), "must not be empty")
			}
		}
	}
	if len(m.Apps) > 0 && len(m.Entitlements) > 0 {
		var outside []string
		for _, e := range m.Entitlements {
			if app, _, _ := access.SplitEntitlementID(e); !slices.Contains(m.Apps, app) {
				outside = append(outside, e)
			}
		}
		if len(outside) == len(m.Entitlements) {
			add(".match.entitlements", "none of these entitlements belongs to the apps listed (%s): the policy can never match",
				strings.Join(m.Apps, ", "))
		} else if len(outside) > 0 {
			add(".match.entitlements", "%s do(es) not belong to the apps listed (%s)", strings.Join(outside, ", "), strings.Join(m.Apps, ", "))
		}
	}
	if m.Condition != "" {
		cond, err := env.compile(m.Condition)
		if err != nil {
			add(".match.condition", "%v", err)
		} else {
			c.cond = cond
			c.usesManager = cond.usesManager
		}
	}
}

// checkStep checks one step; timeout is the policy's pending timeout.
func checkStep(sp string, s StepRule, timeout time.Duration, rotations map[string]*rotation, add func(path, format string, args ...any)) {
	if s.Approvers.empty() {
		add(sp+".approvers", "names nobody: set users, groups, manager, managers_manager, app_owners, entitlement_owners or oncall")
	}
	checkApprovers(sp+".approvers", s.Approvers, rotations, add)
	if s.Required < 0 {
		add(sp+".required", "must be at least 1")
	}
	if s.All && s.Required > 0 {
		add(sp+".required", "cannot be combined with all")
	}
	if s.Choose < 0 {
		add(sp+".choose", "must not be negative")
	}
	if s.Choose > 0 && !s.RequesterChooses {
		add(sp+".choose", "needs requester_chooses")
	}
	if s.Choose > 0 && s.Choose < s.required() {
		add(sp+".choose", "must be at least required (%d)", s.required())
	}
	switch {
	case s.EscalateAfter < 0:
		add(sp+".escalate_after", "must not be negative")
	case s.EscalateAfter > 0 && s.EscalateTo.empty():
		add(sp+".escalate_to", "is required with escalate_after: name who is asked next")
	case s.EscalateAfter == 0 && !s.EscalateTo.empty():
		add(sp+".escalate_after", "is required with escalate_to: how long the step waits before escalating")
	case s.EscalateAfter >= timeout:
		add(sp+".escalate_after", "%s is not shorter than the pending timeout (%s): the request would time out first",
			access.FormatDuration(s.EscalateAfter), access.FormatDuration(timeout))
	}
	checkApprovers(sp+".escalate_to", s.EscalateTo, rotations, add)
}

func checkApprovers(path string, a ApproverRule, rotations map[string]*rotation, add func(path, format string, args ...any)) {
	for j, u := range a.Users {
		if !strings.Contains(u, "@") {
			add(fmt.Sprintf("%s.users[%d]", path, j), "%q is not an email", u)
		}
	}
	for j, g := range a.Groups {
		if strings.TrimSpace(g) == "" {
			add(fmt.Sprintf("%s.groups[%d]", path, j), "must not be empty")
		}
	}
	for j, id := range a.OnCall {
		if !hasKey(rotations, id) {
			add(fmt.Sprintf("%s.oncall[%d]", path, j), "%q is not a configured on-call rotation (see oncall:)", id)
		}
	}
}

// checkReasonRule checks and compiles c's reason rule.
func checkReasonRule(c *compiled, add func(path, format string, args ...any)) {
	r := c.Reason
	if r.MinLength < 0 {
		add(".reason.min_length", "must not be negative")
	}
	if (r.Pattern != "" || r.TicketPattern != "") && !r.Required {
		add(".reason.required", "must be true with pattern or ticket_pattern: otherwise an empty reason passes")
	}
	rc, err := compileReason(r)
	if err != nil {
		field, msg, _ := strings.Cut(err.Error(), ": ")
		add(".reason."+field, "is not a valid regular expression: %s", msg)
		return
	}
	c.reason = rc
}

func (s StepRule) required() int {
	if s.Required > 0 {
		return s.Required
	}
	return 1
}

func (m Match) empty() bool {
	return len(m.Apps) == 0 && len(m.Entitlements) == 0 && len(m.Tags) == 0 && len(m.Risk) == 0 &&
		len(m.Groups) == 0 && m.Condition == ""
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// clonePolicy deep-copies the slices of p, so that an Engine never shares
// memory with its caller.
func clonePolicy(p Policy) Policy {
	p.Match.Apps = slices.Clone(p.Match.Apps)
	p.Match.Entitlements = slices.Clone(p.Match.Entitlements)
	p.Match.Tags = slices.Clone(p.Match.Tags)
	p.Match.Risk = slices.Clone(p.Match.Risk)
	p.Match.Groups = slices.Clone(p.Match.Groups)
	p.AutoApprove = slices.Clone(p.AutoApprove)
	steps := make([]StepRule, len(p.Steps))
	for i, s := range p.Steps {
		s.Approvers = cloneApprovers(s.Approvers)
		s.EscalateTo = cloneApprovers(s.EscalateTo)
		steps[i] = s
	}
	if p.Steps == nil {
		steps = nil
	}
	p.Steps = steps
	return p
}

func cloneApprovers(a ApproverRule) ApproverRule {
	a.Users = slices.Clone(a.Users)
	a.Groups = slices.Clone(a.Groups)
	a.OnCall = slices.Clone(a.OnCall)
	return a
}

// validationErr returns ps as a *ValidationError, or nil.
func validationErr(ps problems) error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// checkExtension checks a policy's extension rule.
func checkExtension(r ExtensionRule, add func(path, format string, args ...any)) {
	switch r.Approval {
	case "", ExtensionSteps:
	case ExtensionAuto, ExtensionDeny:
		if r.AutoWithin != 0 {
			add(".extension.auto_within", "applies only with approval %q (the approval is %q)", ExtensionSteps, r.Approval)
		}
	default:
		add(".extension.approval", "%q is not an approval mode (%s, %s or %s)", r.Approval, ExtensionSteps, ExtensionAuto, ExtensionDeny)
	}
}
