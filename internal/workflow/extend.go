package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
)

// ExtensionParams is a holder asking for more time on one of their grants.
type ExtensionParams struct {
	GrantID string
	// Duration is how long access should last from the approval of the
	// extension; zero takes the policy's default duration. It is bounded by
	// the max durations that apply to a new request (entitlement, policy,
	// org), and the new expiry must be later than the current one.
	Duration time.Duration
	Reason   string
	// Approvers are chosen as for SubmitParams.Approvers.
	Approvers []string
}

// RequestExtension makes an extension request: the holder of an active
// grant asks for more time. The policy that applies to the grant's
// entitlement for the holder now decides how (policy.ExtensionRule): its
// steps approve it like a new request, or it is approved at once (auto, or
// within auto_within), or refused (deny). Approved, the same grant's
// expiry moves (see extensionApproved); no access is provisioned again.
// Only the holder may ask (an owner of the app or an admin extends
// directly with Extend); anyone else is refused and audited.
func (s *Service) RequestExtension(ctx context.Context, actorID string, p ExtensionParams) (*access.Request, error) {
	var out *access.Request
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		g, err := q.GrantGetByID(ctx, p.GrantID, true)
		if err != nil {
			return notFound(err, "grant", p.GrantID)
		}
		if g.UserID != actor.ID {
			return &access.Error{Code: access.CodeForbidden, Err: access.ErrNotEligible,
				Message: "only the holder of a grant may ask to extend it; an owner of the app or an admin extends it directly"}
		}
		if _, err := overlap(ctx, q, actor.ID, g.AppID, []string{g.EntitlementID}); err != nil {
			return err
		}
		out, err = s.submitExtension(ctx, q, fx, actor, g, SubmitParams{Entitlements: []string{g.EntitlementID},
			Duration: p.Duration, Reason: p.Reason, Approvers: p.Approvers})
		return err
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "grant.extension_refused", "grant", p.GrantID, err)
		return nil, err
	}
	return out, nil
}

// submitExtension stores and starts the extension request of actor, the
// holder of g, in q: validated like a new request for g's entitlement,
// then approved at once, refused, or sent to the steps as the policy's
// extension rule says.
func (s *Service) submitExtension(ctx context.Context, q store.Queries, fx *effects, actor *access.User, g *access.Grant, p SubmitParams) (*access.Request, error) {
	if g.State != access.GrantActive {
		return nil, access.Errorf(access.CodeConflict, "grant %s is %s; only active grants can be extended", g.ID, g.State)
	}
	app, ents, err := s.loadEntitlements(ctx, q, []string{g.EntitlementID})
	if err != nil {
		return nil, err
	}
	plan, err := s.policy.Evaluate(ctx, q, policy.Input{Requester: actor, App: app, Entitlements: ents,
		Duration: p.Duration, Reason: p.Reason, Now: fx.now})
	if err != nil {
		return nil, err
	}
	p.Entitlements = []string{g.EntitlementID}
	r, err := s.buildRequest(ctx, q, actor, app, ents, plan, p, fx.now)
	if err != nil {
		return nil, err
	}
	r.ExtendsGrantID = g.ID
	until := fx.now.Add(r.Duration)
	if !until.After(g.ExpiresAt) {
		return nil, access.Invalid("invalid extension", access.FieldError{Field: "duration",
			Message: fmt.Sprintf("your access already lasts until %s; ask for more than %s",
				g.ExpiresAt.Format(time.RFC3339), access.FormatDuration(g.ExpiresAt.Sub(fx.now).Round(time.Minute)))})
	}
	deny, rule := plan.ExtensionDecision(until.Sub(g.ExpiresAt))
	if deny != "" {
		return nil, access.Errorf(access.CodeInvalid, "%s", deny)
	}
	if rule != "" {
		if err := r.AutoApprove(rule, fx.now); err != nil {
			return nil, err
		}
	}
	if err := q.RequestCreate(ctx, r); err != nil {
		return nil, fmt.Errorf("store request: %w", err)
	}
	if err := fx.audit(ctx, q, actor.ID, "request.submitted", "request", r.ID, nil, r,
		map[string]any{"policy": plan.PolicyID, "why": plan.Why, "extends_grant": g.ID,
			"expires_at": g.ExpiresAt.Format(time.RFC3339), "asked_until": until.Format(time.RFC3339)}); err != nil {
		return nil, err
	}
	if err := fx.notify(ctx, q, access.NotifyRequestCreated, actor.ID, r.ID, g.ID, r.ID,
		map[string]string{"extends_grant": g.ID, "expires_at": g.ExpiresAt.Format(time.RFC3339)}); err != nil {
		return nil, err
	}
	if r.State == access.RequestApproved {
		if err := fx.audit(ctx, q, access.SystemActor, "request.auto_approved", "request", r.ID, nil, nil,
			map[string]any{"rule": rule, "extends_grant": g.ID}); err != nil {
			return nil, err
		}
		return r, s.extensionApproved(ctx, q, fx, r, nil)
	}
	if err := s.askStep(ctx, q, fx, r); err != nil {
		return nil, err
	}
	if rm := plan.Reminders; rm.After > 0 && rm.Max > 0 {
		fx.jobs.Remind = append(fx.jobs.Remind, Reminder{r.ID, 1, fx.now.Add(rm.After)})
	}
	return r, nil
}

// extensionApproved applies the approved extension request r: the grant
// it names, still active and still the requester's, has its expiry moved
// to now + r.Duration (r.MaxDuration bounds it), its revocation
// rescheduled, and the target's own expiry updated by a job; r ends
// extended. A grant that ended meanwhile (or an approved duration that
// would shorten it) ends r failed. Either way the requester is told.
// decider is nil for an automatic approval.
func (s *Service) extensionApproved(ctx context.Context, q store.Queries, fx *effects, r *access.Request, decider *access.User) error {
	g, err := q.GrantGetByID(ctx, r.ExtendsGrantID, true)
	if err != nil {
		return fmt.Errorf("load extended grant %s: %w", r.ExtendsGrantID, err)
	}
	before := *g
	why := ""
	switch {
	case g.UserID != r.RequesterID:
		why = fmt.Sprintf("grant %s is not the requester's", g.ID)
	case g.State != access.GrantActive:
		why = fmt.Sprintf("grant %s is %s: it ended before the extension was approved; request the access again", g.ID, g.State)
	default:
		if err := g.Extend(r.Duration, r.MaxDuration, fx.now); err != nil {
			if _, coded := errors.AsType[*access.Error](err); !coded {
				return err
			}
			why = fmt.Sprintf("the approved duration (%s from now) would not move the expiry of grant %s (%s)",
				access.FormatDuration(r.Duration), g.ID, g.ExpiresAt.Format(time.RFC3339))
		}
	}
	if err := r.FinishExtension(why == "", fx.now); err != nil {
		return err
	}
	if err := q.RequestUpdate(ctx, r); err != nil {
		return fmt.Errorf("save request: %w", err)
	}
	if why != "" {
		if err := fx.audit(ctx, q, access.SystemActor, "request.extension_failed", "request", r.ID, nil, nil,
			map[string]any{"grant": g.ID, "error": why}); err != nil {
			return err
		}
		return fx.notify(ctx, q, access.NotifyExtensionFailed, r.RequesterID, r.ID, g.ID, r.ID, map[string]string{"error": why})
	}
	actor := access.SystemActor
	data := map[string]string{"expires_at": g.ExpiresAt.Format(time.RFC3339), "previous_expires_at": before.ExpiresAt.Format(time.RFC3339),
		"request": r.ID}
	if decider != nil {
		actor = decider.ID
		data["by"] = decider.ID
	} else if r.AutoApproveRule != "" {
		data["rule"] = r.AutoApproveRule
	}
	return s.extended(ctx, q, fx, actor, &before, g, data)
}

// extended saves g after its expiry moved from before's, audits it,
// reschedules its revocation and the target's expiry, and tells the
// holder. g's TargetExpiresAt did not move with ExpiresAt
// (access.Grant.Extend), so g is saved TargetBehind in the same
// transaction: if the ExtendTarget job is lost, the sweeper finds g and
// enqueues it again.
func (s *Service) extended(ctx context.Context, q store.Queries, fx *effects, actorID string, before, g *access.Grant, data map[string]string) error {
	if err := q.GrantUpdate(ctx, g); err != nil {
		return fmt.Errorf("save grant: %w", err)
	}
	auditData := map[string]any{"from": before.ExpiresAt.Format(time.RFC3339), "to": g.ExpiresAt.Format(time.RFC3339)}
	for k, v := range data {
		auditData[k] = v
	}
	if err := fx.audit(ctx, q, actorID, "grant.extended", "grant", g.ID, before, g, auditData); err != nil {
		return err
	}
	fx.jobs.Revoke = append(fx.jobs.Revoke, Timed{g.ID, g.ExpiresAt})
	fx.jobs.ExtendTarget = append(fx.jobs.ExtendTarget, Timed{g.ID, g.ExpiresAt})
	return fx.notify(ctx, q, access.NotifyGrantExtended, g.UserID, g.RequestID, g.ID,
		g.ID+"/"+g.ExpiresAt.Format(time.RFC3339Nano), data)
}

// ExtendTarget moves the expiry a connector set in the target (a login's
// VALID UNTIL) to grantID's current expiry, after an extension. Connectors
// without one (connector.ExpiryExtender) have nothing to do. Idempotent; a
// grant no longer active is left alone. A retryable failure returns an
// error for the job queue to retry; a permanent one is audited and the
// app's owners are alerted (the grant itself stays extended: Sesame still
// revokes it at the new expiry; only the target may refuse logins sooner).
// Credentials the connector re-issues are sealed on the grant for the
// holder to fetch once, and the holder is told (NotifyGrantExtended with
// data credentials=reissued).
//
// The grant records the expiry applied (TargetExpiresAt) when the target
// was moved, had nothing to move, or failed for good: then it is no
// longer TargetBehind. A retryable failure leaves it behind, so that the
// sweeper enqueues this again if the job is lost or runs out of attempts.
func (s *Service) ExtendTarget(ctx context.Context, grantID string) error {
	var (
		t   connector.Target
		app *access.App
		run bool
	)
	err := s.run(ctx, func(q store.Queries, _ *effects) error {
		run = false
		g, err := q.GrantGetByID(ctx, grantID, false)
		if err != nil {
			return err
		}
		if g.State != access.GrantActive {
			return nil
		}
		t, app, err = s.target(ctx, q, g)
		if err != nil {
			return err
		}
		run = true
		return nil
	})
	if err != nil || !run {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	conn, err := s.openConnector(app)
	var creds *connector.Credentials
	if err == nil {
		ext, ok := conn.(connector.ExpiryExtender)
		if !ok {
			return s.targetSynced(ctx, grantID, t.ExpiresAt)
		}
		creds, err = ext.ExtendGrant(ctx, t)
	}
	if err != nil && !connector.IsPermanent(err) {
		return retryable(fmt.Errorf("extend grant %s in the target: %w", grantID, err))
	}
	sealed, sealFailed := "", false
	if err == nil && creds != nil {
		// Credentials that can never be kept (no key for secrets at rest)
		// are a permanent failure like the target's: reported once, not
		// re-issued by every retry and sweep.
		if sealed, err = s.sealCredentials(*creds); err != nil {
			if !connector.IsPermanent(err) {
				return err
			}
			sealFailed = true
		}
	}
	return s.run(ctx, func(q store.Queries, fx *effects) error {
		g, gerr := q.GrantGetByID(ctx, grantID, true)
		if gerr != nil {
			return gerr
		}
		// Moved, or failed for good (reported below): either way there is
		// nothing more to do for this expiry.
		changed := g.TargetSynced(t.ExpiresAt, fx.now)
		if err == nil && sealed != "" && g.State == access.GrantActive {
			g.Credentials = sealed
			g.UpdatedAt = fx.now
			changed = true
		}
		if changed {
			if uerr := q.GrantUpdate(ctx, g); uerr != nil {
				return uerr
			}
		}
		if err != nil {
			if aerr := fx.audit(ctx, q, access.SystemActor, "grant.target_extend_failed", "grant", g.ID, nil, nil,
				map[string]any{"expires_at": t.ExpiresAt.Format(time.RFC3339), "error": err.Error()}); aerr != nil {
				return aerr
			}
			why := "the grant was extended in Sesame, but the target's own expiry could not be moved: "
			if sealFailed {
				why = "the target's expiry was moved, but the credentials it issued again could not be kept: "
			}
			return s.notifyOwners(ctx, q, fx, app, access.NotifyGrantFailed, g, "extend/"+t.ExpiresAt.Format(time.RFC3339Nano),
				map[string]string{"error": why + err.Error()})
		}
		if sealed != "" && g.State == access.GrantActive {
			if nerr := fx.notify(ctx, q, access.NotifyGrantExtended, g.UserID, g.RequestID, g.ID,
				g.ID+"/credentials/"+t.ExpiresAt.Format(time.RFC3339Nano),
				map[string]string{"expires_at": t.ExpiresAt.Format(time.RFC3339), "credentials": "reissued"}); nerr != nil {
				return nerr
			}
		}
		return fx.audit(ctx, q, access.SystemActor, "grant.target_extended", "grant", g.ID, nil, nil,
			map[string]any{"expires_at": t.ExpiresAt.Format(time.RFC3339), "credentials_issued": sealed != ""})
	})
}

// targetSynced records on grantID, if still active, that its target holds
// expiry at (access.Grant.TargetSynced), in a short transaction of its own:
// for a connector that set no expiry in the target, there was nothing to
// move.
func (s *Service) targetSynced(ctx context.Context, grantID string, at time.Time) error {
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		g, err := q.GrantGetByID(ctx, grantID, true)
		if err != nil {
			return err
		}
		if !g.TargetSynced(at, fx.now) {
			return nil
		}
		return q.GrantUpdate(ctx, g)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// endExtensions cancels the pending extension requests of g, which has
// just ended: there is nothing left to extend. The holder and the
// approvers asked are told, as for any cancelled request.
func (s *Service) endExtensions(ctx context.Context, q store.Queries, fx *effects, g *access.Grant) error {
	// The holder's open requests for the app, from the index of open
	// requests: every revocation runs this.
	rs, err := q.RequestListOpen(ctx, g.UserID, g.AppID)
	if err != nil {
		return fmt.Errorf("list pending extension requests: %w", err)
	}
	for _, r := range rs {
		if r.State != access.RequestPending || r.ExtendsGrantID != g.ID {
			continue
		}
		before := *r
		if err := r.Cancel(offboardSystem(), fx.now); err != nil {
			return err
		}
		if err := q.RequestUpdate(ctx, r); err != nil {
			return fmt.Errorf("save request: %w", err)
		}
		if err := fx.audit(ctx, q, access.SystemActor, "request.cancelled", "request", r.ID, &before, r,
			map[string]any{"reason": "the grant it extends has ended", "grant": g.ID}); err != nil {
			return err
		}
		if err := s.notifyDecided(ctx, q, fx, r); err != nil {
			return err
		}
	}
	return nil
}
