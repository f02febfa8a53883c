package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// serialConnector gives database/sql as many connections as it asks for,
// all backed by one SQLite connection that they take in turns, first come
// first served: a transaction holds the turn from BEGIN to COMMIT or
// ROLLBACK, a statement outside a transaction for its call (a query until
// its rows are closed).
//
// Why not MaxOpenConns(1) alone: goroutines waiting for database/sql's
// pool are handed a freed connection in random order, so under load some
// writers wait behind hundreds of others (a p99 of seconds); and River's
// many goroutines, sharing the pool, outnumber the store's. Goroutines
// blocked on a channel send are served in order, whoever they are. And
// why one connection: SQLite has one writer at a time, and writers on
// separate connections sleep in its busy handler instead of queueing.
//
// The same rule as before applies: a goroutine that holds the turn (inside
// a transaction) must not wait for another connection of the pool.
type serialConnector struct {
	inner driver.Connector
	turn  chan struct{}

	// base is the origin of held; held is when the current holder took
	// the turn, in nanoseconds after base plus one (0: nobody holds it);
	// busy sums the time of the turns given back and turns counts them.
	base  time.Time
	held  atomic.Int64
	busy  atomic.Int64
	turns atomic.Uint64

	mu   sync.Mutex
	real innerConn
}

func newSerialConnector(inner driver.Connector) *serialConnector {
	return &serialConnector{inner: inner, turn: make(chan struct{}, 1), base: stopwatch()}
}

// Connect returns a new handle on the shared connection, opening it first
// if needed.
func (s *serialConnector) Connect(ctx context.Context) (driver.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.real == nil {
		c, err := s.inner.Connect(ctx)
		if err != nil {
			return nil, err
		}
		ic, ok := c.(innerConn)
		if !ok {
			return nil, errors.Join(errors.New("sqlite: driver connection lacks the context interfaces"), c.Close())
		}
		s.real = ic
	}
	return &serialConn{s: s, real: s.real}, nil
}

func (s *serialConnector) Driver() driver.Driver { return s.inner.Driver() }

// Close closes the shared connection; database/sql calls it from DB.Close
// after closing every handle.
func (s *serialConnector) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.real == nil {
		return nil
	}
	err := s.real.Close()
	s.real = nil
	return err
}

// acquire waits for the turn, or for ctx.
func (s *serialConnector) acquire(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case s.turn <- struct{}{}:
		s.held.Store(int64(stopwatch().Sub(s.base)) + 1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *serialConnector) release() {
	took := s.held.Swap(0) - 1
	s.busy.Add(int64(stopwatch().Sub(s.base)) - took)
	s.turns.Add(1)
	<-s.turn
}

// stats returns how long the writer has been held in all, the turn being
// held included up to now (so that the difference of two calls is the
// time held between them), and how many turns were given back.
func (s *serialConnector) stats() (time.Duration, uint64) {
	busy := s.busy.Load()
	if took := s.held.Load(); took != 0 {
		busy += int64(stopwatch().Sub(s.base)) - (took - 1)
	}
	return time.Duration(busy), s.turns.Load()
}

// stopwatch reads the monotonic clock to measure how long the writer is
// held (a measurement, not a time the store acts on).
func stopwatch() time.Time { return time.Now() } //nolint:forbidigo // elapsed-time measurement only

// serialConn is one database/sql connection: a handle on the shared one.
// database/sql uses a connection from one goroutine at a time, so inTx
// needs no lock.
type serialConn struct {
	s    *serialConnector
	real innerConn
	inTx bool
}

var (
	_ driver.Conn               = (*serialConn)(nil)
	_ driver.ConnBeginTx        = (*serialConn)(nil)
	_ driver.ConnPrepareContext = (*serialConn)(nil)
	_ driver.ExecerContext      = (*serialConn)(nil)
	_ driver.QueryerContext     = (*serialConn)(nil)
	_ driver.Pinger             = (*serialConn)(nil)
	_ driver.SessionResetter    = (*serialConn)(nil)
	_ driver.Validator          = (*serialConn)(nil)
)

// hold takes the turn unless a transaction of this handle holds it, and
// returns what gives it back.
func (c *serialConn) hold(ctx context.Context) (func(), error) {
	if c.inTx {
		return func() {}, nil
	}
	if err := c.s.acquire(ctx); err != nil {
		return nil, err
	}
	return c.s.release, nil
}

func (c *serialConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *serialConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	done, err := c.hold(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	st, err := c.real.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	is, ok := st.(innerStmt)
	if !ok {
		return nil, errors.Join(errors.New("sqlite: driver statement lacks the context interfaces"), st.Close())
	}
	return &serialStmt{innerStmt: is, c: c}, nil
}

func (c *serialConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *serialConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.s.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := c.real.BeginTx(ctx, opts)
	if err != nil {
		c.s.release()
		return nil, err
	}
	c.inTx = true
	return &serialTx{tx: tx, c: c}, nil
}

func (c *serialConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	done, err := c.hold(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return c.real.ExecContext(ctx, query, args)
}

func (c *serialConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	done, err := c.hold(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.real.QueryContext(ctx, query, args)
	if err != nil {
		done()
		return nil, err
	}
	return &serialRows{Rows: rows, done: done}, nil
}

func (c *serialConn) Ping(ctx context.Context) error {
	done, err := c.hold(ctx)
	if err != nil {
		return err
	}
	defer done()
	return c.real.Ping(ctx)
}

// Close closes the handle only; the shared connection stays open until
// the connector is closed.
func (c *serialConn) Close() error { return nil }

// ResetSession and IsValid report the handle usable: the shared
// connection is checked when it is used.
func (c *serialConn) ResetSession(context.Context) error { return nil }

func (c *serialConn) IsValid() bool { return true }

// serialTx gives the turn back when the transaction ends.
type serialTx struct {
	tx driver.Tx
	c  *serialConn
}

func (t *serialTx) Commit() error {
	err := t.tx.Commit()
	if err != nil {
		// A failed COMMIT can leave the transaction open on the shared
		// connection: end it before the next holder begins.
		if rbErr := t.tx.Rollback(); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
	}
	t.end()
	return err
}

func (t *serialTx) Rollback() error {
	err := t.tx.Rollback()
	t.end()
	return err
}

func (t *serialTx) end() {
	if t.c.inTx {
		t.c.inTx = false
		t.c.s.release()
	}
}

// serialStmt runs a statement prepared on the shared connection in turn.
type serialStmt struct {
	innerStmt
	c *serialConn
}

func (s *serialStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	done, err := s.c.hold(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.innerStmt.ExecContext(ctx, args)
}

func (s *serialStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	done, err := s.c.hold(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.innerStmt.QueryContext(ctx, args)
	if err != nil {
		done()
		return nil, err
	}
	return &serialRows{Rows: rows, done: done}, nil
}

func (s *serialStmt) Close() error {
	done, err := s.c.hold(context.Background())
	if err != nil {
		return err
	}
	defer done()
	return s.innerStmt.Close()
}

// serialRows gives the turn back when closed (for a query outside a
// transaction).
type serialRows struct {
	driver.Rows
	done func()
	once sync.Once
}

func (r *serialRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.done)
	return err
}

// ColumnTypeDatabaseTypeName forwards to the driver's rows when they know.
func (r *serialRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeScanType forwards to the driver's rows when they know.
func (r *serialRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeNullable forwards to the driver's rows when they know.
func (r *serialRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
