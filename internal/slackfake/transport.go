package slackfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
)

// Errors of deliveries to the app.
var (
	// ErrAckTimeout: the app did not acknowledge within AckTimeout; the
	// user sees Slack's timeout error.
	ErrAckTimeout = errors.New("slackfake: the app did not acknowledge within the ack timeout")
	// ErrNotConnected: Socket Mode delivery without a connection, and no
	// request URL is set.
	ErrNotConnected = errors.New("slackfake: no Socket Mode connection and no request URL")
)

// Ack is the app's acknowledgement of something the fake sent.
type Ack struct {
	// Body is the HTTP response body, or the payload of the Socket Mode ack.
	Body json.RawMessage
	// Latency is the time from sending to receiving the ack.
	Latency time.Duration
	// TriggerID is the trigger_id sent with the request ("" if none).
	TriggerID string
}

// Sign returns Slack's X-Slack-Signature for body sent at unix time ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// delivery kinds
const (
	kindCommand     = "slash_commands"
	kindInteractive = "interactive"
	kindOptions     = "options" // block_suggestion: "interactive" over Socket Mode
	kindEvent       = "events_api"
)

// deliver sends payload to the app over HTTP (when a request URL is set) or
// Socket Mode, and waits for the ack.
func (s *Server) deliver(ctx context.Context, kind string, payload any, retry int) (*Ack, error) {
	s.mu.Lock()
	base := s.requestURL
	s.mu.Unlock()
	start := clock.Real{}.Now()
	var body json.RawMessage
	var err error
	if base != "" {
		body, err = s.deliverHTTP(ctx, base, kind, payload, retry)
	} else {
		body, err = s.hub.send(ctx, kind, payload, retry)
	}
	lat := clock.Real{}.Now().Sub(start)
	if err == nil && lat > s.opts.AckTimeout {
		s.violationf("%s acknowledged after %v (limit %v)", kind, lat, s.opts.AckTimeout)
		err = ErrAckTimeout
	}
	return &Ack{Body: body, Latency: lat}, err
}

func (s *Server) deliverHTTP(ctx context.Context, base, kind string, payload any, retry int) (json.RawMessage, error) {
	var path, ctype string
	var body []byte
	switch kind {
	case kindCommand:
		fields, _ := payload.(map[string]string)
		vals := url.Values{}
		for k, v := range fields {
			vals.Set(k, v)
		}
		path, ctype, body = "/slack/commands", "application/x-www-form-urlencoded", []byte(vals.Encode())
	case kindInteractive, kindOptions:
		js, err := json.Marshal(payload)
		if err != nil {
			return nil, err
		}
		path = "/slack/interactions"
		if kind == kindOptions {
			path = "/slack/options"
		}
		ctype, body = "application/x-www-form-urlencoded", []byte(url.Values{"payload": {string(js)}}.Encode())
	case kindEvent:
		js, err := json.Marshal(payload)
		if err != nil {
			return nil, err
		}
		path, ctype, body = "/slack/events", "application/json", js
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.AckTimeout+2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ts := s.clock.Now().Unix()
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(s.opts.SigningSecret, ts, body))
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ErrAckTimeout
		}
		return nil, err
	}
	defer resp.Body.Close() //nolint:errcheck // read-only
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		s.violationf("%s %s answered HTTP %d: %s", kind, path, resp.StatusCode, strings.TrimSpace(string(out)))
		return out, fmt.Errorf("slackfake: app answered HTTP %d", resp.StatusCode)
	}
	return out, nil
}
