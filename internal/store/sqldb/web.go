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

const webSessionCols = `hash, user_id, csrf_secret, method, created_at, expires_at`

// WebSessionCreate stores s; a duplicate hash is ErrConflict.
func (q *queries) WebSessionCreate(ctx context.Context, s *store.WebSession) error {
	_, err := q.exec(ctx, `INSERT INTO web_sessions (`+webSessionCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.Hash, s.UserID, s.CSRFSecret, s.Method, q.tm(s.CreatedAt), q.tm(s.ExpiresAt))
	if err != nil {
		return q.classify(err, "create web session")
	}
	return nil
}

// WebSessionGet returns the unexpired session with hash, or ErrNotFound.
func (q *queries) WebSessionGet(ctx context.Context, hash string, now time.Time) (*store.WebSession, error) {
	s := new(store.WebSession)
	err := q.queryRow(ctx, `SELECT `+webSessionCols+` FROM web_sessions WHERE hash = ? AND expires_at > ?`, hash, q.tm(now)).
		Scan(&s.Hash, &s.UserID, &s.CSRFSecret, &s.Method, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("web session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get web session: %w", err)
	}
	return s, nil
}

// WebSessionDelete removes the session with hash, if any.
func (q *queries) WebSessionDelete(ctx context.Context, hash string) error {
	if _, err := q.exec(ctx, `DELETE FROM web_sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// WebSessionDeleteExpired removes sessions expired at now.
func (q *queries) WebSessionDeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := q.execN(ctx, `DELETE FROM web_sessions WHERE expires_at <= ?`, q.tm(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return int(n), nil
}

// LoginLinkCreate stores l; a duplicate hash is ErrConflict.
func (q *queries) LoginLinkCreate(ctx context.Context, l *store.LoginLink) error {
	_, err := q.exec(ctx, `INSERT INTO login_links (hash, user_id, purpose, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?)`,
		l.Hash, l.UserID, l.Purpose, q.tm(l.CreatedAt), q.tm(l.ExpiresAt), q.tm(l.UsedAt))
	if err != nil {
		return q.classify(err, "create login link")
	}
	return nil
}

// LoginLinkUse marks an unused, unexpired link used, in one UPDATE.
func (q *queries) LoginLinkUse(ctx context.Context, hash string, now time.Time) (*store.LoginLink, error) {
	l := new(store.LoginLink)
	err := q.queryRow(ctx, `UPDATE login_links SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?
		RETURNING hash, user_id, purpose, created_at, expires_at, used_at`, q.tm(now), hash, q.tm(now)).
		Scan(&l.Hash, &l.UserID, &l.Purpose, timeCol{&l.CreatedAt}, timeCol{&l.ExpiresAt}, timeCol{&l.UsedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("login link (unknown, used or expired): %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("use login link: %w", err)
	}
	return l, nil
}

// RequestListAwaiting returns pending requests that notified approverID,
// newest first: it walks requests_state_id and probes request_approvers'
// primary key.
func (q *queries) RequestListAwaiting(ctx context.Context, approverID string, limit int) ([]*access.Request, error) {
	reqs, err := q.requests(ctx, ` WHERE state = ? AND EXISTS (SELECT 1 FROM request_approvers a WHERE a.request_id = requests.id AND a.user_id = ?)
		ORDER BY id DESC LIMIT ?`, string(access.RequestPending), approverID, store.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list requests awaiting %s: %w", approverID, err)
	}
	if err := q.loadDecisions(ctx, reqs); err != nil {
		return nil, fmt.Errorf("list requests awaiting %s: %w", approverID, err)
	}
	return reqs, nil
}
