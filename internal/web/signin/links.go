package signin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/store"
)

// LinkTTL is how long a one-time login link stays valid.
const LinkTTL = 15 * time.Minute

// LinkPath is where a login link points: BaseURL + LinkPath + token.
const LinkPath = "/login/link/"

// linkPrefix marks login link tokens.
const linkPrefix = "sln_"

// IssueLink stores a one-time login link for userID valid for ttl from now
// and returns its token (shown once; only its hash is stored).
func IssueLink(ctx context.Context, q store.Queries, userID, purpose string, now time.Time, ttl time.Duration) (string, error) {
	token := linkPrefix + random(32)
	err := q.LoginLinkCreate(ctx, &store.LoginLink{Hash: Hash(token), UserID: userID, Purpose: purpose,
		CreatedAt: now.UTC(), ExpiresAt: now.UTC().Add(ttl)})
	if err != nil {
		return "", fmt.Errorf("issue login link: %w", err)
	}
	return token, nil
}

// ErrBadLink means the link is unknown, used or expired.
var ErrBadLink = errors.New("this sign-in link is invalid, already used or expired")

// RedeemLink uses the link with token at now (once: a second use fails)
// and returns it.
func RedeemLink(ctx context.Context, q store.Queries, token string, now time.Time) (*store.LoginLink, error) {
	if len(token) > 100 || len(token) < len(linkPrefix)+16 {
		return nil, ErrBadLink
	}
	l, err := q.LoginLinkUse(ctx, Hash(token), now.UTC())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrBadLink
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}
