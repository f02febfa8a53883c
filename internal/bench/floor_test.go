package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// TestWritesOnlyLeavesALifecyclesRows checks WritesOnly writes what a
// lifecycle leaves: an active request with its decision, an active grant,
// five audit events and seven notifications marked sent, per lifecycle,
// with the audit chain whole.
func TestWritesOnlyLeavesALifecyclesRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := OpenSQLite(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	const n = 7
	lps, err := st.WritesOnly(ctx, n, 3, Users*Entitlements-n)
	require.NoError(t, err)
	require.Positive(t, lps)

	grants, err := st.Store.GrantCountByState(ctx)
	require.NoError(t, err)
	require.Equal(t, map[access.GrantState]int{access.GrantActive: n}, grants)
	reqs, _, err := st.Store.RequestList(ctx, store.RequestListParams{Page: store.Page{Limit: 50}})
	require.NoError(t, err)
	require.Len(t, reqs, n)
	sent := 0
	for _, r := range reqs {
		require.Equal(t, access.RequestActive, r.State)
		require.Len(t, r.Decisions, 1)
		ns, err := st.Store.NotificationListByRequest(ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, ns, 7)
		for _, nt := range ns {
			if nt.State == access.NotificationSent {
				sent++
			}
		}
	}
	require.Equal(t, 7*n, sent)

	var v access.ChainVerifier
	es, err := st.Store.EventListAfter(ctx, 0, 500)
	require.NoError(t, err)
	require.Len(t, es, 5*n)
	for _, e := range es {
		require.NoError(t, v.Next(e))
	}
}
