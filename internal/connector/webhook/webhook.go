package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "webhook"

// Events sent in the body's event field.
const (
	EventGrant  = "grant"
	EventRevoke = "revoke"
)

// Payload is the JSON body of every delivery.
type Payload struct {
	Event       string     `json:"event"`
	GrantID     string     `json:"grant_id"`
	User        User       `json:"user"`
	App         string     `json:"app"`
	Entitlement string     `json:"entitlement"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// User is the person in a Payload.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

const (
	settingURL     = "url"
	settingSecret  = "secret"
	settingTimeout = "timeout"

	minSecretLen   = 16
	defaultTimeout = 10 * time.Second
	maxErrorBody   = 512
)

func knownSettings() []string { return []string{settingURL, settingSecret, settingTimeout} }

// Options are the dependencies New fills with defaults.
type Options struct {
	// Clock stamps signatures; clock.Real{} when nil.
	Clock clock.Clock
	// HTTPClient sends deliveries; a client with the timeout setting when
	// nil. Redirects are never followed.
	HTTPClient *http.Client
}

// Connector posts one signed JSON document per grant and revoke.
type Connector struct {
	url    string
	secret string
	clock  clock.Clock
	client *http.Client
}

var _ connector.Connector = (*Connector)(nil)

// New is the connector.Factory. See the package documentation for the
// settings.
func New(settings map[string]string) (connector.Connector, error) {
	return NewWithOptions(settings, Options{})
}

// NewWithOptions is New with injected dependencies.
func NewWithOptions(settings map[string]string, opts Options) (*Connector, error) {
	if err := ValidateSettings(settings); err != nil {
		return nil, err
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
		if v := settings[settingTimeout]; v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("setting timeout: %w", err)
			}
			client.Timeout = d
		}
	}
	// A copy, so that refusing redirects does not change the caller's client.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Connector{
		url:    settings[settingURL],
		secret: settings[settingSecret],
		clock:  cmp.Or[clock.Clock](opts.Clock, clock.Real{}),
		client: &c,
	}, nil
}

// ValidateSettings checks settings without connecting anywhere.
func ValidateSettings(settings map[string]string) error {
	for k := range settings {
		if !slices.Contains(knownSettings(), k) {
			return fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings(), ", "))
		}
	}
	raw := settings[settingURL]
	if raw == "" {
		return errors.New("setting url is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("setting url must be an absolute http(s) URL")
	}
	if u.User != nil {
		return errors.New("setting url must not carry credentials; receivers authenticate deliveries by their signature")
	}
	if len(settings[settingSecret]) < minSecretLen {
		return fmt.Errorf("setting secret is required and must be at least %d characters", minSecretLen)
	}
	if v := settings[settingTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("setting timeout: %q is not a positive duration like 10s", v)
		}
	}
	return nil
}

// ValidateSettings implements connector.SettingsValidator.
func (c *Connector) ValidateSettings(settings map[string]string) error {
	return ValidateSettings(settings)
}

// Grant delivers a "grant" event. Receivers must treat a repeated
// Idempotency-Key as already done and answer 2xx.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	return c.deliver(ctx, EventGrant, t)
}

// Revoke delivers a "revoke" event.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	return c.deliver(ctx, EventRevoke, t)
}

// PayloadFor returns the body sent for event and t.
func PayloadFor(event string, t connector.Target) Payload {
	p := Payload{
		Event:       event,
		GrantID:     t.GrantID,
		User:        User{ID: t.UserID, Email: t.Email, Name: t.Name},
		App:         t.AppID,
		Entitlement: t.EntitlementKey,
	}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt.UTC()
		p.ExpiresAt = &e
	}
	return p
}

// idempotencyKey is "<grant id>:<event>"; without a grant id (never the
// case for grants Sesame makes) a digest of the target stands in.
func idempotencyKey(event string, t connector.Target) string {
	id := t.GrantID
	if id == "" {
		sum := sha256.Sum256([]byte(t.AppID + "\x00" + t.EntitlementKey + "\x00" + strings.ToLower(t.Email)))
		id = "sha256-" + hex.EncodeToString(sum[:12])
	}
	return id + ":" + event
}

func (c *Connector) deliver(ctx context.Context, event string, t connector.Target) error {
	body, err := json.Marshal(PayloadFor(event, t))
	if err != nil {
		return connector.Permanent(fmt.Errorf("webhook: encode payload: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return connector.Permanent(fmt.Errorf("webhook: build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Sesame-Webhook/1")
	req.Header.Set(SignatureHeader, Sign(c.secret, c.clock.Now(), body))
	req.Header.Set(IdempotencyHeader, idempotencyKey(event, t))
	req.Header.Set(EventHeader, event)
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("webhook %s: %w", event, ctx.Err())
		}
		// Network errors, timeouts and refused connections are retryable.
		return fmt.Errorf("webhook %s: post: %w", event, redactURL(err))
	}
	defer resp.Body.Close()
	snippet, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		snippet = append(snippet, " (body cut short)"...)
	}
	return classify(event, resp, snippet, c.clock.Now())
}

// classify maps a receiver's answer to nil, a retryable error or a
// permanent one: 2xx succeeds; 408, 429 and 5xx are retryable (honouring
// Retry-After); every other status is permanent.
func classify(event string, resp *http.Response, body []byte, now time.Time) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err := fmt.Errorf("webhook %s: receiver answered %s%s", event, resp.Status, quoteBody(body))
	switch {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
			return &connector.RetryAfterError{After: d, Err: err}
		}
		return err
	case code >= 300 && code < 400:
		return connector.Permanent(fmt.Errorf("%w (redirects are not followed: set url to the final location)", err))
	default:
		return connector.Permanent(err)
	}
}

func quoteBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return ": " + strconv.Quote(s)
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// redactURL drops the query string from *url.Error messages, in case an
// operator put a token there despite the documentation.
func redactURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = "REDACTED"
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
