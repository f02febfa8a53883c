package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
)

// Cancel withdraws a pending request (the requester or an admin).
func (s *Service) Cancel(ctx context.Context, actorID, requestID string) (*access.Request, error) {
	var out *access.Request
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		r, err := q.RequestGetByID(ctx, requestID, true)
		if err != nil {
			return notFound(err, "request", requestID)
		}
		before := *r
		if err := r.Cancel(actor, fx.now); err != nil {
			return err
		}
		if err := q.RequestUpdate(ctx, r); err != nil {
			return fmt.Errorf("save request: %w", err)
		}
		if err := fx.audit(ctx, q, actor.ID, "request.cancelled", "request", r.ID, &before, r, nil); err != nil {
			return err
		}
		if actor.ID != r.RequesterID {
			if err := fx.notify(ctx, q, access.NotifyRequestCancelled, r.RequesterID, r.ID, "", r.ID, map[string]string{"by": actor.ID}); err != nil {
				return err
			}
		}
		if err := s.notifyDecided(ctx, q, fx, r); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "request.cancel_refused", "request", requestID, err)
		return nil, err
	}
	return out, nil
}

// Remind sends a manual reminder to the approvers of the current step, at
// most once per access.ReminderInterval (the requester or an admin).
func (s *Service) Remind(ctx context.Context, actorID, requestID string) (*access.Request, error) {
	var out *access.Request
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		r, err := q.RequestGetByID(ctx, requestID, true)
		if err != nil {
			return notFound(err, "request", requestID)
		}
		if err := r.Remind(actor, fx.now); err != nil {
			return err
		}
		if err := q.RequestUpdate(ctx, r); err != nil {
			return fmt.Errorf("save request: %w", err)
		}
		if err := fx.audit(ctx, q, actor.ID, "request.reminded", "request", r.ID, nil, nil,
			map[string]any{"count": r.RemindCount, "manual": true}); err != nil {
			return err
		}
		if err := s.remindStep(ctx, q, fx, r); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// remindStep notifies the current step's approvers who have not decided.
func (s *Service) remindStep(ctx context.Context, q store.Queries, fx *effects, r *access.Request) error {
	st := r.Steps[r.CurrentStep]
	for _, id := range st.Notified {
		if slices.ContainsFunc(r.Decisions, func(d access.Decision) bool { return d.ApproverID == id }) {
			continue
		}
		if err := fx.notify(ctx, q, access.NotifyReminder, id, r.ID, "", fmt.Sprintf("%s/%d", r.ID, r.RemindCount),
			map[string]string{"step": st.Name, "count": fmt.Sprint(r.RemindCount)}); err != nil {
			return err
		}
	}
	return nil
}

// canManageGrant reports whether actor may revoke, extend or complete the
// task of g: an admin or an owner of the grant's app, never the grant's
// holder (not even an admin holder: extending or provisioning one's own
// access needs someone else), except for revoke (holderToo), which the
// holder may always do.
func canManageGrant(ctx context.Context, q store.Queries, actor *access.User, g *access.Grant, holderToo bool) (bool, error) {
	if actor.ID == g.UserID {
		return holderToo, nil
	}
	if actor.HasRole(access.RoleAdmin) {
		return true, nil
	}
	app, err := q.AppGetByID(ctx, g.AppID)
	if err != nil {
		return false, fmt.Errorf("load app: %w", err)
	}
	return slices.Contains(app.Owners, actor.ID), nil
}

// RevokeNow takes access away before it expires: the holder ("I'm done"),
// an owner of the app, or an admin.
func (s *Service) RevokeNow(ctx context.Context, actorID, grantID, reason string) (*access.Grant, error) {
	var out *access.Grant
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		g, err := q.GrantGetByID(ctx, grantID, true)
		if err != nil {
			return notFound(err, "grant", grantID)
		}
		ok, err := canManageGrant(ctx, q, actor, g, true)
		if err != nil {
			return err
		}
		if !ok {
			return &access.Error{Code: access.CodeForbidden, Message: "only the holder, an owner of the app or an admin may revoke this grant", Err: access.ErrNotEligible}
		}
		before := *g
		why := "revoked by " + actor.Email
		if r := strings.TrimSpace(reason); r != "" {
			why += ": " + r
		}
		must, err := g.BeginRevoke(why, fx.now)
		if err != nil {
			return err
		}
		if err := q.GrantUpdate(ctx, g); err != nil {
			return fmt.Errorf("save grant: %w", err)
		}
		if err := fx.audit(ctx, q, actor.ID, "grant.revoke_requested", "grant", g.ID, &before, g, map[string]any{"reason": reason}); err != nil {
			return err
		}
		if must {
			fx.jobs.Revoke = append(fx.jobs.Revoke, Timed{g.ID, fx.now})
		} else if err := s.settleRequest(ctx, q, fx, g.RequestID); err != nil {
			return err
		}
		out = g
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "grant.revoke_refused", "grant", grantID, err)
		return nil, err
	}
	return out, nil
}

// Extend moves an active grant's expiry to now+d, within the grant's max
// duration (an owner of the app or an admin, never the holder: the holder
// asks with RequestExtension). No re-provisioning happens: the revocation
// is rescheduled, the target's own expiry is moved by a job (ExtendTarget)
// and the holder is told.
func (s *Service) Extend(ctx context.Context, actorID, grantID string, d time.Duration) (*access.Grant, error) {
	var out *access.Grant
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		g, err := q.GrantGetByID(ctx, grantID, true)
		if err != nil {
			return notFound(err, "grant", grantID)
		}
		ok, err := canManageGrant(ctx, q, actor, g, false)
		if err != nil {
			return err
		}
		if !ok {
			return &access.Error{Code: access.CodeForbidden, Message: "only an owner of the app or an admin may extend a grant directly; the holder asks for more time with an extension request", Err: access.ErrNotEligible}
		}
		before := *g
		if err := g.Extend(d, g.MaxDuration, fx.now); err != nil {
			return err
		}
		if err := s.extended(ctx, q, fx, actor.ID, &before, g, map[string]string{"by": actor.ID,
			"expires_at": g.ExpiresAt.Format(time.RFC3339), "previous_expires_at": before.ExpiresAt.Format(time.RFC3339),
			"duration": access.FormatDuration(d)}); err != nil {
			return err
		}
		out = g
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "grant.extend_refused", "grant", grantID, err)
		return nil, err
	}
	return out, nil
}

// CompleteTask marks a manual task done: a grant waiting for a person to
// provision it becomes active, one waiting to be revoked becomes revoked.
// Only an owner of the app or an admin may.
func (s *Service) CompleteTask(ctx context.Context, actorID, grantID string) (*access.Grant, error) {
	var out *access.Grant
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		g, err := q.GrantGetByID(ctx, grantID, true)
		if err != nil {
			return notFound(err, "grant", grantID)
		}
		ok, err := canManageGrant(ctx, q, actor, g, false)
		if err != nil {
			return err
		}
		if !ok {
			return &access.Error{Code: access.CodeForbidden, Message: "only an owner of the app or an admin may complete a task", Err: access.ErrNotEligible}
		}
		if g.ManualTask == "" {
			return access.Errorf(access.CodeConflict, "grant %s has no task waiting for a person", g.ID)
		}
		before := *g
		switch g.State {
		case access.GrantProvisioning:
			if err := s.activate(ctx, q, fx, g); err != nil {
				return err
			}
		case access.GrantRevoking, access.GrantRevokeFailed:
			if err := s.revoked(ctx, q, fx, g); err != nil {
				return err
			}
		default:
			return access.Errorf(access.CodeConflict, "grant %s is %s", g.ID, g.State)
		}
		if err := fx.audit(ctx, q, actor.ID, "grant.task_completed", "grant", g.ID, &before, g, nil); err != nil {
			return err
		}
		out = g
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CanView reports whether actor may see request r: the requester, anyone
// eligible or asked at any step, admins and auditors.
func CanView(actor *access.User, r *access.Request) bool {
	if actor == nil {
		return false
	}
	if actor.ID == r.RequesterID || actor.HasRole(access.RoleAdmin) || actor.HasRole(access.RoleAuditor) {
		return true
	}
	for _, st := range r.Steps {
		if slices.Contains(st.Eligible, actor.ID) || slices.Contains(st.Notified, actor.ID) {
			return true
		}
	}
	return false
}

// GetRequest returns a request actorID may see, with its grants.
// Requests the actor may not see are reported as not found.
func (s *Service) GetRequest(ctx context.Context, actorID, id string) (*access.Request, []*access.Grant, error) {
	actor, err := loadActor(ctx, s.st, actorID)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.st.RequestGetByID(ctx, id, false)
	if err != nil {
		return nil, nil, notFound(err, "request", id)
	}
	if !CanView(actor, r) {
		return nil, nil, access.Errorf(access.CodeNotFound, "request %s not found", id)
	}
	grants, err := s.st.GrantListByRequest(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("load grants: %w", err)
	}
	return r, grants, nil
}

// TakeCredentials hands the credentials a connector issued for grantID to
// its holder, once: they are opened, removed from the store in the same
// transaction, and the hand-over is audited (without the secret). Only the
// holder may, only while the grant is active.
func (s *Service) TakeCredentials(ctx context.Context, actorID, grantID string) (*connector.Credentials, error) {
	var out *connector.Credentials
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		g, err := q.GrantGetByID(ctx, grantID, true)
		if err != nil {
			return notFound(err, "grant", grantID)
		}
		if g.UserID != actor.ID {
			return access.Errorf(access.CodeNotFound, "grant %s not found", grantID)
		}
		if g.State != access.GrantActive {
			return access.Errorf(access.CodeConflict, "grant %s is %s; credentials exist only while it is active", g.ID, g.State)
		}
		if g.Credentials == "" {
			return access.Errorf(access.CodeConflict, "grant %s has no credentials waiting: they were already handed over, or its connector issues none", g.ID)
		}
		if s.secrets == nil {
			return errors.New("credentials are sealed but no key for secrets is configured")
		}
		plain, err := s.secrets.Open(g.Credentials)
		if err != nil {
			return fmt.Errorf("open credentials of grant %s: %w", g.ID, err)
		}
		var c credentialsJSON
		if err := json.Unmarshal([]byte(plain), &c); err != nil {
			return fmt.Errorf("decode credentials of grant %s: %w", g.ID, err)
		}
		g.Credentials = ""
		g.UpdatedAt = fx.now
		if err := q.GrantUpdate(ctx, g); err != nil {
			return err
		}
		if err := fx.audit(ctx, q, actor.ID, "grant.credentials_retrieved", "grant", g.ID, nil, nil,
			map[string]any{"kind": c.Kind, "username": c.Username}); err != nil {
			return err
		}
		out = &connector.Credentials{Kind: c.Kind, Username: c.Username, Secret: c.Secret, Hint: c.Hint}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
