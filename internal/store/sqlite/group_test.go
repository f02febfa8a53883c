package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqldb"
	"github.com/sesame-access/sesame/internal/store/sqlite"
)

// recorder is a PreCommitter that writes its items to a table, and
// remembers how many PreCommit calls wrote how many items.
type recorder struct {
	mu    sync.Mutex
	calls []int
}

func (r *recorder) PreCommit(ctx context.Context, tx *sql.Tx, items []any) error {
	for _, it := range items {
		if _, err := tx.ExecContext(ctx, `INSERT INTO precommit_items (v) VALUES (?)`, it); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, len(items))
	r.mu.Unlock()
	return nil
}

// holdWriter starts a transaction that holds the writer until the
// returned release is called; release lets it finish with fn and returns
// its InTx error. Calls made meanwhile queue for one group.
func holdWriter(t *testing.T, st *sqldb.DB, fn func(q store.Queries) error) (release func() error) {
	t.Helper()
	let, holding := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.InTx(t.Context(), func(q store.Queries) error {
			close(holding)
			<-let
			return fn(q)
		})
	}()
	<-holding
	return func() error {
		close(let)
		return <-done
	}
}

// TestGroupCommitIsolatesCalls runs InTx calls that queue behind a held
// transaction, so that they commit as one group, and checks that each
// still behaves as a transaction of its own: a call that fails or panics
// leaves none of its writes, audit events or pre-commit items, the others
// keep all of theirs, the audit chain stays whole, and a call whose
// context ended before its turn does not run.
func TestGroupCommitIsolatesCalls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	_, err := st.SQL().ExecContext(ctx, `CREATE TABLE precommit_items (v TEXT NOT NULL)`)
	require.NoError(t, err)
	rec := &recorder{}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

	// The first call holds the writer until every other call is queued.
	release := holdWriter(t, st, func(q store.Queries) error {
		return q.AppUpsert(ctx, &access.App{ID: "holder", Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now})
	})
	_, _, groups0, grouped0, ok := st.WriterStats()
	require.True(t, ok)

	const n = 30
	errBoom := errors.New("boom")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var ranCancelled bool
	results := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		callCtx := ctx
		if i == 5 {
			callCtx = cancelled
		}
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			results[i] = st.InTx(callCtx, func(q store.Queries) error {
				if i == 5 {
					ranCancelled = true
				}
				id := fmt.Sprintf("app%02d", i)
				if err := q.AppUpsert(ctx, &access.App{ID: id, Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
				if err := q.EventAppend(ctx, &access.Event{ID: "evt-" + id, Time: now, ActorID: "test", Action: "app.created",
					SubjectType: "app", SubjectID: id}); err != nil {
					return err
				}
				if !sqldb.AddPreCommit(q, rec, id) {
					return errors.New("AddPreCommit refused a transaction's Queries")
				}
				switch i % 7 {
				case 3:
					return errBoom
				case 6:
					panic("panic in " + id)
				}
				return nil
			})
		})
	}
	// Every call queues behind the holder before it lets go.
	require.Eventually(t, func() bool { return st.GroupQueued() == n }, 10*time.Second, time.Millisecond)
	require.NoError(t, release())
	wg.Wait()

	var want []string
	for i := range n {
		id := fmt.Sprintf("app%02d", i)
		_, err := st.AppGetByID(ctx, id)
		switch {
		case i == 5:
			require.ErrorIs(t, results[i], context.Canceled)
			require.Nil(t, panics[i])
			require.ErrorIs(t, err, store.ErrNotFound)
		case i%7 == 3:
			require.ErrorIs(t, results[i], errBoom, id)
			require.ErrorIs(t, err, store.ErrNotFound, "a failed call leaves nothing: %s", id)
		case i%7 == 6:
			require.Equal(t, "panic in "+id, panics[i], "the panic reaches the caller")
			require.ErrorIs(t, err, store.ErrNotFound, "a panicking call leaves nothing: %s", id)
		default:
			require.NoError(t, results[i], id)
			require.Nil(t, panics[i])
			require.NoError(t, err, id)
			want = append(want, id)
		}
	}
	require.False(t, ranCancelled, "a call whose context ended before its turn must not run")

	// Pre-commit items: exactly the successful calls', written in fewer
	// PreCommit calls than there were InTx calls.
	require.Equal(t, want, precommitItems(t, st.SQL()))
	rec.mu.Lock()
	require.Less(t, len(rec.calls), len(want), "the queued calls should have shared commits")
	rec.mu.Unlock()

	// The audit chain holds the successful calls' events, whole.
	evs, err := st.EventListAfter(ctx, 0, 1000)
	require.NoError(t, err)
	var v access.ChainVerifier
	var ids []string
	for _, e := range evs {
		require.NoError(t, v.Next(e))
		ids = append(ids, e.SubjectID)
	}
	require.ElementsMatch(t, want, ids)

	_, _, groups1, grouped1, _ := st.WriterStats()
	require.Less(t, groups1-groups0, grouped1-grouped0, "some group commit held several calls")
}

// TestGroupCommitFailureFailsTheGroup: when the group's transaction cannot
// commit (here a pre-commit write fails), every call in it gets the error
// and none of their writes survive.
func TestGroupCommitFailureFailsTheGroup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	bad := failingPreCommitter{}
	err := st.InTx(ctx, func(q store.Queries) error {
		if err := q.AppUpsert(ctx, &access.App{ID: "doomed", Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		require.True(t, sqldb.AddPreCommit(q, bad, "x"))
		return nil
	})
	require.ErrorContains(t, err, "before commit")
	_, err = st.AppGetByID(ctx, "doomed")
	require.ErrorIs(t, err, store.ErrNotFound)
	// The store still works afterwards.
	require.NoError(t, st.InTx(ctx, func(q store.Queries) error {
		return q.AppUpsert(ctx, &access.App{ID: "fine", Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now})
	}))
	_, err = st.AppGetByID(ctx, "fine")
	require.NoError(t, err)
}

type failingPreCommitter struct{}

func (failingPreCommitter) PreCommit(context.Context, *sql.Tx, []any) error {
	return errors.New("pre-commit failed")
}

// precommitItems returns the values the recorder wrote, in order.
func precommitItems(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT v FROM precommit_items ORDER BY v`)
	require.NoError(t, err)
	defer func() { require.NoError(t, rows.Close()) }()
	var got []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		got = append(got, v)
	}
	require.NoError(t, rows.Err())
	return got
}

type panickingPreCommitter struct{}

func (panickingPreCommitter) PreCommit(context.Context, *sql.Tx, []any) error {
	panic("pre-commit panicked")
}

// TestGroupCommitPanicOutsideFn: a panic in a pre-commit hook reaches the
// callers of the group instead of ending the committer, nothing of the
// group is kept, and the store keeps working.
func TestGroupCommitPanicOutsideFn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	require.PanicsWithValue(t, "pre-commit panicked", func() {
		_ = st.InTx(ctx, func(q store.Queries) error { //nolint:errcheck // it panics
			if err := q.AppUpsert(ctx, &access.App{ID: "doomed", Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			sqldb.AddPreCommit(q, panickingPreCommitter{}, "x")
			return nil
		})
	})
	_, err := st.AppGetByID(ctx, "doomed")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, st.InTx(ctx, func(q store.Queries) error {
		return q.AppUpsert(ctx, &access.App{ID: "fine", Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now})
	}))
}

// TestGroupCommitSurvivesGoexit queues three calls behind a held writer;
// the second ends its goroutine with runtime.Goexit (what t.FailNow does
// inside InTx). Its group is rolled back and answered with an error
// instead of leaving every later InTx waiting, the call queued after it
// runs in a new group, and the store keeps working.
func TestGroupCommitSurvivesGoexit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	upsert := func(id string) func(q store.Queries) error {
		return func(q store.Queries) error {
			return q.AppUpsert(ctx, &access.App{ID: id, Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now})
		}
	}
	release := holdWriter(t, st, upsert("holder"))
	results := make([]error, 3)
	var wg sync.WaitGroup
	for i, fn := range []func(q store.Queries) error{
		upsert("before"),
		func(q store.Queries) error {
			if err := upsert("exiting")(q); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		},
		upsert("after"),
	} {
		wg.Go(func() { results[i] = st.InTx(ctx, fn) })
		// Queued in this order, behind the holder.
		require.Eventually(t, func() bool { return st.GroupQueued() == i+1 }, 10*time.Second, time.Millisecond)
	}
	require.NoError(t, release())
	wg.Wait()
	require.ErrorContains(t, results[0], "Goexit", "rolled back with the group it shared")
	require.ErrorContains(t, results[1], "Goexit")
	require.NoError(t, results[2], "the call queued after runs in the next group")
	for id, want := range map[string]bool{"holder": true, "before": false, "exiting": false, "after": true} {
		_, err := st.AppGetByID(ctx, id)
		if want {
			require.NoError(t, err, id)
		} else {
			require.ErrorIs(t, err, store.ErrNotFound, id)
		}
	}
	require.NoError(t, st.InTx(ctx, upsert("later")), "the store keeps working")
}

// TestGroupCommitCallerGivesUp cancels a call queued behind a held
// writer: its caller returns the context's error at once, and the call
// never runs.
func TestGroupCommitCallerGivesUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	release := holdWriter(t, st, func(store.Queries) error { return nil })
	callCtx, cancel := context.WithCancel(ctx)
	var ran atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- st.InTx(callCtx, func(q store.Queries) error {
			ran.Store(true)
			return q.AppUpsert(ctx, &access.App{ID: "abandoned", Source: access.SourceConfig, CreatedAt: now, UpdatedAt: now})
		})
	}()
	require.Eventually(t, func() bool { return st.GroupQueued() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled, "answered while the writer is still held")
	require.NoError(t, release())
	require.NoError(t, st.InTx(ctx, func(q store.Queries) error { return nil }), "the group after it commits")
	require.False(t, ran.Load(), "an abandoned call never runs")
	_, err := st.AppGetByID(ctx, "abandoned")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestWriterStatsCountTheTurnBeingHeld checks the writer's busy time
// grows while a transaction still holds it (so that a window's occupancy
// is the difference of two readings), and the turn is counted once given
// back.
func TestWriterStatsCountTheTurnBeingHeld(t *testing.T) {
	t.Parallel()
	st := sqlite.OpenTest(t)
	busy0, turns0, _, _, ok := st.WriterStats()
	require.True(t, ok)
	release := holdWriter(t, st, func(store.Queries) error { return nil })
	require.Eventually(t, func() bool {
		busy, _, _, _, _ := st.WriterStats()
		return busy > busy0
	}, 10*time.Second, time.Millisecond, "the turn being held counts")
	busyHeld, turnsHeld, _, _, _ := st.WriterStats()
	require.Equal(t, turns0, turnsHeld, "not given back yet")
	require.NoError(t, release())
	busy1, turns1, _, _, _ := st.WriterStats()
	require.Greater(t, turns1, turns0)
	require.GreaterOrEqual(t, busy1, busyHeld)
}
