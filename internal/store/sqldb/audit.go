package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

const eventCols = `seq, id, occurred_at, actor_id, action, subject_type, subject_id, before_json, after_json,
	data_json, prev_hash, hash`

func scanEvent(s scanner) (*access.Event, error) {
	e := new(access.Event)
	err := s.Scan(&e.Seq, &e.ID, timeCol{&e.Time}, &e.ActorID, &e.Action, &e.SubjectType, &e.SubjectID,
		rawCol{&e.Before}, rawCol{&e.After}, rawCol{&e.Data}, &e.PrevHash, &e.Hash)
	return e, err
}

// txAudit is one transaction's audit chain state.
type txAudit struct {
	// headRead: seq and hash hold the chain head, locked by this
	// transaction, including the events it appended; dirty: the head row
	// must be written before commit.
	headRead, dirty bool
	seq             int64
	hash            string
	// deferred: the transaction stored unchained events.
	deferred bool
}

// EventAppend stores e chained to the last event: it truncates e.Time to
// UTC microseconds, sets e.Seq to the last Seq + 1, e.PrevHash to the last
// Hash and e.Hash to e.ComputeHash(e.PrevHash). Before, After and Data are
// stored byte for byte (empty is NULL and reads back nil). A second event
// with a non-empty e.ID is ErrConflict. e is changed only on success.
//
// Chaining happens under the lock of the audit_head row (FOR UPDATE on
// PostgreSQL, the write lock on SQLite), so concurrent appends form one
// chain. Inside InTx the head is read once per transaction and written
// once, before commit. With Dialect.DeferredAuditChain (PostgreSQL), an
// append inside InTx stores the event unchained and takes no lock: the
// event is chained right after commit, in a batch with those of other
// transactions, in commit order; e.Seq, e.PrevHash and e.Hash then stay
// zero, and the event shows in EventList and EventListAfter (outside a
// transaction) once chained, which those methods make sure of first.
func (q *queries) EventAppend(ctx context.Context, e *access.Event) error {
	next := *e
	next.Time = truncate(next.Time)
	var err error
	if q.tx != nil && q.db.dialect.DeferredAuditChain {
		err = q.appendDeferred(ctx, &next)
	} else {
		err = q.atomic(ctx, func(q *queries) error { return q.appendChained(ctx, &next) })
	}
	if err != nil {
		return q.classify(err, "append event %s", e.Action)
	}
	*e = next
	return nil
}

// appendChained chains and inserts e in q's transaction.
func (q *queries) appendChained(ctx context.Context, e *access.Event) error {
	if err := q.lockAuditHead(ctx); err != nil {
		return err
	}
	e.Seq = q.audit.seq + 1
	e.PrevHash = q.audit.hash
	e.Hash = e.ComputeHash(e.PrevHash)
	if _, err := q.exec(ctx, `INSERT INTO audit_events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.ID, q.tm(e.Time), e.ActorID, e.Action, e.SubjectType, e.SubjectID,
		rawArg(e.Before), rawArg(e.After), rawArg(e.Data), e.PrevHash, e.Hash); err != nil {
		return err
	}
	q.audit.seq, q.audit.hash, q.audit.dirty = e.Seq, e.Hash, true
	return nil
}

// lockAuditHead reads (and on PostgreSQL locks) the chain head once per
// transaction.
func (q *queries) lockAuditHead(ctx context.Context) error {
	if q.audit.headRead {
		return nil
	}
	if err := q.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+q.forUpdate(true)).Scan(&q.audit.seq, &q.audit.hash); err != nil {
		return fmt.Errorf("read audit head: %w", err)
	}
	q.audit.headRead = true
	return nil
}

// flushAuditHead writes the chain head the transaction moved. InTx calls
// it before commit.
func (q *queries) flushAuditHead(ctx context.Context) error {
	if q.audit == nil || !q.audit.dirty {
		return nil
	}
	if _, err := q.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, q.audit.seq, q.audit.hash); err != nil {
		return fmt.Errorf("write audit head: %w", err)
	}
	q.audit.dirty = false
	return nil
}

// appendDeferred stores e unchained: its seq is the negated next value of
// audit_pending_seq (so pending events sort after one another in the order
// they were appended), its hashes empty.
func (q *queries) appendDeferred(ctx context.Context, e *access.Event) error {
	if _, err := q.exec(ctx, `INSERT INTO audit_events (`+eventCols+`)
		VALUES (-nextval('audit_pending_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '')`,
		e.ID, q.tm(e.Time), e.ActorID, e.Action, e.SubjectType, e.SubjectID,
		rawArg(e.Before), rawArg(e.After), rawArg(e.Data)); err != nil {
		return err
	}
	q.audit.deferred = true
	return nil
}

// foldBatch bounds the events one fold transaction chains.
const foldBatch = 1000

// foldAudit chains every committed unchained event, oldest append first,
// in transactions of up to foldBatch events. A no-op without
// Dialect.DeferredAuditChain.
func (db *DB) foldAudit(ctx context.Context) error {
	if !db.dialect.DeferredAuditChain {
		return nil
	}
	for {
		n := 0
		err := db.inTx(ctx, func(q *queries) error {
			var err error
			n, err = q.foldOnce(ctx)
			return err
		})
		if err != nil {
			return fmt.Errorf("chain audit events: %w", err)
		}
		if n < foldBatch {
			return nil
		}
	}
}

// foldOnce chains up to foldBatch unchained events in q's transaction and
// returns how many.
func (q *queries) foldOnce(ctx context.Context) (int, error) {
	// Cheap when nothing waits: the primary key index answers.
	var one int
	err := q.queryRow(ctx, `SELECT 1 FROM audit_events WHERE seq < 0 LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if err := q.lockAuditHead(ctx); err != nil {
		return 0, err
	}
	// Under the head lock: only this transaction chains, so the pending
	// rows read here stay pending until it commits.
	rows, err := q.query(ctx, `SELECT `+eventCols+` FROM audit_events WHERE seq < 0 ORDER BY seq DESC LIMIT ?`, foldBatch)
	if err != nil {
		return 0, err
	}
	events, err := collect(rows, scanEvent)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	args := make([]any, 0, 4*len(events))
	for _, e := range events {
		old := e.Seq
		e.Seq = q.audit.seq + 1
		e.PrevHash = q.audit.hash
		e.Hash = e.ComputeHash(e.PrevHash)
		q.audit.seq, q.audit.hash = e.Seq, e.Hash
		args = append(args, old, e.Seq, e.PrevHash, e.Hash)
	}
	values := strings.TrimSuffix(strings.Repeat("(CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?), ", len(events)), ", ")
	if _, err := q.exec(ctx, `UPDATE audit_events SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
		FROM (VALUES `+values+`) AS v (old, seq, prev_hash, hash) WHERE audit_events.seq = v.old`, args...); err != nil {
		return 0, err
	}
	q.audit.dirty = true
	return len(events), nil
}

// kickFold chains deferred events in the background after a commit: one
// fold at a time per DB, and one more if asked while it runs. A fold that
// fails leaves the events to the next one (every EventList,
// EventListAfter and Migrate folds first).
func (db *DB) kickFold() {
	f := &db.folder
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if f.running {
		f.again = true
		return
	}
	f.running = true
	f.wg.Go(func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), foldTimeout)
			_ = db.foldAudit(ctx) //nolint:errcheck // retried by the next fold; readers fold first
			cancel()
			f.mu.Lock()
			if !f.again || f.closed {
				f.running, f.again = false, false
				f.mu.Unlock()
				return
			}
			f.again = false
			f.mu.Unlock()
		}
	})
}

// foldTimeout bounds one background fold.
const foldTimeout = 30 * time.Second

// foldBeforeRead chains pending events before a read outside a
// transaction, so that a reader sees every committed event.
func (q *queries) foldBeforeRead(ctx context.Context) error {
	if q.tx != nil || !q.db.dialect.DeferredAuditChain {
		return nil
	}
	return q.db.foldAudit(ctx)
}

// EventList returns events newest first (by Seq). Action is exact, or a
// prefix when it ends in "."; Since is inclusive, Until exclusive.
func (q *queries) EventList(ctx context.Context, p store.EventListParams) ([]*access.Event, string, error) {
	before, hasCursor, err := decodeSeqCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	if err := q.foldBeforeRead(ctx); err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if p.ActorID != "" {
		w.add("actor_id = ?", p.ActorID)
	}
	switch a := p.Action; {
	case a == "":
	case a[len(a)-1] == '.':
		w.add("substr(action, 1, "+strconv.Itoa(utf8.RuneCountInString(a))+") = ?", a)
	default:
		w.add("action = ?", a)
	}
	if p.SubjectType != "" {
		w.add("subject_type = ?", p.SubjectType)
	}
	if p.SubjectID != "" {
		w.add("subject_id = ?", p.SubjectID)
	}
	if !p.Since.IsZero() {
		w.add("occurred_at >= ?", q.tm(p.Since))
	}
	if !p.Until.IsZero() {
		w.add("occurred_at < ?", q.tm(p.Until))
	}
	if hasCursor {
		w.add("seq < ?", before)
	}
	w.add("seq > ?", 0) // unchained events (DeferredAuditChain) have a negative seq
	rows, err := q.query(ctx, `SELECT `+eventCols+` FROM audit_events`+w.String()+` ORDER BY seq DESC LIMIT ?`,
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	events, err := collect(rows, scanEvent)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	events, next := page(events, limit, func(e *access.Event) string { return strconv.FormatInt(e.Seq, 10) })
	return events, next, nil
}

// EventListAfter returns up to limit (50 if limit <= 0) events with Seq >
// after, in Seq order.
func (q *queries) EventListAfter(ctx context.Context, after int64, limit int) ([]*access.Event, error) {
	if err := q.foldBeforeRead(ctx); err != nil {
		return nil, fmt.Errorf("list events after %d: %w", after, err)
	}
	rows, err := q.query(ctx, `SELECT `+eventCols+` FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`,
		after, limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list events after %d: %w", after, err)
	}
	events, err := collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events after %d: %w", after, err)
	}
	return events, nil
}
