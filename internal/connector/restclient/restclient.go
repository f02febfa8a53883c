// Package restclient is the HTTP exchange the SaaS connectors (GitHub,
// Okta, Google Workspace, SCIM, AWS IAM Identity Center) share: send a
// request, read a bounded answer, decode a successful one. Each connector
// keeps what differs: its headers and authentication, its error bodies and
// how it classifies them (retryable, rate limited, permanent).
package restclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// MaxAnswer bounds how much of an answer is read.
const MaxAnswer = 16 << 20

// Answer is an HTTP answer, its body read in full (up to MaxAnswer).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports whether the status is 2xx.
func (a *Answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Do sends req with client and reads the answer. On a 2xx answer whose
// body is not blank (and not a 204) it decodes the body into out, unless
// out is nil. Errors start with prefix (the connector and the call, like
// "okta: GET /api/v1/users"); when the send fails because req's context
// ended, the error wraps the context's error. Do returns the answer
// whenever one arrived, with a read or decode error too, and a nil error
// for a non-2xx status: the caller reads its error body and classifies it.
func Do(client *http.Client, req *http.Request, prefix string, out any) (*Answer, error) {
	resp, err := client.Do(req) //nolint:gosec // G704: the URL is the connector's configured endpoint, checked by its settings
	if err != nil {
		if cerr := req.Context().Err(); cerr != nil {
			return nil, fmt.Errorf("%s: %w", prefix, cerr)
		}
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	defer resp.Body.Close() //nolint:errcheck // the body was read; nothing to do on a close error
	a := &Answer{Status: resp.StatusCode, Header: resp.Header}
	if a.Body, err = io.ReadAll(io.LimitReader(resp.Body, MaxAnswer)); err != nil {
		return a, fmt.Errorf("%s: read answer: %w", prefix, err)
	}
	if a.OK() && out != nil && a.Status != http.StatusNoContent && len(bytes.TrimSpace(a.Body)) > 0 {
		if err := json.Unmarshal(a.Body, out); err != nil {
			return a, fmt.Errorf("%s: decode answer: %w", prefix, err)
		}
	}
	return a, nil
}
