package jobs

import (
	"context"
	"errors"
	"sync"

	"github.com/sesame-access/sesame/internal/workflow"
)

// maxCoalesced bounds how many Enqueue calls share one River insert.
const maxCoalesced = 64

// coalescer makes concurrent Enqueue calls share River inserts: a call
// arriving while an insert runs waits for it, then the calls that waited
// meanwhile are merged into the next insert, made by the first of them.
// Each call still returns only once its jobs are inserted (or with the
// insert's error), as if it had inserted them alone; what is saved is an
// insert transaction per call (a commit each on PostgreSQL, where the
// workflow enqueues after its own commit).
type coalescer struct {
	insert func(ctx context.Context, b workflow.Batch) error

	mu      sync.Mutex
	pending []*enqueueCall
	busy    bool
}

type enqueueCall struct {
	b    workflow.Batch
	done chan struct{}
	// lead tells the call it is first in line and makes the next insert.
	lead chan struct{}
	err  error
}

// enqueue inserts b, with whatever other calls are waiting.
func (c *coalescer) enqueue(ctx context.Context, b workflow.Batch) error {
	call := &enqueueCall{b: b, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, call)
	if !c.busy {
		c.busy = true
		call.lead <- struct{}{}
	}
	c.mu.Unlock()
	for {
		select {
		case <-call.done:
			return call.err
		case <-call.lead:
			c.lead(ctx)
		}
	}
}

// lead makes one insert of the calls at the front of the line, answers
// them and hands the turn to the next call waiting, if any.
func (c *coalescer) lead(ctx context.Context) {
	c.mu.Lock()
	n := min(len(c.pending), maxCoalesced)
	calls := c.pending[:n:n]
	c.pending = c.pending[n:]
	c.mu.Unlock()
	answered := false
	defer func() {
		// Whatever happened (even a panic in the insert), the calls are
		// answered and the turn goes on, or later calls would wait forever.
		if !answered {
			for _, call := range calls {
				call.err = errors.New("jobs: the insert did not finish")
				close(call.done)
			}
		}
		c.mu.Lock()
		if len(c.pending) > 0 {
			c.pending[0].lead <- struct{}{}
		} else {
			c.busy = false
		}
		c.mu.Unlock()
	}()
	var all workflow.Batch
	for _, call := range calls {
		all = mergeBatch(all, call.b)
	}
	// The other calls' jobs must not be lost to this caller's
	// cancellation.
	ictx := context.WithoutCancel(ctx)
	err := c.insert(ictx, all)
	if err != nil && len(calls) > 1 {
		// Merged, two calls' jobs can collide where each alone would not
		// (PostgreSQL refuses an insert whose ON CONFLICT would update a
		// row twice, as for one unique job enqueued by two calls): each
		// call then inserts its own, and gets its own result.
		for _, call := range calls {
			call.err = c.insert(ictx, call.b)
		}
	} else {
		for _, call := range calls {
			call.err = err
		}
	}
	for _, call := range calls {
		close(call.done)
	}
	answered = true
}

// mergeBatch appends b's work to all.
func mergeBatch(all, b workflow.Batch) workflow.Batch {
	all.Provision = append(all.Provision, b.Provision...)
	all.ProvisionEach = append(all.ProvisionEach, b.ProvisionEach...)
	all.Revoke = append(all.Revoke, b.Revoke...)
	all.RevokeDue = append(all.RevokeDue, b.RevokeDue...)
	all.Deliver = append(all.Deliver, b.Deliver...)
	all.DeliverEach = append(all.DeliverEach, b.DeliverEach...)
	all.TimeOut = append(all.TimeOut, b.TimeOut...)
	all.Remind = append(all.Remind, b.Remind...)
	all.ExtendTarget = append(all.ExtendTarget, b.ExtendTarget...)
	return all
}
