package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/workflow"
)

// TestCoalescerSharesInserts: calls made while an insert runs share the
// next one; every call's jobs are inserted exactly once, and each call
// returns only after its own jobs' insert, with that insert's error.
func TestCoalescerSharesInserts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var inserts [][]string
	first := make(chan struct{})
	release := make(chan struct{})
	c := &coalescer{}
	c.insert = func(_ context.Context, b workflow.Batch) error {
		mu.Lock()
		inserts = append(inserts, slices.Clone(b.Provision))
		n := len(inserts)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release
		}
		if slices.Contains(b.Provision, "g-fail") {
			return errors.New("insert failed")
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := map[string]error{}
	var errMu sync.Mutex
	call := func(id string) {
		err := c.enqueue(t.Context(), workflow.Batch{Provision: []string{id}})
		errMu.Lock()
		errs[id] = err
		errMu.Unlock()
	}
	wg.Go(func() { call("g-first") })
	<-first
	const n = 20
	for i := range n {
		wg.Go(func() { call(fmt.Sprintf("g%02d", i)) })
	}
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending) == n
	}, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()

	var all []string
	for _, ins := range inserts {
		all = append(all, ins...)
	}
	want := []string{"g-first"}
	for i := range n {
		want = append(want, fmt.Sprintf("g%02d", i))
	}
	require.ElementsMatch(t, want, all, "every job inserted exactly once")
	require.Len(t, inserts, 2, "the calls that waited share one insert")
	for id, err := range errs {
		require.NoError(t, err, id)
	}

	// An insert's error reaches every call it held.
	c2 := &coalescer{insert: c.insert}
	require.Error(t, c2.enqueue(t.Context(), workflow.Batch{Provision: []string{"g-fail"}}))
}

// TestCoalescerFallsBackPerCall: when the merged insert fails (two calls'
// jobs colliding), each call inserts its own and gets its own result.
func TestCoalescerFallsBackPerCall(t *testing.T) {
	t.Parallel()
	first := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var calls int
	c := &coalescer{}
	c.insert = func(_ context.Context, b workflow.Batch) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release
		}
		seen := map[string]bool{}
		for _, id := range b.Provision {
			if seen[id] {
				return errors.New("ON CONFLICT DO UPDATE command cannot affect row a second time")
			}
			seen[id] = true
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = c.enqueue(t.Context(), workflow.Batch{Provision: []string{"g-first"}}) })
	<-first
	wg.Go(func() { errs[1] = c.enqueue(t.Context(), workflow.Batch{Provision: []string{"g-dup"}}) })
	wg.Go(func() { errs[2] = c.enqueue(t.Context(), workflow.Batch{Provision: []string{"g-dup"}}) })
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending) == 2
	}, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, i)
	}
	require.Equal(t, 4, calls, "the first alone, the merged pair, then each of the pair")
}
