package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/store"
)

func (b *testBundle) integration(n int, mod ...func(*store.Integration)) *store.Integration {
	i := &store.Integration{
		ID: fmt.Sprintf("int_%04d", n), Name: fmt.Sprintf("integration-%d", n), Source: "api", Kind: "webhook",
		WebhookSealed: "sealed:v1:abc", WebhookMask: "https://hooks.slack.com/services/T…/B…/••••",
		Covers: []string{"app:github", "set:cloud-accounts"}, Categories: []string{"grants", "alerts"},
		Health: store.HealthHealthy, CreatedAt: b.now.In(zone()), UpdatedAt: b.now.In(zone()),
	}
	for _, m := range mod {
		m(i)
	}
	return i
}

func wantIntegration(i *store.Integration) *store.Integration {
	cp := *i
	cp.CreatedAt, cp.UpdatedAt = truncUTC(cp.CreatedAt), truncUTC(cp.UpdatedAt)
	cp.FailingSince, cp.LastOKAt = truncUTC(cp.FailingSince), truncUTC(cp.LastOKAt)
	return &cp
}

func truncUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (b *testBundle) delivery(n int, integrationID string, mod ...func(*store.Delivery)) *store.Delivery {
	d := &store.Delivery{
		ID: fmt.Sprintf("dlv_%04d", n), IntegrationID: integrationID, DedupKey: fmt.Sprintf("grants/grant_active/grt_%04d", n),
		Category: "grants", AppID: "github", Payload: []byte(`{"text":"hi"}`), State: store.DeliveryPending,
		CreatedAt: b.now, NextAt: b.now.Add(time.Duration(n) * time.Second),
	}
	for _, m := range mod {
		m(d)
	}
	return d
}

func wantDelivery(d *store.Delivery) *store.Delivery {
	cp := *d
	cp.CreatedAt, cp.NextAt, cp.SentAt = truncUTC(cp.CreatedAt), truncUTC(cp.NextAt), truncUTC(cp.SentAt)
	return &cp
}

// testIntegrations checks the store's IntegrationQueries (see
// store/integrations.go).
func testIntegrations(t *testing.T, open Opener) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		i := b.integration(1)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, i))
		require.Equal(t, 1, i.Version)
		got, err := b.st.IntegrationGetByID(b.ctx, i.ID)
		require.NoError(t, err)
		require.Equal(t, wantIntegration(i), got)

		ch := b.integration(2, func(i *store.Integration) {
			i.Kind, i.Channel, i.WebhookSealed, i.WebhookMask, i.Covers, i.Categories = "channel", "C0GATEWAY", "", "", []string{"*"}, nil
		})
		require.NoError(t, b.st.IntegrationCreate(b.ctx, ch))
		list, err := b.st.IntegrationList(b.ctx)
		require.NoError(t, err)
		require.Equal(t, []*store.Integration{wantIntegration(i), wantIntegration(ch)}, list, "ordered by name")
	})
	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, b.integration(1)))
		require.ErrorIs(t, b.st.IntegrationCreate(b.ctx, b.integration(2, func(i *store.Integration) { i.Name = "integration-1" })),
			store.ErrConflict, "names are unique")
		require.ErrorIs(t, b.st.IntegrationCreate(b.ctx, b.integration(1, func(i *store.Integration) { i.Name = "other" })),
			store.ErrConflict)
	})
	t.Run("UpdateVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		i := b.integration(1)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, i))
		stale := *i
		i.Covers, i.Categories, i.UpdatedAt = []string{"connector:awsidc"}, []string{"decisions"}, b.now.Add(time.Hour)
		require.NoError(t, b.st.IntegrationUpdate(b.ctx, i))
		require.Equal(t, 2, i.Version)
		got, err := b.st.IntegrationGetByID(b.ctx, i.ID)
		require.NoError(t, err)
		require.Equal(t, wantIntegration(i), got)
		require.ErrorIs(t, b.st.IntegrationUpdate(b.ctx, &stale), store.ErrConflict, "a stale version")
		require.ErrorIs(t, b.st.IntegrationUpdate(b.ctx, b.integration(9)), store.ErrNotFound)
		other := b.integration(2)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, other))
		other.Name = i.Name
		require.ErrorIs(t, b.st.IntegrationUpdate(b.ctx, other), store.ErrConflict, "renamed onto another's name")
	})
	t.Run("Health", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		i := b.integration(1)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, i))
		recovered, err := b.st.IntegrationMarkHealthy(b.ctx, i.ID, b.now)
		require.NoError(t, err)
		require.False(t, recovered, "it was not failing")

		started, err := b.st.IntegrationMarkFailing(b.ctx, i.ID, "invalid_token", b.now.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, started)
		started, err = b.st.IntegrationMarkFailing(b.ctx, i.ID, "channel_is_archived", b.now.Add(2*time.Minute))
		require.NoError(t, err)
		require.False(t, started, "the same episode")
		got, err := b.st.IntegrationGetByID(b.ctx, i.ID)
		require.NoError(t, err)
		require.Equal(t, store.HealthFailing, got.Health)
		require.Equal(t, "channel_is_archived", got.LastError)
		require.Equal(t, truncUTC(b.now.Add(time.Minute)), got.FailingSince, "since the episode began")
		require.Equal(t, truncUTC(b.now), got.LastOKAt)
		require.Equal(t, 1, got.Version, "health is not a settings change")

		recovered, err = b.st.IntegrationMarkHealthy(b.ctx, i.ID, b.now.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, recovered)
		got, err = b.st.IntegrationGetByID(b.ctx, i.ID)
		require.NoError(t, err)
		require.Equal(t, store.HealthHealthy, got.Health)
		require.Empty(t, got.LastError)
		require.True(t, got.FailingSince.IsZero())

		_, err = b.st.IntegrationMarkFailing(b.ctx, "int_404", "x", b.now)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.IntegrationMarkHealthy(b.ctx, "int_404", b.now)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("OneEpisodeStartUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		i := b.integration(1)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, i))
		var mu sync.Mutex
		starts := 0
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				started, err := b.st.IntegrationMarkFailing(b.ctx, i.ID, "no_service", b.now)
				if err == nil && started {
					mu.Lock()
					starts++
					mu.Unlock()
				}
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, 1, starts)
	})
	t.Run("Deliveries", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		i := b.integration(1)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, i))
		d := b.delivery(1, i.ID)
		ok, err := b.st.DeliveryCreate(b.ctx, d)
		require.NoError(t, err)
		require.True(t, ok)
		got, err := b.st.DeliveryGetByID(b.ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, wantDelivery(d), got)

		dup := b.delivery(2, i.ID, func(x *store.Delivery) { x.DedupKey = d.DedupKey })
		ok, err = b.st.DeliveryCreate(b.ctx, dup)
		require.NoError(t, err)
		require.False(t, ok, "one delivery per (integration, dedup key)")
		_, err = b.st.DeliveryGetByID(b.ctx, dup.ID)
		require.ErrorIs(t, err, store.ErrNotFound)

		d.State, d.Attempts, d.LastError, d.SentAt = store.DeliverySent, 2, "", b.now.Add(time.Minute)
		require.NoError(t, b.st.DeliveryUpdate(b.ctx, d))
		got, err = b.st.DeliveryGetByID(b.ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, wantDelivery(d), got)
		require.ErrorIs(t, b.st.DeliveryUpdate(b.ctx, b.delivery(404, i.ID)), store.ErrNotFound)
	})
	t.Run("ClaimOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		i := b.integration(1)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, i))
		d := b.delivery(1, i.ID) // due at now+1s
		_, err := b.st.DeliveryCreate(b.ctx, d)
		require.NoError(t, err)
		ok, err := b.st.DeliveryClaim(b.ctx, d.ID, b.now, b.now.Add(time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "not due yet")
		var mu sync.Mutex
		claims := 0
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ok, err := b.st.DeliveryClaim(b.ctx, d.ID, b.now.Add(time.Second), b.now.Add(time.Minute))
				require.NoError(t, err)
				if ok {
					mu.Lock()
					claims++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, claims, "one sender at a time")
		got, err := b.st.DeliveryGetByID(b.ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, truncUTC(b.now.Add(time.Minute)), got.NextAt, "leased")
		ok, err = b.st.DeliveryClaim(b.ctx, "dlv_404", b.now, b.now)
		require.NoError(t, err)
		require.False(t, ok)
		got.State = store.DeliverySent
		require.NoError(t, b.st.DeliveryUpdate(b.ctx, got))
		ok, err = b.st.DeliveryClaim(b.ctx, d.ID, b.now.Add(time.Hour), b.now.Add(2*time.Hour))
		require.NoError(t, err)
		require.False(t, ok, "a sent delivery is never claimed")
	})
	t.Run("DueListReleaseDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		i, j := b.integration(1), b.integration(2)
		require.NoError(t, b.st.IntegrationCreate(b.ctx, i))
		require.NoError(t, b.st.IntegrationCreate(b.ctx, j))
		mk := func(n int, in *store.Integration, st store.DeliveryState) *store.Delivery {
			d := b.delivery(n, in.ID, func(d *store.Delivery) { d.State = st })
			ok, err := b.st.DeliveryCreate(b.ctx, d)
			require.NoError(t, err)
			require.True(t, ok)
			return d
		}
		p3, p1 := mk(3, i, store.DeliveryPending), mk(1, i, store.DeliveryPending)
		h2 := mk(2, i, store.DeliveryHeld)
		h2.Attempts = 4
		require.NoError(t, b.st.DeliveryUpdate(b.ctx, h2))
		mk(4, i, store.DeliverySent)
		p5 := mk(5, j, store.DeliveryPending)

		due, err := b.st.DeliveryListDue(b.ctx, b.now.Add(3*time.Second), 10)
		require.NoError(t, err)
		require.Equal(t, []*store.Delivery{wantDelivery(p1), wantDelivery(p3)}, due, "pending, due, oldest first")
		due, err = b.st.DeliveryListDue(b.ctx, b.now.Add(time.Hour), 1)
		require.NoError(t, err)
		require.Len(t, due, 1)

		held, err := b.st.DeliveryList(b.ctx, i.ID, []store.DeliveryState{store.DeliveryHeld}, 10)
		require.NoError(t, err)
		require.Equal(t, []*store.Delivery{wantDelivery(h2)}, held)
		all, err := b.st.DeliveryList(b.ctx, "", nil, 10)
		require.NoError(t, err)
		require.Len(t, all, 5)
		require.Equal(t, p5.ID, all[0].ID, "newest first")

		dm := b.delivery(6, i.ID, func(d *store.Delivery) { d.RecipientID = "usr_admin"; d.State = store.DeliveryFailed })
		_, err = b.st.DeliveryCreate(b.ctx, dm)
		require.NoError(t, err)
		counts, err := b.st.DeliveryCounts(b.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]map[store.DeliveryState]int{
			i.ID: {store.DeliveryPending: 2, store.DeliveryHeld: 1},
			j.ID: {store.DeliveryPending: 1},
		}, counts, "sent deliveries and admin DMs are not counted")

		n, err := b.st.DeliveryRelease(b.ctx, i.ID, b.now.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err := b.st.DeliveryGetByID(b.ctx, h2.ID)
		require.NoError(t, err)
		require.Equal(t, store.DeliveryPending, got.State)
		require.Equal(t, truncUTC(b.now.Add(time.Hour)), got.NextAt)
		require.Zero(t, got.Attempts, "a released delivery starts afresh")

		require.NoError(t, b.st.IntegrationDelete(b.ctx, i.ID))
		require.ErrorIs(t, b.st.IntegrationDelete(b.ctx, i.ID), store.ErrNotFound)
		_, err = b.st.DeliveryGetByID(b.ctx, p1.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "deliveries go with their integration")
		_, err = b.st.DeliveryGetByID(b.ctx, p5.ID)
		require.NoError(t, err)
	})
}
