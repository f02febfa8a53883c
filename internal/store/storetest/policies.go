package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/store"
)

func (b *testBundle) policySet(version int64, mod ...func(*store.PolicySet)) *store.PolicySet {
	s := &store.PolicySet{
		Version: version,
		// Odd spacing and key order: the store keeps the bytes as given.
		Policies:     json.RawMessage(fmt.Sprintf(`[{"id":"default", "default":true,"steps":[{"name":"v%d"}]}]`, version)),
		Digest:       fmt.Sprintf("sha256:%064x", version),
		ConfigDigest: "sha256:config",
		Source:       "config",
		ChangeID:     "",
		UpdatedBy:    "usr_0001",
		UpdatedAt:    b.at(time.Duration(version) * time.Minute).In(zone()),
	}
	for _, m := range mod {
		m(s)
	}
	return s
}

func wantPolicySet(s *store.PolicySet) *store.PolicySet {
	c := *s
	c.UpdatedAt = tr(c.UpdatedAt)
	return &c
}

func (b *testBundle) policyChange(n int, mod ...func(*store.PolicyChange)) *store.PolicyChange {
	c := &store.PolicyChange{
		ID:          fmt.Sprintf("pch_%04d", n),
		State:       "proposed",
		ProposedBy:  "usr_0001",
		ProposedAt:  b.at(-time.Hour).In(zone()),
		Comment:     fmt.Sprintf("change %d", n),
		BaseVersion: 3,
		Before:      json.RawMessage(`[{"id":"default"}]`),
		After:       json.RawMessage(`[{"id":"default"},  {"id":"new"}]`),
		Version:     1,
	}
	for _, m := range mod {
		m(c)
	}
	return c
}

func wantPolicyChange(c *store.PolicyChange) *store.PolicyChange {
	w := *c
	w.ProposedAt, w.DecidedAt, w.AppliedAt = tr(w.ProposedAt), tr(w.DecidedAt), tr(w.AppliedAt)
	return &w
}

func policyChangeID(c *store.PolicyChange) string { return c.ID }

func testPolicies(t *testing.T, open Opener) {
	t.Helper()
	t.Run("SetVersions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.PolicySetGet(b.ctx)
		require.ErrorIs(t, err, store.ErrNotFound)

		first := b.policySet(0)
		require.NoError(t, b.st.PolicySetPut(b.ctx, first))
		require.Equal(t, int64(1), first.Version)
		got, err := b.st.PolicySetGet(b.ctx)
		require.NoError(t, err)
		require.Equal(t, wantPolicySet(first), got)

		stale := b.policySet(0, func(s *store.PolicySet) { s.Source = "api" })
		require.ErrorIs(t, b.st.PolicySetPut(b.ctx, stale), store.ErrConflict)
		require.Equal(t, int64(0), stale.Version, "a refused put leaves the version alone")
		ahead := b.policySet(5)
		require.ErrorIs(t, b.st.PolicySetPut(b.ctx, ahead), store.ErrConflict)

		second := b.policySet(1, func(s *store.PolicySet) {
			s.Source, s.ChangeID, s.UpdatedBy = "api", "pch_0001", "usr_0002"
		})
		require.NoError(t, b.st.PolicySetPut(b.ctx, second))
		require.Equal(t, int64(2), second.Version)
		got, err = b.st.PolicySetGet(b.ctx)
		require.NoError(t, err)
		require.Equal(t, wantPolicySet(second), got, "the latest version wins")
	})
	t.Run("SetPutInTx", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		err := b.st.InTx(b.ctx, func(q store.Queries) error {
			if err := q.PolicySetPut(b.ctx, b.policySet(0)); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		require.EqualError(t, err, "roll back")
		_, err = b.st.PolicySetGet(b.ctx)
		require.ErrorIs(t, err, store.ErrNotFound, "the put rolled back")
		require.NoError(t, b.st.InTx(b.ctx, func(q store.Queries) error { return q.PolicySetPut(b.ctx, b.policySet(0)) }))
		got, err := b.st.PolicySetGet(b.ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
	})
	t.Run("SetConcurrentPuts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.PolicySetPut(b.ctx, b.policySet(0)))
		const n = 8
		errs := parallel(n, func(i int) error {
			return b.st.InTx(b.ctx, func(q store.Queries) error {
				return q.PolicySetPut(b.ctx, b.policySet(1, func(s *store.PolicySet) { s.UpdatedBy = fmt.Sprint(i) }))
			})
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			require.ErrorIs(t, err, store.ErrConflict)
		}
		require.Equal(t, 1, won, "exactly one put on version 1 wins")
		got, err := b.st.PolicySetGet(b.ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
	})
	t.Run("ChangeRoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		c := b.policyChange(1)
		require.NoError(t, b.st.PolicyChangeCreate(b.ctx, c))
		got, err := b.st.PolicyChangeGetByID(b.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, wantPolicyChange(c), got)

		bare := &store.PolicyChange{ID: "pch_0002"}
		require.NoError(t, b.st.PolicyChangeCreate(b.ctx, bare))
		got, err = b.st.PolicyChangeGetByID(b.ctx, bare.ID)
		require.NoError(t, err)
		require.Equal(t, bare, got)

		require.ErrorIs(t, b.st.PolicyChangeCreate(b.ctx, b.policyChange(1)), store.ErrConflict)
		_, err = b.st.PolicyChangeGetByID(b.ctx, "pch_404")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("ChangeUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		c := b.policyChange(1)
		require.NoError(t, b.st.PolicyChangeCreate(b.ctx, c))
		stale := *c

		changed := *c
		changed.State, changed.DecidedBy, changed.DecidedAt = "approved", "usr_0002", b.at(time.Minute)
		changed.DecisionComment, changed.SelfApproved = "looks right", true
		changed.AppliedAt, changed.AppliedVersion, changed.Comment = b.at(2*time.Minute), 4, "edited"
		changed.ProposedBy, changed.BaseVersion, changed.After = "usr_9999", 99, json.RawMessage(`[]`)
		require.NoError(t, b.st.PolicyChangeUpdate(b.ctx, &changed))
		require.Equal(t, 2, changed.Version)

		want := wantPolicyChange(&changed)
		want.ProposedBy, want.BaseVersion, want.After = c.ProposedBy, c.BaseVersion, c.After
		got, err := b.st.PolicyChangeGetByID(b.ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "the proposal itself never changes")

		require.ErrorIs(t, b.st.PolicyChangeUpdate(b.ctx, &stale), store.ErrConflict)
		require.Equal(t, 1, stale.Version)
		missing := b.policyChange(404)
		require.ErrorIs(t, b.st.PolicyChangeUpdate(b.ctx, missing), store.ErrNotFound)
	})
	t.Run("ChangeList", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		states := []string{"proposed", "applied", "proposed", "rejected", "proposed"}
		for i, s := range states {
			require.NoError(t, b.st.PolicyChangeCreate(b.ctx, b.policyChange(i+1, func(c *store.PolicyChange) { c.State = s })))
		}
		all := collectPages(t, 2, func(p store.Page) ([]*store.PolicyChange, string, error) {
			return b.st.PolicyChangeList(b.ctx, store.PolicyChangeListParams{Page: p})
		})
		require.Equal(t, []string{"pch_0005", "pch_0004", "pch_0003", "pch_0002", "pch_0001"}, ids(all, policyChangeID))
		require.Equal(t, wantPolicyChange(b.policyChange(5, func(c *store.PolicyChange) { c.State = "proposed" })), all[0])

		got, next, err := b.st.PolicyChangeList(b.ctx, store.PolicyChangeListParams{States: []string{"proposed"}})
		require.NoError(t, err)
		require.Empty(t, next)
		require.Equal(t, []string{"pch_0005", "pch_0003", "pch_0001"}, ids(got, policyChangeID))
		got, _, err = b.st.PolicyChangeList(b.ctx, store.PolicyChangeListParams{States: []string{"applied", "rejected"}})
		require.NoError(t, err)
		require.Equal(t, []string{"pch_0004", "pch_0002"}, ids(got, policyChangeID))
		_, _, err = b.st.PolicyChangeList(b.ctx, store.PolicyChangeListParams{Page: store.Page{Cursor: "!!"}})
		require.Error(t, err)
	})
}
