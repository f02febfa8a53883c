package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func grantID(g *access.Grant) string { return g.ID }

func testGrants(t *testing.T, open Opener) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		g := b.grant(1)
		require.NoError(t, b.st.GrantCreate(b.ctx, g))
		got, err := b.st.GrantGetByID(b.ctx, g.ID, false)
		require.NoError(t, err)
		require.Equal(t, wantGrant(g), got)

		empty := &access.Grant{ID: "grt_0002", State: access.GrantPending}
		require.NoError(t, b.st.GrantCreate(b.ctx, empty))
		got, err = b.st.GrantGetByID(b.ctx, empty.ID, false)
		require.NoError(t, err)
		require.Equal(t, empty, got)
	})
	t.Run("CreateConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(1)))
		require.ErrorIs(t, b.st.GrantCreate(b.ctx, b.grant(1)), store.ErrConflict)
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.GrantGetByID(b.ctx, "grt_404", false)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.GrantGetByID(b.ctx, "grt_404", true)
		require.ErrorIs(t, err, store.ErrNotFound)
		g := b.grant(404)
		require.ErrorIs(t, b.st.GrantUpdate(b.ctx, g), store.ErrNotFound)
		require.Equal(t, 1, g.Version)
	})
	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		g := b.grant(1)
		require.NoError(t, b.st.GrantCreate(b.ctx, g))
		fixed := *g
		g.State, g.Duration, g.MaxDuration = access.GrantRevoked, time.Minute, time.Hour
		g.ActivatedAt, g.ExpiresAt, g.RevokedAt = time.Time{}, b.at(time.Minute), b.at(3*time.Minute)
		g.Attempts, g.LastError, g.RevokeReason, g.ManualTask = 5, "", "revoked by usr_0002", ""
		g.UpdatedAt, g.TargetExpiresAt = b.at(3*time.Minute), b.at(4*time.Minute)
		// What is fixed at creation is not saved.
		changed := *g
		changed.RequestID, changed.UserID, changed.AppID, changed.EntitlementID = "req_0009", "usr_0009", "aws", "aws:read"
		changed.CreatedAt = b.at(-time.Minute)
		require.NoError(t, b.st.GrantUpdate(b.ctx, &changed))
		require.Equal(t, 2, changed.Version)
		got, err := b.st.GrantGetByID(b.ctx, g.ID, false)
		require.NoError(t, err)
		g.Version = changed.Version
		g.RequestID, g.UserID, g.AppID, g.EntitlementID, g.CreatedAt = fixed.RequestID, fixed.UserID, fixed.AppID, fixed.EntitlementID, fixed.CreatedAt
		require.Equal(t, wantGrant(g), got)
	})
	t.Run("TargetExpiry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		// Unknown (NULL), set, moved, and unknown again: each round-trips.
		g := b.grant(1, func(g *access.Grant) { g.TargetExpiresAt = time.Time{} })
		require.NoError(t, b.st.GrantCreate(b.ctx, g))
		for i, at := range []time.Time{{}, b.at(time.Hour).In(zone()), b.at(3*time.Hour + 7), {}} {
			if i > 0 {
				g.TargetExpiresAt = at
				require.NoError(t, b.st.GrantUpdate(b.ctx, g))
			}
			got, err := b.st.GrantGetByID(b.ctx, g.ID, false)
			require.NoError(t, err)
			require.Equal(t, tr(at), got.TargetExpiresAt)
			require.Equal(t, wantGrant(g), got)
		}
	})
	t.Run("StaleUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(1)))
		first, err := b.st.GrantGetByID(b.ctx, "grt_0001", false)
		require.NoError(t, err)
		second := *first
		first.State = access.GrantRevoking
		require.NoError(t, b.st.GrantUpdate(b.ctx, first))
		second.State = access.GrantFailed
		require.ErrorIs(t, b.st.GrantUpdate(b.ctx, &second), store.ErrConflict)
		require.Equal(t, 1, second.Version)
		got, err := b.st.GrantGetByID(b.ctx, "grt_0001", false)
		require.NoError(t, err)
		require.Equal(t, first, got)
	})
	t.Run("GetWithLock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		g := b.grant(1)
		require.NoError(t, b.st.GrantCreate(b.ctx, g))
		require.NoError(t, b.st.InTx(b.ctx, func(q store.Queries) error {
			got, err := q.GrantGetByID(b.ctx, g.ID, true)
			if err != nil {
				return err
			}
			got.Attempts++
			return q.GrantUpdate(b.ctx, got)
		}))
		got, err := b.st.GrantGetByID(b.ctx, g.ID, false)
		require.NoError(t, err)
		require.Equal(t, 3, got.Attempts)
		require.Equal(t, 2, got.Version)
	})
	t.Run("ListByRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for _, n := range []int{3, 1, 2} {
			require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(n)))
		}
		require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(4, func(g *access.Grant) { g.RequestID = "req_other" })))
		got, err := b.st.GrantListByRequest(b.ctx, "req_0001")
		require.NoError(t, err)
		require.Equal(t, []string{"grt_0001", "grt_0002", "grt_0003"}, ids(got, grantID))
		require.Equal(t, wantGrant(b.grant(1)), got[0])
		got, err = b.st.GrantListByRequest(b.ctx, "req_none")
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("CountByState", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		counts, err := b.st.GrantCountByState(b.ctx)
		require.NoError(t, err)
		require.Empty(t, counts)
		for n, s := range []access.GrantState{access.GrantActive, access.GrantRevokeFailed, access.GrantActive, access.GrantPending} {
			require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(n, func(g *access.Grant) { g.State = s })))
		}
		counts, err = b.st.GrantCountByState(b.ctx)
		require.NoError(t, err)
		require.Equal(t, map[access.GrantState]int{access.GrantActive: 2, access.GrantRevokeFailed: 1, access.GrantPending: 1}, counts)
	})
}
