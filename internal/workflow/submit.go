package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
)

// MaxReasonLength bounds a request's reason and a decision's comment.
const MaxReasonLength = 2000

// SubmitParams is a new request.
type SubmitParams struct {
	// Entitlements are entitlement IDs ("github:admin"), all of one app.
	Entitlements []string
	// Duration is how long access should last; zero takes the policy's
	// default duration.
	Duration time.Duration
	Reason   string
	// Approvers are user IDs or emails chosen among the eligible, for
	// steps where the requester chooses. Empty asks everyone eligible.
	Approvers []string
}

// Preview evaluates the policy for a prospective request without storing
// anything: the front ends use it to show the max duration and the
// approvers to choose from. Validation errors are coded.
func (s *Service) Preview(ctx context.Context, actorID string, entitlements []string, d time.Duration) (*policy.Plan, error) {
	actor, err := loadActor(ctx, s.st, actorID)
	if err != nil {
		return nil, err
	}
	app, ents, err := s.loadEntitlements(ctx, s.st, entitlements)
	if err != nil {
		return nil, err
	}
	return s.policy.Evaluate(ctx, s.st, policy.Input{Requester: actor, App: app, Entitlements: ents, Duration: d, Now: s.now()})
}

// loadEntitlements resolves IDs to entitlements of one app, all
// requestable.
func (s *Service) loadEntitlements(ctx context.Context, q store.Queries, idsIn []string) (*access.App, []*access.Entitlement, error) {
	if len(idsIn) == 0 {
		return nil, nil, access.Invalid("invalid request", access.FieldError{Field: "entitlements", Message: "name at least one entitlement"})
	}
	if len(idsIn) > 20 {
		return nil, nil, access.Invalid("invalid request", access.FieldError{Field: "entitlements", Message: "at most 20 entitlements per request"})
	}
	var fields []access.FieldError
	var ents []*access.Entitlement
	appID := ""
	seen := map[string]bool{}
	for i, id := range idsIn {
		f := fmt.Sprintf("entitlements[%d]", i)
		if seen[id] {
			fields = append(fields, access.FieldError{Field: f, Message: id + " is listed twice"})
			continue
		}
		seen[id] = true
		e, err := q.EntitlementGetByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			fields = append(fields, access.FieldError{Field: f, Message: "unknown entitlement " + strconvQuote(id)})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("load entitlement: %w", err)
		}
		if !e.Requestable {
			fields = append(fields, access.FieldError{Field: f, Message: id + " cannot be requested"})
			continue
		}
		if appID == "" {
			appID = e.AppID
		} else if e.AppID != appID {
			fields = append(fields, access.FieldError{Field: f, Message: "all entitlements of a request must belong to one app (" + appID + ")"})
			continue
		}
		ents = append(ents, e)
	}
	if len(fields) > 0 {
		return nil, nil, access.Invalid("invalid request", fields...)
	}
	app, err := q.AppGetByID(ctx, appID)
	if err != nil {
		return nil, nil, fmt.Errorf("load app %s: %w", appID, err)
	}
	return app, ents, nil
}

func strconvQuote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// Submit validates and stores a new request from actorID, and asks its
// first step's approvers (or approves it at once when a rule allows). It
// refuses a request that nobody could approve, explaining why. A request
// for one entitlement the requester already holds (an active grant)
// becomes an extension request of that grant (the returned request's
// ExtendsGrantID says so; see RequestExtension); one that overlaps a
// pending request or a grant being set up is refused.
func (s *Service) Submit(ctx context.Context, actorID string, p SubmitParams) (*access.Request, error) {
	var req *access.Request
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		app, ents, err := s.loadEntitlements(ctx, q, p.Entitlements)
		if err != nil {
			return err
		}
		entIDs := make([]string, len(ents))
		for i, e := range ents {
			entIDs[i] = e.ID
		}
		held, err := overlap(ctx, q, actor.ID, app.ID, entIDs)
		if err != nil {
			return err
		}
		if held != nil {
			// The requester already holds it: this asks for more time.
			req, err = s.submitExtension(ctx, q, fx, actor, held, p)
			return err
		}
		plan, err := s.policy.Evaluate(ctx, q, policy.Input{Requester: actor, App: app, Entitlements: ents,
			Duration: p.Duration, Reason: p.Reason, Now: fx.now})
		if err != nil {
			return err
		}
		r, err := s.buildRequest(ctx, q, actor, app, ents, plan, p, fx.now)
		if err != nil {
			return err
		}
		if plan.AutoApproveRule != "" {
			if err := r.AutoApprove(plan.AutoApproveRule, fx.now); err != nil {
				return err
			}
		}
		if err := q.RequestCreate(ctx, r); err != nil {
			return fmt.Errorf("store request: %w", err)
		}
		if err := fx.audit(ctx, q, actor.ID, "request.submitted", "request", r.ID, nil, r,
			map[string]any{"policy": plan.PolicyID, "why": plan.Why}); err != nil {
			return err
		}
		if err := fx.notify(ctx, q, access.NotifyRequestCreated, actor.ID, r.ID, "", r.ID, nil); err != nil {
			return err
		}
		if r.State == access.RequestApproved {
			if err := fx.audit(ctx, q, access.SystemActor, "request.auto_approved", "request", r.ID, nil, nil,
				map[string]any{"rule": plan.AutoApproveRule}); err != nil {
				return err
			}
			if err := s.approved(ctx, q, fx, r, nil); err != nil {
				return err
			}
		} else {
			if err := s.askStep(ctx, q, fx, r); err != nil {
				return err
			}
			if rm := plan.Reminders; rm.After > 0 && rm.Max > 0 {
				fx.jobs.Remind = append(fx.jobs.Remind, Reminder{r.ID, 1, fx.now.Add(rm.After)})
			}
		}
		req = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return req, nil
}

// buildRequest checks duration, reason and approver choices against plan
// and returns the pending request.
func (s *Service) buildRequest(ctx context.Context, q store.Queries, actor *access.User, app *access.App,
	ents []*access.Entitlement, plan *policy.Plan, p SubmitParams, now time.Time) (*access.Request, error) {
	var fields []access.FieldError
	d := p.Duration
	if d == 0 {
		d = plan.DefaultDuration
	}
	if d == 0 {
		fields = append(fields, access.FieldError{Field: "duration", Message: "is required"})
	} else if err := access.CheckDuration(d, plan.MaxDuration); err != nil {
		if ae, ok := errors.AsType[*access.Error](err); ok {
			fields = append(fields, ae.Fields...)
		}
	}
	reason := strings.TrimSpace(p.Reason)
	if len(reason) > MaxReasonLength {
		fields = append(fields, access.FieldError{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", MaxReasonLength)})
	} else {
		fields = append(fields, plan.CheckReason(reason)...)
	}
	if bad, why := plan.Unapprovable(); bad {
		return nil, access.Errorf(access.CodeInvalid, "nobody can approve this request: %s", why)
	}
	chosen, err := resolveChosen(ctx, q, p.Approvers)
	if err != nil {
		return nil, err
	}
	steps := make([]access.Step, 0, len(plan.Steps))
	for i, ps := range plan.Steps {
		if len(ps.Eligible) < ps.Required {
			return nil, access.Errorf(access.CodeInvalid,
				"nobody can approve this request: step %d (%s) of policy %s needs %d approval(s) but has %d eligible approver(s) other than you (%s)",
				i+1, ps.Name, plan.PolicyID, ps.Required, len(ps.Eligible), strings.Join(plan.Why, "; "))
		}
		st := access.Step{Name: ps.Name, Required: ps.Required, EscalateAfter: ps.EscalateAfter}
		if i == 0 {
			st.OpenedAt = now
		}
		for _, a := range ps.Eligible {
			st.Eligible = append(st.Eligible, a.UserID)
		}
		for _, a := range ps.EscalateTo {
			st.EscalateTo = append(st.EscalateTo, a.UserID)
		}
		if ps.RequesterChooses && len(chosen) > 0 {
			for _, id := range chosen {
				if slices.Contains(st.Eligible, id) {
					st.Notified = append(st.Notified, id)
				}
			}
			if len(st.Notified) < ps.Choose {
				fields = append(fields, access.FieldError{Field: "approvers",
					Message: fmt.Sprintf("choose at least %d eligible approver(s) for step %q; eligible: %s", ps.Choose, ps.Name, approverList(ps.Eligible))})
			}
		} else {
			st.Notified = slices.Clone(st.Eligible)
		}
		steps = append(steps, st)
	}
	for _, id := range chosen {
		if !slices.ContainsFunc(steps, func(st access.Step) bool { return slices.Contains(st.Eligible, id) }) {
			fields = append(fields, access.FieldError{Field: "approvers", Message: id + " is not an eligible approver of this request"})
		}
	}
	if len(fields) > 0 {
		return nil, access.Invalid("invalid request", fields...)
	}
	entIDs := make([]string, len(ents))
	for i, e := range ents {
		entIDs[i] = e.ID
	}
	return &access.Request{
		ID:             ids.New("req", now),
		RequesterID:    actor.ID,
		AppID:          app.ID,
		EntitlementIDs: entIDs,
		Duration:       d,
		MaxDuration:    plan.MaxDuration,
		Reason:         reason,
		State:          access.RequestPending,
		PolicyID:       plan.PolicyID,
		Steps:          steps,
		CreatedAt:      now,
		UpdatedAt:      now,
		PendingUntil:   now.Add(plan.PendingTimeout),
	}, nil
}

func approverList(as []policy.Approver) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Email
	}
	return strings.Join(out, ", ")
}

// resolveChosen maps chosen approvers (IDs or emails) to user IDs.
func resolveChosen(ctx context.Context, q store.Queries, in []string) ([]string, error) {
	var out []string
	var fields []access.FieldError
	for _, a := range in {
		var u *access.User
		var err error
		if strings.Contains(a, "@") {
			u, err = q.UserGetByEmail(ctx, strings.ToLower(a))
		} else {
			u, err = q.UserGetByID(ctx, a)
		}
		if errors.Is(err, store.ErrNotFound) {
			fields = append(fields, access.FieldError{Field: "approvers", Message: "unknown user " + strconvQuote(a)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resolve approver: %w", err)
		}
		if !slices.Contains(out, u.ID) {
			out = append(out, u.ID)
		}
	}
	if len(fields) > 0 {
		return nil, access.Invalid("invalid request", fields...)
	}
	return out, nil
}

// overlap looks for what a request by requesterID for entIDs (of appID)
// would overlap. A pending request for one of them, or a grant of one of
// them still being set up, is a conflict. An active grant of one of them
// is returned: a request that names only that entitlement becomes an
// extension of it; one that names more is a conflict.
func overlap(ctx context.Context, q store.Queries, requesterID, appID string, entIDs []string) (*access.Grant, error) {
	open, err := q.RequestListOpen(ctx, requesterID, appID)
	if err != nil {
		return nil, fmt.Errorf("check overlapping requests: %w", err)
	}
	var held *access.Grant
	for _, o := range open {
		for _, e := range entIDs {
			if !slices.Contains(o.EntitlementIDs, e) {
				continue
			}
			if o.State == access.RequestPending {
				what := "a pending request"
				if o.IsExtension() {
					what = "a pending extension request"
				}
				return nil, access.Errorf(access.CodeConflict, "you already have %s %s for %s", what, o.ID, e)
			}
			grants, err := q.GrantListByRequest(ctx, o.ID)
			if err != nil {
				return nil, fmt.Errorf("check overlapping grants: %w", err)
			}
			for _, g := range grants {
				if g.EntitlementID != e {
					continue
				}
				switch g.State {
				case access.GrantPending, access.GrantProvisioning:
					return nil, access.Errorf(access.CodeConflict, "your access to %s through request %s (grant %s) is still being set up", e, o.ID, g.ID)
				case access.GrantActive:
					if len(entIDs) > 1 {
						return nil, access.Errorf(access.CodeConflict,
							"you already have %s (grant %s, until %s): ask for more time on it alone (an extension), and for the other entitlements in a separate request",
							e, g.ID, g.ExpiresAt.Format(time.RFC3339))
					}
					held = g
				default:
				}
			}
		}
	}
	return held, nil
}

// askStep notifies the approvers of the request's current step.
func (s *Service) askStep(ctx context.Context, q store.Queries, fx *effects, r *access.Request) error {
	st := r.Steps[r.CurrentStep]
	for _, id := range st.Notified {
		if err := fx.notify(ctx, q, access.NotifyApprovalRequested, id, r.ID, "", fmt.Sprintf("%s/%d", r.ID, r.CurrentStep),
			map[string]string{"step": st.Name}); err != nil {
			return err
		}
	}
	return nil
}

// approved creates one grant per entitlement of an approved request and
// enqueues their provisioning.
func (s *Service) approved(ctx context.Context, q store.Queries, fx *effects, r *access.Request, decider *access.User) error {
	for _, entID := range r.EntitlementIDs {
		g := &access.Grant{
			ID:            ids.New("grt", fx.now),
			RequestID:     r.ID,
			UserID:        r.RequesterID,
			AppID:         r.AppID,
			EntitlementID: entID,
			State:         access.GrantPending,
			Duration:      r.Duration,
			MaxDuration:   r.MaxDuration,
			CreatedAt:     fx.now,
			UpdatedAt:     fx.now,
		}
		if err := q.GrantCreate(ctx, g); err != nil {
			return fmt.Errorf("create grant: %w", err)
		}
		if err := fx.audit(ctx, q, access.SystemActor, "grant.created", "grant", g.ID, nil, g, nil); err != nil {
			return err
		}
		fx.jobs.Provision = append(fx.jobs.Provision, g.ID)
	}
	data := map[string]string{}
	if decider != nil {
		data["by"] = decider.ID
	}
	return fx.notify(ctx, q, access.NotifyRequestApproved, r.RequesterID, r.ID, "", r.ID, data)
}

// Simulator is a Policy that can explain itself; *policy.Engine is one.
type Simulator interface {
	Simulate(ctx context.Context, dir policy.Directory, in policy.Input) (*policy.Simulation, error)
}

// SimulateParams is a hypothetical request.
type SimulateParams struct {
	// RequesterEmail is who would ask; "" is the actor.
	RequesterEmail string
	Entitlements   []string
	Duration       time.Duration
	Reason         string
	// At is when (zero: now), for conditions on the time of day and on-call.
	At time.Time
}

// Simulate explains what the policies would do with a request: which
// policy matches and why others do not, the steps and their eligible
// approvers with reasons, auto-approval, limits. Anyone may simulate their
// own requests; only admins and auditors may simulate someone else's.
// Nothing is stored.
func (s *Service) Simulate(ctx context.Context, actorID string, p SimulateParams) (*policy.Simulation, error) {
	actor, err := loadActor(ctx, s.st, actorID)
	if err != nil {
		return nil, err
	}
	requester := actor
	if p.RequesterEmail != "" && !strings.EqualFold(p.RequesterEmail, actor.Email) {
		if !actor.HasRole(access.RoleAdmin) && !actor.HasRole(access.RoleAuditor) {
			return nil, access.Errorf(access.CodeForbidden, "only admins and auditors may simulate requests of other people")
		}
		requester, err = s.st.UserGetByEmail(ctx, strings.ToLower(p.RequesterEmail))
		if err != nil {
			return nil, notFound(err, "user", p.RequesterEmail)
		}
	}
	return s.SimulateFor(ctx, requester, p)
}

// SimulateFor is Simulate for a known requester, without the actor check
// (for operator tools).
func (s *Service) SimulateFor(ctx context.Context, requester *access.User, p SimulateParams) (*policy.Simulation, error) {
	sim, ok := s.policy.(Simulator)
	if !ok {
		return nil, access.Errorf(access.CodeUnavailable, "the policy engine cannot simulate")
	}
	app, ents, err := s.loadEntitlements(ctx, s.st, p.Entitlements)
	if err != nil {
		return nil, err
	}
	at := p.At
	if at.IsZero() {
		at = s.now()
	}
	return sim.Simulate(ctx, s.st, policy.Input{Requester: requester, App: app, Entitlements: ents, Duration: p.Duration, Reason: p.Reason, Now: at})
}
