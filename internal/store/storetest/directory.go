package storetest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// testDirectory checks the store's DirectoryQueries (see store/directory.go).
func testDirectory(t *testing.T, open Opener) {
	t.Helper()
	t.Run("LockUser", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.UserUpsert(b.ctx, &access.User{ID: "usr_a", Email: "a@example.com", Status: access.UserActive}))
		require.NoError(t, b.st.InTx(b.ctx, func(q store.Queries) error { return q.DirectoryLockUser(b.ctx, "usr_a") }))
		err := b.st.InTx(b.ctx, func(q store.Queries) error { return q.DirectoryLockUser(b.ctx, "usr_404") })
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, b.st.DirectoryGroupCreate(b.ctx, &store.DirectoryGroup{ID: "grp_1", DisplayName: "g"}))
		require.NoError(t, b.st.InTx(b.ctx, func(q store.Queries) error { return q.DirectoryLockGroup(b.ctx, "grp_1") }))
		err = b.st.InTx(b.ctx, func(q store.Queries) error { return q.DirectoryLockGroup(b.ctx, "grp_404") })
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("ScimClients", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		c := &store.ScimClient{ID: "scc_1", Name: "okta", Hash: "h1", CreatedBy: "cli", CreatedAt: b.now}
		require.NoError(t, b.st.ScimClientCreate(b.ctx, c))
		require.ErrorIs(t, b.st.ScimClientCreate(b.ctx, &store.ScimClient{ID: "scc_2", Hash: "h1"}), store.ErrConflict)
		require.ErrorIs(t, b.st.ScimClientCreate(b.ctx, &store.ScimClient{ID: "scc_1", Hash: "h9"}), store.ErrConflict)
		require.NoError(t, b.st.ScimClientCreate(b.ctx, &store.ScimClient{ID: "scc_2", Name: "entra", Hash: "h2"}))
		got, err := b.st.ScimClientGetByHash(b.ctx, "h1")
		require.NoError(t, err)
		want := *c
		want.CreatedAt = tr(b.now)
		require.Equal(t, &want, got)
		c.LastUsedAt, c.RevokedAt = b.at(1), b.at(2)
		require.NoError(t, b.st.ScimClientUpdate(b.ctx, c))
		got, err = b.st.ScimClientGetByID(b.ctx, "scc_1")
		require.NoError(t, err)
		require.Equal(t, tr(b.at(2)), got.RevokedAt)
		require.Equal(t, tr(b.at(1)), got.LastUsedAt)
		list, err := b.st.ScimClientList(b.ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"scc_2", "scc_1"}, ids(list, func(c *store.ScimClient) string { return c.ID }))
		_, err = b.st.ScimClientGetByHash(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, b.st.ScimClientUpdate(b.ctx, &store.ScimClient{ID: "scc_404"}), store.ErrNotFound)
	})
	t.Run("Users", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for _, id := range []string{"usr_a", "usr_b", "usr_c"} {
			require.NoError(t, b.st.UserUpsert(b.ctx, &access.User{ID: id, Email: id + "@Example.com", Status: access.UserActive}))
		}
		du := &store.DirectoryUser{UserID: "usr_a", UserName: "Alice@Example.com", ExternalID: "00u1", ClientID: "scc_1",
			Resource: json.RawMessage(`{"userName":"Alice@Example.com"}`), CreatedAt: b.now, UpdatedAt: b.now}
		require.NoError(t, b.st.DirectoryUserCreate(b.ctx, du))
		require.Equal(t, 1, du.Version)
		got, err := b.st.DirectoryUserGet(b.ctx, "usr_a")
		require.NoError(t, err)
		require.Equal(t, "Alice@Example.com", got.UserName)
		require.JSONEq(t, `{"userName":"Alice@Example.com"}`, string(got.Resource))
		require.Equal(t, tr(b.now), got.CreatedAt)
		require.Equal(t, 1, got.Version)

		// userName is unique case-insensitively; the ID too.
		dup := &store.DirectoryUser{UserID: "usr_b", UserName: "alice@example.COM"}
		require.ErrorIs(t, b.st.DirectoryUserCreate(b.ctx, dup), store.ErrConflict)
		require.ErrorIs(t, b.st.DirectoryUserCreate(b.ctx, &store.DirectoryUser{UserID: "usr_a", UserName: "x"}), store.ErrConflict)
		require.NoError(t, b.st.DirectoryUserCreate(b.ctx, &store.DirectoryUser{UserID: "usr_b", UserName: "bob", ExternalID: "00u2"}))
		require.NoError(t, b.st.DirectoryUserCreate(b.ctx, &store.DirectoryUser{UserID: "usr_c", UserName: "carol", ExternalID: "00u1"}))

		// Optimistic updates.
		stale := *got
		got.UserName, got.ExternalID, got.UpdatedAt = "alice2", "00u9", b.at(5)
		require.NoError(t, b.st.DirectoryUserUpdate(b.ctx, got))
		require.Equal(t, 2, got.Version)
		require.ErrorIs(t, b.st.DirectoryUserUpdate(b.ctx, &stale), store.ErrConflict)
		taken := *got
		taken.UserName = "BOB"
		require.ErrorIs(t, b.st.DirectoryUserUpdate(b.ctx, &taken), store.ErrConflict)
		require.ErrorIs(t, b.st.DirectoryUserUpdate(b.ctx, &store.DirectoryUser{UserID: "usr_404", Version: 1}), store.ErrNotFound)

		// Filters and offsets.
		list := func(p store.DirectoryListParams) ([]string, int) {
			t.Helper()
			us, total, err := b.st.DirectoryUserList(b.ctx, p)
			require.NoError(t, err)
			return ids(us, func(u *store.DirectoryUser) string { return u.UserID }), total
		}
		got3, total := list(store.DirectoryListParams{Limit: 10})
		require.Equal(t, []string{"usr_a", "usr_b", "usr_c"}, got3)
		require.Equal(t, 3, total)
		page, total := list(store.DirectoryListParams{Offset: 1, Limit: 1})
		require.Equal(t, []string{"usr_b"}, page)
		require.Equal(t, 3, total)
		none, total := list(store.DirectoryListParams{Limit: 0})
		require.Empty(t, none)
		require.Equal(t, 3, total)
		byName, total := list(store.DirectoryListParams{UserName: "ALICE2", Limit: 10})
		require.Equal(t, []string{"usr_a"}, byName)
		require.Equal(t, 1, total)
		byExt, _ := list(store.DirectoryListParams{ExternalID: "00u1", Limit: 10})
		require.Equal(t, []string{"usr_c"}, byExt)
		byEmail, _ := list(store.DirectoryListParams{Email: "USR_B@example.com", Limit: 10})
		require.Equal(t, []string{"usr_b"}, byEmail)
		byIDs, _ := list(store.DirectoryListParams{IDs: []string{"usr_c", "usr_a", "usr_x"}, Limit: 10})
		require.Equal(t, []string{"usr_a", "usr_c"}, byIDs)

		require.NoError(t, b.st.DirectoryUserDelete(b.ctx, "usr_a"))
		_, err = b.st.DirectoryUserGet(b.ctx, "usr_a")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, b.st.DirectoryUserDelete(b.ctx, "usr_a"), store.ErrNotFound)
		_, err = b.st.UserGetByID(b.ctx, "usr_a")
		require.NoError(t, err, "the Sesame user stays")
	})
	t.Run("GroupsAndMembers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for _, id := range []string{"usr_a", "usr_b", "usr_c"} {
			require.NoError(t, b.st.UserUpsert(b.ctx, &access.User{ID: id, Email: id + "@example.com", Status: access.UserActive}))
			require.NoError(t, b.st.DirectoryUserCreate(b.ctx, &store.DirectoryUser{UserID: id, UserName: id}))
		}
		g := &store.DirectoryGroup{ID: "grp_1", DisplayName: "eng", ExternalID: "00g1", ClientID: "scc_1", CreatedAt: b.now}
		require.NoError(t, b.st.DirectoryGroupCreate(b.ctx, g))
		require.ErrorIs(t, b.st.DirectoryGroupCreate(b.ctx, &store.DirectoryGroup{ID: "grp_2", DisplayName: "eng"}), store.ErrConflict)
		require.NoError(t, b.st.DirectoryGroupCreate(b.ctx, &store.DirectoryGroup{ID: "grp_2", DisplayName: "sre"}))

		added, err := b.st.DirectoryMemberAdd(b.ctx, "grp_1", []string{"usr_b", "usr_a", "usr_b"})
		require.NoError(t, err)
		require.Equal(t, []string{"usr_a", "usr_b"}, added)
		added, err = b.st.DirectoryMemberAdd(b.ctx, "grp_1", []string{"usr_a", "usr_c"})
		require.NoError(t, err)
		require.Equal(t, []string{"usr_c"}, added, "present members are ignored")
		_, err = b.st.DirectoryMemberAdd(b.ctx, "grp_1", []string{"usr_404"})
		require.Error(t, err, "a member must be a directory user")
		members, err := b.st.DirectoryMemberList(b.ctx, "grp_1")
		require.NoError(t, err)
		require.Equal(t, []string{"usr_a", "usr_b", "usr_c"}, members)
		removed, err := b.st.DirectoryMemberRemove(b.ctx, "grp_1", []string{"usr_c", "usr_x"})
		require.NoError(t, err)
		require.Equal(t, []string{"usr_c"}, removed)
		_, err = b.st.DirectoryMemberAdd(b.ctx, "grp_2", []string{"usr_a"})
		require.NoError(t, err)

		of, total, err := b.st.DirectoryGroupList(b.ctx, store.DirectoryListParams{Member: "usr_a", Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Equal(t, []string{"grp_1", "grp_2"}, ids(of, func(g *store.DirectoryGroup) string { return g.ID }))
		byName, _, err := b.st.DirectoryGroupList(b.ctx, store.DirectoryListParams{DisplayName: "sre", Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{"grp_2"}, ids(byName, func(g *store.DirectoryGroup) string { return g.ID }))
		inGroup, _, err := b.st.DirectoryUserList(b.ctx, store.DirectoryListParams{Member: "grp_1", Limit: 10})
		require.NoError(t, err)
		require.Len(t, inGroup, 2)

		g.DisplayName = "sre"
		require.ErrorIs(t, b.st.DirectoryGroupUpdate(b.ctx, g), store.ErrConflict, "a taken name")
		g.DisplayName, g.UpdatedAt = "engineering", b.at(3)
		require.NoError(t, b.st.DirectoryGroupUpdate(b.ctx, g))
		got, err := b.st.DirectoryGroupGet(b.ctx, "grp_1")
		require.NoError(t, err)
		require.Equal(t, "engineering", got.DisplayName)
		require.Equal(t, 2, got.Version)

		// Deleting a user drops their memberships; deleting a group its own.
		require.NoError(t, b.st.DirectoryUserDelete(b.ctx, "usr_b"))
		members, err = b.st.DirectoryMemberList(b.ctx, "grp_1")
		require.NoError(t, err)
		require.Equal(t, []string{"usr_a"}, members)
		require.NoError(t, b.st.DirectoryGroupDelete(b.ctx, "grp_1"))
		members, err = b.st.DirectoryMemberList(b.ctx, "grp_1")
		require.NoError(t, err)
		require.Empty(t, members)
		require.ErrorIs(t, b.st.DirectoryGroupDelete(b.ctx, "grp_1"), store.ErrNotFound)
	})
	t.Run("GroupList", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.UserUpsert(b.ctx, &access.User{ID: "usr_a", Email: "a@example.com", Status: access.UserActive, Groups: []string{"eng", "ops"}}))
		require.NoError(t, b.st.UserUpsert(b.ctx, &access.User{ID: "usr_b", Email: "b@example.com", Status: access.UserActive, Groups: []string{"eng"}}))
		require.NoError(t, b.st.DirectoryGroupCreate(b.ctx, &store.DirectoryGroup{ID: "grp_1", DisplayName: "eng", ExternalID: "x1"}))
		require.NoError(t, b.st.DirectoryGroupCreate(b.ctx, &store.DirectoryGroup{ID: "grp_2", DisplayName: "empty"}))
		all := collectPages(t, 2, func(p store.Page) ([]*store.Group, string, error) { return b.st.GroupList(b.ctx, p) })
		require.Equal(t, []*store.Group{
			{Name: "empty", ID: "grp_2", Source: "scim", Members: 0},
			{Name: "eng", ID: "grp_1", ExternalID: "x1", Source: "scim", Members: 2},
			{Name: "ops", Source: "config", Members: 1},
		}, all)
		g, err := b.st.GroupGet(b.ctx, "grp_1")
		require.NoError(t, err)
		require.Equal(t, "eng", g.Name)
		g, err = b.st.GroupGet(b.ctx, "ops")
		require.NoError(t, err)
		require.Equal(t, 1, g.Members)
		_, err = b.st.GroupGet(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
