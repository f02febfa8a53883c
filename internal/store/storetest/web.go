package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// testWeb checks the store's WebQueries (see store/web.go).
func testWeb(t *testing.T, open Opener) {
	t.Helper()
	t.Run("Sessions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		s := &store.WebSession{Hash: "h1", UserID: "usr_a", CSRFSecret: "c1", Method: "oidc", CreatedAt: b.now, ExpiresAt: b.at(time.Hour)}
		require.NoError(t, b.st.WebSessionCreate(b.ctx, s))
		require.ErrorIs(t, b.st.WebSessionCreate(b.ctx, s), store.ErrConflict)
		got, err := b.st.WebSessionGet(b.ctx, "h1", b.now)
		require.NoError(t, err)
		require.Equal(t, &store.WebSession{Hash: "h1", UserID: "usr_a", CSRFSecret: "c1", Method: "oidc", CreatedAt: tr(b.now), ExpiresAt: tr(b.at(time.Hour))}, got)
		_, err = b.st.WebSessionGet(b.ctx, "h1", b.at(time.Hour))
		require.ErrorIs(t, err, store.ErrNotFound, "expired at ExpiresAt")
		_, err = b.st.WebSessionGet(b.ctx, "nope", b.now)
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, b.st.WebSessionCreate(b.ctx, &store.WebSession{Hash: "h2", UserID: "usr_b", CSRFSecret: "c2", CreatedAt: b.now, ExpiresAt: b.at(time.Minute)}))
		n, err := b.st.WebSessionDeleteExpired(b.ctx, b.at(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = b.st.WebSessionGet(b.ctx, "h1", b.now)
		require.NoError(t, err, "the unexpired session stays")

		require.NoError(t, b.st.WebSessionDelete(b.ctx, "h1"))
		require.NoError(t, b.st.WebSessionDelete(b.ctx, "h1"), "deleting twice is fine")
		_, err = b.st.WebSessionGet(b.ctx, "h1", b.now)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("LoginLinks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		l := &store.LoginLink{Hash: "l1", UserID: "usr_a", Purpose: "bootstrap", CreatedAt: b.now, ExpiresAt: b.at(15 * time.Minute)}
		require.NoError(t, b.st.LoginLinkCreate(b.ctx, l))
		require.ErrorIs(t, b.st.LoginLinkCreate(b.ctx, l), store.ErrConflict)
		_, err := b.st.LoginLinkUse(b.ctx, "unknown", b.now)
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err := b.st.LoginLinkUse(b.ctx, "l1", b.at(time.Minute))
		require.NoError(t, err)
		require.Equal(t, &store.LoginLink{Hash: "l1", UserID: "usr_a", Purpose: "bootstrap", CreatedAt: tr(b.now),
			ExpiresAt: tr(b.at(15 * time.Minute)), UsedAt: tr(b.at(time.Minute))}, got)
		_, err = b.st.LoginLinkUse(b.ctx, "l1", b.at(2*time.Minute))
		require.ErrorIs(t, err, store.ErrNotFound, "a link works once")

		require.NoError(t, b.st.LoginLinkCreate(b.ctx, &store.LoginLink{Hash: "l2", UserID: "usr_a", Purpose: "bootstrap", CreatedAt: b.now, ExpiresAt: b.at(15 * time.Minute)}))
		_, err = b.st.LoginLinkUse(b.ctx, "l2", b.at(15*time.Minute))
		require.ErrorIs(t, err, store.ErrNotFound, "expired at ExpiresAt")
	})
	t.Run("RequestListAwaiting", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		// usr_0002 was notified at step 0 of req 1 (pending) and req 2
		// (approved); usr_0004 at step 1 of both; req 3 is pending and
		// notified neither.
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(1)))
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(2, func(r *access.Request) { r.State = access.RequestApproved })))
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(3, func(r *access.Request) {
			r.Steps = []access.Step{{Name: "x", Eligible: []string{"usr_0009"}, Notified: []string{"usr_0009"}, Required: 1}}
			r.Decisions = nil
		})))
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(4)))
		for _, tt := range []struct {
			user  string
			limit int
			want  []string
		}{
			{"usr_0002", 0, []string{"req_0004", "req_0001"}},
			{"usr_0004", 1, []string{"req_0004"}},
			{"usr_0009", 10, []string{"req_0003"}},
			{"usr_0003", 10, []string{}},
		} {
			got, err := b.st.RequestListAwaiting(b.ctx, tt.user, tt.limit)
			require.NoError(t, err)
			require.Equal(t, tt.want, ids(got, func(r *access.Request) string { return r.ID }), tt.user)
			for _, r := range got {
				if r.ID == "req_0001" {
					require.Equal(t, wantRequest(b.request(1)), r, "the whole request, decisions included")
				}
			}
		}
	})
	t.Run("LoginLinkRace", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.LoginLinkCreate(b.ctx, &store.LoginLink{Hash: "r1", UserID: "usr_a", Purpose: "bootstrap", CreatedAt: b.now, ExpiresAt: b.at(time.Hour)}))
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Go(func() {
				if _, err := b.st.LoginLinkUse(b.ctx, "r1", b.now); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, ok, "exactly one concurrent use wins")
	})
}
