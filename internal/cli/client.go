package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// requestTimeout bounds one API call (exports stream without it).
const requestTimeout = time.Minute

// client calls the Sesame API.
type client struct {
	base  string // server URL without a trailing slash
	token string
	hc    *http.Client
}

func newClient(base, token string) *client {
	return &client{base: base, token: token, hc: &http.Client{}}
}

// problem is an RFC 9457 problem document from the API.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// apiError is a non-2xx answer.
type apiError struct {
	status  int
	problem problem
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %s", e.problem.Title, e.problem.Detail)
}

// print writes the error as "error: <title>: <detail>" and one line per
// field error.
func (e *apiError) print(w io.Writer) {
	fmt.Fprintf(w, "error: %s", e.problem.Title)
	if e.problem.Detail != "" {
		fmt.Fprintf(w, ": %s", e.problem.Detail)
	}
	fmt.Fprintln(w)
	for _, f := range e.problem.Errors {
		fmt.Fprintf(w, "  %s: %s\n", f.Field, f.Message)
	}
}

// send makes one call; body (when not nil) is sent as JSON. A non-2xx
// answer is an *apiError, and the response body is closed. The caller
// closes the body of a successful response.
func (c *client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	u := c.base + "/api/v1" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.base, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read error response: %w", err)
	}
	ae := &apiError{status: resp.StatusCode}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" || json.Unmarshal(data, &ae.problem) != nil || ae.problem.Title == "" {
		ae.problem = problem{Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode,
			Detail: fmt.Sprintf("HTTP %d from %s", resp.StatusCode, u)}
		if ae.problem.Title == "" {
			ae.problem.Title = "HTTP error"
		}
	}
	return nil, ae
}

// call makes one bounded call and returns the raw JSON body; out, when
// not nil, receives it decoded.
func (c *client) call(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("decode response from %s: %w", path, err)
		}
	}
	return data, nil
}

// page is a list response.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// list fetches one page, or every page when all is set, and returns the
// items with the raw JSON of the combined page.
func list[T any](ctx context.Context, c *client, path string, query url.Values, all bool) (page[T], []byte, error) {
	var out page[T]
	for {
		var pg page[T]
		raw, err := c.call(ctx, http.MethodGet, path, query, nil, &pg)
		if err != nil {
			return out, nil, err
		}
		out.Items = append(out.Items, pg.Items...)
		out.NextCursor = pg.NextCursor
		if !all || pg.NextCursor == "" {
			if !all {
				return out, raw, nil
			}
			break
		}
		query.Set("cursor", pg.NextCursor)
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return out, nil, fmt.Errorf("encode page: %w", err)
	}
	return out, raw, nil
}

// printJSON writes raw JSON indented.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	if !strings.HasSuffix(buf.String(), "\n") {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}
