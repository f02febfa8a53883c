package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
)

// verify reads the whole chain and returns how many events passed, or the
// first chain error.
func verify(ctx context.Context, st store.Store) (int64, error) {
	var v access.ChainVerifier
	var after int64
	for {
		events, err := st.EventListAfter(ctx, after, 100)
		if err != nil || len(events) == 0 {
			return v.Count, err
		}
		for _, e := range events {
			if err := v.Next(e); err != nil {
				return v.Count, err
			}
			after = e.Seq
		}
	}
}

func event(i int) *access.Event {
	return &access.Event{ID: fmt.Sprintf("evt_%04d", i), Time: time.Date(2026, 1, 2, 3, 4, 5, i*1000, time.UTC),
		ActorID: "usr_a", Action: "test.appended", SubjectType: "test", SubjectID: fmt.Sprint(i), Data: []byte(`{"i":1}`)}
}

// Events appended inside transactions are stored unchained and chained
// after commit; concurrent transactions, appends outside a transaction,
// and a process that died before chaining all end in one verifiable chain.
func TestDeferredAuditChain(t *testing.T) {
	t.Parallel()
	url := postgres.TestURL(t)
	ctx := t.Context()
	st, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	// Inside a transaction the event is not chained yet: Seq stays zero.
	e := event(0)
	require.NoError(t, st.InTx(ctx, func(q store.Queries) error { return q.EventAppend(ctx, e) }))
	require.Zero(t, e.Seq)
	require.Empty(t, e.Hash)

	// Concurrent writers, half in transactions of three events, half alone.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := range 40 {
		wg.Go(func() {
			if w%2 == 0 {
				errs <- st.EventAppend(ctx, event(1000+w))
				return
			}
			errs <- st.InTx(ctx, func(q store.Queries) error {
				for k := range 3 {
					if err := q.EventAppend(ctx, event(2000+w*10+k)); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// A rolled back transaction leaves nothing, and a duplicate ID is a
	// conflict inside a transaction too.
	require.Error(t, st.InTx(ctx, func(q store.Queries) error {
		require.NoError(t, q.EventAppend(ctx, event(3000)))
		return context.Canceled
	}))
	require.ErrorIs(t, st.InTx(ctx, func(q store.Queries) error { return q.EventAppend(ctx, event(0)) }), store.ErrConflict)

	n, err := verify(ctx, st)
	require.NoError(t, err)
	require.Equal(t, int64(1+20+20*3), n)

	// Events of a transaction keep their order in the chain.
	got, _, err := st.EventList(ctx, store.EventListParams{SubjectType: "test", Page: store.Page{Limit: 500}})
	require.NoError(t, err)
	pos := map[string]int64{}
	for _, e := range got {
		pos[e.ID] = e.Seq
	}
	for w := 1; w < 40; w += 2 {
		require.Less(t, pos[event(2000+w*10).ID], pos[event(2000+w*10+1).ID])
		require.Less(t, pos[event(2000+w*10+1).ID], pos[event(2000+w*10+2).ID])
	}

	// A process that died between commit and chaining leaves unchained
	// rows: the next store to open chains them.
	pool, err := postgres.OpenPool(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `INSERT INTO audit_events (seq, id, occurred_at, actor_id, action, subject_type, subject_id, prev_hash, hash)
		VALUES (-nextval('audit_pending_seq'), 'evt_orphan', now(), 'system', 'test.orphan', 'test', 'x', '', '')`)
	require.NoError(t, err)
	st2, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st2.Close()) })
	var pending int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE seq < 0`).Scan(&pending))
	require.Zero(t, pending, "opening the store chains what was left")
	n, err = verify(ctx, st2)
	require.NoError(t, err)
	require.Equal(t, int64(1+20+20*3+1), n)

	// Tampering is still found: an edited chained row breaks the chain.
	_, err = pool.Exec(ctx, `UPDATE audit_events SET subject_id = 'edited' WHERE seq = 5`)
	require.NoError(t, err)
	_, err = verify(ctx, st2)
	var ce *access.ChainError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, int64(5), ce.Seq)
}
