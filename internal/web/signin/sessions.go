package signin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/store"
)

// CookieName is the session cookie.
const CookieName = "sesame_session"

// Sessions issues and checks dashboard sessions.
type Sessions struct {
	st     store.Store
	clock  clock.Clock
	ttl    time.Duration
	secure bool
}

// NewSessions returns Sessions lasting ttl. Cookies are Secure when
// baseURL is https.
func NewSessions(st store.Store, clk clock.Clock, baseURL string, ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	return &Sessions{st: st, clock: clk, ttl: ttl, secure: strings.HasPrefix(strings.ToLower(baseURL), "https://")}
}

// Session is a signed-in browser.
type Session struct {
	store.WebSession
}

// ErrNoSession means no cookie, or an unknown, expired or signed-out session.
var ErrNoSession = errors.New("not signed in")

// random returns n random bytes, base64url.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is the hex SHA-256 of a secret, as the store keeps it.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Start creates a session for userID, stores its hash and sets the
// cookie. method is "oidc" or "link".
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, userID, method string) (*Session, error) {
	id := random(32)
	now := s.clock.Now().UTC()
	ws := store.WebSession{Hash: Hash(id), UserID: userID, CSRFSecret: random(32), Method: method,
		CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	if err := s.st.WebSessionCreate(ctx, &ws); err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	//nolint:gosec // G124: Secure follows the base URL (plain http only on localhost); HttpOnly and SameSite are set
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", MaxAge: int(s.ttl / time.Second),
		Secure: s.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return &Session{ws}, nil
}

// Load returns the session of r's cookie, or ErrNoSession.
func (s *Sessions) Load(r *http.Request) (*Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, ErrNoSession
	}
	ws, err := s.st.WebSessionGet(r.Context(), Hash(c.Value), s.clock.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	return &Session{*ws}, nil
}

// End deletes r's session (if any) and clears the cookie.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) error {
	s.clear(w)
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if err := s.st.WebSessionDelete(r.Context(), Hash(c.Value)); err != nil {
			return fmt.Errorf("end session: %w", err)
		}
	}
	return nil
}

func (s *Sessions) clear(w http.ResponseWriter) {
	//nolint:gosec // G124: as in Start
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		Secure: s.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// Secure reports whether cookies carry the Secure flag.
func (s *Sessions) Secure() bool { return s.secure }

// CSRFToken returns the token forms of this session must carry: an HMAC
// of the session hash under the session's CSRF secret.
func (ss *Session) CSRFToken() string {
	m := hmac.New(sha256.New, []byte(ss.CSRFSecret))
	m.Write([]byte("sesame-csrf|" + ss.Hash))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is this session's CSRF token
// (constant-time).
func (ss *Session) CheckCSRF(token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(ss.CSRFToken()))
}
