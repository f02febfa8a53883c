package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// TokenPrefix starts every API token secret, so that secret scanners (and
// people) recognise one.
const TokenPrefix = "ses_"

// secretBytes is how much randomness a secret carries.
const secretBytes = 32

// maxSecretLength bounds what Authenticate hashes; real secrets are 56
// characters.
const maxSecretLength = 128

// MaxTokenName is the longest token name.
const MaxTokenName = 64

// LastUsedResolution is how stale Token.LastUsedAt may get: Authenticate
// writes it at most once per this interval per token, not on every request.
const LastUsedResolution = time.Minute

// HashSecret returns the hex SHA-256 of a token secret, as stored in
// access.Token.Hash.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// errUnauthorized is the one answer to every bad secret: it does not say
// whether the token is unknown, expired, revoked or its user offboarded.
func errUnauthorized() error {
	return access.Errorf(access.CodeUnauthorized, "invalid, expired or revoked API token")
}

// CreateToken makes an API token named name for userID, expiring at
// expiresAt (zero: never), and appends a token.created event by userID.
// It returns the secret, which is not stored and cannot be shown again.
// Returns a CodeInvalid error for a bad name or an expiry not after now,
// CodeNotFound for an unknown user and CodeInvalid for an offboarded one.
// Run it inside InTx so the token and its event commit together.
func CreateToken(ctx context.Context, q store.Queries, userID, name string, expiresAt, now time.Time) (string, *access.Token, error) {
	name = strings.TrimSpace(name)
	var fields []access.FieldError
	switch {
	case name == "":
		fields = append(fields, access.FieldError{Field: "name", Message: "is required"})
	case len(name) > MaxTokenName:
		fields = append(fields, access.FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", MaxTokenName)})
	case strings.ContainsFunc(name, unicode.IsControl):
		fields = append(fields, access.FieldError{Field: "name", Message: "must not contain control characters"})
	}
	if !expiresAt.IsZero() && !expiresAt.After(now) {
		fields = append(fields, access.FieldError{Field: "expires_at", Message: "must be in the future"})
	}
	if len(fields) > 0 {
		return "", nil, access.Invalid("invalid token", fields...)
	}
	u, err := q.UserGetByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, access.Errorf(access.CodeNotFound, "user %s not found", userID)
	}
	if err != nil {
		return "", nil, fmt.Errorf("load user: %w", err)
	}
	if !u.Active() {
		return "", nil, access.Errorf(access.CodeInvalid, "user %s is %s and cannot hold API tokens", u.Email, u.Status)
	}
	secret := TokenPrefix + ids.Token(secretBytes)
	t := &access.Token{
		ID:        ids.New("tok", now),
		UserID:    u.ID,
		Name:      name,
		Hash:      HashSecret(secret),
		CreatedAt: now,
	}
	if !expiresAt.IsZero() {
		t.ExpiresAt = expiresAt.UTC()
	}
	if err := q.TokenCreate(ctx, t); err != nil {
		return "", nil, fmt.Errorf("store token: %w", err)
	}
	if err := appendEvent(ctx, q, u.ID, "token.created", t, nil, t, now); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// Authenticate returns the user and token a secret belongs to. Unknown,
// expired and revoked tokens, and tokens of unknown or offboarded users,
// are one CodeUnauthorized error. It records the token's LastUsedAt at
// most once per LastUsedResolution: through uses, in the background, or
// when uses is nil in its own short transaction before it returns.
func Authenticate(ctx context.Context, st store.Store, uses *UseRecorder, secret string, now time.Time) (*access.User, *access.Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > maxSecretLength {
		return nil, nil, errUnauthorized()
	}
	hash := HashSecret(secret)
	t, err := st.TokenGetByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errUnauthorized()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 || !t.Valid(now) {
		return nil, nil, errUnauthorized()
	}
	u, err := st.UserGetByID(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errUnauthorized()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load token user: %w", err)
	}
	if !u.Active() {
		return nil, nil, errUnauthorized()
	}
	if t.LastUsedAt.IsZero() || now.Sub(t.LastUsedAt) >= LastUsedResolution {
		if uses != nil {
			uses.Note(t.ID, now)
		} else if err := touch(ctx, st, t.ID, now); err != nil {
			return nil, nil, err
		}
		t.LastUsedAt = now
	}
	return u, t, nil
}

// touch sets LastUsedAt on a fresh copy read inside a transaction, so that
// a revocation committed since Authenticate read the token is not written
// back as unrevoked.
func touch(ctx context.Context, st store.Store, tokenID string, now time.Time) error {
	err := st.InTx(ctx, func(q store.Queries) error { return touchIn(ctx, q, tokenID, now) })
	if err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	return nil
}

// touchIn sets the token's LastUsedAt to now in q, unless it is revoked,
// gone, or was used within LastUsedResolution.
func touchIn(ctx context.Context, q store.Queries, tokenID string, now time.Time) error {
	t, err := q.TokenGetByID(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !t.RevokedAt.IsZero() || (!t.LastUsedAt.IsZero() && now.Sub(t.LastUsedAt) < LastUsedResolution) {
		return nil
	}
	t.LastUsedAt = now
	return q.TokenUpdate(ctx, t)
}

// RevokeToken revokes token tokenID on behalf of actor, who must own it or
// be an admin; a nil actor is the system (an operator at the server's
// command line). Another user's token is reported as not found. Revoking a
// revoked token changes nothing and appends no event. Run it inside InTx.
func RevokeToken(ctx context.Context, q store.Queries, actor *access.User, tokenID string, now time.Time) (*access.Token, error) {
	t, err := q.TokenGetByID(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeNotFound, "token %s not found", tokenID)
	}
	if err != nil {
		return nil, fmt.Errorf("load token: %w", err)
	}
	actorID := access.SystemActor
	if actor != nil {
		actorID = actor.ID
		if t.UserID != actor.ID && !actor.HasRole(access.RoleAdmin) {
			return nil, access.Errorf(access.CodeNotFound, "token %s not found", tokenID)
		}
	}
	if !t.RevokedAt.IsZero() {
		return t, nil
	}
	before := *t
	t.RevokedAt = now
	if err := q.TokenUpdate(ctx, t); err != nil {
		return nil, fmt.Errorf("save token: %w", err)
	}
	if err := appendEvent(ctx, q, actorID, "token.revoked", t, &before, t, now); err != nil {
		return nil, err
	}
	return t, nil
}

// ListTokens returns the tokens of userID ("" for every user), newest
// first. Secrets are never available; hashes are not rendered by the
// token's JSON encoding.
func ListTokens(ctx context.Context, q store.Queries, userID string) ([]*access.Token, error) {
	ts, err := q.TokenList(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// appendEvent audits a change to token t.
func appendEvent(ctx context.Context, q store.Queries, actorID, action string, t *access.Token, before, after *access.Token, now time.Time) error {
	e := &access.Event{
		ID:          ids.New("evt", now),
		Time:        now,
		ActorID:     actorID,
		Action:      action,
		SubjectType: "token",
		SubjectID:   t.ID,
		After:       access.Snapshot(after),
		Data:        access.Snapshot(map[string]string{"user_id": t.UserID, "name": t.Name}),
	}
	if before != nil {
		e.Before = access.Snapshot(before)
	}
	if err := q.EventAppend(ctx, e); err != nil {
		return fmt.Errorf("append audit event %s: %w", action, err)
	}
	return nil
}
