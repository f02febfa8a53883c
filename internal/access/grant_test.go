package access_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

// TestGrantTransitions tries every transition method from every state.
func TestGrantTransitions(t *testing.T) {
	t.Parallel()
	type op struct {
		name string
		do   func(g *access.Grant) error
		// from lists the states the op is legal in, and the state it leads to.
		from map[access.GrantState]access.GrantState
	}
	ops := []op{
		{"StartProvisioning", func(g *access.Grant) error { return g.StartProvisioning(t0) },
			map[access.GrantState]access.GrantState{access.GrantPending: access.GrantProvisioning, access.GrantProvisioning: access.GrantProvisioning}},
		{"Activate", func(g *access.Grant) error { return g.Activate(t0) },
			map[access.GrantState]access.GrantState{access.GrantPending: access.GrantActive, access.GrantProvisioning: access.GrantActive}},
		{"Fail(final)", func(g *access.Grant) error { return g.Fail("boom", true, t0) },
			map[access.GrantState]access.GrantState{access.GrantPending: access.GrantFailed, access.GrantProvisioning: access.GrantFailed}},
		{"Fail(retry)", func(g *access.Grant) error { return g.Fail("boom", false, t0) },
			map[access.GrantState]access.GrantState{access.GrantPending: access.GrantPending, access.GrantProvisioning: access.GrantProvisioning}},
		{"BeginRevoke", func(g *access.Grant) error { _, err := g.BeginRevoke("expired", t0); return err },
			map[access.GrantState]access.GrantState{access.GrantActive: access.GrantRevoking, access.GrantRevoking: access.GrantRevoking,
				access.GrantRevokeFailed: access.GrantRevoking, access.GrantPending: access.GrantFailed, access.GrantProvisioning: access.GrantFailed}},
		{"Revoked", func(g *access.Grant) error { return g.Revoked(t0) },
			map[access.GrantState]access.GrantState{access.GrantRevoking: access.GrantRevoked, access.GrantRevokeFailed: access.GrantRevoked}},
		{"RevokeFailed", func(g *access.Grant) error { return g.RevokeFailed("boom", t0) },
			map[access.GrantState]access.GrantState{access.GrantRevoking: access.GrantRevokeFailed, access.GrantRevokeFailed: access.GrantRevokeFailed}},
		{"Extend", func(g *access.Grant) error { return g.Extend(2*time.Hour, 4*time.Hour, t0) },
			map[access.GrantState]access.GrantState{access.GrantActive: access.GrantActive}},
		{"ActivateUntil", func(g *access.Grant) error { return g.ActivateUntil(t0, t0.Add(time.Hour)) },
			map[access.GrantState]access.GrantState{access.GrantPending: access.GrantActive, access.GrantProvisioning: access.GrantActive}},
		{"RevokeLateGrant", func(g *access.Grant) error { return g.RevokeLateGrant(t0) },
			map[access.GrantState]access.GrantState{access.GrantFailed: access.GrantRevoking, access.GrantRevoked: access.GrantRevoking,
				access.GrantRevoking: access.GrantRevoking, access.GrantRevokeFailed: access.GrantRevoking}},
	}
	for _, o := range ops {
		for _, s := range access.GrantStates() {
			g := &access.Grant{ID: "grt_1", State: s, Duration: time.Hour, ExpiresAt: t0.Add(time.Hour)}
			err := o.do(g)
			want, legal := o.from[s]
			if legal {
				require.NoError(t, err, "%s from %s", o.name, s)
				require.Equal(t, want, g.State, "%s from %s", o.name, s)
			} else {
				require.ErrorIs(t, err, access.ErrInvalidTransition, "%s from %s", o.name, s)
				require.Equal(t, s, g.State, "%s from %s must not change state", o.name, s)
			}
		}
	}
}

func TestGrantLifecycleTimes(t *testing.T) {
	t.Parallel()
	g := &access.Grant{ID: "grt_1", State: access.GrantPending, Duration: 2 * time.Hour, MaxDuration: 4 * time.Hour}
	require.NoError(t, g.StartProvisioning(t0))
	require.Equal(t, 1, g.Attempts)
	require.NoError(t, g.Activate(t0.Add(time.Minute)))
	require.Equal(t, t0.Add(time.Minute+2*time.Hour), g.ExpiresAt)
	require.False(t, g.Due(t0.Add(time.Hour)))
	require.True(t, g.Due(g.ExpiresAt))

	// Extension: must move expiry later and stay within max from now.
	require.Equal(t, access.CodeInvalid, access.ErrorCode(g.Extend(5*time.Hour, g.MaxDuration, t0.Add(time.Hour))))
	require.Equal(t, access.CodeInvalid, access.ErrorCode(g.Extend(time.Minute, g.MaxDuration, t0.Add(time.Hour))), "shorter than current expiry")
	require.NoError(t, g.Extend(4*time.Hour, g.MaxDuration, t0.Add(time.Hour)))
	require.Equal(t, t0.Add(5*time.Hour), g.ExpiresAt)

	must, err := g.BeginRevoke("revoked by bob", t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.True(t, must)
	require.Equal(t, "revoked by bob", g.RevokeReason)
	require.NoError(t, g.RevokeFailed("timeout", t0.Add(2*time.Hour)))
	_, err = g.BeginRevoke("expired", t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, "revoked by bob", g.RevokeReason, "the first reason is kept")
	require.NoError(t, g.Revoked(t0.Add(3*time.Hour)))
	require.Equal(t, t0.Add(3*time.Hour), g.RevokedAt)
	require.Empty(t, g.LastError)

	p := &access.Grant{ID: "grt_2", State: access.GrantProvisioning}
	must, err = p.BeginRevoke("offboarded", t0)
	require.NoError(t, err)
	require.False(t, must, "nothing was granted yet")
	require.Equal(t, access.GrantFailed, p.State)
}

// TestGrantTargetExpiry follows the expiry recorded for the target through
// activation, extensions and the target being moved.
func TestGrantActivateUntil(t *testing.T) {
	t.Parallel()
	g := &access.Grant{ID: "grt_1", State: access.GrantProvisioning, Duration: time.Hour}
	until := t0.Add(time.Hour)
	require.NoError(t, g.ActivateUntil(t0.Add(5*time.Second), until))
	require.Equal(t, access.GrantActive, g.State)
	require.Equal(t, t0.Add(5*time.Second), g.ActivatedAt)
	require.Equal(t, until, g.ExpiresAt, "the expiry the target was given")
	require.Equal(t, until, g.TargetExpiresAt)

	g = &access.Grant{ID: "grt_2", State: access.GrantProvisioning, Duration: time.Hour}
	require.NoError(t, g.ActivateUntil(t0, time.Time{}))
	require.Equal(t, t0.Add(time.Hour), g.ExpiresAt, "zero: from activation")
	require.Equal(t, g.ExpiresAt, g.TargetExpiresAt)

	g = &access.Grant{ID: "grt_3", State: access.GrantRevoked}
	require.Error(t, g.ActivateUntil(t0, until))
}

func TestGrantTargetExpiry(t *testing.T) {
	t.Parallel()
	g := &access.Grant{ID: "grt_1", State: access.GrantProvisioning, Duration: time.Hour, MaxDuration: 4 * time.Hour}
	require.False(t, g.TargetBehind(), "not active")
	require.NoError(t, g.Activate(t0))
	first := t0.Add(time.Hour)
	require.Equal(t, first, g.TargetExpiresAt, "activation is the baseline")
	require.False(t, g.TargetBehind())

	require.NoError(t, g.Extend(2*time.Hour, g.MaxDuration, t0.Add(time.Minute)))
	second := t0.Add(time.Minute + 2*time.Hour)
	require.Equal(t, first, g.TargetExpiresAt, "an extension leaves the target behind")
	require.True(t, g.TargetBehind())

	// Extended again before the target moved: the first move (to second)
	// leaves it behind the third expiry.
	require.NoError(t, g.Extend(3*time.Hour, g.MaxDuration, t0.Add(2*time.Minute)))
	third := t0.Add(2*time.Minute + 3*time.Hour)
	require.True(t, g.TargetSynced(second, t0.Add(3*time.Minute)))
	require.Equal(t, t0.Add(3*time.Minute), g.UpdatedAt)
	require.True(t, g.TargetBehind())
	require.True(t, g.TargetSynced(third, t0.Add(4*time.Minute)))
	require.False(t, g.TargetBehind())
	require.False(t, g.TargetSynced(third, t0.Add(5*time.Minute)), "already there: nothing to save")
	require.Equal(t, t0.Add(4*time.Minute), g.UpdatedAt)

	for _, tt := range []struct {
		name   string
		g      access.Grant
		behind bool
		synced bool // whether TargetSynced(t0) changes it
	}{
		{"unknown (before it was recorded)", access.Grant{State: access.GrantActive, ExpiresAt: t0}, false, true},
		{"in sync", access.Grant{State: access.GrantActive, ExpiresAt: t0, TargetExpiresAt: t0}, false, false},
		{"behind", access.Grant{State: access.GrantActive, ExpiresAt: t0, TargetExpiresAt: t0.Add(-time.Hour)}, true, true},
		{"revoking", access.Grant{State: access.GrantRevoking, ExpiresAt: t0, TargetExpiresAt: t0.Add(-time.Hour)}, false, false},
		{"revoked", access.Grant{State: access.GrantRevoked, ExpiresAt: t0, TargetExpiresAt: t0.Add(-time.Hour)}, false, false},
	} {
		require.Equal(t, tt.behind, tt.g.TargetBehind(), tt.name)
		before := tt.g.TargetExpiresAt
		require.Equal(t, tt.synced, tt.g.TargetSynced(t0, t0), tt.name)
		if !tt.synced {
			require.Equal(t, before, tt.g.TargetExpiresAt, tt.name)
		}
	}

	// A grant from before the target's expiry was recorded is behind once
	// extended: its previous expiry stands for the target's.
	old := &access.Grant{ID: "grt_2", State: access.GrantActive, ExpiresAt: t0.Add(time.Hour), MaxDuration: 4 * time.Hour}
	require.NoError(t, old.Extend(2*time.Hour, old.MaxDuration, t0))
	require.Equal(t, t0.Add(time.Hour), old.TargetExpiresAt)
	require.True(t, old.TargetBehind())
}
