package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// parallel runs fn(i) for i in [0, n) on n goroutines at once and returns
// their errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			errs[i] = fn(i)
		})
	}
	start.Done()
	done.Wait()
	return errs
}

func requireNoErrors(t *testing.T, errs []error) {
	t.Helper()
	require.NoError(t, errors.Join(errs...))
}

// requireSeqs checks the events hold Seq 1..n, each once, and form one
// chain.
func requireSeqs(t *testing.T, b *testBundle, n int) {
	t.Helper()
	events, err := b.st.EventListAfter(b.ctx, 0, 1000)
	require.NoError(t, err)
	var seqs []int64
	for _, e := range events {
		seqs = append(seqs, e.Seq)
	}
	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, seqs)
	verifyChain(t, b, int64(n))
}

// maxRetries bounds the retries of one optimistic update; a correct
// store with row locks needs none.
const maxRetries = 50

func testConcurrency(t *testing.T, open Opener) {
	t.Helper()
	t.Run("EventAppendInTx", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const n = 20
		errs := parallel(n, func(i int) error {
			return b.st.InTx(b.ctx, func(q store.Queries) error {
				return q.EventAppend(b.ctx, b.event(i+1))
			})
		})
		requireNoErrors(t, errs)
		requireSeqs(t, b, n)
	})
	t.Run("EventAppendOutsideTx", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const n = 20
		errs := parallel(n, func(i int) error { return b.st.EventAppend(b.ctx, b.event(i+1)) })
		requireNoErrors(t, errs)
		requireSeqs(t, b, n)
	})
	t.Run("RequestReadModifyWrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const n = 10
		r := b.request(1)
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		initial := r.Version
		var mu sync.Mutex
		retries := 0
		errs := parallel(n, func(i int) error {
			for range maxRetries {
				err := b.st.InTx(b.ctx, func(q store.Queries) error {
					cur, err := q.RequestGetByID(b.ctx, r.ID, true)
					if err != nil {
						return err
					}
					cur.RemindCount++
					// A decision per writer: the decisions of every update
					// must survive the others.
					cur.Decisions = append(cur.Decisions, decision(cur, fmt.Sprintf("usr_w%02d", i), 1, b.now))
					return q.RequestUpdate(b.ctx, cur)
				})
				if errors.Is(err, store.ErrConflict) {
					mu.Lock()
					retries++
					mu.Unlock()
					continue
				}
				return err
			}
			return fmt.Errorf("writer %d: still conflicting after %d tries", i, maxRetries)
		})
		requireNoErrors(t, errs)
		got, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, initial+n, got.Version)
		require.Equal(t, r.RemindCount+n, got.RemindCount)
		require.Len(t, got.Decisions, 1+n)
		t.Logf("%d retries", retries)
	})
	t.Run("GrantReadModifyWrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		const n = 10
		g := b.grant(1)
		require.NoError(t, b.st.GrantCreate(b.ctx, g))
		errs := parallel(n, func(int) error {
			for range maxRetries {
				err := b.st.InTx(b.ctx, func(q store.Queries) error {
					cur, err := q.GrantGetByID(b.ctx, g.ID, true)
					if err != nil {
						return err
					}
					cur.Attempts++
					return q.GrantUpdate(b.ctx, cur)
				})
				if !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
			return errors.New("still conflicting")
		})
		requireNoErrors(t, errs)
		got, err := b.st.GrantGetByID(b.ctx, g.ID, false)
		require.NoError(t, err)
		require.Equal(t, g.Version+n, got.Version)
		require.Equal(t, g.Attempts+n, got.Attempts)
	})
	t.Run("StaleWritersWithoutLock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		// Writers that read without a lock and update outside a
		// transaction: exactly one of the writers holding one version wins.
		const n = 8
		g := b.grant(1)
		require.NoError(t, b.st.GrantCreate(b.ctx, g))
		copies := make([]*access.Grant, n)
		for i := range copies {
			c := *g
			copies[i] = &c
		}
		errs := parallel(n, func(i int) error { return b.st.GrantUpdate(b.ctx, copies[i]) })
		wins := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		require.GreaterOrEqual(t, wins, 0)
		for i, err := range errs {
			if i != wins {
				require.ErrorIs(t, err, store.ErrConflict)
			}
		}
		got, err := b.st.GrantGetByID(b.ctx, g.ID, false)
		require.NoError(t, err)
		require.Equal(t, g.Version+1, got.Version)
	})
}
