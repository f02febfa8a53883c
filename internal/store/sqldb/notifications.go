package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

const notificationCols = `id, kind, recipient_id, request_id, grant_id, data, dedup_key, state, attempts,
	last_error, created_at, sent_at`

func scanNotification(s scanner) (*access.Notification, error) {
	n := new(access.Notification)
	err := s.Scan(&n.ID, &n.Kind, &n.RecipientID, &n.RequestID, &n.GrantID, jsonCol{&n.Data}, &n.DedupKey,
		&n.State, &n.Attempts, &n.LastError, timeCol{&n.CreatedAt}, timeCol{&n.SentAt})
	return n, err
}

// notificationArgs returns the values of notificationCols for n, less the
// ID, in column order.
func (q *queries) notificationArgs(n *access.Notification) ([]any, error) {
	data, err := jsonArg(n.Data)
	if err != nil {
		return nil, err
	}
	return []any{string(n.Kind), n.RecipientID, n.RequestID, n.GrantID, data, n.DedupKey, string(n.State),
		int64(n.Attempts), n.LastError, q.tm(n.CreatedAt), q.tm(n.SentAt)}, nil
}

// NotificationCreate stores n unless a notification with its DedupKey
// exists; inserted reports which. A second notification with n.ID (and a
// new DedupKey) is ErrConflict.
func (q *queries) NotificationCreate(ctx context.Context, n *access.Notification) (inserted bool, err error) {
	args, err := q.notificationArgs(n)
	if err != nil {
		return false, fmt.Errorf("create notification %s: %w", n.ID, err)
	}
	args = append([]any{n.ID}, args...)
	rows, err := q.execN(ctx, `INSERT INTO notifications (`+notificationCols+`) VALUES (`+marks(len(args))+`)
		ON CONFLICT (dedup_key) DO NOTHING`, args...)
	if err != nil {
		return false, q.classify(err, "create notification %s", n.ID)
	}
	return rows == 1, nil
}

// NotificationGetByID returns the notification or ErrNotFound.
func (q *queries) NotificationGetByID(ctx context.Context, id string) (*access.Notification, error) {
	n, err := scanNotification(q.queryRow(ctx, `SELECT `+notificationCols+` FROM notifications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notification %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get notification %s: %w", id, err)
	}
	return n, nil
}

// NotificationUpdate saves every field of n but its ID; ErrNotFound if it
// is not stored.
func (q *queries) NotificationUpdate(ctx context.Context, n *access.Notification) error {
	args, err := q.notificationArgs(n)
	if err != nil {
		return fmt.Errorf("update notification %s: %w", n.ID, err)
	}
	// What is fixed at creation (kind, recipient, request, grant, dedup
	// key, creation time) is left out: SQLite rewrites the index entries
	// of every indexed column an UPDATE sets, even to the value it had.
	rows, err := q.execN(ctx, `UPDATE notifications SET data = ?, state = ?, attempts = ?, last_error = ?,
		sent_at = ? WHERE id = ?`, args[4], args[6], args[7], args[8], args[10], n.ID)
	if err != nil {
		return q.classify(err, "update notification %s", n.ID)
	}
	if rows == 0 {
		return fmt.Errorf("notification %s: %w", n.ID, store.ErrNotFound)
	}
	return nil
}

// notifications selects notifications with the clauses in rest.
func (q *queries) notifications(ctx context.Context, rest string, args ...any) ([]*access.Notification, error) {
	rows, err := q.query(ctx, `SELECT `+notificationCols+` FROM notifications`+rest, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanNotification)
}

// NotificationListPending returns pending notifications created at or
// before before, oldest first (then ID), at most limit (50 if limit <= 0).
func (q *queries) NotificationListPending(ctx context.Context, before time.Time, limit int) ([]*access.Notification, error) {
	ns, err := q.notifications(ctx, ` WHERE state = ? AND created_at <= ? ORDER BY created_at, id LIMIT ?`,
		string(access.NotificationPending), q.tm(before), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list pending notifications: %w", err)
	}
	return ns, nil
}

// NotificationListByRequest returns the request's notifications, oldest
// first (then ID).
func (q *queries) NotificationListByRequest(ctx context.Context, requestID string) ([]*access.Notification, error) {
	ns, err := q.notifications(ctx, ` WHERE request_id = ? ORDER BY created_at, id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("list notifications of request %s: %w", requestID, err)
	}
	return ns, nil
}
