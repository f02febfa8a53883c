package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func testGrantLists(t *testing.T, open Opener) {
	t.Helper()
	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, g := range []struct {
			state   access.GrantState
			user    string
			app     string
			request string
			expires time.Time
		}{
			1: {access.GrantActive, "usr_a", "github", "req_1", b.at(time.Hour)},
			2: {access.GrantActive, "usr_b", "github", "req_2", b.at(2 * time.Hour)},
			3: {access.GrantRevoked, "usr_a", "aws", "req_3", b.at(-time.Hour)},
			4: {access.GrantPending, "usr_a", "github", "req_1", time.Time{}},
			5: {access.GrantRevokeFailed, "usr_b", "aws", "req_4", b.at(-2 * time.Hour)},
		} {
			if n == 0 {
				continue
			}
			require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(n, func(gr *access.Grant) {
				gr.State, gr.UserID, gr.AppID, gr.RequestID, gr.ExpiresAt = g.state, g.user, g.app, g.request, g.expires
			})))
		}
		for _, tt := range []struct {
			name string
			p    store.GrantListParams
			want []string
		}{
			{"all, newest first", store.GrantListParams{}, []string{"grt_0005", "grt_0004", "grt_0003", "grt_0002", "grt_0001"}},
			{"state", store.GrantListParams{States: []access.GrantState{access.GrantActive}}, []string{"grt_0002", "grt_0001"}},
			{"states", store.GrantListParams{States: []access.GrantState{access.GrantRevoked, access.GrantRevokeFailed}}, []string{"grt_0005", "grt_0003"}},
			{"user", store.GrantListParams{UserID: "usr_a"}, []string{"grt_0004", "grt_0003", "grt_0001"}},
			{"app", store.GrantListParams{AppID: "aws"}, []string{"grt_0005", "grt_0003"}},
			{"request", store.GrantListParams{RequestID: "req_1"}, []string{"grt_0004", "grt_0001"}},
			// ExpiringBefore is exclusive and never matches a grant without expiry.
			{"expiring before", store.GrantListParams{ExpiringBefore: b.at(2 * time.Hour)}, []string{"grt_0005", "grt_0003", "grt_0001"}},
			{"active and expiring", store.GrantListParams{States: []access.GrantState{access.GrantActive}, ExpiringBefore: b.at(3 * time.Hour)}, []string{"grt_0002", "grt_0001"}},
			{"user and app", store.GrantListParams{UserID: "usr_b", AppID: "github"}, []string{"grt_0002"}},
			{"no match", store.GrantListParams{UserID: "usr_c"}, nil},
		} {
			got, next, err := b.st.GrantList(b.ctx, tt.p)
			require.NoError(t, err, tt.name)
			require.Empty(t, next, tt.name)
			require.Equal(t, tt.want, nilIfEmpty(ids(got, grantID)), tt.name)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var want []string
		for n := 8; n >= 1; n-- {
			want = append(want, b.grant(n).ID)
		}
		for _, n := range []int{4, 8, 1, 6, 2, 7, 3, 5} {
			require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(n)))
		}
		for _, limit := range []int{1, 3, 8, 50} {
			got := collectPages(t, limit, func(p store.Page) ([]*access.Grant, string, error) {
				return b.st.GrantList(b.ctx, store.GrantListParams{Page: p})
			})
			require.Equal(t, want, ids(got, grantID), "limit %d", limit)
		}
		got := collectPages(t, 3, func(p store.Page) ([]*access.Grant, string, error) {
			return b.st.GrantList(b.ctx, store.GrantListParams{Page: p, States: []access.GrantState{access.GrantActive}})
		})
		require.Equal(t, want, ids(got, grantID))
	})
	t.Run("Due", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, g := range []struct {
			state   access.GrantState
			expires time.Time
		}{
			1: {access.GrantActive, b.at(-time.Minute)},
			2: {access.GrantActive, b.at(time.Minute)}, // not yet
			3: {access.GrantActive, b.now},             // due at the instant
			4: {access.GrantRevoking, b.at(-time.Hour)},
			5: {access.GrantRevokeFailed, b.at(-time.Hour)},
			6: {access.GrantActive, b.at(-time.Hour)},
			7: {access.GrantPending, time.Time{}},
			8: {access.GrantActive, b.at(-time.Minute)}, // ties with 1: by ID
			9: {access.GrantRevoked, b.at(-time.Hour)},
		} {
			if n == 0 {
				continue
			}
			require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(n, func(gr *access.Grant) {
				gr.State, gr.ExpiresAt = g.state, g.expires
			})))
		}
		got, err := b.st.GrantListDue(b.ctx, b.now, 100)
		require.NoError(t, err)
		require.Equal(t, []string{"grt_0006", "grt_0001", "grt_0008", "grt_0003"}, ids(got, grantID))
		for _, g := range got {
			require.True(t, g.Due(b.now))
		}

		got, err = b.st.GrantListDue(b.ctx, b.now, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"grt_0006", "grt_0001"}, ids(got, grantID))

		got, err = b.st.GrantListDue(b.ctx, b.at(-2*time.Hour), 100)
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("Stalled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, g := range []struct {
			state   access.GrantState
			updated time.Time
		}{
			1: {access.GrantProvisioning, b.at(-time.Hour)},
			2: {access.GrantProvisioning, b.at(time.Second)}, // recent
			3: {access.GrantRevoking, b.at(-2 * time.Hour)},
			4: {access.GrantActive, b.at(-3 * time.Hour)}, // other state
			5: {access.GrantPending, b.now},               // at the instant
			6: {access.GrantRevoking, b.at(-time.Hour)},   // ties with 1: by ID
		} {
			if n == 0 {
				continue
			}
			require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(n, func(gr *access.Grant) {
				gr.State, gr.UpdatedAt = g.state, g.updated
			})))
		}
		states := []access.GrantState{access.GrantPending, access.GrantProvisioning, access.GrantRevoking}
		got, err := b.st.GrantListStalled(b.ctx, states, b.now, 100)
		require.NoError(t, err)
		require.Equal(t, []string{"grt_0003", "grt_0001", "grt_0006", "grt_0005"}, ids(got, grantID))

		got, err = b.st.GrantListStalled(b.ctx, states, b.now, 1)
		require.NoError(t, err)
		require.Equal(t, []string{"grt_0003"}, ids(got, grantID))

		got, err = b.st.GrantListStalled(b.ctx, []access.GrantState{access.GrantActive}, b.now, 100)
		require.NoError(t, err)
		require.Equal(t, []string{"grt_0004"}, ids(got, grantID))

		got, err = b.st.GrantListStalled(b.ctx, nil, b.now, 100)
		require.NoError(t, err)
		require.Empty(t, got, "no states, no grants")
	})
	t.Run("TargetBehind", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		expires := b.at(time.Hour)
		for n, g := range []struct {
			state   access.GrantState
			target  time.Time // zero: unknown (NULL)
			updated time.Time
		}{
			1:  {access.GrantActive, b.at(-time.Hour), b.at(-time.Hour)},
			2:  {access.GrantActive, expires, b.at(-3 * time.Hour)},                   // in sync
			3:  {access.GrantActive, b.at(-time.Hour), b.at(-2 * time.Hour)},          // oldest
			4:  {access.GrantActive, time.Time{}, b.at(-3 * time.Hour)},               // unknown
			5:  {access.GrantRevoked, b.at(-time.Hour), b.at(-3 * time.Hour)},         // ended
			6:  {access.GrantRevoking, b.at(-time.Hour), b.at(-3 * time.Hour)},        // ending
			7:  {access.GrantActive, b.at(-time.Hour), b.at(time.Second)},             // updated after the cutoff
			8:  {access.GrantActive, b.at(2 * time.Hour), b.now},                      // ahead counts too; at the cutoff
			9:  {access.GrantActive, b.at(-time.Minute), b.at(-time.Hour)},            // ties with 1: by ID
			10: {access.GrantActive, expires.Add(time.Microsecond), b.at(-time.Hour)}, // one microsecond off
		} {
			if n == 0 {
				continue
			}
			require.NoError(t, b.st.GrantCreate(b.ctx, b.grant(n, func(gr *access.Grant) {
				gr.State, gr.ExpiresAt, gr.TargetExpiresAt, gr.UpdatedAt = g.state, expires, g.target, g.updated
			})))
		}
		want := []string{"grt_0003", "grt_0001", "grt_0009", "grt_0010", "grt_0008"}
		got, err := b.st.GrantListTargetBehind(b.ctx, b.now, 100)
		require.NoError(t, err)
		require.Equal(t, want, ids(got, grantID))
		for _, g := range got {
			require.True(t, g.TargetBehind(), g.ID)
		}

		got, err = b.st.GrantListTargetBehind(b.ctx, b.now, 2)
		require.NoError(t, err)
		require.Equal(t, want[:2], ids(got, grantID))

		got, err = b.st.GrantListTargetBehind(b.ctx, b.at(-90*time.Minute), 100)
		require.NoError(t, err)
		require.Equal(t, []string{"grt_0003"}, ids(got, grantID))

		// The target moved: the grant leaves the list.
		g, err := b.st.GrantGetByID(b.ctx, "grt_0003", false)
		require.NoError(t, err)
		g.TargetExpiresAt = g.ExpiresAt
		require.NoError(t, b.st.GrantUpdate(b.ctx, g))
		got, err = b.st.GrantListTargetBehind(b.ctx, b.now, 100)
		require.NoError(t, err)
		require.Equal(t, want[1:], ids(got, grantID))
	})
}
