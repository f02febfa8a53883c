package access

import (
	"slices"
	"time"
)

// RequestState is where a request is in its life. See DESIGN.md.
type RequestState string

// Request states. Pending is the only state in which decisions are taken;
// Rejected, Cancelled, TimedOut, Expired and Failed are final.
const (
	RequestPending   RequestState = "pending"   // waiting for approvals
	RequestApproved  RequestState = "approved"  // approved; grants being provisioned
	RequestActive    RequestState = "active"    // at least one grant is active
	RequestRejected  RequestState = "rejected"  // an approver said no
	RequestCancelled RequestState = "cancelled" // withdrawn by the requester or an admin
	RequestTimedOut  RequestState = "timed_out" // nobody decided in time
	RequestExpired   RequestState = "expired"   // access was granted and has ended
	RequestFailed    RequestState = "failed"    // no grant could be provisioned
	// RequestExtended is the final state of an approved extension request
	// (ExtendsGrantID): the existing grant's expiry was moved; no new grant
	// was created.
	RequestExtended RequestState = "extended"
)

// RequestStates lists every state, for validation of filters. Each call
// returns a new slice, so callers cannot change the list for others.
func RequestStates() []RequestState {
	return []RequestState{RequestPending, RequestApproved, RequestActive, RequestRejected,
		RequestCancelled, RequestTimedOut, RequestExpired, RequestFailed, RequestExtended}
}

// Final reports whether no further transition is possible.
func (s RequestState) Final() bool {
	switch s {
	case RequestRejected, RequestCancelled, RequestTimedOut, RequestExpired, RequestFailed, RequestExtended:
		return true
	case RequestPending, RequestApproved, RequestActive:
		return false
	}
	return false
}

// Step is one approval step of a request, fixed when the request is
// submitted from the policy that matched.
type Step struct {
	Name string `json:"name"`
	// Eligible are the user IDs who may decide at this step.
	Eligible []string `json:"eligible"`
	// Notified are the user IDs asked to decide (the requester's choice
	// among Eligible, or all of them).
	Notified []string `json:"notified"`
	// Required is how many distinct approvals the step needs (>= 1).
	Required int `json:"required"`
	// OpenedAt is when the step became the current one.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// EscalateAfter, when positive, widens the step to EscalateTo (user
	// IDs) once it has been open that long without enough approvals.
	EscalateAfter time.Duration `json:"escalate_after,omitempty"`
	EscalateTo    []string      `json:"escalate_to,omitempty"`
	// Escalated is set once the step was widened.
	Escalated bool `json:"escalated,omitempty"`
}

// EscalationDue reports whether the current step of a pending request
// should be escalated at now.
func (r *Request) EscalationDue(now time.Time) bool {
	if r.State != RequestPending || r.CurrentStep < 0 || r.CurrentStep >= len(r.Steps) {
		return false
	}
	st := r.Steps[r.CurrentStep]
	return st.EscalateAfter > 0 && !st.Escalated && len(st.EscalateTo) > 0 && !st.OpenedAt.IsZero() &&
		!now.Before(st.OpenedAt.Add(st.EscalateAfter))
}

// Escalate widens the current step to its escalation approvers (never the
// requester) and returns the people added. It is an error unless
// EscalationDue.
func (r *Request) Escalate(now time.Time) ([]string, error) {
	if !r.EscalationDue(now) {
		return nil, transitionErr("request %s has no escalation due", r.ID)
	}
	st := &r.Steps[r.CurrentStep]
	var added []string
	for _, id := range st.EscalateTo {
		if id == r.RequesterID || slices.Contains(st.Eligible, id) {
			continue
		}
		st.Eligible = append(st.Eligible, id)
		st.Notified = append(st.Notified, id)
		added = append(added, id)
	}
	st.Escalated = true
	r.UpdatedAt = now
	return added, nil
}

// Request is a person asking for one or more entitlements of one app.
type Request struct {
	ID             string        `json:"id"`
	RequesterID    string        `json:"requester_id"`
	AppID          string        `json:"app_id"`
	EntitlementIDs []string      `json:"entitlement_ids"`
	Duration       time.Duration `json:"duration"`
	// MaxDuration is the longest duration that applies (policy, entitlement
	// and org limits); approvers may change Duration up to it.
	MaxDuration time.Duration `json:"max_duration"`
	Reason      string        `json:"reason"`
	State       RequestState  `json:"state"`
	PolicyID    string        `json:"policy_id"`
	Steps       []Step        `json:"steps"`
	// CurrentStep indexes Steps while pending.
	CurrentStep     int        `json:"current_step"`
	Decisions       []Decision `json:"decisions,omitempty"`
	AutoApproveRule string     `json:"auto_approve_rule,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// PendingUntil is when a pending request times out.
	PendingUntil   time.Time `json:"pending_until"`
	LastRemindedAt time.Time `json:"last_reminded_at,omitzero"`
	RemindCount    int       `json:"remind_count"`
	// ExtendsGrantID, when set, makes this an extension request: it asks
	// for more time on that active grant of the requester (its one
	// entitlement is the grant's). Approved, it moves the grant's expiry to
	// approval time + Duration and ends RequestExtended; it creates no grant.
	ExtendsGrantID string `json:"extends_grant_id,omitempty"`
	// Version increases with every update; the store rejects an update of a
	// stale copy.
	Version int `json:"version"`
}

// IsExtension reports whether r asks for more time on an existing grant.
func (r *Request) IsExtension() bool { return r.ExtendsGrantID != "" }

// FinishExtension ends an approved extension request: extended when ok
// (the grant's expiry was moved), failed otherwise (the grant was no
// longer active when the approval came).
func (r *Request) FinishExtension(ok bool, now time.Time) error {
	if !r.IsExtension() {
		return transitionErr("request %s is not an extension request", r.ID)
	}
	if r.State != RequestApproved {
		return transitionErr("request %s is %s, not approved", r.ID, r.State)
	}
	r.State = RequestFailed
	if ok {
		r.State = RequestExtended
	}
	r.UpdatedAt = now
	return nil
}

// ReminderInterval is the least time between two manual reminders of one
// request.
const ReminderInterval = 30 * time.Minute

// DecisionOutcome is approve or reject.
type DecisionOutcome string

// Outcomes.
const (
	Approve DecisionOutcome = "approve"
	Reject  DecisionOutcome = "reject"
)

// Decision is one approver's approval or rejection at one step.
type Decision struct {
	ID         string          `json:"id"`
	RequestID  string          `json:"request_id"`
	Step       int             `json:"step"`
	ApproverID string          `json:"approver_id"`
	Outcome    DecisionOutcome `json:"outcome"`
	Comment    string          `json:"comment,omitempty"`
	// Duration is the approver's changed duration; zero keeps the request's.
	Duration  time.Duration `json:"duration,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
}

func transitionErr(format string, args ...any) *Error {
	e := Errorf(CodeConflict, format, args...)
	e.Err = ErrInvalidTransition
	return e
}

// CheckDecider returns the index of the step actor may decide now, or a
// coded error: the requester never decides (ErrSelfApproval), a person
// decides at most once and at most one step (ErrAlreadyDecided), only an
// active user eligible at the current step decides (ErrNotEligible), and only
// a pending request takes decisions (ErrInvalidTransition).
func (r *Request) CheckDecider(actor *User) (int, error) {
	if r.State != RequestPending {
		return 0, transitionErr("request %s is %s, not pending", r.ID, r.State)
	}
	if actor == nil || !actor.Active() {
		return 0, &Error{Code: CodeForbidden, Message: "only active users may decide requests", Err: ErrNotEligible}
	}
	if actor.ID == r.RequesterID {
		return 0, &Error{Code: CodeForbidden, Message: "you cannot approve or reject your own request", Err: ErrSelfApproval}
	}
	for _, d := range r.Decisions {
		if d.ApproverID == actor.ID {
			return 0, &Error{Code: CodeConflict, Message: "you have already decided this request", Err: ErrAlreadyDecided}
		}
	}
	if r.CurrentStep < 0 || r.CurrentStep >= len(r.Steps) {
		return 0, transitionErr("request %s has no open step", r.ID)
	}
	if !slices.Contains(r.Steps[r.CurrentStep].Eligible, actor.ID) {
		return 0, &Error{Code: CodeForbidden, Message: "you are not an eligible approver for the current step of this request", Err: ErrNotEligible}
	}
	return r.CurrentStep, nil
}

// Decide records d (whose ApproverID must be actor.ID) and moves the request
// on: a rejection rejects it; an approval that satisfies the last step
// approves it. A changed duration must be positive and at most MaxDuration;
// it replaces Duration. approved is true when this decision approved the
// request.
func (r *Request) Decide(actor *User, d Decision, now time.Time) (approved bool, err error) {
	step, err := r.CheckDecider(actor)
	if err != nil {
		return false, err
	}
	if d.Outcome != Approve && d.Outcome != Reject {
		return false, Invalid("invalid decision", FieldError{Field: "outcome", Message: "must be approve or reject"})
	}
	if d.Duration != 0 {
		if d.Outcome == Reject {
			return false, Invalid("invalid decision", FieldError{Field: "duration", Message: "a rejection cannot change the duration"})
		}
		if err := CheckDuration(d.Duration, r.MaxDuration); err != nil {
			return false, err
		}
	}
	d.ApproverID = actor.ID
	d.RequestID = r.ID
	d.Step = step
	d.CreatedAt = now
	r.Decisions = append(r.Decisions, d)
	r.UpdatedAt = now
	if d.Outcome == Reject {
		r.State = RequestRejected
		return false, nil
	}
	if d.Duration != 0 {
		r.Duration = d.Duration
	}
	if r.Approvals(step) < r.Steps[step].Required {
		return false, nil
	}
	r.CurrentStep++
	if r.CurrentStep < len(r.Steps) {
		r.Steps[r.CurrentStep].OpenedAt = now
		return false, nil
	}
	r.State = RequestApproved
	return true, nil
}

// Approvals counts the approvals recorded at step.
func (r *Request) Approvals(step int) int {
	n := 0
	for _, d := range r.Decisions {
		if d.Step == step && d.Outcome == Approve {
			n++
		}
	}
	return n
}

// AutoApprove approves a pending request without decisions, naming the
// rule that allowed it.
func (r *Request) AutoApprove(rule string, now time.Time) error {
	if r.State != RequestPending {
		return transitionErr("request %s is %s, not pending", r.ID, r.State)
	}
	r.State = RequestApproved
	r.AutoApproveRule = rule
	r.CurrentStep = len(r.Steps)
	r.UpdatedAt = now
	return nil
}

// Cancel withdraws a pending request. Only the requester or an admin may.
func (r *Request) Cancel(actor *User, now time.Time) error {
	if actor == nil || (actor.ID != r.RequesterID && !actor.HasRole(RoleAdmin)) {
		return &Error{Code: CodeForbidden, Message: "only the requester or an admin may cancel a request", Err: ErrNotEligible}
	}
	if r.State != RequestPending {
		return transitionErr("request %s is %s; only pending requests can be cancelled", r.ID, r.State)
	}
	r.State = RequestCancelled
	r.UpdatedAt = now
	return nil
}

// TimeOut ends a pending request nobody decided by PendingUntil.
func (r *Request) TimeOut(now time.Time) error {
	if r.State != RequestPending {
		return transitionErr("request %s is %s, not pending", r.ID, r.State)
	}
	if now.Before(r.PendingUntil) {
		return transitionErr("request %s does not time out before %s", r.ID, r.PendingUntil.Format(time.RFC3339))
	}
	r.State = RequestTimedOut
	r.UpdatedAt = now
	return nil
}

// Remind records a manual reminder by actor (the requester or an admin),
// at most once per ReminderInterval.
func (r *Request) Remind(actor *User, now time.Time) error {
	if actor == nil || (actor.ID != r.RequesterID && !actor.HasRole(RoleAdmin)) {
		return &Error{Code: CodeForbidden, Message: "only the requester or an admin may send a reminder", Err: ErrNotEligible}
	}
	return r.RecordReminder(now, ReminderInterval)
}

// RecordReminder notes a reminder sent at now if at least minInterval has
// passed since the last one (automatic reminders pass the policy's
// interval).
func (r *Request) RecordReminder(now time.Time, minInterval time.Duration) error {
	if r.State != RequestPending {
		return transitionErr("request %s is %s; only pending requests can be reminded", r.ID, r.State)
	}
	if !r.LastRemindedAt.IsZero() && now.Sub(r.LastRemindedAt) < minInterval {
		next := r.LastRemindedAt.Add(minInterval)
		return Errorf(CodeRateLimited, "a reminder was sent at %s; the next one can be sent after %s",
			r.LastRemindedAt.Format(time.RFC3339), next.Format(time.RFC3339))
	}
	r.LastRemindedAt = now
	r.RemindCount++
	r.UpdatedAt = now
	return nil
}

// Settle derives the state of an approved or active request from its
// grants: active while any grant is active or being set up or taken away,
// and once every grant is final, expired if any was ever granted, failed if
// none was. It returns whether the state changed. Extension requests have no
// grants of their own and are never settled.
func (r *Request) Settle(grants []Grant, now time.Time) bool {
	if r.IsExtension() || (r.State != RequestApproved && r.State != RequestActive) {
		return false
	}
	var anyActive, anyOpen, anyGranted bool
	for _, g := range grants {
		switch g.State {
		case GrantActive, GrantRevoking, GrantRevokeFailed:
			anyActive = true
		case GrantPending, GrantProvisioning:
			anyOpen = true
		case GrantRevoked:
			anyGranted = true
		case GrantFailed:
			// never granted: counts only through len(grants) below
		}
	}
	next := r.State
	switch {
	case anyActive:
		next = RequestActive
	case anyOpen:
		// keep approved or active
	case anyGranted:
		next = RequestExpired
	case len(grants) > 0:
		next = RequestFailed
	}
	if next == r.State {
		return false
	}
	r.State = next
	r.UpdatedAt = now
	return true
}

// Approvers returns the distinct user IDs notified at any step.
func (r *Request) Approvers() []string {
	var out []string
	for _, s := range r.Steps {
		for _, id := range s.Notified {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// CheckDuration validates a requested duration against limit (zero limit
// means no limit).
func CheckDuration(d, limit time.Duration) error {
	if d <= 0 {
		return Invalid("invalid duration", FieldError{Field: "duration", Message: "must be positive"})
	}
	if limit > 0 && d > limit {
		return &Error{Code: CodeInvalid, Message: "invalid duration", Err: ErrDurationTooLong,
			Fields: []FieldError{{Field: "duration", Message: "must be at most " + FormatDuration(limit)}}}
	}
	return nil
}
