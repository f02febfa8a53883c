package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// countingStore counts the user reads that go through it.
type countingStore struct {
	store.Store
	getByID, listByIDs int
}

func (c *countingStore) UserGetByID(ctx context.Context, id string) (*access.User, error) {
	c.getByID++
	return c.Store.UserGetByID(ctx, id)
}

func (c *countingStore) UserListByIDs(ctx context.Context, ids []string) ([]*access.User, error) {
	c.listByIDs++
	return c.Store.UserListByIDs(ctx, ids)
}

// TestPreloadRows: the people of a page's request and grant tables are
// read in one query, and Person then reads only the cache.
func TestPreloadRows(t *testing.T) {
	t.Parallel()
	st := sqlite.OpenTest(t)
	for _, u := range []*access.User{
		{ID: "usr_a", Email: "a@example.com", Name: "Ann", Status: access.UserActive},
		{ID: "usr_b", Email: "b@example.com", Status: access.UserActive},
	} {
		require.NoError(t, st.UserUpsert(t.Context(), u))
	}
	cs := &countingStore{Store: st}
	c := &Ctx{h: &Handler{st: cs}, R: httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil),
		users: map[string]*access.User{}}
	reqs := []*access.Request{{RequesterID: "usr_a"}, {RequesterID: "usr_gone"}, {RequesterID: "usr_a"}}
	grants := []*access.Grant{{UserID: "usr_b"}, {UserID: ""}}

	require.NoError(t, c.preloadRows(reqs, grants))
	require.Equal(t, 1, cs.listByIDs)
	require.Equal(t, "Ann", c.Person("usr_a"))
	require.Equal(t, "b@example.com", c.Person("usr_b"), "no name: the email")
	require.Equal(t, "usr_gone", c.Person("usr_gone"), "unknown: the ID")
	require.Zero(t, cs.getByID, "Person read the cache")

	require.NoError(t, c.preloadRows(reqs, grants))
	require.Equal(t, 1, cs.listByIDs, "nothing left to load")
}
