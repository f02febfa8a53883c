package gworkspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/restclient"
)

// APIError is an error answer of the Directory API.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
	// Reason is errors[0].reason ("notFound", "duplicate",
	// "userRateLimitExceeded"...).
	Reason string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("gworkspace: %s %s: %d %s", e.Method, e.Path, e.Status, msg)
	if e.Reason != "" {
		s += " (reason " + e.Reason + ")"
	}
	return s
}

func asAPIError(err error) (*APIError, bool) { return errors.AsType[*APIError](err) }

// rateLimitReasons are the 403 reasons Google documents as "back off and
// retry".
func isRateLimitReason(r string) bool {
	switch r {
	case "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "backendError":
		return true
	}
	return false
}

type client struct {
	base   string // API root without trailing slash
	tokens *tokenSource
	http   *http.Client
	clock  clock.Clock
}

// do sends one request, refreshing a service account token once if the
// API refuses it.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	err := c.once(ctx, method, path, in, out)
	if e, ok := asAPIError(err); ok && e.Status == http.StatusUnauthorized && c.tokens.static == "" {
		return c.once(ctx, method, path, in, out)
	}
	return err
}

func (c *client) once(ctx context.Context, method, path string, in, out any) error {
	token, err := c.tokens.Token(ctx)
	if err != nil {
		return err
	}
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return connector.Permanent(fmt.Errorf("gworkspace: encode request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return connector.Permanent(fmt.Errorf("gworkspace: build request: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sesame-access")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ans, err := restclient.Do(c.http, req, "gworkspace: "+method+" "+req.URL.Path, out)
	if err != nil || ans.OK() {
		return err
	}
	data := ans.Body
	apiErr := &APIError{Method: method, Path: req.URL.Path, Status: ans.Status}
	var eb struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &eb) == nil {
		apiErr.Message = eb.Error.Message
		if len(eb.Error.Errors) > 0 {
			apiErr.Reason = eb.Error.Errors[0].Reason
		}
	}
	if ans.Status == http.StatusUnauthorized {
		c.tokens.Invalidate(token)
	}
	return c.classify(apiErr, ans.Header.Get("Retry-After"))
}

// classify: 429, 5xx and 403 with a rate limit reason are retryable
// (with *RetryAfterError when Retry-After is given); other 4xx are
// permanent.
func (c *client) classify(e *APIError, ra string) error {
	retryable := e.Status == http.StatusTooManyRequests || e.Status >= 500 || e.Status == http.StatusRequestTimeout ||
		(e.Status == http.StatusForbidden && isRateLimitReason(e.Reason))
	if !retryable {
		return connector.Permanent(e)
	}
	if s, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && s >= 0 {
		return &connector.RetryAfterError{After: time.Duration(s) * time.Second, Err: e}
	}
	if t, err := http.ParseTime(ra); err == nil {
		return &connector.RetryAfterError{After: max(t.Sub(c.clock.Now()), 0), Err: e}
	}
	return e
}

// each walks a list with maxResults and pageToken, decoding each page
// into a fresh P and calling f with it, until there is no nextPageToken.
func each[P interface{ next() string }](ctx context.Context, c *client, path string, q url.Values, f func(P)) error {
	token := ""
	for {
		qq := url.Values{}
		maps.Copy(qq, q)
		if token != "" {
			qq.Set("pageToken", token)
		}
		var page P
		if err := c.do(ctx, http.MethodGet, path+"?"+qq.Encode(), nil, &page); err != nil {
			return err
		}
		f(page)
		token = page.next()
		if token == "" {
			return nil
		}
	}
}
