package store

import (
	"context"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// WebQueries are the dashboard's reads and writes: sessions and one-time
// login links. The SQL adapters implement them in sqldb/web.go. Neither
// holds a secret the browser has: only SHA-256 hashes of the session id
// and of the link token are stored.
type WebQueries interface {
	// WebSessionCreate stores s; a second session with s.Hash is
	// ErrConflict.
	WebSessionCreate(ctx context.Context, s *WebSession) error
	// WebSessionGet returns the session whose hash is hash and whose
	// ExpiresAt is after now, or ErrNotFound (unknown or expired).
	WebSessionGet(ctx context.Context, hash string, now time.Time) (*WebSession, error)
	// WebSessionDelete removes the session with hash (sign-out); no error
	// when it is gone already.
	WebSessionDelete(ctx context.Context, hash string) error
	// WebSessionDeleteExpired removes sessions whose ExpiresAt is at or
	// before now and reports how many.
	WebSessionDeleteExpired(ctx context.Context, now time.Time) (int, error)

	// LoginLinkCreate stores l; a second link with l.Hash is ErrConflict.
	LoginLinkCreate(ctx context.Context, l *LoginLink) error
	// LoginLinkUse marks the link with hash used at now and returns it,
	// only when it is unused and ExpiresAt is after now; otherwise
	// ErrNotFound (unknown, used or expired). The check and the mark are
	// one UPDATE, so of two concurrent uses exactly one succeeds.
	LoginLinkUse(ctx context.Context, hash string, now time.Time) (*LoginLink, error)

	// RequestListAwaiting returns pending requests that notified
	// approverID at any step, newest first, at most limit (clamped like
	// Page.Limit), with their decisions. It walks the pending requests
	// and checks each against the approver index, so its cost grows with
	// the requests pending, not with the approver's history (RequestList
	// with ApproverID walks the history).
	RequestListAwaiting(ctx context.Context, approverID string, limit int) ([]*access.Request, error)
}

// WebSession is a signed-in dashboard browser.
type WebSession struct {
	// Hash is the hex SHA-256 of the session id the cookie carries.
	Hash   string
	UserID string
	// CSRFSecret keys the session's CSRF tokens (HMAC); it never leaves
	// the server.
	CSRFSecret string
	// Method is how the person signed in: "oidc" or "link".
	Method    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LoginLink is a one-time sign-in link (sesame admin bootstrap).
type LoginLink struct {
	// Hash is the hex SHA-256 of the token in the link.
	Hash   string
	UserID string
	// Purpose says why it was made ("bootstrap").
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is zero until the link is used.
	UsedAt time.Time
}
