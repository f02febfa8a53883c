package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
)

// Revoke takes access away for grantID when it is due (expired) or was
// asked to be revoked. It is idempotent: a grant not yet due is left alone
// (its revocation is rescheduled at the new expiry), a revoked one too. A
// failure marks the grant revoke_failed, alerts the app's owners once, and
// returns a *RetryableError: access that should be gone is retried until it
// is gone or an admin resolves it.
func (s *Service) Revoke(ctx context.Context, grantID string) error {
	var (
		t   connector.Target
		app *access.App
		run bool
		// version is the grant's as this run found (and left) it: a
		// grant changed during the connector call (a late grant put back
		// to revoking) is not recorded revoked on the strength of a call
		// that may have run before the access landed.
		version int
	)
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		run = false
		g, err := q.GrantGetByID(ctx, grantID, true)
		if err != nil {
			return err
		}
		switch {
		case g.State == access.GrantActive && g.Due(fx.now):
			before := *g
			if _, err := g.BeginRevoke("expired", fx.now); err != nil {
				return err
			}
			if err := q.GrantUpdate(ctx, g); err != nil {
				return err
			}
			if err := fx.audit(ctx, q, access.SystemActor, "grant.expired", "grant", g.ID, &before, g, nil); err != nil {
				return err
			}
		case g.State == access.GrantActive:
			fx.jobs.Revoke = append(fx.jobs.Revoke, Timed{g.ID, g.ExpiresAt}) // extended: run at the new expiry
			return nil
		case g.State == access.GrantRevoking || g.State == access.GrantRevokeFailed:
			if g.ManualTask != "" {
				return nil // waiting for a person
			}
		default:
			return nil
		}
		t, app, err = s.target(ctx, q, g)
		if err != nil {
			return err
		}
		version = g.Version
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
	if err == nil {
		err = s.traceConnector(ctx, "revoke", app, t, func(ctx context.Context) error { return conn.Revoke(ctx, t) })
	}
	if ctx.Err() != nil {
		return &RetryableError{Err: ctx.Err()}
	}
	var retry error
	txErr := s.run(ctx, func(q store.Queries, fx *effects) error {
		retry = nil
		g, gerr := q.GrantGetByID(ctx, grantID, true)
		if gerr != nil {
			return gerr
		}
		if g.State != access.GrantRevoking && g.State != access.GrantRevokeFailed {
			return nil
		}
		if g.Version != version {
			retry = retryable(fmt.Errorf("grant %s changed while its access was being revoked; revoking again", g.ID))
			return nil
		}
		before := *g
		var pending *connector.PendingError
		switch {
		case err == nil:
			if err := s.revoked(ctx, q, fx, g); err != nil {
				return err
			}
			return fx.audit(ctx, q, access.SystemActor, "grant.revoked", "grant", g.ID, &before, g, nil)
		case errors.As(err, &pending):
			g.ManualTask = pending.Task
			g.UpdatedAt = fx.now
			if err := q.GrantUpdate(ctx, g); err != nil {
				return err
			}
			if err := fx.audit(ctx, q, access.SystemActor, "grant.task_created", "grant", g.ID, &before, g, map[string]any{"task": pending.Task}); err != nil {
				return err
			}
			return s.notifyOwners(ctx, q, fx, app, access.NotifyManualTask, g, "revoke", map[string]string{"task": pending.Task})
		}
		first := g.State == access.GrantRevoking
		if ferr := g.RevokeFailed(err.Error(), fx.now); ferr != nil {
			return ferr
		}
		if uerr := q.GrantUpdate(ctx, g); uerr != nil {
			return uerr
		}
		retry = retryable(fmt.Errorf("revoke grant %s: %w", g.ID, err))
		if !first {
			return nil
		}
		if aerr := fx.audit(ctx, q, access.SystemActor, "grant.revoke_failed", "grant", g.ID, &before, g,
			map[string]any{"error": err.Error()}); aerr != nil {
			return aerr
		}
		return s.notifyOwners(ctx, q, fx, app, access.NotifyRevokeFailed, g, "revoke_failed", map[string]string{"error": err.Error()})
	})
	if txErr != nil {
		return txErr
	}
	return retry
}

// revoked marks g revoked, tells the holder and settles the request.
func (s *Service) revoked(ctx context.Context, q store.Queries, fx *effects, g *access.Grant) error {
	if err := g.Revoked(fx.now); err != nil {
		return err
	}
	if err := q.GrantUpdate(ctx, g); err != nil {
		return err
	}
	if err := fx.notify(ctx, q, access.NotifyGrantRevoked, g.UserID, g.RequestID, g.ID, g.ID,
		map[string]string{"reason": g.RevokeReason}); err != nil {
		return err
	}
	if err := s.endExtensions(ctx, q, fx, g); err != nil {
		return err
	}
	return s.settleRequest(ctx, q, fx, g.RequestID)
}
