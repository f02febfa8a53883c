package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func userID(u *access.User) string { return u.ID }

func testUsers(t *testing.T, open Opener) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		u := b.user(1, func(u *access.User) { u.Email = "User0001@Example.COM" })
		require.NoError(t, b.st.UserUpsert(b.ctx, u))
		require.Equal(t, "user0001@example.com", u.Email, "UserUpsert lowercases the email")
		want := wantUser(u)

		got, err := b.st.UserGetByID(b.ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
		got, err = b.st.UserGetByEmail(b.ctx, "USER0001@example.com")
		require.NoError(t, err)
		require.Equal(t, want, got)
		got, err = b.st.UserGetBySlackID(b.ctx, u.SlackUserID)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
	t.Run("RoundTripEmpty", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		u := &access.User{ID: "usr_0001", Email: "a@example.com", Status: access.UserOffboarded}
		require.NoError(t, b.st.UserUpsert(b.ctx, u))
		got, err := b.st.UserGetByID(b.ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)
	})
	t.Run("UpsertReplaces", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		u := b.user(1, func(u *access.User) { u.Groups = []string{"old", "kept"} })
		require.NoError(t, b.st.UserUpsert(b.ctx, u))
		u.Name, u.Email, u.Status = "Renamed", "new@example.com", access.UserOffboarded
		u.Groups, u.Roles, u.SlackUserID = []string{"kept", "new"}, nil, ""
		u.UpdatedAt = b.at(3)
		require.NoError(t, b.st.UserUpsert(b.ctx, u))

		got, err := b.st.UserGetByID(b.ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, wantUser(u), got)
		_, err = b.st.UserGetByEmail(b.ctx, "user0001@example.com")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.UserGetBySlackID(b.ctx, "U0001")
		require.ErrorIs(t, err, store.ErrNotFound)
		for group, want := range map[string][]string{"old": nil, "kept": {u.ID}, "new": {u.ID}} {
			members, err := b.st.UserListByGroup(b.ctx, group)
			require.NoError(t, err)
			require.Equal(t, want, nilIfEmpty(ids(members, userID)), group)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.UserUpsert(b.ctx, b.user(1, func(u *access.User) { u.SlackUserID = "" })))
		_, err := b.st.UserGetByID(b.ctx, "usr_404")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.UserGetByEmail(b.ctx, "nobody@example.com")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.UserGetBySlackID(b.ctx, "U404")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.UserGetBySlackID(b.ctx, "")
		require.ErrorIs(t, err, store.ErrNotFound, "an empty Slack ID links no one")
	})
	t.Run("EmailConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := b.user(1)
		require.NoError(t, b.st.UserUpsert(b.ctx, first))
		err := b.st.UserUpsert(b.ctx, b.user(2, func(u *access.User) { u.Email = "USER0001@example.com" }))
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.st.UserGetByID(b.ctx, "usr_0002")
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err := b.st.UserGetByEmail(b.ctx, first.Email)
		require.NoError(t, err)
		require.Equal(t, first.ID, got.ID)
	})
	t.Run("SlackIDConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.UserUpsert(b.ctx, b.user(1)))
		err := b.st.UserUpsert(b.ctx, b.user(2, func(u *access.User) { u.SlackUserID = "U0001" }))
		require.ErrorIs(t, err, store.ErrConflict)
		// Unlinked users are many.
		require.NoError(t, b.st.UserUpsert(b.ctx, b.user(3, func(u *access.User) { u.SlackUserID = "" })))
		require.NoError(t, b.st.UserUpsert(b.ctx, b.user(4, func(u *access.User) { u.SlackUserID = "" })))
	})
	t.Run("ListByIDs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var stored []*access.User
		for _, n := range []int{1, 3, 700, 1400} {
			u := b.user(n, func(u *access.User) {
				if n == 3 {
					u.Status = access.UserOffboarded
				}
			})
			require.NoError(t, b.st.UserUpsert(b.ctx, u))
			stored = append(stored, wantUser(u))
		}
		got, err := b.st.UserListByIDs(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, got)

		got, err = b.st.UserListByIDs(b.ctx, []string{"usr_0003", "usr_0404", "usr_0001", "usr_0003", ""})
		require.NoError(t, err)
		require.Equal(t, stored[:2], got, "by ID, once each, offboarded too, unknown IDs left out")

		got, err = b.st.UserListByIDs(b.ctx, []string{"usr_0404"})
		require.NoError(t, err)
		require.Empty(t, got)

		// More IDs than one query takes, in reverse order.
		var many []string
		for n := 1500; n >= 1; n-- {
			many = append(many, fmt.Sprintf("usr_%04d", n))
		}
		got, err = b.st.UserListByIDs(b.ctx, many)
		require.NoError(t, err)
		require.Equal(t, stored, got)
		// Every length up to a few past a power of two.
		for n := 1; n <= 18; n++ {
			got, err = b.st.UserListByIDs(b.ctx, many[len(many)-n:])
			require.NoError(t, err)
			want := []string{"usr_0001", "usr_0003"}
			if n < 3 {
				want = want[:1]
			}
			require.Equal(t, want, ids(got, userID), n)
		}
	})
	t.Run("ListByGroup", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, groups := range map[int][]string{
			1: {"db", "db"}, // a repeated group is one membership
			2: {"web"},
			3: {"db", "web"},
			4: nil,
		} {
			require.NoError(t, b.st.UserUpsert(b.ctx, b.user(n, func(u *access.User) {
				u.Groups = groups
				u.Email = []string{"", "d@x.io", "b@x.io", "c@x.io", "a@x.io"}[n]
				if n == 3 {
					u.Status = access.UserOffboarded
				}
			})))
		}
		for group, want := range map[string][]string{
			"db":      {"usr_0003", "usr_0001"}, // by email: c@, d@
			"web":     {"usr_0002", "usr_0003"}, // b@, c@
			"unknown": nil,
		} {
			got, err := b.st.UserListByGroup(b.ctx, group)
			require.NoError(t, err)
			require.Equal(t, want, nilIfEmpty(ids(got, userID)), group)
		}
	})
	t.Run("ListFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n := 1; n <= 6; n++ {
			require.NoError(t, b.st.UserUpsert(b.ctx, b.user(n, func(u *access.User) {
				if n%2 == 0 {
					u.Status = access.UserOffboarded
				}
			})))
		}
		for _, tt := range []struct {
			name string
			p    store.UserListParams
			want []string
		}{
			{"all", store.UserListParams{}, []string{"usr_0001", "usr_0002", "usr_0003", "usr_0004", "usr_0005", "usr_0006"}},
			{"active", store.UserListParams{Status: access.UserActive}, []string{"usr_0001", "usr_0003", "usr_0005"}},
			{"offboarded", store.UserListParams{Status: access.UserOffboarded}, []string{"usr_0002", "usr_0004", "usr_0006"}},
			{"group", store.UserListParams{Group: "team-1"}, []string{"usr_0001", "usr_0004"}},
			{"group and status", store.UserListParams{Group: "team-1", Status: access.UserActive}, []string{"usr_0001"}},
			{"unknown group", store.UserListParams{Group: "nope"}, nil},
		} {
			got, next, err := b.st.UserList(b.ctx, tt.p)
			require.NoError(t, err, tt.name)
			require.Empty(t, next, tt.name)
			require.Equal(t, tt.want, nilIfEmpty(ids(got, userID)), tt.name)
		}
	})
	t.Run("ListPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var want []string
		for n := 1; n <= 7; n++ {
			u := b.user(n)
			want = append(want, u.ID)
			require.NoError(t, b.st.UserUpsert(b.ctx, u))
		}
		for _, limit := range []int{1, 3, 7, 8} {
			got := collectPages(t, limit, func(p store.Page) ([]*access.User, string, error) {
				return b.st.UserList(b.ctx, store.UserListParams{Page: p})
			})
			require.Equal(t, want, ids(got, userID), "limit %d", limit)
		}
		got := collectPages(t, 2, func(p store.Page) ([]*access.User, string, error) {
			return b.st.UserList(b.ctx, store.UserListParams{Page: p, Group: "team-1"})
		})
		require.Equal(t, []string{"usr_0001", "usr_0004", "usr_0007"}, ids(got, userID))
	})
	t.Run("ListDefaultLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n := 1; n <= 51; n++ {
			require.NoError(t, b.st.UserUpsert(b.ctx, b.user(n, func(u *access.User) { u.Groups = nil })))
		}
		got, next, err := b.st.UserList(b.ctx, store.UserListParams{})
		require.NoError(t, err)
		require.Len(t, got, 50)
		require.NotEmpty(t, next)
		got, next, err = b.st.UserList(b.ctx, store.UserListParams{Page: store.Page{Cursor: next}})
		require.NoError(t, err)
		require.Equal(t, []string{"usr_0051"}, ids(got, userID))
		require.Empty(t, next)
	})
	t.Run("BadCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, _, err := b.st.UserList(b.ctx, store.UserListParams{Page: store.Page{Cursor: "not a cursor!"}})
		require.Error(t, err)
		require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
	})
}

// nilIfEmpty makes an empty slice nil, so that "none" compares equal
// however it was built.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
