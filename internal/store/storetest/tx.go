package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// writeEverything writes one of each kind of row through q.
func writeEverything(t *testing.T, b *testBundle, q store.Queries) {
	t.Helper()
	require.NoError(t, q.UserUpsert(b.ctx, b.user(1)))
	require.NoError(t, q.AppUpsert(b.ctx, b.app("github")))
	require.NoError(t, q.EntitlementUpsert(b.ctx, b.entitlement("github", "admin")))
	require.NoError(t, q.RequestCreate(b.ctx, b.request(1)))
	require.NoError(t, q.GrantCreate(b.ctx, b.grant(1)))
	ok, err := q.NotificationCreate(b.ctx, b.notification(1))
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, q.EventAppend(b.ctx, b.event(1)))
	require.NoError(t, q.TokenCreate(b.ctx, b.token(1)))
}

// requireNothingStored checks that no row writeEverything writes exists.
func requireNothingStored(t *testing.T, b *testBundle) {
	t.Helper()
	_, err := b.st.UserGetByID(b.ctx, "usr_0001")
	require.ErrorIs(t, err, store.ErrNotFound)
	members, err := b.st.UserListByGroup(b.ctx, "everyone")
	require.NoError(t, err)
	require.Empty(t, members)
	_, err = b.st.AppGetByID(b.ctx, "github")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.EntitlementGetByID(b.ctx, "github:admin")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.RequestGetByID(b.ctx, "req_0001", false)
	require.ErrorIs(t, err, store.ErrNotFound)
	reqs, _, err := b.st.RequestList(b.ctx, store.RequestListParams{ApproverID: "usr_0004"})
	require.NoError(t, err)
	require.Empty(t, reqs)
	_, err = b.st.GrantGetByID(b.ctx, "grt_0001", false)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.st.NotificationGetByID(b.ctx, "ntf_0001")
	require.ErrorIs(t, err, store.ErrNotFound)
	events, err := b.st.EventListAfter(b.ctx, 0, 10)
	require.NoError(t, err)
	require.Empty(t, events)
	_, err = b.st.TokenGetByID(b.ctx, "tok_0001")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testTransactions(t *testing.T, open Opener) {
	t.Helper()
	t.Run("Commit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.InTx(b.ctx, func(q store.Queries) error {
			writeEverything(t, b, q)
			// The transaction reads its own writes.
			r, err := q.RequestGetByID(b.ctx, "req_0001", true)
			require.NoError(t, err)
			require.Equal(t, wantRequest(b.request(1)), r)
			return nil
		}))
		r, err := b.st.RequestGetByID(b.ctx, "req_0001", false)
		require.NoError(t, err)
		require.Equal(t, wantRequest(b.request(1)), r)
		_, err = b.st.TokenGetByHash(b.ctx, b.token(1).Hash)
		require.NoError(t, err)
		verifyChain(t, b, 1)
	})
	t.Run("RollbackOnError", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		boom := errors.New("boom")
		err := b.st.InTx(b.ctx, func(q store.Queries) error {
			writeEverything(t, b, q)
			return boom
		})
		require.ErrorIs(t, err, boom)
		requireNothingStored(t, b)

		// The rolled-back event took no sequence number.
		e := b.event(2)
		require.NoError(t, b.st.EventAppend(b.ctx, e))
		require.Equal(t, int64(1), e.Seq)
		require.Empty(t, e.PrevHash)
		verifyChain(t, b, 1)
	})
	t.Run("RollbackOnPanic", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.PanicsWithValue(t, "kaboom", func() {
			_ = b.st.InTx(b.ctx, func(q store.Queries) error { //nolint:errcheck // it panics
				writeEverything(t, b, q)
				panic("kaboom")
			})
		})
		requireNothingStored(t, b)
		// The store is still usable: no connection or lock was leaked.
		require.NoError(t, b.st.InTx(b.ctx, func(q store.Queries) error {
			writeEverything(t, b, q)
			return nil
		}))
	})
	t.Run("ConflictAbortsTransaction", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.UserUpsert(b.ctx, b.user(1)))
		err := b.st.InTx(b.ctx, func(q store.Queries) error {
			require.NoError(t, q.AppUpsert(b.ctx, b.app("github")))
			return q.UserUpsert(b.ctx, b.user(2, func(u *access.User) { u.Email = b.user(1).Email }))
		})
		require.ErrorIs(t, err, store.ErrConflict)
		_, err = b.st.AppGetByID(b.ctx, "github")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("PingAndDialect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.Ping(b.ctx))
		require.Contains(t, []string{"sqlite", "postgres"}, b.st.Dialect())
	})
}
