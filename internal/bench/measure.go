package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/workflow"
)

// now is the benchmark's stopwatch (monotonic).
func now() time.Time { return time.Now() } //nolint:forbidigo // measuring elapsed wall time is this package's job

// Ceiling returns bare single-row insert transactions per second with
// workers concurrent writers for d.
func (s *Stack) Ceiling(ctx context.Context, workers int, d time.Duration) (float64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := now()
	for w := range workers {
		wg.Go(func() {
			for i := 0; now().Sub(start) < d; i++ {
				if err := s.ceiling(ctx, w*10_000_000+i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / now().Sub(start).Seconds(), firstErr
}

// Lifecycles runs n request lifecycles (submit, approve, provisioned by the
// job queue on the fake connector, with their audit events, notifications
// and jobs) with workers concurrent clients, and returns lifecycles per
// second measured until the last grant is active. offset picks fresh
// (user, entitlement) pairs so runs do not overlap.
func (s *Stack) Lifecycles(ctx context.Context, n, workers, offset int) (float64, error) {
	if n+offset > Users*Entitlements {
		return 0, fmt.Errorf("at most %d lifecycles per stack", Users*Entitlements)
	}
	before, err := s.Store.GrantCountByState(ctx)
	if err != nil {
		return 0, err
	}
	start := now()
	err = forEach(n, workers, func(k int) error {
		i := offset + k
		u, e := i%Users, (i/Users)%Entitlements
		r, err := s.Service.Submit(ctx, UserID(u), workflow.SubmitParams{Entitlements: []string{EntitlementID(e)},
			Duration: time.Hour, Reason: "benchmark"})
		if err != nil {
			return err
		}
		_, err = s.Service.Decide(ctx, "owner"+fmt.Sprint(i%2), workflow.DecideParams{RequestID: r.ID, Outcome: access.Approve})
		return err
	})
	if err != nil {
		return 0, err
	}
	s.LastDecided = now().Sub(start)
	want := before[access.GrantActive] + n
	for {
		got, err := s.Store.GrantCountByState(ctx)
		if err != nil {
			return 0, err
		}
		if got[access.GrantActive] >= want {
			break
		}
		if now().Sub(start) > 10*time.Minute {
			return 0, fmt.Errorf("only %d of %d grants active after 10 minutes", got[access.GrantActive]-before[access.GrantActive], n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return float64(n) / now().Sub(start).Seconds(), nil
}

// forEach calls op(0) … op(n-1) from workers goroutines, each index once,
// and returns the first error; after an error no new index starts.
func forEach(n, workers int, op func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// Percentiles returns p50 and p99 of ds.
func Percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return at(0.50), at(0.99)
}

// Drain waits until the job queue has no job to run now or running (the
// notification deliveries a lifecycle run leaves behind; revocations
// scheduled at expiry do not count), at most timeout, and returns how long
// it waited.
func (s *Stack) Drain(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := now()
	for {
		n, err := s.Queue.Busy(ctx)
		if err != nil {
			return now().Sub(start), err
		}
		if n == 0 {
			return now().Sub(start), nil
		}
		if now().Sub(start) > timeout {
			return now().Sub(start), fmt.Errorf("%d jobs still queued after %s", n, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
