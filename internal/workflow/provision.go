package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
)

// RetryableError asks the job queue to try again later.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// target loads what a connector needs for g.
func (s *Service) target(ctx context.Context, q store.Queries, g *access.Grant) (connector.Target, *access.App, error) {
	u, err := q.UserGetByID(ctx, g.UserID)
	if err != nil {
		return connector.Target{}, nil, fmt.Errorf("load user %s: %w", g.UserID, err)
	}
	app, err := q.AppGetByID(ctx, g.AppID)
	if err != nil {
		return connector.Target{}, nil, fmt.Errorf("load app %s: %w", g.AppID, err)
	}
	_, key, _ := access.SplitEntitlementID(g.EntitlementID)
	return connector.Target{GrantID: g.ID, UserID: u.ID, Email: u.Email, Name: u.Name,
		AppID: app.ID, EntitlementKey: key, ExpiresAt: g.ExpiresAt}, app, nil
}

// Provision sets up access for grantID. It is
// idempotent: a grant that is no longer pending or provisioning is left
// alone, except that access the target granted after the grant was
// revoked during the call is taken back (revokeLateGrant). A retryable failure before the last attempt returns a
// *RetryableError (the queue retries with backoff); a permanent failure or
// the last attempt (counted on the grant, ProvisionAttempts) fails the grant, tells the requester and alerts the
// app's owners. A connector that hands the work to a person leaves the
// grant provisioning with a task.
func (s *Service) Provision(ctx context.Context, grantID string) error {
	var (
		t   connector.Target
		app *access.App
		run bool
	)
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		g, err := q.GrantGetByID(ctx, grantID, true)
		if err != nil {
			return err
		}
		if g.State != access.GrantPending && g.State != access.GrantProvisioning {
			run = false
			return nil
		}
		if g.ManualTask != "" {
			run = false // waiting for a person
			return nil
		}
		if err := g.StartProvisioning(fx.now); err != nil {
			return err
		}
		if err := q.GrantUpdate(ctx, g); err != nil {
			return err
		}
		t, app, err = s.target(ctx, q, g)
		if err != nil {
			return err
		}
		// The connector sets the expiry the grant will have (a login's
		// VALID UNTIL, a certificate's validity): access ends in the
		// target too if Sesame is not there to revoke it. The attempt's
		// start plus the duration, which activation keeps.
		t.ExpiresAt = fx.now.Add(g.Duration)
		run = true
		return nil
	})
	if err != nil || !run {
		if errors.Is(err, store.ErrNotFound) {
			return nil // nothing to do for a grant that does not exist
		}
		return err
	}

	var sealedCreds string
	conn, err := s.openConnector(app)
	if err == nil {
		err = s.traceConnector(ctx, "grant", app, t, func(ctx context.Context) error {
			var gerr error
			sealedCreds, gerr = s.grantOn(ctx, conn, t)
			return gerr
		})
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down mid-call: leave the grant provisioning; the retry
		// (or the sweeper) runs it again, and Grant is idempotent.
		return &RetryableError{Err: ctx.Err()}
	}
	// What the target granted is recorded even if ctx ended as the call
	// returned (a job timeout, a shutdown): unrecorded, a grant revoked
	// meanwhile would leave the access in the target.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var retry error
	txErr := s.run(ctx, func(q store.Queries, fx *effects) error {
		retry = nil
		g, gerr := q.GrantGetByID(ctx, grantID, true)
		if gerr != nil {
			return gerr
		}
		if g.State != access.GrantProvisioning {
			if err == nil && g.State != access.GrantActive {
				// Revoked (or failed) while the connector was granting:
				// the target holds access Sesame does not grant. Take it
				// back, after this grant call (a revocation that ran
				// during it found nothing to take).
				return s.revokeLateGrant(ctx, q, fx, g, sealedCreds != "")
			}
			return nil // active already (another run), or failed meanwhile
		}
		before := *g
		var pending *connector.PendingError
		switch {
		case err == nil:
			g.Credentials = sealedCreds
			if err := s.activateUntil(ctx, q, fx, g, t.ExpiresAt); err != nil {
				return err
			}
			return fx.audit(ctx, q, access.SystemActor, "grant.provisioned", "grant", g.ID, &before, g,
				map[string]any{"credentials_issued": sealedCreds != ""})
		case errors.As(err, &pending):
			g.ManualTask = pending.Task
			g.UpdatedAt = fx.now
			if err := q.GrantUpdate(ctx, g); err != nil {
				return err
			}
			if err := fx.audit(ctx, q, access.SystemActor, "grant.task_created", "grant", g.ID, &before, g, map[string]any{"task": pending.Task}); err != nil {
				return err
			}
			return s.notifyOwners(ctx, q, fx, app, access.NotifyManualTask, g, "grant", map[string]string{"task": pending.Task})
		}
		attempt := g.Attempts
		final := connector.IsPermanent(err) || attempt >= s.provisionAttempts
		if ferr := g.Fail(err.Error(), final, fx.now); ferr != nil {
			return ferr
		}
		if uerr := q.GrantUpdate(ctx, g); uerr != nil {
			return uerr
		}
		if !final {
			retry = retryable(err)
			return fx.audit(ctx, q, access.SystemActor, "grant.provision_attempt_failed", "grant", g.ID, nil, nil,
				map[string]any{"attempt": attempt, "error": err.Error()})
		}
		if aerr := fx.audit(ctx, q, access.SystemActor, "grant.failed", "grant", g.ID, &before, g,
			map[string]any{"attempt": attempt, "error": err.Error()}); aerr != nil {
			return aerr
		}
		if nerr := fx.notify(ctx, q, access.NotifyGrantFailed, g.UserID, g.RequestID, g.ID, g.ID,
			map[string]string{"error": err.Error()}); nerr != nil {
			return nerr
		}
		if nerr := s.notifyOwners(ctx, q, fx, app, access.NotifyGrantFailed, g, "failed", map[string]string{"error": err.Error()}); nerr != nil {
			return nerr
		}
		return s.settleRequest(ctx, q, fx, g.RequestID)
	})
	if txErr != nil {
		return txErr
	}
	return retry
}

// recordTimeout bounds the transaction that records a connector call's
// outcome once the call has returned.
const recordTimeout = 30 * time.Second

// revokeLateGrant puts g, which the target granted after it had ended,
// back to revoking and has it revoked at once (the revocation's own
// retries and alerts apply).
func (s *Service) revokeLateGrant(ctx context.Context, q store.Queries, fx *effects, g *access.Grant, credentials bool) error {
	before := *g
	if err := g.RevokeLateGrant(fx.now); err != nil {
		return err
	}
	if err := q.GrantUpdate(ctx, g); err != nil {
		return err
	}
	fx.jobs.RevokeDue = append(fx.jobs.RevokeDue, Timed{g.ID, fx.now})
	return fx.audit(ctx, q, access.SystemActor, "grant.late_grant_revoking", "grant", g.ID, &before, g,
		map[string]any{"credentials_issued": credentials})
}

// grantOn grants t on conn. A connector that issues credentials gets
// IssueGrant instead, and the credentials come back sealed (never held in
// clear outside this call).
func (s *Service) grantOn(ctx context.Context, conn connector.Connector, t connector.Target) (string, error) {
	ci, ok := conn.(connector.CredentialIssuer)
	if !ok {
		return "", conn.Grant(ctx, t)
	}
	if s.secrets == nil {
		return "", connector.Permanent(errors.New("this connector issues credentials, which need a key for secrets at rest"))
	}
	creds, err := ci.IssueGrant(ctx, t)
	if err != nil {
		return "", err
	}
	return s.sealCredentials(creds)
}

// sealCredentials encodes and seals creds for the grant's Credentials.
func (s *Service) sealCredentials(creds connector.Credentials) (string, error) {
	if s.secrets == nil {
		return "", connector.Permanent(errors.New("this connector issues credentials, which need a key for secrets at rest"))
	}
	b, err := json.Marshal(credentialsJSON(creds)) //nolint:gosec // sealed on the next line, never stored in clear
	if err != nil {
		return "", fmt.Errorf("encode credentials: %w", err)
	}
	sealed, err := s.secrets.Seal(string(b))
	if err != nil {
		return "", fmt.Errorf("seal credentials: %w", err)
	}
	return sealed, nil
}

// credentialsJSON is how sealed credentials are encoded.
type credentialsJSON struct {
	Kind     string `json:"kind"`
	Username string `json:"username,omitempty"`
	Secret   string `json:"secret"`
	Hint     string `json:"hint,omitempty"`
}

// retryable wraps a provisioning error that should be retried.
func retryable(err error) error { return &RetryableError{Err: err} }

// activate marks g active, schedules its revocation and tells the holder.
func (s *Service) activate(ctx context.Context, q store.Queries, fx *effects, g *access.Grant) error {
	return s.activateUntil(ctx, q, fx, g, time.Time{})
}

// activateUntil is activate with the expiry the connector was given
// (access.Grant.ActivateUntil; zero: from now).
func (s *Service) activateUntil(ctx context.Context, q store.Queries, fx *effects, g *access.Grant, until time.Time) error {
	if err := g.ActivateUntil(fx.now, until); err != nil {
		return err
	}
	if err := q.GrantUpdate(ctx, g); err != nil {
		return err
	}
	// No job is scheduled for the expiry: the due poller (RevokeDue, every
	// second on the queue's leader) reads the grants that fell due from the
	// (state, expires_at) index, and the sweeper backs it up. A job per
	// grant would only add a River row per active grant, to find it
	// revoked already.
	if err := fx.notify(ctx, q, access.NotifyGrantActive, g.UserID, g.RequestID, g.ID, g.ID,
		map[string]string{"expires_at": g.ExpiresAt.Format("2006-01-02T15:04:05Z07:00")}); err != nil {
		return err
	}
	return s.settleRequest(ctx, q, fx, g.RequestID)
}

// notifyOwners tells the app's owners (or, when it has none, nobody but
// the audit log) about g.
func (s *Service) notifyOwners(ctx context.Context, q store.Queries, fx *effects, app *access.App, kind access.NotificationKind, g *access.Grant, dedup string, data map[string]string) error {
	for _, id := range app.Owners {
		if err := fx.notify(ctx, q, kind, id, g.RequestID, g.ID, g.ID+"/"+dedup, data); err != nil {
			return err
		}
	}
	return nil
}

// settleRequest derives the request's state from its grants and saves it
// when it changed.
func (s *Service) settleRequest(ctx context.Context, q store.Queries, fx *effects, requestID string) error {
	r, err := q.RequestGetByID(ctx, requestID, true)
	if err != nil {
		return fmt.Errorf("load request %s: %w", requestID, err)
	}
	grants, err := q.GrantListByRequest(ctx, requestID)
	if err != nil {
		return fmt.Errorf("load grants: %w", err)
	}
	gs := make([]access.Grant, len(grants))
	for i, g := range grants {
		gs[i] = *g
	}
	before := r.State
	if !r.Settle(gs, fx.now) {
		return nil
	}
	if err := q.RequestUpdate(ctx, r); err != nil {
		return fmt.Errorf("save request: %w", err)
	}
	return fx.audit(ctx, q, access.SystemActor, "request."+string(r.State), "request", r.ID, nil, nil,
		map[string]any{"from": before, "to": r.State})
}
