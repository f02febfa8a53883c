package scim

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

// Schema URNs of RFC 7643 and RFC 7644.
const (
	schemaPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaUser    = "urn:ietf:params:scim:schemas:core:2.0:User"
	mediaType     = "application/scim+json"
)

// APIError is a SCIM error answer (schema
// urn:ietf:params:scim:api:messages:2.0:Error).
type APIError struct {
	Method, Path string
	Status       int
	// ScimType is the RFC 7644 error keyword (invalidFilter, noTarget,
	// uniqueness...), when the server gave one.
	ScimType string
	Detail   string
}

func (e *APIError) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("scim: %s %s: %d %s", e.Method, e.Path, e.Status, msg)
	if e.ScimType != "" {
		s += " (scimType " + e.ScimType + ")"
	}
	return s
}

func asAPIError(err error) (*APIError, bool) { return errors.AsType[*APIError](err) }

type client struct {
	base  string // no trailing slash
	token string
	http  *http.Client
	clock clock.Clock
}

// do sends one request to base+path; in is sent as SCIM JSON when not
// nil, and out receives the JSON answer when not nil.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return connector.Permanent(fmt.Errorf("scim: encode request: %w", err))
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return connector.Permanent(fmt.Errorf("scim: build request: %w", err))
	}
	req.Header.Set("Accept", mediaType+", application/json")
	req.Header.Set("User-Agent", "sesame-access")
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", mediaType)
	}
	ans, err := restclient.Do(c.http, req, "scim: "+method+" "+req.URL.Path, out)
	if err != nil || ans.OK() {
		return err
	}
	data := ans.Body
	apiErr := &APIError{Method: method, Path: req.URL.Path, Status: ans.Status}
	var eb struct {
		ScimType string `json:"scimType"`
		Detail   string `json:"detail"`
	}
	if json.Unmarshal(data, &eb) == nil {
		apiErr.ScimType, apiErr.Detail = eb.ScimType, eb.Detail
	}
	return c.classify(apiErr, ans.Header.Get("Retry-After"))
}

// classify: 429, 503 and other 5xx are retryable (honouring Retry-After);
// every 4xx (401, 403, 404, 400 with a scimType, 409) is permanent.
func (c *client) classify(e *APIError, ra string) error {
	if e.Status == http.StatusTooManyRequests || e.Status >= 500 || e.Status == http.StatusRequestTimeout {
		if d, ok := retryAfter(ra, c.clock.Now()); ok {
			return &connector.RetryAfterError{After: d, Err: e}
		}
		return e
	}
	return connector.Permanent(e)
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

type listResponse[T any] struct {
	TotalResults int `json:"totalResults"`
	StartIndex   int `json:"startIndex"`
	ItemsPerPage int `json:"itemsPerPage"`
	Resources    []T `json:"Resources"`
}

// each walks a list with startIndex/count (RFC 7644 section 3.4.2.4)
// until totalResults are seen or a page comes back empty, calling f with
// each page. query is added to every page's query string.
func each[T any](ctx context.Context, c *client, resource string, query url.Values, pageSize int, f func([]T)) error {
	seen, start := 0, 1
	for {
		q := url.Values{}
		maps.Copy(q, query)
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("count", strconv.Itoa(pageSize))
		var page listResponse[T]
		if err := c.do(ctx, http.MethodGet, resource+"?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		f(page.Resources)
		seen += len(page.Resources)
		start += len(page.Resources)
		if len(page.Resources) == 0 || seen >= page.TotalResults {
			return nil
		}
	}
}

// filterString quotes v as a SCIM filter string (a JSON string).
func filterString(v string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return strconv.Quote(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
