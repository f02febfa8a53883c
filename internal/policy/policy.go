package policy

import (
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// Policy is one approval rule as written in the config file or the API.
type Policy struct {
	ID          string `json:"id" yaml:"id"`
	Description string `json:"description,omitempty" yaml:"description"`
	// Default marks the policy used when no other matches. Exactly one
	// policy is the default.
	Default bool  `json:"default,omitempty" yaml:"default"`
	Match   Match `json:"match" yaml:"match"`
	// Steps are approved in order; a policy with no steps must
	// auto-approve.
	Steps []StepRule `json:"steps" yaml:"steps"`
	// MaxDuration bounds requests matched by this policy (zero: no policy
	// limit). DefaultDuration is offered when the requester gives none.
	MaxDuration     time.Duration `json:"max_duration,omitempty" yaml:"max_duration"`
	DefaultDuration time.Duration `json:"default_duration,omitempty" yaml:"default_duration"`
	// PendingTimeout is how long a request may wait for decisions
	// (default 24h).
	PendingTimeout time.Duration `json:"pending_timeout,omitempty" yaml:"pending_timeout"`
	Reminders      Reminders     `json:"reminders" yaml:"reminders"`
	Reason         ReasonRule    `json:"reason" yaml:"reason"`
}

// Match selects the requests a policy applies to. Empty lists match
// everything; a policy with an empty Match matches every request.
type Match struct {
	Apps []string `json:"apps,omitempty" yaml:"apps"`
	// Entitlements are entitlement IDs ("github:admin").
	Entitlements []string      `json:"entitlements,omitempty" yaml:"entitlements"`
	Risk         []access.Risk `json:"risk,omitempty" yaml:"risk"`
	// Groups are requester groups: the requester must be in one of them.
	Groups []string `json:"groups,omitempty" yaml:"groups"`
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
}

// ApproverRule says who may approve a step: the union of its parts.
type ApproverRule struct {
	// Users are emails.
	Users             []string `json:"users,omitempty" yaml:"users"`
	Groups            []string `json:"groups,omitempty" yaml:"groups"`
	Manager           bool     `json:"manager,omitempty" yaml:"manager"`
	AppOwners         bool     `json:"app_owners,omitempty" yaml:"app_owners"`
	EntitlementOwners bool     `json:"entitlement_owners,omitempty" yaml:"entitlement_owners"`
}

// Reminders are automatic reminders to approvers of a pending request: the
// first After the request was made, then Every, at most Max in all.
// Zero After turns them off.
type Reminders struct {
	After time.Duration `json:"after,omitempty" yaml:"after"`
	Every time.Duration `json:"every,omitempty" yaml:"every"`
	Max   int           `json:"max,omitempty" yaml:"max"`
}

// ReasonRule constrains the requester's reason.
type ReasonRule struct {
	Required  bool `json:"required,omitempty" yaml:"required"`
	MinLength int  `json:"min_length,omitempty" yaml:"min_length"`
}

// DefaultPendingTimeout applies when a policy sets none.
const DefaultPendingTimeout = 24 * time.Hour
