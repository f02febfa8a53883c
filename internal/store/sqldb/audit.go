package sqldb

import (
	"context"
	"fmt"
	"strconv"
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

// EventAppend chains e to the last event and stores it: under the lock of
// the audit_head row (FOR UPDATE on PostgreSQL, the write lock on SQLite) it
// truncates e.Time to UTC microseconds, sets e.Seq to the last Seq + 1,
// e.PrevHash to the last Hash and e.Hash to e.ComputeHash(e.PrevHash).
// Before, After and Data are stored byte for byte (empty is NULL and reads
// back nil). A second event with a non-empty e.ID is ErrConflict. e is
// changed only on success. Inside InTx the lock is held until the
// transaction ends, so transactions that append events run one at a time
// from their first append: append late.
func (q *queries) EventAppend(ctx context.Context, e *access.Event) error {
	next := *e
	err := q.atomic(ctx, func(q *queries) error {
		var seq int64
		var hash string
		if err := q.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+q.forUpdate(true)).Scan(&seq, &hash); err != nil {
			return fmt.Errorf("read audit head: %w", err)
		}
		next.Time = truncate(next.Time)
		next.Seq = seq + 1
		next.PrevHash = hash
		next.Hash = next.ComputeHash(hash)
		if _, err := q.exec(ctx, `INSERT INTO audit_events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			next.Seq, next.ID, q.tm(next.Time), next.ActorID, next.Action, next.SubjectType, next.SubjectID,
			rawArg(next.Before), rawArg(next.After), rawArg(next.Data), next.PrevHash, next.Hash); err != nil {
			return err
		}
		_, err := q.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, next.Seq, next.Hash)
		return err
	})
	if err != nil {
		return q.classify(err, "append event %s", e.Action)
	}
	*e = next
	return nil
}

// EventList returns events newest first (by Seq). Action is exact, or a
// prefix when it ends in "."; Since is inclusive, Until exclusive.
func (q *queries) EventList(ctx context.Context, p store.EventListParams) ([]*access.Event, string, error) {
	before, hasCursor, err := decodeSeqCursor(p.Cursor)
	if err != nil {
		return nil, "", err
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
