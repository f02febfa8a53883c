package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func notificationID(n *access.Notification) string { return n.ID }

func testNotifications(t *testing.T, open Opener) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		n := b.notification(1)
		ok, err := b.st.NotificationCreate(b.ctx, n)
		require.NoError(t, err)
		require.True(t, ok)
		got, err := b.st.NotificationGetByID(b.ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, wantNotification(n), got)

		empty := &access.Notification{ID: "ntf_0002", DedupKey: "k2", State: access.NotificationPending}
		ok, err = b.st.NotificationCreate(b.ctx, empty)
		require.NoError(t, err)
		require.True(t, ok)
		got, err = b.st.NotificationGetByID(b.ctx, empty.ID)
		require.NoError(t, err)
		require.Equal(t, empty, got)
	})
	t.Run("Dedup", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := b.notification(1)
		ok, err := b.st.NotificationCreate(b.ctx, first)
		require.NoError(t, err)
		require.True(t, ok)
		dup := b.notification(2, func(n *access.Notification) { n.DedupKey = first.DedupKey; n.RecipientID = "usr_0009" })
		ok, err = b.st.NotificationCreate(b.ctx, dup)
		require.NoError(t, err)
		require.False(t, ok, "a second notification with one dedup key is ignored")
		_, err = b.st.NotificationGetByID(b.ctx, dup.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err := b.st.NotificationGetByID(b.ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, wantNotification(first), got)
	})
	t.Run("DedupInTx", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		first := b.notification(1)
		ok, err := b.st.NotificationCreate(b.ctx, first)
		require.NoError(t, err)
		require.True(t, ok)
		// A duplicate does not spoil the transaction it is written in.
		err = b.st.InTx(b.ctx, func(q store.Queries) error {
			ok, err := q.NotificationCreate(b.ctx, b.notification(2, func(n *access.Notification) { n.DedupKey = first.DedupKey }))
			require.NoError(t, err)
			require.False(t, ok)
			ok, err = q.NotificationCreate(b.ctx, b.notification(3))
			require.NoError(t, err)
			require.True(t, ok)
			return nil
		})
		require.NoError(t, err)
		_, err = b.st.NotificationGetByID(b.ctx, "ntf_0003")
		require.NoError(t, err)
	})
	t.Run("IDConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.NotificationCreate(b.ctx, b.notification(1))
		require.NoError(t, err)
		_, err = b.st.NotificationCreate(b.ctx, b.notification(1, func(n *access.Notification) { n.DedupKey = "other" }))
		require.ErrorIs(t, err, store.ErrConflict)
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.NotificationGetByID(b.ctx, "ntf_404")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, b.st.NotificationUpdate(b.ctx, b.notification(404)), store.ErrNotFound)
	})
	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		n := b.notification(1, func(n *access.Notification) { n.SentAt = time.Time{} })
		_, err := b.st.NotificationCreate(b.ctx, n)
		require.NoError(t, err)
		n.State, n.Attempts, n.LastError, n.SentAt = access.NotificationSent, 2, "", b.at(time.Second)
		n.Data = map[string]string{"ts": "1717.0001"}
		require.NoError(t, b.st.NotificationUpdate(b.ctx, n))
		got, err := b.st.NotificationGetByID(b.ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, wantNotification(n), got)
	})
	t.Run("ListPending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, x := range []struct {
			state   access.NotificationState
			created time.Time
		}{
			1: {access.NotificationPending, b.at(-time.Minute)},
			2: {access.NotificationSent, b.at(-time.Hour)},
			3: {access.NotificationPending, b.at(time.Second)}, // later than before
			4: {access.NotificationPending, b.at(-time.Hour)},
			5: {access.NotificationFailed, b.at(-time.Hour)},
			6: {access.NotificationPending, b.now}, // at the instant
			7: {access.NotificationPending, b.at(-time.Minute)},
		} {
			if n == 0 {
				continue
			}
			_, err := b.st.NotificationCreate(b.ctx, b.notification(n, func(no *access.Notification) {
				no.State, no.CreatedAt = x.state, x.created
			}))
			require.NoError(t, err)
		}
		got, err := b.st.NotificationListPending(b.ctx, b.now, 100)
		require.NoError(t, err)
		require.Equal(t, []string{"ntf_0004", "ntf_0001", "ntf_0007", "ntf_0006"}, ids(got, notificationID))
		got, err = b.st.NotificationListPending(b.ctx, b.now, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"ntf_0004", "ntf_0001"}, ids(got, notificationID))
	})
	t.Run("ListByRequest", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, x := range []struct {
			request string
			created time.Time
		}{
			1: {"req_a", b.at(time.Minute)},
			2: {"req_b", b.now},
			3: {"req_a", b.now},
			4: {"req_a", b.at(time.Minute)},
		} {
			if n == 0 {
				continue
			}
			_, err := b.st.NotificationCreate(b.ctx, b.notification(n, func(no *access.Notification) {
				no.RequestID, no.CreatedAt = x.request, x.created
			}))
			require.NoError(t, err)
		}
		got, err := b.st.NotificationListByRequest(b.ctx, "req_a")
		require.NoError(t, err)
		require.Equal(t, []string{"ntf_0003", "ntf_0001", "ntf_0004"}, ids(got, notificationID))
		got, err = b.st.NotificationListByRequest(b.ctx, "req_none")
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
