package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Destination kinds.
const (
	KindWebhook = "webhook" // a Slack incoming webhook
	KindChannel = "channel" // a channel the bot posts to (chat.postMessage)
)

// Failure classes of a send.
const (
	// FailTransient: try again later (5xx, network, rate limited).
	FailTransient = "transient"
	// FailDestination: the webhook or channel fails for good until someone
	// fixes it (revoked, archived, bot not in channel).
	FailDestination = "destination"
	// FailMessage: Slack refused this message (malformed, too long).
	FailMessage = "message"
)

// SendError is a failed send, classified.
type SendError struct {
	// Code is Slack's error string ("channel_is_archived"), or
	// "http_<status>" / "network" when Slack gave none.
	Code string
	// Status is the HTTP status (0 for network errors).
	Status int
	// Class is FailTransient, FailDestination or FailMessage.
	Class string
	// RetryAfter is Slack's Retry-After on a 429.
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string {
	s := e.Code
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(", retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *SendError) Unwrap() error { return e.Err }

// Slack's errors, by what they say about the destination. Incoming
// webhooks answer them as plain text with an HTTP status (400
// invalid_payload, user_not_found, no_text; 403 invalid_token,
// action_prohibited, posting_to_general_channel_denied; 404
// channel_not_found, no_service, no_team; 410 channel_is_archived; 429
// with Retry-After; 500 rollup_error); chat.postMessage answers them in
// ok:false JSON.
//
//nolint:gochecknoglobals // constant tables
var (
	destinationErrors = []string{
		"invalid_token", "no_service", "no_team", "team_disabled", "channel_not_found", "channel_is_archived",
		"action_prohibited", "posting_to_general_channel_denied", "user_not_found", "not_in_channel", "is_archived",
		"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope",
		"restricted_action", "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
		"restricted_action_non_threadable_channel", "ekm_access_denied", "team_access_not_granted", "no_permission",
		"org_login_required", "cannot_dm_bot",
	}
	messageErrors = []string{
		"invalid_payload", "no_text", "missing_text_or_fallback_or_attachments", "invalid_blocks",
		"invalid_blocks_format", "msg_too_long", "too_many_attachments", "invalid_attachments", "invalid_arguments",
		"message_limit_exceeded",
	}
)

// classify sorts Slack's answer into a failure class.
func classify(code string, status int, retryAfter time.Duration) *SendError {
	e := &SendError{Code: code, Status: status, RetryAfter: retryAfter, Class: FailTransient}
	switch {
	case status == http.StatusTooManyRequests || code == "ratelimited" || code == "rate_limited":
		e.Class = FailTransient
	case slices.Contains(destinationErrors, code):
		e.Class = FailDestination
	case slices.Contains(messageErrors, code):
		e.Class = FailMessage
	case status >= 500 || code == "internal_error" || code == "fatal_error" || code == "service_unavailable" ||
		code == "request_timeout" || code == "rollup_error":
		e.Class = FailTransient
	case status == http.StatusBadRequest:
		e.Class = FailMessage
	case status >= 400:
		e.Class = FailDestination // an unknown refusal: a person must look
	}
	return e
}

// sender posts messages to Slack.
type sender struct {
	http     *http.Client
	apiURL   string // with a trailing slash
	botToken string
}

// maxAnswer bounds how much of Slack's answer is read.
const maxAnswer = 64 << 10

// webhook posts m to an incoming webhook.
func (s *sender) webhook(ctx context.Context, hookURL string, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return &SendError{Code: "invalid_payload", Class: FailMessage, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL, bytes.NewReader(body))
	if err != nil {
		return &SendError{Code: "invalid_url", Class: FailDestination, Err: errors.New("the webhook URL is not valid")}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.http.Do(req)
	if err != nil {
		return networkError(withoutURL(err))
	}
	defer resp.Body.Close() //nolint:errcheck // read below
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return networkError(withoutURL(err))
	}
	text := strings.TrimSpace(string(answer))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	code := text
	if code == "" || len(code) > 80 || strings.ContainsAny(code, " <{\n") {
		code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	return classify(code, resp.StatusCode, retryAfter(resp))
}

// postMessage posts m to channel (a channel ID, or a user ID for the
// bot's DM with that user) with chat.postMessage.
func (s *sender) postMessage(ctx context.Context, channel string, m Message) error {
	if s.botToken == "" {
		return &SendError{Code: "no_bot", Class: FailDestination, Err: errors.New("the Slack bot is not configured (slack.bot_token)")}
	}
	body, err := json.Marshal(struct {
		Channel string          `json:"channel"`
		Text    string          `json:"text"`
		Blocks  json.RawMessage `json:"blocks,omitempty"`
	}{channel, m.Text, m.Blocks})
	if err != nil {
		return &SendError{Code: "invalid_payload", Class: FailMessage, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"chat.postMessage", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("chat.postMessage: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+s.botToken)
	resp, err := s.http.Do(req)
	if err != nil {
		return networkError(err)
	}
	defer resp.Body.Close() //nolint:errcheck // read below
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return networkError(err)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return classify("ratelimited", resp.StatusCode, retryAfter(resp))
	}
	var out struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return classify("http_"+strconv.Itoa(resp.StatusCode), max(resp.StatusCode, http.StatusBadGateway), 0)
	}
	if out.OK {
		return nil
	}
	return classify(out.Error, resp.StatusCode, retryAfter(resp))
}

// withoutURL drops the request URL (a secret for webhooks) from a
// client error.
func withoutURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func networkError(err error) *SendError {
	return &SendError{Code: "network", Class: FailTransient, Err: err}
}

// retryAfter reads a Retry-After header in seconds (at least 1s when
// present).
func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return time.Second
	}
	return time.Duration(min(n, 3600)) * time.Second
}

// Slack's incoming-webhook hosts.
//
//nolint:gochecknoglobals // constant table
var webhookHosts = []string{"hooks.slack.com", "hooks.slack-gov.com"}

// CheckWebhookURL validates an incoming-webhook URL: https on Slack's
// hooks host with a /services/... path. With allowLoopback, http or https
// on a loopback address (127.0.0.1, ::1, localhost) is accepted too, for
// tests and local relays.
func CheckWebhookURL(raw string, allowLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("not an incoming-webhook URL (https://hooks.slack.com/services/...)")
	}
	if !strings.HasPrefix(u.Path, "/services/") || len(strings.Split(strings.Trim(u.Path, "/"), "/")) < 3 {
		return errors.New("an incoming-webhook URL has the path /services/T…/B…/…")
	}
	host := u.Hostname()
	if u.Scheme == "https" && slices.Contains(webhookHosts, host) && u.Port() == "" {
		return nil
	}
	if allowLoopback && (u.Scheme == "http" || u.Scheme == "https") && loopback(host) {
		return nil
	}
	return errors.New("an incoming-webhook URL is https://hooks.slack.com/services/... (loopback URLs need integrations.allow_loopback_webhooks)")
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MaskWebhookURL shows where a webhook URL points without its secret:
// "https://hooks.slack.com/services/T…/B…/••••".
func MaskWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "••••"
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := range parts {
		switch {
		case i == 0 && parts[i] == "services":
		case i == len(parts)-1:
			parts[i] = "••••"
		default:
			r := []rune(parts[i])
			if len(r) > 0 {
				parts[i] = string(r[:1]) + "…"
			}
		}
	}
	return u.Scheme + "://" + u.Host + "/" + strings.Join(parts, "/")
}
