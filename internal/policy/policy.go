package policy

import (
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// Policy is one approval rule as written in the config file or the API
// (one format: the JSON keys are the YAML keys, durations are text like
// "8h" in both; see MarshalJSON).
type Policy struct {
	// ID names the policy: letters, digits, ".", "_" and "-", at most 64.
	ID          string `json:"id" yaml:"id"`
	Description string `json:"description,omitempty" yaml:"description"`
	// Default marks the policy used when no other matches. Exactly one
	// policy is the default, and it has no Match.
	Default bool  `json:"default,omitempty" yaml:"default"`
	Match   Match `json:"match" yaml:"match"`
	// Steps are approved in order: a step opens when the one before it has
	// its approvals. At least one step is required, even with AutoApprove
	// (they apply when no rule does).
	Steps []StepRule `json:"steps" yaml:"steps"`
	// AutoApprove rules approve a request without people: the first whose
	// condition holds (for every entitlement of the request) approves it,
	// and Plan.AutoApproveRule names it ("policy-id/rule-name").
	AutoApprove []AutoApproveRule `json:"auto_approve,omitempty" yaml:"auto_approve"`
	// MaxDuration bounds requests matched by this policy (zero: no policy
	// limit). DefaultDuration is used when the requester gives none.
	MaxDuration     time.Duration `json:"max_duration,omitempty" yaml:"max_duration"`
	DefaultDuration time.Duration `json:"default_duration,omitempty" yaml:"default_duration"`
	// PendingTimeout is how long a request may wait for decisions
	// (default 24h).
	PendingTimeout time.Duration `json:"pending_timeout,omitempty" yaml:"pending_timeout"`
	Reminders      Reminders     `json:"reminders" yaml:"reminders"`
	Reason         ReasonRule    `json:"reason" yaml:"reason"`
	// Extension says how the holder of an active grant gets more time
	// (zero: a new approval by the policy's steps).
	Extension ExtensionRule `json:"extension,omitzero" yaml:"extension"`
}

// Extension approval modes; see ExtensionRule.
const (
	ExtensionSteps = "steps" // the policy's steps approve, as for a new request (the default)
	ExtensionAuto  = "auto"  // approved without people
	ExtensionDeny  = "deny"  // no extensions: ask again once the grant has ended
)

// ExtensionRule says how an extension request (the holder asking for more
// time on an active grant) is approved. The policy that matches the grant's
// entitlement for the holder at the time of asking applies; the new expiry
// is bounded by the same max durations as a new request (entitlement,
// policy, org), counted from the approval.
type ExtensionRule struct {
	// Approval is ExtensionSteps (""), ExtensionAuto or ExtensionDeny.
	Approval string `json:"approval,omitempty" yaml:"approval"`
	// AutoWithin, with steps, approves without people an extension that
	// moves the expiry by at most this much past the current one (zero:
	// never). The policy's auto_approve rules apply to extensions as to
	// new requests.
	AutoWithin time.Duration `json:"auto_within,omitempty" yaml:"auto_within"`
}

// Match selects the requests a policy applies to. A request for several
// entitlements is matched one entitlement at a time: each selector must
// hold for the entitlement (and the app, the requester, the condition).
// Empty selectors match everything.
type Match struct {
	Apps []string `json:"apps,omitempty" yaml:"apps"`
	// Entitlements are entitlement IDs ("github:admin").
	Entitlements []string `json:"entitlements,omitempty" yaml:"entitlements"`
	// Tags match an entitlement carrying at least one of them.
	Tags []string      `json:"tags,omitempty" yaml:"tags"`
	Risk []access.Risk `json:"risk,omitempty" yaml:"risk"`
	// Groups are requester groups: the requester must be in one of them.
	Groups []string `json:"groups,omitempty" yaml:"groups"`
	// Condition is a CEL expression that must be true (see doc.go for its
	// variables). It is compiled and type-checked when policies load.
	Condition string `json:"condition,omitempty" yaml:"condition"`
}

// StepRule is one approval step.
type StepRule struct {
	Name      string       `json:"name" yaml:"name"`
	Approvers ApproverRule `json:"approvers" yaml:"approvers"`
	// Required is how many distinct approvals the step needs (default 1);
	// All requires every eligible person.
	Required int  `json:"required,omitempty" yaml:"required"`
	All      bool `json:"all,omitempty" yaml:"all"`
	// RequesterChooses lets the requester pick whom to ask among the
	// eligible; Choose is how many they must pick at least (default:
	// Required).
	RequesterChooses bool `json:"requester_chooses,omitempty" yaml:"requester_chooses"`
	Choose           int  `json:"choose,omitempty" yaml:"choose"`
	// EscalateAfter is how long after the step opens, still unsatisfied,
	// the people of EscalateTo are asked too and become eligible. Zero: no
	// escalation. Both are set or neither.
	EscalateAfter time.Duration `json:"escalate_after,omitempty" yaml:"escalate_after"`
	EscalateTo    ApproverRule  `json:"escalate_to" yaml:"escalate_to"`
}

// ApproverRule says who may approve a step: the union of its parts. The
// requester, offboarded users and unknown users are never eligible.
type ApproverRule struct {
	// Users are emails.
	Users  []string `json:"users,omitempty" yaml:"users"`
	Groups []string `json:"groups,omitempty" yaml:"groups"`
	// Manager is the requester's manager; ManagersManager is that
	// person's manager.
	Manager           bool `json:"manager,omitempty" yaml:"manager"`
	ManagersManager   bool `json:"managers_manager,omitempty" yaml:"managers_manager"`
	AppOwners         bool `json:"app_owners,omitempty" yaml:"app_owners"`
	EntitlementOwners bool `json:"entitlement_owners,omitempty" yaml:"entitlement_owners"`
	// OnCall are rotation IDs: whoever is on call for them at the time of
	// evaluation.
	OnCall []string `json:"oncall,omitempty" yaml:"oncall"`
}

// empty reports whether the rule names nobody.
func (a ApproverRule) empty() bool {
	return len(a.Users) == 0 && len(a.Groups) == 0 && !a.Manager && !a.ManagersManager && !a.AppOwners &&
		!a.EntitlementOwners && len(a.OnCall) == 0
}

// AutoApproveRule approves a request without people when Condition, a CEL
// expression, holds for every entitlement of the request.
type AutoApproveRule struct {
	// Name is unique within the policy (same characters as a policy ID).
	Name      string `json:"name" yaml:"name"`
	Condition string `json:"condition" yaml:"condition"`
}

// Reminders are automatic reminders to approvers of a pending request: the
// first After the request was made, then Every, at most Max in all.
// Zero After turns them off.
type Reminders struct {
	After time.Duration `json:"after,omitempty" yaml:"after"`
	Every time.Duration `json:"every,omitempty" yaml:"every"`
	Max   int           `json:"max,omitempty" yaml:"max"`
}

// ReasonRule constrains the requester's reason (spaces around it
// trimmed). MinLength, Pattern and TicketPattern apply to any reason given;
// Pattern and TicketPattern need Required.
type ReasonRule struct {
	Required bool `json:"required,omitempty" yaml:"required"`
	// MinLength counts characters (runes).
	MinLength int `json:"min_length,omitempty" yaml:"min_length"`
	// Pattern is a Go regular expression the whole reason must match.
	Pattern string `json:"pattern,omitempty" yaml:"pattern"`
	// TicketPattern is a Go regular expression the reason must contain
	// somewhere, like `[A-Z]+-\d+` for a ticket reference.
	TicketPattern string `json:"ticket_pattern,omitempty" yaml:"ticket_pattern"`
	// Hint replaces the patterns in messages to the requester ("mention
	// the incident ticket, like OPS-123").
	Hint string `json:"hint,omitempty" yaml:"hint"`
}

// DefaultPendingTimeout applies when a policy sets none.
const DefaultPendingTimeout = 24 * time.Hour
