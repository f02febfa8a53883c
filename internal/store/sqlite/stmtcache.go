package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"sync"
)

// stmtCacheSize bounds the prepared statements kept per connection. The
// store and River use a few dozen distinct statements; queries built with
// a variable number of placeholders add more, and the least recently used
// are finalized first.
const stmtCacheSize = 256

// cachingConnector opens modernc connections that keep their prepared
// statements: database/sql's Exec and Query on a connection (and on a
// transaction) then bind and step an already compiled statement instead of
// parsing the SQL again, which is most of the CPU of a short statement in
// modernc SQLite. The cache is per connection and invisible to callers.
type cachingConnector struct {
	dsn string
	drv driver.Driver
}

func (c *cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

func (c *cachingConnector) Driver() driver.Driver { return c.drv }

// innerConn is what a modernc connection implements and cachingConn
// forwards.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// innerStmt is what a modernc statement implements.
type innerStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachingConn is a connection with an LRU cache of prepared statements
// keyed by SQL text. database/sql uses a connection from one goroutine at a
// time, but Rows may still be open while the next statement runs (a
// nested query in a transaction); a cached statement whose Rows are open is
// busy, and the same SQL then runs unprepared.
type cachingConn struct {
	innerConn
	mu    sync.Mutex
	stmts map[string]*list.Element
	lru   list.List // of *cachedStmt, most recent first
}

type cachedStmt struct {
	query string
	stmt  innerStmt
	busy  bool
	// evicted: finalize when the open Rows close.
	evicted bool
}

func newCachingConn(c driver.Conn) (driver.Conn, error) {
	ic, ok := c.(innerConn)
	if !ok {
		return nil, errors.Join(errors.New("sqlite: driver connection lacks the context interfaces"), c.Close())
	}
	return &cachingConn{innerConn: ic, stmts: map[string]*list.Element{}}, nil
}

// cacheable reports whether query is one statement worth keeping: scripts
// (a ';') are parsed statement by statement by the driver and are not.
func cacheable(query string) bool {
	return !strings.Contains(query, ";")
}

// take returns the cached statement for query, preparing it on a miss, and
// marks it busy; ok is false when query is not cacheable or its statement
// is busy.
func (c *cachingConn) take(ctx context.Context, query string) (cs *cachedStmt, ok bool, err error) {
	if !cacheable(query) {
		return nil, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.stmts[query]; ok {
		cs := el.Value.(*cachedStmt) //nolint:forcetypeassert // the list holds only *cachedStmt
		if cs.busy {
			return nil, false, nil
		}
		c.lru.MoveToFront(el)
		cs.busy = true
		return cs, true, nil
	}
	ds, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	st, isInner := ds.(innerStmt)
	if !isInner {
		return nil, false, errors.Join(errors.New("sqlite: driver statement lacks the context interfaces"), ds.Close())
	}
	cs = &cachedStmt{query: query, stmt: st, busy: true}
	c.stmts[query] = c.lru.PushFront(cs)
	var errs []error
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		c.lru.Remove(old)
		ocs := old.Value.(*cachedStmt) //nolint:forcetypeassert // the list holds only *cachedStmt
		delete(c.stmts, ocs.query)
		if ocs.busy {
			ocs.evicted = true
			continue
		}
		errs = append(errs, ocs.stmt.Close())
	}
	return cs, true, errors.Join(errs...)
}

// release marks cs free again, or finalizes it if it was evicted meanwhile.
func (c *cachingConn) release(cs *cachedStmt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.busy = false
	if cs.evicted {
		return cs.stmt.Close()
	}
	return nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, ok, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if !ok {
		return c.innerConn.ExecContext(ctx, query, args)
	}
	res, err := cs.stmt.ExecContext(ctx, args)
	return res, errors.Join(err, c.release(cs))
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, ok, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if !ok {
		return c.innerConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, errors.Join(err, c.release(cs))
	}
	return &cachedRows{Rows: rows, conn: c, cs: cs}, nil
}

// Close finalizes every cached statement, then closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for el := c.lru.Front(); el != nil; el = el.Next() {
		errs = append(errs, el.Value.(*cachedStmt).stmt.Close()) //nolint:forcetypeassert // the list holds only *cachedStmt
	}
	c.lru.Init()
	clear(c.stmts)
	c.mu.Unlock()
	return errors.Join(append(errs, c.innerConn.Close())...)
}

// cachedRows frees its statement for reuse when closed.
type cachedRows struct {
	driver.Rows
	conn   *cachingConn
	cs     *cachedStmt
	closed bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return errors.Join(r.Rows.Close(), r.conn.release(r.cs))
}

// ColumnTypeDatabaseTypeName forwards to the driver's rows when they know.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeScanType forwards to the driver's rows when they know.
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeNullable forwards to the driver's rows when they know.
func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
