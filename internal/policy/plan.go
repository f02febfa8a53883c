package policy

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
)

// Input is a request to evaluate.
type Input struct {
	Requester *access.User
	App       *access.App
	// Entitlements all belong to App.
	Entitlements []*access.Entitlement
	// Duration is the requested duration; zero when the requester gave
	// none (the policy's default then applies).
	Duration time.Duration
	Reason   string
	// Now is the time of evaluation: on-call shifts and the CEL now.
	Now time.Time
	// AppTags are the app's tags for CEL's app.tags (access.App has no
	// tags yet; empty when the caller has none).
	AppTags []string
}

// Approver is one person eligible at a step, and why.
type Approver struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	// Reason says why they are eligible; several reasons are joined with
	// "; " ("member of group sre; on call for sre-primary").
	Reason string `json:"reason"`
}

// PlanStep is a step resolved to people.
type PlanStep struct {
	Name string `json:"name"`
	// Eligible are active users other than the requester, in the order
	// the rule names them.
	Eligible []Approver `json:"eligible"`
	// Required is the number of distinct approvals (with All: every
	// eligible person, at least 1).
	Required         int  `json:"required"`
	All              bool `json:"all,omitempty"`
	RequesterChooses bool `json:"requester_chooses"`
	// Choose is how many the requester must pick when RequesterChooses.
	Choose int `json:"choose"`
	// EscalateAfter is how long after the step opens, still unsatisfied,
	// EscalateTo are notified and made eligible (zero: never).
	// EscalateTo are active users other than the requester who are not
	// already Eligible.
	EscalateAfter time.Duration `json:"escalate_after,omitempty"`
	EscalateTo    []Approver    `json:"escalate_to,omitempty"`
}

// Plan is the outcome of evaluating a request: which policy applies, the
// steps, the limits.
type Plan struct {
	PolicyID string `json:"policy_id"`
	// Why explains the match, and why more specific policies did not
	// match.
	Why             []string      `json:"why"`
	Steps           []PlanStep    `json:"steps"`
	MaxDuration     time.Duration `json:"max_duration"`
	DefaultDuration time.Duration `json:"default_duration"`
	PendingTimeout  time.Duration `json:"pending_timeout"`
	Reminders       Reminders     `json:"reminders"`
	// Reason is what the reason must satisfy; CheckReason checks it.
	Reason ReasonRule `json:"reason"`
	// AutoApproveRule names the rule that approves without people
	// ("policy-id/rule-name"); "" when people must approve.
	AutoApproveRule string `json:"auto_approve_rule,omitempty"`
	// OnCall are the rotations the requester is on call for at Input.Now.
	OnCall []string `json:"oncall,omitempty"`
	// Extension is the chosen policy's extension rule, for extension
	// requests (ExtensionDecision reads it).
	Extension ExtensionRule `json:"extension"`

	reasonCheck *reasonCheck
}

// reasonCheck is a ReasonRule with its patterns compiled.
type reasonCheck struct {
	rule    ReasonRule
	pattern *regexp.Regexp // anchored
	ticket  *regexp.Regexp
}

// compileReason compiles r's patterns; Pattern must match the whole
// reason.
func compileReason(r ReasonRule) (*reasonCheck, error) {
	rc := &reasonCheck{rule: r}
	var err error
	if r.Pattern != "" {
		if rc.pattern, err = regexp.Compile(`^(?:` + r.Pattern + `)$`); err != nil {
			return nil, fmt.Errorf("pattern: %w", err)
		}
	}
	if r.TicketPattern != "" {
		if rc.ticket, err = regexp.Compile(r.TicketPattern); err != nil {
			return nil, fmt.Errorf("ticket_pattern: %w", err)
		}
	}
	return rc, nil
}

// CheckReason checks reason against the plan's ReasonRule, spaces around
// it trimmed, and returns one FieldError (field "reason") per rule it
// breaks, or none:
//
//   - Required: it must not be empty;
//   - MinLength: a non-empty reason has at least that many characters;
//   - Pattern: a non-empty reason matches it entirely;
//   - TicketPattern: a non-empty reason contains a match.
//
// The messages use Hint, when set, instead of the patterns. CheckReason
// does not bound the length (the workflow does). It is pure, and works on
// a Plan decoded from JSON too.
func (p *Plan) CheckReason(reason string) []access.FieldError {
	rc := p.reasonCheck
	if rc == nil || rc.rule != p.Reason {
		var err error
		if rc, err = compileReason(p.Reason); err != nil {
			return []access.FieldError{{Field: "reason", Message: "cannot be checked: the policy's " + err.Error()}}
		}
	}
	r := rc.rule
	reason = strings.TrimSpace(reason)
	var out []access.FieldError
	add := func(format string, args ...any) {
		out = append(out, access.FieldError{Field: "reason", Message: fmt.Sprintf(format, args...)})
	}
	hint := func(def string) string {
		if r.Hint != "" {
			return r.Hint
		}
		return def
	}
	if reason == "" {
		if r.Required {
			add("is required%s", strings.TrimSuffix(" ("+r.Hint+")", " ()"))
		}
		return out
	}
	if n := utf8.RuneCountInString(reason); n < r.MinLength {
		add("must be at least %d characters (it has %d)", r.MinLength, n)
	}
	if rc.pattern != nil && !rc.pattern.MatchString(reason) {
		add("must match %s", hint("the pattern "+r.Pattern))
	}
	if rc.ticket != nil && !rc.ticket.MatchString(reason) {
		add("must contain %s", hint("a ticket reference matching "+r.TicketPattern))
	}
	return out
}

// Unapprovable reports whether nobody could approve a request under the
// plan, and why: a step with fewer eligible people than it requires (or
// than the requester must choose), or steps that draw on the same few
// people when a person approves at most one step. An auto-approved plan is
// never unapprovable. Escalation is not counted: it comes too late for a
// request the workflow must refuse at once.
func (p *Plan) Unapprovable() (bool, string) {
	if p.AutoApproveRule != "" {
		return false, ""
	}
	if len(p.Steps) == 0 {
		return true, fmt.Sprintf("policy %s has no approval steps", p.PolicyID)
	}
	for i, s := range p.Steps {
		n := len(s.Eligible)
		switch {
		case n < s.Required:
			return true, fmt.Sprintf("step %d (%s) of policy %s needs %d approval(s) but %s",
				i+1, stepName(s.Name, i), p.PolicyID, s.Required, eligibleCount(n))
		case s.RequesterChooses && n < s.Choose:
			return true, fmt.Sprintf("step %d (%s) of policy %s asks the requester to choose %d approver(s) but %s",
				i+1, stepName(s.Name, i), p.PolicyID, s.Choose, eligibleCount(n))
		}
	}
	if step, ok := assignApprovers(p.Steps); !ok {
		return true, fmt.Sprintf("policy %s needs %d distinct approvers across its steps and a person approves at most one step, "+
			"but steps 1 to %d share too few people", p.PolicyID, totalRequired(p.Steps), step+1)
	}
	return false, ""
}

func eligibleCount(n int) string {
	switch n {
	case 0:
		return "nobody other than the requester is eligible"
	case 1:
		return "only 1 person other than the requester is eligible"
	}
	return fmt.Sprintf("only %d people other than the requester are eligible", n)
}

// stepName is a step's name, or "step N" for an unnamed one.
func stepName(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("step %d", i+1)
	}
	return name
}

func totalRequired(steps []PlanStep) int {
	n := 0
	for _, s := range steps {
		n += s.Required
	}
	return n
}

// assignApprovers checks that distinct people can fill every step's
// required approvals (bipartite matching of approval slots to people). It
// returns the first step whose slots cannot all be filled.
func assignApprovers(steps []PlanStep) (int, bool) {
	total := totalRequired(steps)
	// Fast path: every step has enough people for all slots of all steps.
	easy := true
	for _, s := range steps {
		if len(s.Eligible) < total {
			easy = false
			break
		}
	}
	if easy {
		return 0, true
	}
	owner := map[string]int{} // person -> slot
	var slotStep []int
	for i, s := range steps {
		for range s.Required {
			slotStep = append(slotStep, i)
		}
	}
	var try func(slot int, seen map[string]bool) bool
	try = func(slot int, seen map[string]bool) bool {
		for _, a := range steps[slotStep[slot]].Eligible {
			if seen[a.UserID] {
				continue
			}
			seen[a.UserID] = true
			other, taken := owner[a.UserID]
			if !taken || try(other, seen) {
				owner[a.UserID] = slot
				return true
			}
		}
		return false
	}
	for slot := range slotStep {
		if !try(slot, map[string]bool{}) {
			return slotStep[slot], false
		}
	}
	return 0, true
}

// Notified is how many people are asked when the request is submitted:
// none when auto-approved, the number the requester must choose at a
// first step where they choose, else everyone eligible at the first step.
func (p *Plan) Notified() int {
	if p.AutoApproveRule != "" || len(p.Steps) == 0 {
		return 0
	}
	s := p.Steps[0]
	if s.RequesterChooses {
		return min(s.Choose, len(s.Eligible))
	}
	return len(s.Eligible)
}

// ExtensionDecision says how an extension request under p that moves a
// grant's expiry by more (the new expiry less the current one) is
// approved: refused (deny, with the reason to tell the holder), approved
// without people (auto, naming the rule like AutoApproveRule does), or by
// the steps (neither). The policy's auto_approve rule, when one held, also
// approves extensions.
func (p *Plan) ExtensionDecision(more time.Duration) (deny string, autoRule string) {
	switch p.Extension.Approval {
	case ExtensionDeny:
		return fmt.Sprintf("policy %s does not allow extensions: ask for the access again once this grant has ended", p.PolicyID), ""
	case ExtensionAuto:
		return "", p.PolicyID + "/extension:auto"
	}
	if w := p.Extension.AutoWithin; w > 0 && more <= w {
		return "", p.PolicyID + "/extension:auto_within " + access.FormatDuration(w)
	}
	return "", p.AutoApproveRule
}
