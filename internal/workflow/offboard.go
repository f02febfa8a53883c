package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// ScimActorPrefix starts the ID of a SCIM provisioning client (see
// internal/scimserver). Such a client may offboard people: it is how the
// identity provider deactivates them.
const ScimActorPrefix = "scc_"

// SetOffboardHook registers h to run after a person's offboarding has
// committed (Offboard). The hook sees the offboarded user; it raises the
// "offboarded employee with active accounts" alert. An error from h is
// logged and audited ("user.offboard_hook_failed") and never undoes the
// offboarding; the next Offboard of that person (the identity provider's
// retry, an admin's second call) runs h again and audits
// "user.offboard_hook_retried" when it then succeeds. Otherwise h runs once
// per offboarding that changed the user's status (again after a
// reactivation). h should be idempotent. Call before serving; nil removes
// the hook.
func (s *Service) SetOffboardHook(h func(ctx context.Context, u *access.User) error) {
	s.offboardHook = h
}

// OffboardResult says what one Offboard call did. Lists hold IDs.
type OffboardResult struct {
	User *access.User `json:"user"`
	// Changed is false when the person was already offboarded and nothing
	// was left to do.
	Changed           bool     `json:"changed"`
	CancelledRequests []string `json:"cancelled_requests,omitempty"`
	RevokedGrants     []string `json:"revoked_grants,omitempty"`
	// Reassigned are pending requests whose steps lost this person as an
	// approver and were given to the remaining eligible approvers.
	Reassigned []string `json:"reassigned_requests,omitempty"`
	// Escalated are the requests among Reassigned whose step had too few
	// approvers left and was widened to its escalation approvers;
	// Unapprovable those that still have too few (an admin must act).
	Escalated    []string `json:"escalated_requests,omitempty"`
	Unapprovable []string `json:"unapprovable_requests,omitempty"`
}

// offboardPage is how many requests or grants one list call reads.
const offboardPage = 200

// Offboard takes everything away from a person who left: it marks them
// offboarded, cancels their pending requests, revokes their active grants
// (through the normal revoke jobs; grants not yet provisioned fail), moves
// approvals waiting on them to the remaining eligible approvers of each step
// (the policy plan re-evaluated without them), or escalates the step when
// too few remain, and audits every step, in one transaction. Then the
// offboard hook runs (SetOffboardHook).
//
// actorID is an active admin (the API), a SCIM provisioning client that is
// not revoked (ScimActorPrefix), or access.SystemActor. Offboard is
// idempotent: a second call finds nothing left and returns Changed false.
// Returns CodeNotFound for an unknown user.
func (s *Service) Offboard(ctx context.Context, actorID, userID, reason string) (*OffboardResult, error) {
	reason = strings.TrimSpace(reason)
	if len(reason) > MaxReasonLength {
		return nil, access.Invalid("invalid offboarding", access.FieldError{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", MaxReasonLength)})
	}
	var res *OffboardResult
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		if err := checkOffboarder(ctx, q, actorID, userID); err != nil {
			return err
		}
		if err := q.DirectoryLockUser(ctx, userID); err != nil {
			return notFound(err, "user", userID)
		}
		u, err := q.UserGetByID(ctx, userID)
		if err != nil {
			return notFound(err, "user", userID)
		}
		res = &OffboardResult{User: u}
		if u.Status != access.UserOffboarded {
			before := *u
			u.Status = access.UserOffboarded
			u.UpdatedAt = fx.now
			if err := q.UserUpsert(ctx, u); err != nil {
				return fmt.Errorf("save user: %w", err)
			}
			if err := fx.audit(ctx, q, actorID, "user.offboarded", "user", u.ID, &before, u, map[string]any{"reason": reason}); err != nil {
				return err
			}
			res.Changed = true
		}
		if err := s.offboardRequests(ctx, q, fx, actorID, u, reason, res); err != nil {
			return err
		}
		if err := s.offboardGrants(ctx, q, fx, actorID, u, reason, res); err != nil {
			return err
		}
		return s.offboardApprovals(ctx, q, fx, actorID, u, res)
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "user.offboard_refused", "user", userID, err)
		return nil, err
	}
	switch {
	case s.offboardHook == nil:
	case res.Changed:
		s.runOffboardHook(ctx, res.User, false)
	default:
		pending, err := s.offboardHookPending(ctx, res.User.ID)
		if err != nil {
			s.log.ErrorContext(ctx, "cannot tell whether the offboard hook failed before", "user", res.User.ID, "err", err)
		} else if pending {
			s.runOffboardHook(ctx, res.User, true)
		}
	}
	return res, nil
}

// offboardHookPending reports whether the hook's last run for userID
// failed: the newest of the user's offboarding events is a hook failure.
func (s *Service) offboardHookPending(ctx context.Context, userID string) (bool, error) {
	cursor := ""
	for range 10 {
		evs, next, err := s.st.EventList(ctx, store.EventListParams{Page: store.Page{Cursor: cursor, Limit: 50},
			Action: "user.", SubjectType: "user", SubjectID: userID})
		if err != nil {
			return false, err
		}
		for _, e := range evs {
			switch e.Action {
			case "user.offboard_hook_failed":
				return true, nil
			case "user.offboarded", "user.offboard_hook_retried", "user.reactivated":
				return false, nil
			}
		}
		if next == "" {
			return false, nil
		}
		cursor = next
	}
	return false, nil
}

// runOffboardHook calls the hook after commit; its failure is logged and
// audited, never returned. A successful retry is audited.
func (s *Service) runOffboardHook(ctx context.Context, u *access.User, retry bool) {
	err := s.offboardHook(ctx, u)
	if err == nil {
		if retry {
			fx := &effects{now: s.now()}
			if aerr := s.st.InTx(ctx, func(q store.Queries) error {
				return fx.audit(ctx, q, access.SystemActor, "user.offboard_hook_retried", "user", u.ID, nil, nil, nil)
			}); aerr != nil {
				s.log.ErrorContext(ctx, "audit of a retried offboard hook failed", "user", u.ID, "err", aerr)
			}
		}
		return
	}
	s.log.ErrorContext(ctx, "offboard hook failed; the offboarding stands", "user", u.ID, "err", err)
	fx := &effects{now: s.now()}
	if aerr := s.st.InTx(ctx, func(q store.Queries) error {
		return fx.audit(ctx, q, access.SystemActor, "user.offboard_hook_failed", "user", u.ID, nil, nil, map[string]any{"error": err.Error()})
	}); aerr != nil {
		s.log.ErrorContext(ctx, "audit of a failed offboard hook failed", "user", u.ID, "err", aerr)
	}
}

// checkOffboarder allows an active admin (not on themselves), a live SCIM
// client, or the system.
func checkOffboarder(ctx context.Context, q store.Queries, actorID, userID string) error {
	switch {
	case actorID == access.SystemActor:
		return nil
	case strings.HasPrefix(actorID, ScimActorPrefix):
		c, err := q.ScimClientGetByID(ctx, actorID)
		if errors.Is(err, store.ErrNotFound) {
			return access.Errorf(access.CodeUnauthorized, "unknown provisioning client %q", actorID)
		}
		if err != nil {
			return fmt.Errorf("load provisioning client: %w", err)
		}
		if !c.RevokedAt.IsZero() {
			return access.Errorf(access.CodeUnauthorized, "provisioning client %s is revoked", c.Name)
		}
		return nil
	}
	actor, err := loadActor(ctx, q, actorID)
	if err != nil {
		return err
	}
	if !actor.HasRole(access.RoleAdmin) {
		return &access.Error{Code: access.CodeForbidden, Message: "only an admin may offboard a person", Err: access.ErrNotEligible}
	}
	if actor.ID == userID {
		return access.Errorf(access.CodeInvalid, "you cannot offboard yourself")
	}
	return nil
}

// offboardSystem is the identity a request is cancelled with on behalf of
// offboarding (an admin's rights, no person).
func offboardSystem() *access.User {
	return &access.User{ID: access.SystemActor, Status: access.UserActive, Roles: []access.Role{access.RoleAdmin}}
}

// offboardRequests cancels u's pending requests.
func (s *Service) offboardRequests(ctx context.Context, q store.Queries, fx *effects, actorID string, u *access.User, reason string, res *OffboardResult) error {
	for {
		rs, _, err := q.RequestList(ctx, store.RequestListParams{Page: store.Page{Limit: offboardPage},
			States: []access.RequestState{access.RequestPending}, RequesterID: u.ID})
		if err != nil {
			return fmt.Errorf("list pending requests: %w", err)
		}
		if len(rs) == 0 {
			return nil
		}
		for _, r := range rs {
			before := *r
			if err := r.Cancel(offboardSystem(), fx.now); err != nil {
				return err
			}
			if err := q.RequestUpdate(ctx, r); err != nil {
				return fmt.Errorf("save request: %w", err)
			}
			if err := fx.audit(ctx, q, actorID, "request.cancelled", "request", r.ID, &before, r,
				map[string]any{"offboarded": u.ID, "reason": reason}); err != nil {
				return err
			}
			if err := s.notifyDecided(ctx, q, fx, r); err != nil {
				return err
			}
			res.CancelledRequests = append(res.CancelledRequests, r.ID)
		}
	}
}

// offboardGrants starts revoking u's active grants and fails those not yet
// provisioned. Grants already being revoked are left to their jobs.
func (s *Service) offboardGrants(ctx context.Context, q store.Queries, fx *effects, actorID string, u *access.User, reason string, res *OffboardResult) error {
	why := "offboarded"
	if reason != "" {
		why += ": " + reason
	}
	for {
		gs, _, err := q.GrantList(ctx, store.GrantListParams{Page: store.Page{Limit: offboardPage}, UserID: u.ID,
			States: []access.GrantState{access.GrantActive, access.GrantPending, access.GrantProvisioning}})
		if err != nil {
			return fmt.Errorf("list grants: %w", err)
		}
		if len(gs) == 0 {
			return nil
		}
		for _, g := range gs {
			g, err := q.GrantGetByID(ctx, g.ID, true)
			if err != nil {
				return fmt.Errorf("load grant: %w", err)
			}
			before := *g
			must, err := g.BeginRevoke(why, fx.now)
			if err != nil {
				return err
			}
			if err := q.GrantUpdate(ctx, g); err != nil {
				return fmt.Errorf("save grant: %w", err)
			}
			if err := fx.audit(ctx, q, actorID, "grant.revoke_requested", "grant", g.ID, &before, g,
				map[string]any{"offboarded": u.ID, "reason": reason}); err != nil {
				return err
			}
			if must {
				fx.jobs.Revoke = append(fx.jobs.Revoke, Timed{g.ID, fx.now})
			} else if err := s.settleRequest(ctx, q, fx, g.RequestID); err != nil {
				return err
			}
			res.RevokedGrants = append(res.RevokedGrants, g.ID)
		}
	}
}

// offboardApprovals removes u from the open steps of every pending request
// that names them (as an approver, or as an escalation approver not asked
// yet), and gives the step to the remaining eligible approvers. It reads
// every pending request: the approver index knows only who was asked.
func (s *Service) offboardApprovals(ctx context.Context, q store.Queries, fx *effects, actorID string, u *access.User, res *OffboardResult) error {
	cursor := ""
	for {
		rs, next, err := q.RequestList(ctx, store.RequestListParams{Page: store.Page{Cursor: cursor, Limit: offboardPage},
			States: []access.RequestState{access.RequestPending}})
		if err != nil {
			return fmt.Errorf("list pending requests: %w", err)
		}
		for _, r := range rs {
			if !namesApprover(r, u.ID) {
				continue
			}
			if err := s.reassign(ctx, q, fx, actorID, u, r.ID, res); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// namesApprover reports whether an open step of r names id.
func namesApprover(r *access.Request, id string) bool {
	for i := max(r.CurrentStep, 0); i < len(r.Steps); i++ {
		st := r.Steps[i]
		if slices.Contains(st.Eligible, id) || slices.Contains(st.Notified, id) || slices.Contains(st.EscalateTo, id) {
			return true
		}
	}
	return false
}

// reassign moves the steps of request id that wait on u to the others.
func (s *Service) reassign(ctx context.Context, q store.Queries, fx *effects, actorID string, u *access.User, id string, res *OffboardResult) error {
	r, err := q.RequestGetByID(ctx, id, true)
	if err != nil {
		return fmt.Errorf("load request %s: %w", id, err)
	}
	if r.State != access.RequestPending {
		return nil
	}
	decided := func(uid string) bool {
		return slices.ContainsFunc(r.Decisions, func(d access.Decision) bool { return d.ApproverID == uid })
	}
	if decided(u.ID) {
		// Their decision stands; nothing waits on them.
		return nil
	}
	var planned [][]string
	var plannedEsc [][]string
	planLoaded := false
	loadPlan := func() {
		if planLoaded {
			return
		}
		planLoaded = true
		plan, err := s.planFor(ctx, q, r)
		if err != nil || len(plan.Steps) != len(r.Steps) {
			s.log.WarnContext(ctx, "offboarding: the policy plan no longer matches the request's steps; only the approvers already eligible remain",
				"request", r.ID, "err", err)
			return
		}
		for _, ps := range plan.Steps {
			var el, esc []string
			for _, a := range ps.Eligible {
				el = append(el, a.UserID)
			}
			for _, a := range ps.EscalateTo {
				esc = append(esc, a.UserID)
			}
			planned = append(planned, el)
			plannedEsc = append(plannedEsc, esc)
		}
	}
	type stepChange struct {
		Step      int      `json:"step"`
		Added     []string `json:"added,omitempty"`
		Notified  []string `json:"notified,omitempty"`
		Escalated bool     `json:"escalated,omitempty"`
		Short     int      `json:"short,omitempty"`
	}
	var changes []stepChange
	before := *r
	before.Steps = slices.Clone(r.Steps)
	for i := r.CurrentStep; i < len(r.Steps); i++ {
		st := &r.Steps[i]
		if !slices.Contains(st.Eligible, u.ID) && !slices.Contains(st.Notified, u.ID) {
			if slices.Contains(st.EscalateTo, u.ID) {
				// Not asked yet: they only leave the escalation list.
				st.EscalateTo = slices.DeleteFunc(slices.Clone(st.EscalateTo), func(x string) bool { return x == u.ID })
				changes = append(changes, stepChange{Step: i})
			}
			continue
		}
		loadPlan()
		wasNotified := slices.Contains(st.Notified, u.ID)
		st.Eligible = slices.DeleteFunc(slices.Clone(st.Eligible), func(x string) bool { return x == u.ID })
		st.Notified = slices.DeleteFunc(slices.Clone(st.Notified), func(x string) bool { return x == u.ID })
		st.EscalateTo = slices.DeleteFunc(slices.Clone(st.EscalateTo), func(x string) bool { return x == u.ID })
		ch := stepChange{Step: i}
		if i < len(planned) {
			for _, id := range planned[i] {
				if id != r.RequesterID && id != u.ID && !slices.Contains(st.Eligible, id) && !decided(id) {
					st.Eligible = append(st.Eligible, id)
					ch.Added = append(ch.Added, id)
				}
			}
		}
		need := st.Required - r.Approvals(i)
		open := func(ids []string) int {
			n := 0
			for _, id := range ids {
				if !decided(id) {
					n++
				}
			}
			return n
		}
		if open(st.Eligible) < need {
			// The step's escalation approvers fixed at submit (still
			// active), and those the policy names now.
			var esc []string
			for _, id := range st.EscalateTo {
				p, err := q.UserGetByID(ctx, id)
				if err == nil && p.Active() {
					esc = append(esc, id)
				} else if err != nil && !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("load escalation approver: %w", err)
				}
			}
			if i < len(plannedEsc) {
				for _, id := range plannedEsc[i] {
					if !slices.Contains(esc, id) {
						esc = append(esc, id)
					}
				}
			}
			for _, id := range esc {
				if id != r.RequesterID && id != u.ID && !slices.Contains(st.Eligible, id) && !decided(id) {
					st.Eligible = append(st.Eligible, id)
					st.Notified = append(st.Notified, id)
					ch.Added = append(ch.Added, id)
					ch.Notified = append(ch.Notified, id)
					ch.Escalated = true
				}
			}
			if ch.Escalated {
				st.Escalated = true
			}
		}
		if wasNotified && open(st.Notified) < need {
			// The requester chose them: ask every other eligible person.
			for _, id := range st.Eligible {
				if !slices.Contains(st.Notified, id) && !decided(id) {
					st.Notified = append(st.Notified, id)
					ch.Notified = append(ch.Notified, id)
				}
			}
		}
		if short := need - open(st.Eligible); short > 0 {
			ch.Short = short
		}
		changes = append(changes, ch)
	}
	if len(changes) == 0 {
		return nil
	}
	r.UpdatedAt = fx.now
	if err := q.RequestUpdate(ctx, r); err != nil {
		return fmt.Errorf("save request: %w", err)
	}
	res.Reassigned = append(res.Reassigned, r.ID)
	escalated, short := false, false
	for _, ch := range changes {
		escalated = escalated || ch.Escalated
		short = short || ch.Short > 0
		if ch.Step != r.CurrentStep {
			continue // later steps notify when they open
		}
		for _, id := range ch.Notified {
			if err := fx.notify(ctx, q, access.NotifyApprovalRequested, id, r.ID, "", fmt.Sprintf("%s/%d/offboarded/%s", r.ID, ch.Step, u.ID),
				map[string]string{"step": r.Steps[ch.Step].Name, "replaces": u.ID}); err != nil {
				return err
			}
		}
	}
	if escalated {
		res.Escalated = append(res.Escalated, r.ID)
	}
	if short {
		res.Unapprovable = append(res.Unapprovable, r.ID)
	}
	return fx.audit(ctx, q, actorID, "request.approvers_reassigned", "request", r.ID, &before, r,
		map[string]any{"offboarded": u.ID, "steps": changes, "escalated": escalated, "unapprovable": short})
}
