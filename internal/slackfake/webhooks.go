package slackfake

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// WebhookState is how an incoming webhook answers.
type WebhookState string

// Incoming-webhook states and what Slack answers in each (a plain-text
// error string with an HTTP status, per Slack's incoming-webhook docs).
const (
	WebhookOK         WebhookState = "ok"         // 200 "ok"
	WebhookRevoked    WebhookState = "revoked"    // 403 invalid_token (the token behind the URL was revoked)
	WebhookRemoved    WebhookState = "removed"    // 404 no_service (the webhook was disabled or removed)
	WebhookProhibited WebhookState = "prohibited" // 403 action_prohibited (a workspace restriction)
	WebhookGeneral    WebhookState = "general"    // 403 posting_to_general_channel_denied
)

// WebhookMethod is the Call.Method recorded for incoming-webhook posts,
// and the key of their rate limit (Slack: about one message per second
// per webhook).
const WebhookMethod = "incoming-webhook"

// hook is one incoming webhook.
type hook struct {
	channel string
	state   WebhookState
}

// webhookState is the fake's incoming webhooks and archived channels.
type webhookState struct {
	mu       sync.Mutex
	hooks    map[string]*hook // by URL path
	archived map[string]bool  // channel IDs
}

func (w *webhookState) init() {
	if w.hooks == nil {
		w.hooks, w.archived = map[string]*hook{}, map[string]bool{}
	}
}

// AddWebhook creates an incoming webhook that posts to channel (created
// as a public channel if it does not exist) and returns its URL, shaped
// like Slack's: <server>/services/T.../B.../<secret>.
func (s *Server) AddWebhook(channel string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	s.mu.Lock()
	if _, ok := s.channels[channel]; !ok {
		s.channels[channel] = &Channel{ID: channel, Name: strings.ToLower(channel)}
	}
	n := s.nextSeq()
	s.mu.Unlock()
	path := fmt.Sprintf("/services/%s/B%08d/%x", s.opts.TeamID, n, b)
	s.hooksState.mu.Lock()
	defer s.hooksState.mu.Unlock()
	s.hooksState.init()
	s.hooksState.hooks[path] = &hook{channel: channel, state: WebhookOK}
	return s.ts.URL + path
}

// SetWebhookState changes how the webhook at hookURL answers from now on.
func (s *Server) SetWebhookState(hookURL string, state WebhookState) {
	u, err := url.Parse(hookURL)
	if err != nil {
		panic(err)
	}
	s.hooksState.mu.Lock()
	defer s.hooksState.mu.Unlock()
	s.hooksState.init()
	if h := s.hooksState.hooks[u.Path]; h != nil {
		h.state = state
	}
}

// ArchiveChannel archives (or, with archived false, unarchives) a
// channel: its webhooks answer 410 channel_is_archived and
// chat.postMessage to it fails with is_archived.
func (s *Server) ArchiveChannel(channel string, archived bool) {
	s.hooksState.mu.Lock()
	defer s.hooksState.mu.Unlock()
	s.hooksState.init()
	s.hooksState.archived[channel] = archived
}

// isArchived reports whether channel is archived.
func (s *Server) isArchived(channel string) bool {
	s.hooksState.mu.Lock()
	defer s.hooksState.mu.Unlock()
	return s.hooksState.archived[channel]
}

// SetMembers replaces the members of a channel (remove the bot to make
// chat.postMessage fail with not_in_channel).
func (s *Server) SetMembers(channel string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[channel]; c != nil {
		c.Members = append([]string(nil), members...)
	}
}

// serveWebhook answers a post to an incoming webhook as Slack does:
// 200 "ok"; 400 invalid_payload (not JSON, or not an object), no_text
// (neither text nor blocks), invalid_blocks; 403/404/410 for a revoked,
// removed, prohibited or archived destination; 429 with Retry-After past
// one message per second per webhook.
func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	call := Call{Method: WebhookMethod, Args: map[string]string{"hook": r.URL.Path}, At: s.clock.Now(), Status: http.StatusOK}
	status, code, msg := s.webhook(r, &call)
	call.Status, call.OK, call.Error = status, status == http.StatusOK, code
	if status == http.StatusOK {
		code = "ok"
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(call.RetryAfter.Seconds())))
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	if msg != nil {
		s.messages[msg.Channel] = append(s.messages[msg.Channel], msg)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, code) //nolint:errcheck // test server
}

func (s *Server) webhook(r *http.Request, call *Call) (int, string, *Message) {
	s.hooksState.mu.Lock()
	s.hooksState.init()
	h, ok := s.hooksState.hooks[r.URL.Path]
	var st WebhookState
	var channel string
	if ok {
		st, channel = h.state, h.channel
	}
	archived := ok && s.hooksState.archived[channel]
	s.hooksState.mu.Unlock()
	if !ok {
		return http.StatusNotFound, "no_service", nil
	}
	switch {
	case st == WebhookRevoked:
		return http.StatusForbidden, "invalid_token", nil
	case st == WebhookRemoved:
		return http.StatusNotFound, "no_service", nil
	case st == WebhookProhibited:
		return http.StatusForbidden, "action_prohibited", nil
	case st == WebhookGeneral:
		return http.StatusForbidden, "posting_to_general_channel_denied", nil
	case archived:
		return http.StatusGone, "channel_is_archived", nil
	}
	if ok, after := s.lim.take(WebhookMethod, r.URL.Path); !ok {
		call.RetryAfter = after
		return http.StatusTooManyRequests, "rate_limited", nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return http.StatusBadRequest, "invalid_payload", nil
	}
	raw, err := webhookPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		return http.StatusBadRequest, "invalid_payload", nil
	}
	var p struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return http.StatusBadRequest, "invalid_payload", nil
	}
	call.Args["text"] = p.Text
	call.Args["blocks"] = string(p.Blocks)
	if string(p.Blocks) == "null" || string(p.Blocks) == "[]" {
		p.Blocks = nil
	}
	if strings.TrimSpace(p.Text) == "" && len(p.Blocks) == 0 {
		return http.StatusBadRequest, "no_text", nil
	}
	if utf8.RuneCountInString(p.Text) > MaxMessageText {
		return http.StatusBadRequest, "invalid_payload", nil
	}
	if err := ValidateMessage(p.Text, p.Blocks); err != nil {
		return http.StatusBadRequest, "invalid_blocks", nil
	}
	s.mu.Lock()
	ts := s.newTS()
	s.mu.Unlock()
	return http.StatusOK, "", &Message{Channel: channel, TS: ts, Text: p.Text, Blocks: p.Blocks}
}

// webhookPayload returns the JSON of a post: the body of an
// application/json request, or the payload field of a form.
func webhookPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil || v.Get("payload") == "" {
			return nil, errors.New("no payload field")
		}
		return []byte(v.Get("payload")), nil
	case "application/json", "":
		if !json.Valid(body) || !strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
			return nil, errors.New("not a JSON object")
		}
		return body, nil
	}
	return nil, fmt.Errorf("unsupported content type %s", mt)
}
