package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// testFindings checks the store's FindingQueries (see store/findings.go).
func testFindings(t *testing.T, open Opener) {
	t.Helper()
	t.Run("AccountsUpsertPageAndGone", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var batch []*access.Account
		for i := range 1203 { // more than two statements' worth
			batch = append(batch, &access.Account{AppID: "github", ExternalID: fmt.Sprintf("u%05d", i),
				Email: fmt.Sprintf("p%d@example.com", i), Name: "P", FirstSeen: b.now, LastSeen: b.now})
		}
		// A duplicate in one call: the last copy wins, no error.
		batch = append(batch, &access.Account{AppID: "github", ExternalID: "u00000", Email: "first@example.com",
			FirstSeen: b.now, LastSeen: b.now})
		batch = append(batch, &access.Account{AppID: "okta", ExternalID: "u00000", Email: "first@example.com",
			UserID: "usr_1", FirstSeen: b.now, LastSeen: b.now})
		require.NoError(t, b.st.AccountUpsertBatch(b.ctx, batch))

		var all []*access.Account
		after := ""
		for {
			pg, err := b.st.AccountListByApp(b.ctx, "github", after, 500)
			require.NoError(t, err)
			if len(pg) == 0 {
				break
			}
			all = append(all, pg...)
			after = pg[len(pg)-1].ExternalID
		}
		require.Len(t, all, 1203)
		require.Equal(t, "u00000", all[0].ExternalID)
		require.Equal(t, "first@example.com", all[0].Email)
		require.Equal(t, tr(b.now), all[0].FirstSeen)
		require.True(t, all[0].Active())

		// A later sighting keeps FirstSeen, moves LastSeen, updates fields.
		later := b.at(time.Hour)
		require.NoError(t, b.st.AccountUpsertBatch(b.ctx, []*access.Account{{AppID: "github", ExternalID: "u00001",
			Email: "new@example.com", Name: "New", FirstSeen: later, LastSeen: later}}))
		pg, err := b.st.AccountListByApp(b.ctx, "github", "u00000", 1)
		require.NoError(t, err)
		require.Equal(t, &access.Account{AppID: "github", ExternalID: "u00001", Email: "new@example.com", Name: "New",
			FirstSeen: tr(b.now), LastSeen: tr(later)}, pg[0])

		n, err := b.st.AccountMarkGone(b.ctx, "github", []string{"u00000", "u00002", "missing"}, later)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = b.st.AccountMarkGone(b.ctx, "github", []string{"u00000"}, b.at(2*time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "an account already gone stays gone at its first time")
		pg, err = b.st.AccountListByApp(b.ctx, "github", "", 1)
		require.NoError(t, err)
		require.Equal(t, tr(later), pg[0].GoneAt)
		require.False(t, pg[0].Active())

		one, err := b.st.AccountGet(b.ctx, "github", "u00002")
		require.NoError(t, err)
		require.Equal(t, "p2@example.com", one.Email)
		_, err = b.st.AccountGet(b.ctx, "github", "u0000")
		require.ErrorIs(t, err, store.ErrNotFound)

		byEmail, err := b.st.AccountListByEmail(b.ctx, "first@example.com")
		require.NoError(t, err)
		require.Len(t, byEmail, 1, "the gone github account is left out")
		require.Equal(t, "okta", byEmail[0].AppID)
		require.Equal(t, "usr_1", byEmail[0].UserID)

		at, err := b.st.AccountSyncedAt(b.ctx, "github")
		require.NoError(t, err)
		require.True(t, at.IsZero(), "never synced")
		require.NoError(t, b.st.AccountSyncedPut(b.ctx, "github", b.now))
		require.NoError(t, b.st.AccountSyncedPut(b.ctx, "github", later))
		at, err = b.st.AccountSyncedAt(b.ctx, "github")
		require.NoError(t, err)
		require.Equal(t, tr(later), at)

		counts, err := b.st.AccountCount(b.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"github": 1201, "okta": 1}, counts)

		// Seen again: GoneAt is cleared.
		require.NoError(t, b.st.AccountUpsertBatch(b.ctx, []*access.Account{{AppID: "github", ExternalID: "u00000",
			FirstSeen: later, LastSeen: later}}))
		pg, err = b.st.AccountListByApp(b.ctx, "github", "", 1)
		require.NoError(t, err)
		require.True(t, pg[0].Active())
	})
	t.Run("DiscoveredApps", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		d := &access.DiscoveredApp{Key: "notion", Name: "Notion", Source: "okta", FirstSeen: b.now, LastSeen: b.now}
		ins, err := b.st.DiscoveredAppSeen(b.ctx, d)
		require.NoError(t, err)
		require.True(t, ins)
		ins, err = b.st.DiscoveredAppSeen(b.ctx, &access.DiscoveredApp{Key: "notion", Name: "Notion Inc", Domain: "notion.so",
			Source: "gworkspace", FirstSeen: b.at(time.Hour), LastSeen: b.at(time.Hour)})
		require.NoError(t, err)
		require.False(t, ins)
		got, err := b.st.DiscoveredAppGet(b.ctx, "notion")
		require.NoError(t, err)
		require.Equal(t, &access.DiscoveredApp{Key: "notion", Name: "Notion", Domain: "notion.so", Source: "okta",
			FirstSeen: tr(b.now), LastSeen: tr(b.at(time.Hour)), SeenCount: 2}, got)
		require.NoError(t, b.st.DiscoveredAppSetAppID(b.ctx, "notion", "notion"))
		require.ErrorIs(t, b.st.DiscoveredAppSetAppID(b.ctx, "nope", "x"), store.ErrNotFound)
		_, err = b.st.DiscoveredAppGet(b.ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		for _, k := range []string{"a", "b", "c"} {
			_, err := b.st.DiscoveredAppSeen(b.ctx, &access.DiscoveredApp{Key: k, Name: k, Source: "x", FirstSeen: b.now, LastSeen: b.now})
			require.NoError(t, err)
		}
		list := collectPages(t, 2, func(p store.Page) ([]*access.DiscoveredApp, string, error) {
			return b.st.DiscoveredAppList(b.ctx, p)
		})
		require.Equal(t, []string{"a", "b", "c", "notion"}, ids(list, func(d *access.DiscoveredApp) string { return d.Key }))
		require.Equal(t, "notion", list[3].AppID)
	})
	t.Run("Alerts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		a := &access.Alert{ID: "alr_0001", Type: access.AlertWatchlistSignup, DedupKey: "signup:github:u1",
			State: access.AlertOpen, AppKey: "app:github", AppID: "github", AppName: "GitHub", Title: "New account",
			Details: []string{"u1 (a@example.com)"}, Source: "connector", Delivery: access.DeliveryPending,
			CreatedAt: b.now, UpdatedAt: b.now}
		ins, err := b.st.AlertCreate(b.ctx, a)
		require.NoError(t, err)
		require.True(t, ins)
		dup := *a
		dup.ID = "alr_0002"
		ins, err = b.st.AlertCreate(b.ctx, &dup)
		require.NoError(t, err)
		require.False(t, ins, "one finding is stored once")
		sameID := *a
		sameID.DedupKey = "other"
		_, err = b.st.AlertCreate(b.ctx, &sameID)
		require.ErrorIs(t, err, store.ErrConflict)

		got, err := b.st.AlertGetByID(b.ctx, a.ID, false)
		require.NoError(t, err)
		want := *a
		want.CreatedAt, want.UpdatedAt = tr(a.CreatedAt), tr(a.UpdatedAt)
		require.Equal(t, &want, got)

		pending, err := b.st.AlertListPending(b.ctx, b.now, 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		pending, err = b.st.AlertListPending(b.ctx, b.at(-time.Second), 10)
		require.NoError(t, err)
		require.Empty(t, pending)

		got.Channel, got.TS, got.Delivery, got.Attempts = "C1", "1.0001", access.DeliveryPosted, 1
		got.State, got.DecidedBy, got.DecidedAt, got.UpdatedAt = access.AlertWatching, "usr_1", b.at(time.Minute), b.at(time.Minute)
		stale := *got
		require.NoError(t, b.st.AlertUpdate(b.ctx, got))
		require.Equal(t, 1, got.Version)
		require.ErrorIs(t, b.st.AlertUpdate(b.ctx, &stale), store.ErrConflict)
		missing := stale
		missing.ID = "alr_404"
		require.ErrorIs(t, b.st.AlertUpdate(b.ctx, &missing), store.ErrNotFound)
		again, err := b.st.AlertGetByID(b.ctx, a.ID, false)
		require.NoError(t, err)
		require.Equal(t, "1.0001", again.TS)
		require.Equal(t, access.AlertWatching, again.State)
		require.Equal(t, tr(b.at(time.Minute)), again.DecidedAt)
		_, err = b.st.AlertGetByID(b.ctx, "alr_404", false)
		require.ErrorIs(t, err, store.ErrNotFound)

		for i := 3; i <= 6; i++ {
			typ := access.AlertNewAppDiscovered
			if i%2 == 0 {
				typ = access.AlertOffboardedWithAccounts
			}
			_, err := b.st.AlertCreate(b.ctx, &access.Alert{ID: fmt.Sprintf("alr_%04d", i), Type: typ,
				DedupKey: fmt.Sprint(i), State: access.AlertOpen, UserID: "usr_9", Delivery: access.DeliverySkipped,
				CreatedAt: b.now, UpdatedAt: b.now})
			require.NoError(t, err)
		}
		list := collectPages(t, 2, func(p store.Page) ([]*access.Alert, string, error) {
			return b.st.AlertList(b.ctx, store.AlertListParams{Page: p})
		})
		require.Equal(t, []string{"alr_0006", "alr_0005", "alr_0004", "alr_0003", "alr_0001"}, ids(list, func(a *access.Alert) string { return a.ID }))
		list, _, err = b.st.AlertList(b.ctx, store.AlertListParams{Types: []access.AlertType{access.AlertOffboardedWithAccounts}, UserID: "usr_9"})
		require.NoError(t, err)
		require.Equal(t, []string{"alr_0006", "alr_0004"}, ids(list, func(a *access.Alert) string { return a.ID }))
		list, _, err = b.st.AlertList(b.ctx, store.AlertListParams{States: []access.AlertState{access.AlertWatching}, AppID: "github"})
		require.NoError(t, err)
		require.Equal(t, []string{"alr_0001"}, ids(list, func(a *access.Alert) string { return a.ID }))
	})
	t.Run("MutesAndSettings", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		muted, err := b.st.AlertMuted(b.ctx, "app:github")
		require.NoError(t, err)
		require.False(t, muted)
		require.NoError(t, b.st.AlertMuteAdd(b.ctx, "app:github", "usr_1", b.now))
		require.NoError(t, b.st.AlertMuteAdd(b.ctx, "app:github", "usr_2", b.now))
		muted, err = b.st.AlertMuted(b.ctx, "app:github")
		require.NoError(t, err)
		require.True(t, muted)

		got, err := b.st.AlertSettingsGet(b.ctx)
		require.NoError(t, err)
		require.Empty(t, got)
		s := access.AlertSetting{Type: access.AlertNewAppDiscovered, Enabled: true, Channel: "C1", UpdatedBy: "config", UpdatedAt: b.now}
		require.NoError(t, b.st.AlertSettingPut(b.ctx, s))
		s.Enabled, s.Channel, s.UpdatedBy = false, "C2", "usr_1"
		require.NoError(t, b.st.AlertSettingPut(b.ctx, s))
		got, err = b.st.AlertSettingsGet(b.ctx)
		require.NoError(t, err)
		s.UpdatedAt = tr(s.UpdatedAt)
		require.Equal(t, map[access.AlertType]access.AlertSetting{access.AlertNewAppDiscovered: s}, got)
	})
}
