package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// maxGroup bounds how many transactions one group commit holds, so that a
// long queue is committed in steps and the first callers are answered.
const maxGroup = 64

// groupCommitter runs the InTx calls of a database with one writer (SQLite)
// as group commits: the calls waiting when the writer comes free run one
// after another inside a single database transaction, each in a savepoint
// of its own, and are committed together.
//
// To each caller this is the same as a transaction of its own, run alone:
// the calls run in arrival order, each sees what the ones before it wrote,
// a call whose fn fails (or panics) is rolled back to its savepoint and
// leaves nothing, and InTx returns only once the commit that holds the
// call's writes is done (with the database's durability settings), or with
// an error when it failed, in which case
// none of the group's writes survive. What is saved is the work of a
// commit (SQLite writes each page that changed to the WAL once per commit,
// and the pages that many transactions touch, such as the tails of the
// tables and of their indexes and the audit chain's head, once per group)
// and the turns on the writer.
//
// Only callers already waiting are grouped: one arriving at an idle writer
// runs at once, alone. The transaction runs on a goroutine of its own;
// fn's context keeps its values but not its cancellation once fn has
// started (a statement interrupted by a cancelled context would abort the
// whole group's transaction on SQLite). A call whose context is done
// before its turn does not run, and its caller returns the context's error
// at once, without waiting for the group.
type groupCommitter struct {
	db *DB
	in chan *groupCall

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// groupCall is one InTx call waiting for its group.
type groupCall struct {
	ctx  context.Context
	fn   func(q *queries) error
	done chan struct{}
	err  error
	// panicked and panicVal carry a panic of fn back to the caller's
	// goroutine.
	panicked bool
	panicVal any
	// answered: done is closed.
	answered bool
	// state is callQueued until the committer starts the call
	// (callStarted) or its caller gives up waiting (callAbandoned),
	// whichever comes first.
	state atomic.Int32
}

// The states of a groupCall.
const (
	callQueued int32 = iota
	callStarted
	callAbandoned
)

func newGroupCommitter(db *DB) *groupCommitter {
	g := &groupCommitter{db: db, in: make(chan *groupCall, 4*maxGroup)}
	g.wg.Add(1)
	go g.loop()
	return g
}

// queued returns how many calls wait for a group.
func (g *groupCommitter) queued() int { return len(g.in) }

// run queues fn and waits for the group that commits it.
func (g *groupCommitter) run(ctx context.Context, fn func(q *queries) error) error {
	c := &groupCall{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return errors.New("sqldb: the store is closed")
	}
	// Sent under the lock so that close cannot close the channel under a
	// send; the channel is buffered and drained by the loop, so a full
	// buffer only waits for the group being committed.
	g.in <- c
	g.mu.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		// A call that has not started is dropped at once (the committer
		// skips it); one that has must be waited for.
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			return ctx.Err()
		}
		<-c.done
	}
	if c.panicked {
		panic(c.panicVal)
	}
	return c.err
}

// close stops taking calls, lets the loop finish the queued ones and waits
// for it.
func (g *groupCommitter) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.in)
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// errGoexit answers the calls of a group one of whose fn ended the
// committing goroutine with runtime.Goexit (a test's t.FailNow inside
// InTx).
var errGoexit = errors.New("sqldb: a transaction function called runtime.Goexit; its group was rolled back") //nolint:gochecknoglobals // sentinel error

func (g *groupCommitter) loop() { g.loopFrom(nil) }

// loopFrom runs groups, starting with the calls in pending.
func (g *groupCommitter) loopFrom(pending []*groupCall) {
	defer g.wg.Done()
	for {
		if len(pending) == 0 {
			c, ok := <-g.in
			if !ok {
				return
			}
			pending = append(pending, c)
		}
	fill:
		for len(pending) < maxGroup {
			select {
			case c, ok := <-g.in:
				if !ok {
					break fill
				}
				pending = append(pending, c)
			default:
				break fill
			}
		}
		pending = g.commit(pending)
	}
}

// commit runs calls as one transaction and answers each of them. When the
// transaction itself breaks (BEGIN, a savepoint or COMMIT fails) the calls
// that ran get the error and the ones that did not are returned, to run in
// the next group (unless none could run: then they all get the error, so
// that a group that cannot start is never retried forever).
func (g *groupCommitter) commit(calls []*groupCall) (notRun []*groupCall) {
	ctx := context.WithoutCancel(calls[0].ctx)
	db := g.db
	answer := func(cs []*groupCall, err error) {
		for _, c := range cs {
			if err != nil && c.err == nil && !c.panicked {
				c.err = err
			}
			c.answered = true
			close(c.done)
		}
	}
	var tx *sql.Tx
	var ran []*groupCall
	finished := false
	defer func() {
		// A panic outside the calls' own fn (in a pre-commit hook, the
		// driver...) would end this goroutine and leave every InTx
		// waiting: the calls that ran re-raise it in their goroutines,
		// the others run in the next group.
		p := recover()
		if p == nil && !finished {
			// runtime.Goexit in a call's fn: this goroutine ends
			// whatever is done here, so the group is rolled back, the
			// calls that ran are answered with errGoexit and a new
			// committer takes the others.
			g.goexited(tx, calls, ran)
			return
		}
		if p == nil {
			return
		}
		if tx != nil {
			_ = tx.Rollback() //nolint:errcheck // the panic is what matters
		}
		notRun = nil
		for _, c := range calls {
			switch {
			case c.answered:
			case slices.Contains(ran, c):
				c.panicked, c.panicVal, c.answered = true, p, true
				close(c.done)
			default:
				notRun = append(notRun, c)
			}
		}
	}()
	tx, err := db.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		finished = true
		answer(calls, fmt.Errorf("begin: %w", err))
		return nil
	}
	q := &queries{db: db, ex: tx, tx: tx, audit: &txAudit{}, detached: true, pre: &preCommits{}}
	fail := func(err error) []*groupCall {
		finished = true
		// Rolling back frees the writer; its own error adds nothing to
		// err, which every caller that ran gets.
		_ = tx.Rollback() //nolint:errcheck // see above
		if len(ran) == 0 {
			// Not even the first call could start: answer them all
			// rather than retry a transaction that cannot begin work.
			answer(calls, err)
			return nil
		}
		answer(ran, err)
		return calls[len(ran):]
	}
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			ran = append(ran, c)
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT sesame_call"); err != nil {
			// c stays queued: it runs in the next group (or its caller
			// gives up meanwhile).
			return fail(fmt.Errorf("savepoint: %w", err))
		}
		saved, savedPre := *q.audit, q.pre.mark()
		ran = append(ran, c)
		// Started only now, so that a call handed to the next group
		// (fail, a panic) is still queued there.
		if c.state.CompareAndSwap(callQueued, callStarted) {
			c.call(q)
		}
		// Otherwise its caller gave up waiting and has returned: the empty
		// savepoint is released, and closing done with the others answers
		// nobody.
		release := "RELEASE sesame_call"
		if c.err != nil || c.panicked {
			*q.audit = saved
			q.pre.rollback(savedPre)
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO sesame_call"); err != nil {
				return fail(fmt.Errorf("rollback to savepoint: %w", err))
			}
		}
		if _, err := tx.ExecContext(ctx, release); err != nil {
			return fail(fmt.Errorf("release savepoint: %w", err))
		}
	}
	if err := q.pre.run(ctx, tx); err != nil {
		return fail(err)
	}
	if err := q.flushAuditHead(ctx); err != nil {
		return fail(err)
	}
	finished = true
	if err := tx.Commit(); err != nil {
		answer(ran, fmt.Errorf("commit: %w", err))
		return nil
	}
	if q.audit.deferred {
		db.kickFold()
	}
	db.groups.Add(1)
	db.grouped.Add(uint64(len(ran)))
	answer(ran, nil)
	return nil
}

// goexited cleans up after a call's fn ended the committing goroutine
// with runtime.Goexit (commit's deferred function, with the goroutine on
// its way out): it rolls the group back, answers the calls that ran with
// errGoexit and starts a new committer with the calls that had not.
func (g *groupCommitter) goexited(tx *sql.Tx, calls, ran []*groupCall) {
	if tx != nil {
		_ = tx.Rollback() //nolint:errcheck // the group is abandoned either way
	}
	var notRun []*groupCall
	for _, c := range calls {
		switch {
		case c.answered:
		case slices.Contains(ran, c):
			c.err, c.answered = errGoexit, true
			close(c.done)
		default:
			notRun = append(notRun, c)
		}
	}
	g.wg.Add(1)
	go g.loopFrom(notRun)
}

// call runs c.fn on q with c's context values, catching a panic for the
// caller's goroutine.
func (c *groupCall) call(q *queries) {
	defer func() {
		if p := recover(); p != nil {
			c.panicked, c.panicVal = true, p
		}
	}()
	c.err = c.fn(q)
}
