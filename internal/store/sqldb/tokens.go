package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

//nolint:gosec // G101: column names, not a credential
const tokenCols = `id, user_id, name, hash, created_at, expires_at, last_used_at, revoked_at`

func scanToken(s scanner) (*access.Token, error) {
	t := new(access.Token)
	err := s.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt},
		timeCol{&t.LastUsedAt}, timeCol{&t.RevokedAt})
	return t, err
}

// TokenCreate stores t; a second token with t.ID or t.Hash is ErrConflict.
func (q *queries) TokenCreate(ctx context.Context, t *access.Token) error {
	_, err := q.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Name, t.Hash, q.tm(t.CreatedAt), q.tm(t.ExpiresAt), q.tm(t.LastUsedAt), q.tm(t.RevokedAt))
	if err != nil {
		return q.classify(err, "create token %s", t.ID)
	}
	return nil
}

// tokenBy reads the token whose col is val; what names it in errors.
func (q *queries) tokenBy(ctx context.Context, col, val, what string) (*access.Token, error) {
	t, err := scanToken(q.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE `+col+` = ?`, val))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	return t, nil
}

// TokenGetByHash returns the token with hash, or ErrNotFound. The hash is
// not echoed in errors.
func (q *queries) TokenGetByHash(ctx context.Context, hash string) (*access.Token, error) {
	return q.tokenBy(ctx, "hash", hash, "token with that hash")
}

// TokenGetByID returns the token or ErrNotFound.
func (q *queries) TokenGetByID(ctx context.Context, id string) (*access.Token, error) {
	return q.tokenBy(ctx, "id", id, "token "+id)
}

// TokenList returns the tokens of userID ("" for every user), newest first
// (by ID).
func (q *queries) TokenList(ctx context.Context, userID string) ([]*access.Token, error) {
	var w where
	if userID != "" {
		w.add("user_id = ?", userID)
	}
	rows, err := q.query(ctx, `SELECT `+tokenCols+` FROM api_tokens`+w.String()+` ORDER BY id DESC`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens, err := collect(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// TokenUpdate saves t.RevokedAt and t.LastUsedAt; ErrNotFound if t is not
// stored.
func (q *queries) TokenUpdate(ctx context.Context, t *access.Token) error {
	n, err := q.execN(ctx, `UPDATE api_tokens SET revoked_at = ?, last_used_at = ? WHERE id = ?`,
		q.tm(t.RevokedAt), q.tm(t.LastUsedAt), t.ID)
	if err != nil {
		return fmt.Errorf("update token %s: %w", t.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("token %s: %w", t.ID, store.ErrNotFound)
	}
	return nil
}
