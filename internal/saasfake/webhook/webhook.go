// Package webhook is a fake receiver of Sesame's generic webhook
// connector: it verifies X-Sesame-Signature the way the documentation
// tells receivers to (independently of the connector's own code), drops
// repeated Idempotency-Keys, applies grant and revoke events to an
// in-memory set, and can be told to answer with errors or rate limits.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/saasfake"
)

// Delivery is one accepted request, as the receiver understood it.
type Delivery struct {
	Event          string
	GrantID        string
	Email          string
	App            string
	Entitlement    string
	ExpiresAt      *time.Time
	IdempotencyKey string
	Duplicate      bool
}

// Receiver is the fake. Use New; safe for concurrent use.
type Receiver struct {
	secret    string
	clock     clock.Clock
	tolerance time.Duration
	limiter   *saasfake.Limiter

	mu         sync.Mutex
	granted    map[string]bool
	seen       map[string]bool
	deliveries []Delivery
	respond    func(d Delivery) (status int, retryAfter string)
}

// New returns a receiver that accepts deliveries signed with secret,
// reading the time from c (clock.Real{} when nil).
func New(secret string, c clock.Clock) *Receiver {
	if c == nil {
		c = clock.Real{}
	}
	return &Receiver{
		secret:    secret,
		clock:     c,
		tolerance: 5 * time.Minute,
		limiter:   saasfake.NewLimiter(0, time.Minute, c),
		granted:   map[string]bool{},
		seen:      map[string]bool{},
	}
}

// SetRateLimit answers 429 with Retry-After once more than limit requests
// arrive in one window.
func (r *Receiver) SetRateLimit(limit int, window time.Duration) { r.limiter.Set(limit, window) }

// SetRespond makes the receiver answer status (with Retry-After when
// retryAfter is not empty) instead of processing, for deliveries where f
// returns a non-zero status. Nil restores normal processing.
func (r *Receiver) SetRespond(f func(d Delivery) (status int, retryAfter string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.respond = f
}

func key(app, ent, email string) string {
	return app + "\x00" + ent + "\x00" + strings.ToLower(email)
}

// Has reports whether email holds ent in app, by the events received.
func (r *Receiver) Has(app, ent, email string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.granted[key(app, ent, email)]
}

// Deliveries returns every delivery that passed the signature check.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

type payload struct {
	Event   string `json:"event"`
	GrantID string `json:"grant_id"`
	User    struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"user"`
	App         string     `json:"app"`
	Entitlement string     `json:"entitlement"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

func fail(w http.ResponseWriter, status int, msg string) {
	saasfake.WriteJSON(w, status, map[string]string{"error": msg})
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, "POST only")
		return
	}
	if d := r.limiter.Take(); !d.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter/time.Second)))
		fail(w, http.StatusTooManyRequests, "slow down")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, "read body")
		return
	}
	if !r.verify(req.Header.Get("X-Sesame-Signature"), body) {
		fail(w, http.StatusUnauthorized, "bad signature")
		return
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		fail(w, http.StatusBadRequest, "body is not JSON")
		return
	}
	idem := req.Header.Get("Idempotency-Key")
	if idem == "" {
		fail(w, http.StatusBadRequest, "Idempotency-Key required")
		return
	}
	if p.Event != "grant" && p.Event != "revoke" {
		fail(w, http.StatusUnprocessableEntity, "unknown event "+strconv.Quote(p.Event))
		return
	}
	d := Delivery{Event: p.Event, GrantID: p.GrantID, Email: p.User.Email, App: p.App,
		Entitlement: p.Entitlement, ExpiresAt: p.ExpiresAt, IdempotencyKey: idem}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.respond != nil {
		if status, ra := r.respond(d); status != 0 {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			fail(w, status, "told to fail")
			return
		}
	}
	if r.seen[idem] {
		d.Duplicate = true
		r.deliveries = append(r.deliveries, d)
		saasfake.WriteJSON(w, http.StatusOK, map[string]string{"status": "duplicate"})
		return
	}
	r.seen[idem] = true
	r.deliveries = append(r.deliveries, d)
	k := key(p.App, p.Entitlement, p.User.Email)
	if p.Event == "grant" {
		r.granted[k] = true
	} else {
		delete(r.granted, k)
	}
	saasfake.WriteJSON(w, http.StatusOK, map[string]string{"status": "done"})
}

// verify follows the receiver instructions in docs/connectors/webhook.md.
func (r *Receiver) verify(header string, body []byte) bool {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	age := r.clock.Now().Sub(time.Unix(sec, 0))
	if age > r.tolerance || age < -r.tolerance {
		return false
	}
	m := hmac.New(sha256.New, []byte(r.secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}
