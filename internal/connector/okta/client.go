package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/restclient"
)

// APIError is an error answer from Okta.
type APIError struct {
	Method, Path string
	Status       int
	// Code and Summary are Okta's errorCode and errorSummary; ID is its
	// errorId, for Okta support.
	Code, Summary, ID string
}

func (e *APIError) Error() string {
	msg := e.Summary
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("okta: %s %s: %d %s", e.Method, e.Path, e.Status, msg)
	if e.Code != "" {
		s += " (" + e.Code
		if e.ID != "" {
			s += ", errorId " + e.ID
		}
		s += ")"
	}
	return s
}

func hasStatus(err error, code int) bool {
	ae, ok := errors.AsType[*APIError](err)
	return ok && ae.Status == code
}

type client struct {
	base  *url.URL
	token string
	http  *http.Client
	clock clock.Clock
}

func (c *client) url(path string) string { return strings.TrimRight(c.base.String(), "/") + path }

// do sends one request and decodes a JSON answer into out (when not nil).
func (c *client) do(ctx context.Context, method, rawURL string, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, http.NoBody)
	if err != nil {
		return nil, connector.Permanent(fmt.Errorf("okta: build request: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sesame-access")
	req.Header.Set("Authorization", "SSWS "+c.token)
	ans, err := restclient.Do(c.http, req, "okta: "+method+" "+req.URL.Path, out)
	if ans == nil {
		return nil, err
	}
	if err != nil || ans.OK() {
		return ans.Header, err
	}
	data := ans.Body
	var eb struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
		ErrorID      string `json:"errorId"`
	}
	if json.Unmarshal(data, &eb) != nil {
		eb.ErrorCode, eb.ErrorSummary, eb.ErrorID = "", "", ""
	}
	apiErr := &APIError{Method: method, Path: req.URL.Path, Status: ans.Status, Code: eb.ErrorCode, Summary: eb.ErrorSummary, ID: eb.ErrorID}
	return ans.Header, c.classify(apiErr, ans.Header)
}

// classify: 429 is retryable, reported as *RetryAfterError until
// X-Rate-Limit-Reset when the header is there; 5xx are retryable; every
// other error (401 E0000011, 403 E0000006, 404 E0000007, 400) is
// permanent.
func (c *client) classify(e *APIError, h http.Header) error {
	switch {
	case e.Status == http.StatusTooManyRequests:
		if reset, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64); err == nil {
			return &connector.RetryAfterError{After: max(time.Unix(reset, 0).Sub(c.clock.Now()), 0), Err: e}
		}
		return e
	case e.Status >= 500 || e.Status == http.StatusRequestTimeout:
		return e
	default:
		return connector.Permanent(e)
	}
}

// each fetches every page of a list, following the rel="next" Link
// header as given (Okta sends one Link header per relation), and calls f
// with each page's items. Links to another host are refused.
func each[T any](ctx context.Context, c *client, path string, f func([]T)) error {
	next := c.url(path)
	for next != "" {
		var page []T
		h, err := c.do(ctx, http.MethodGet, next, &page)
		if err != nil {
			return err
		}
		f(page)
		next = nextLink(h.Values("Link"))
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
				return connector.Permanent(errors.New("okta: refusing to follow a pagination link to another host"))
			}
		}
	}
	return nil
}

// nextLink returns the rel="next" target among Link header values (each
// may itself hold several comma-separated links), or "".
func nextLink(values []string) string {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if !ok {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(k, "rel") {
					continue
				}
				for rel := range strings.FieldsSeq(strings.Trim(val, `"`)) {
					if strings.EqualFold(rel, "next") {
						return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(target), "<"), ">")
					}
				}
			}
		}
	}
	return ""
}
