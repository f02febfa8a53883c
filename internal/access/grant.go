package access

import "time"

// GrantState is where a grant is in its life. See DESIGN.md.
type GrantState string

// Grant states. Revoked and Failed are final. RevokeFailed is not: access
// that should be gone is retried until it is, or an admin resolves it.
const (
	GrantPending      GrantState = "pending"
	GrantProvisioning GrantState = "provisioning"
	GrantActive       GrantState = "active"
	GrantRevoking     GrantState = "revoking"
	GrantRevoked      GrantState = "revoked"
	GrantFailed       GrantState = "failed"
	GrantRevokeFailed GrantState = "revoke_failed"
)

// GrantStates lists every state, for validation of filters. Each call
// returns a new slice, so callers cannot change the list for others.
func GrantStates() []GrantState {
	return []GrantState{GrantPending, GrantProvisioning, GrantActive, GrantRevoking,
		GrantRevoked, GrantFailed, GrantRevokeFailed}
}

// Grant is access for one user to one entitlement, from one request.
type Grant struct {
	ID            string     `json:"id"`
	RequestID     string     `json:"request_id"`
	UserID        string     `json:"user_id"`
	AppID         string     `json:"app_id"`
	EntitlementID string     `json:"entitlement_id"`
	State         GrantState `json:"state"`
	// Duration is how long access lasts once active.
	Duration time.Duration `json:"duration"`
	// MaxDuration bounds one extension: an extension moves ExpiresAt to at
	// most now+MaxDuration.
	MaxDuration time.Duration `json:"max_duration"`
	ActivatedAt time.Time     `json:"activated_at,omitzero"`
	ExpiresAt   time.Time     `json:"expires_at,omitzero"`
	// TargetExpiresAt is the expiry last applied in the target (a login's
	// VALID UNTIL, set by provisioning and moved by
	// connector.ExpiryExtender), or the last one the target refused for
	// good (the app's owners were alerted; nothing more is tried for it).
	// Zero means unknown, taken as in sync (grants activated before Sesame
	// recorded it). When it is set and differs from ExpiresAt on an
	// active grant, the grant was extended and the target still has to be
	// moved (TargetBehind).
	TargetExpiresAt time.Time `json:"target_expires_at,omitzero"`
	RevokedAt       time.Time `json:"revoked_at,omitzero"`
	Attempts        int       `json:"attempts"`
	LastError       string    `json:"last_error,omitempty"`
	RevokeReason    string    `json:"revoke_reason,omitempty"`
	// ManualTask is set when a person must provision or revoke by hand
	// (the manual connector); it holds what they are asked to do.
	ManualTask string `json:"manual_task,omitempty"`
	// Credentials are the sealed credentials a connector issued for this
	// grant (secrets.Box), waiting to be handed to the holder once; ""
	// when there are none or they were handed over. Never serialised.
	Credentials string    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int       `json:"version"`
}

// StartProvisioning marks an attempt to set up access.
func (g *Grant) StartProvisioning(now time.Time) error {
	if g.State != GrantPending && g.State != GrantProvisioning {
		return transitionErr("grant %s is %s; only pending grants are provisioned", g.ID, g.State)
	}
	g.State = GrantProvisioning
	g.Attempts++
	g.UpdatedAt = now
	return nil
}

// Activate records that access now exists; it expires Duration from now.
// The target is taken to be in sync with that expiry (TargetExpiresAt =
// ExpiresAt): what the connector set at provisioning is the baseline, and
// only an extension puts the target behind.
func (g *Grant) Activate(now time.Time) error {
	if g.State != GrantProvisioning && g.State != GrantPending {
		return transitionErr("grant %s is %s, not provisioning", g.ID, g.State)
	}
	g.State = GrantActive
	g.ActivatedAt = now
	g.ExpiresAt = now.Add(g.Duration)
	g.TargetExpiresAt = g.ExpiresAt
	g.LastError = ""
	g.ManualTask = ""
	g.UpdatedAt = now
	return nil
}

// ActivateUntil is Activate with the expiry the connector was given when
// it set up access (until, usually the start of the provisioning attempt
// plus Duration): the grant ends when the target's own expiry does, and
// the target is in step with it. A zero until is Activate's expiry.
func (g *Grant) ActivateUntil(now, until time.Time) error {
	if err := g.Activate(now); err != nil {
		return err
	}
	if !until.IsZero() {
		g.ExpiresAt = until
		g.TargetExpiresAt = until
	}
	return nil
}

// Fail records a provisioning error; final marks the grant failed (no more
// retries), otherwise it stays provisioning for the next attempt.
func (g *Grant) Fail(msg string, final bool, now time.Time) error {
	if g.State != GrantProvisioning && g.State != GrantPending {
		return transitionErr("grant %s is %s, not provisioning", g.ID, g.State)
	}
	g.LastError = msg
	if final {
		g.State = GrantFailed
	}
	g.UpdatedAt = now
	return nil
}

// Due reports whether an active grant has reached its expiry.
func (g *Grant) Due(now time.Time) bool {
	return g.State == GrantActive && !now.Before(g.ExpiresAt)
}

// BeginRevoke starts taking access away, for reason ("expired",
// "revoked by <user>", "offboarded"). A grant still pending or
// provisioning is failed instead, since nothing was granted yet; ok
// reports whether a revocation must run.
func (g *Grant) BeginRevoke(reason string, now time.Time) (ok bool, err error) {
	switch g.State {
	case GrantActive, GrantRevokeFailed, GrantRevoking:
		g.State = GrantRevoking
		if g.RevokeReason == "" {
			g.RevokeReason = reason
		}
		g.UpdatedAt = now
		return true, nil
	case GrantPending, GrantProvisioning:
		g.State = GrantFailed
		g.LastError = "revoked before provisioning finished: " + reason
		g.RevokeReason = reason
		g.UpdatedAt = now
		return false, nil
	case GrantRevoked, GrantFailed:
		// final: nothing was granted or it is already gone (error below)
	}
	return false, transitionErr("grant %s is %s; there is nothing to revoke", g.ID, g.State)
}

// RevokeLateGrant is for access a connector granted after the grant had
// stopped waiting for it (revoked, or failed, while the connector call was
// in flight): the target now holds access Sesame does not grant, so the
// grant goes back to revoking and its revocation runs. Only a grant that
// is no longer pending, provisioning or active may.
func (g *Grant) RevokeLateGrant(now time.Time) error {
	switch g.State {
	case GrantFailed, GrantRevoked, GrantRevoking, GrantRevokeFailed:
	default:
		return transitionErr("grant %s is %s; a late grant is only taken back from an ended grant", g.ID, g.State)
	}
	g.State = GrantRevoking
	if g.RevokeReason == "" {
		g.RevokeReason = "granted after the grant had ended"
	}
	g.LastError = "the target granted access after the grant had ended; revoking it"
	g.ManualTask = ""
	g.Credentials = ""
	g.UpdatedAt = now
	return nil
}

// Revoked records that access is gone.
func (g *Grant) Revoked(now time.Time) error {
	if g.State != GrantRevoking && g.State != GrantRevokeFailed {
		return transitionErr("grant %s is %s, not revoking", g.ID, g.State)
	}
	g.State = GrantRevoked
	g.RevokedAt = now
	g.LastError = ""
	g.ManualTask = ""
	g.Credentials = ""
	g.UpdatedAt = now
	return nil
}

// RevokeFailed records a revocation error. The grant stays revoke_failed
// and is retried until it succeeds.
func (g *Grant) RevokeFailed(msg string, now time.Time) error {
	if g.State != GrantRevoking && g.State != GrantRevokeFailed {
		return transitionErr("grant %s is %s, not revoking", g.ID, g.State)
	}
	g.State = GrantRevokeFailed
	g.LastError = msg
	g.UpdatedAt = now
	return nil
}

// Extend moves the expiry of an active grant to now+d, which must not pass
// limit from now (zero limit means no limit). TargetExpiresAt stays, so the
// grant is TargetBehind until the target's own expiry is moved
// (TargetSynced); a grant that had none recorded (activated before Sesame
// recorded it) takes its previous expiry as the target's, so that it is
// behind too.
func (g *Grant) Extend(d, limit time.Duration, now time.Time) error {
	if g.State != GrantActive {
		return transitionErr("grant %s is %s; only active grants can be extended", g.ID, g.State)
	}
	if err := CheckDuration(d, limit); err != nil {
		return err
	}
	next := now.Add(d)
	if !next.After(g.ExpiresAt) {
		return Invalid("invalid extension", FieldError{Field: "duration",
			Message: "the grant already lasts until " + g.ExpiresAt.Format(time.RFC3339)})
	}
	if g.TargetExpiresAt.IsZero() {
		g.TargetExpiresAt = g.ExpiresAt
	}
	g.ExpiresAt = next
	g.UpdatedAt = now
	return nil
}

// TargetBehind reports whether g is active and its target still holds an
// expiry other than ExpiresAt (it was extended and the target's own expiry
// has not been moved yet). A zero TargetExpiresAt is never behind.
func (g *Grant) TargetBehind() bool {
	return g.State == GrantActive && !g.TargetExpiresAt.IsZero() && !g.TargetExpiresAt.Equal(g.ExpiresAt)
}

// TargetSynced records that the target's own expiry is now at: moved
// there, or given up on (nothing to move, or a permanent failure that was
// reported). It changes only an active grant whose TargetExpiresAt is not
// already at, and reports whether it changed g (which must then be saved).
// at may be older than ExpiresAt when g was extended again meanwhile; g
// then stays TargetBehind.
func (g *Grant) TargetSynced(at, now time.Time) bool {
	if g.State != GrantActive || at.IsZero() || g.TargetExpiresAt.Equal(at) {
		return false
	}
	g.TargetExpiresAt = at
	g.UpdatedAt = now
	return true
}
