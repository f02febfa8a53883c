package api

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// countingQueries counts the user reads that go through it.
type countingQueries struct {
	store.Queries
	getByID, listByIDs int
}

func (c *countingQueries) UserGetByID(ctx context.Context, id string) (*access.User, error) {
	c.getByID++
	return c.Queries.UserGetByID(ctx, id)
}

func (c *countingQueries) UserListByIDs(ctx context.Context, ids []string) ([]*access.User, error) {
	c.listByIDs++
	return c.Queries.UserListByIDs(ctx, ids)
}

func TestUsersLoadOneQuery(t *testing.T) {
	t.Parallel()
	st := sqlite.OpenTest(t)
	ctx := t.Context()
	for _, u := range []*access.User{
		{ID: "usr_a", Email: "a@example.com", Name: "A", Status: access.UserActive},
		{ID: "usr_b", Email: "b@example.com", Name: "B", Status: access.UserOffboarded},
	} {
		require.NoError(t, st.UserUpsert(ctx, u))
	}
	q := &countingQueries{Queries: st}
	us := newUsers(q)

	require.NoError(t, us.load(ctx, "usr_b", "", access.SystemActor, "usr_a", "usr_gone", "usr_b"))
	require.Equal(t, 1, q.listByIDs, "one query for the whole list")
	require.Zero(t, q.getByID)
	require.Equal(t, []userRef{
		{ID: "usr_a", Email: "a@example.com", Name: "A"},
		{ID: "usr_b", Email: "b@example.com", Name: "B"},
		{ID: "usr_gone"},
		{ID: access.SystemActor, Name: "Sesame"},
	}, us.refs([]string{"usr_a", "usr_b", "usr_gone", access.SystemActor}))

	require.NoError(t, us.load(ctx, "usr_a", "usr_gone", access.SystemActor, ""))
	require.Equal(t, 1, q.listByIDs, "loaded users, unknown ones too, are not read again")
	require.NoError(t, us.load(ctx))
	require.Equal(t, 1, q.listByIDs)
}
