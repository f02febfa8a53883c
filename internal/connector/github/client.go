package github

import (
	"bytes"
	"context"
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
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/restclient"
)

// apiVersion is the REST API version the connector is written against.
const apiVersion = "2022-11-28"

// secondaryWait is how long GitHub asks clients to wait after a secondary
// rate limit that came without retry-after or x-ratelimit-reset.
const secondaryWait = time.Minute

// APIError is an error answer from GitHub.
type APIError struct {
	Method, Path string
	Status       int
	// Message is GitHub's "message" field.
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("github: %s %s: %d %s", e.Method, e.Path, e.Status, msg)
}

// hasStatus reports whether err is an APIError with status code.
func hasStatus(err error, code int) bool {
	ae, ok := errors.AsType[*APIError](err)
	return ok && ae.Status == code
}

type client struct {
	base  *url.URL // no trailing slash in Path
	token string
	http  *http.Client
	clock clock.Clock
}

// url returns the absolute URL of an API path ("/orgs/x").
func (c *client) url(path string) string {
	u := *c.base
	return strings.TrimRight(u.String(), "/") + path
}

// do sends one request; in (when not nil) is sent as JSON and out (when
// not nil) receives the JSON answer. It returns the answer's headers.
func (c *client) do(ctx context.Context, method, rawURL string, in, out any) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, connector.Permanent(fmt.Errorf("github: encode request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, connector.Permanent(fmt.Errorf("github: build request: %w", err))
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("User-Agent", "sesame-access")
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ans, err := restclient.Do(c.http, req, "github: "+method+" "+req.URL.Path, out)
	if ans == nil {
		return nil, err
	}
	if err != nil || ans.OK() {
		return ans.Header, err
	}
	data := ans.Body
	var eb struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &eb) != nil {
		eb.Message = ""
	}
	apiErr := &APIError{Method: method, Path: req.URL.Path, Status: ans.Status, Message: eb.Message}
	return ans.Header, c.classify(apiErr, ans.Header)
}

// classify decides whether an error answer is worth retrying, following
// GitHub's rate limit documentation: retry-after first, then
// x-ratelimit-remaining: 0 with x-ratelimit-reset, then a secondary limit
// message (wait a minute). Any other 403, and 401, 404 and 422, are
// permanent; 5xx are retryable.
func (c *client) classify(e *APIError, h http.Header) error {
	switch {
	case e.Status == http.StatusForbidden || e.Status == http.StatusTooManyRequests:
		if s, err := strconv.Atoi(h.Get("retry-after")); err == nil && s >= 0 {
			return &connector.RetryAfterError{After: time.Duration(s) * time.Second, Err: e}
		}
		if h.Get("x-ratelimit-remaining") == "0" {
			if reset, err := strconv.ParseInt(h.Get("x-ratelimit-reset"), 10, 64); err == nil {
				return &connector.RetryAfterError{After: max(time.Unix(reset, 0).Sub(c.clock.Now()), 0), Err: e}
			}
		}
		if strings.Contains(strings.ToLower(e.Message), "rate limit") {
			return &connector.RetryAfterError{After: secondaryWait, Err: e}
		}
		if e.Status == http.StatusTooManyRequests {
			return e
		}
		return connector.Permanent(e)
	case e.Status >= 500 || e.Status == http.StatusRequestTimeout:
		return e
	default:
		return connector.Permanent(e)
	}
}

// each fetches every page of a list starting at path (per_page=100),
// following Link rel="next" as given, and calls f with each page's items.
// Links to another host are refused, so the token never leaves the API.
func each[T any](ctx context.Context, c *client, path string, f func([]T)) error {
	next := c.url(path)
	if strings.Contains(path, "?") {
		next += "&per_page=100"
	} else {
		next += "?per_page=100"
	}
	for next != "" {
		var page []T
		h, err := c.do(ctx, http.MethodGet, next, nil, &page)
		if err != nil {
			return err
		}
		f(page)
		next = nextLink(h.Get("Link"))
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
				return connector.Permanent(fmt.Errorf("github: refusing to follow a pagination link to another host (%s)", u.Host))
			}
		}
	}
	return nil
}

// nextLink returns the rel="next" URL of an RFC 8288 Link header, or "".
func nextLink(h string) string {
	for part := range strings.SplitSeq(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && slicesContainsField(strings.Trim(v, `"`), "next") {
				return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(target), "<"), ">")
			}
		}
	}
	return ""
}

// slicesContainsField reports whether a space-separated rel list holds rel.
func slicesContainsField(list, rel string) bool {
	for f := range strings.FieldsSeq(list) {
		if strings.EqualFold(f, rel) {
			return true
		}
	}
	return false
}
