package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// ProblemTypeBase prefixes a problem's type; the code follows
// ("tag:sesame-access.github.io,2025:problem/not_found"). Tag URIs name a
// problem kind without promising a page behind it (RFC 9457, 3.1.1).
const ProblemTypeBase = "tag:sesame-access.github.io,2025:problem/"

// Problem is an RFC 9457 problem document. Code repeats the last part of
// Type for clients that switch on it.
type Problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Instance string              `json:"instance,omitempty"`
	Code     string              `json:"code"`
	Errors   []access.FieldError `json:"errors,omitempty"`
}

// httpError is an error of the HTTP layer itself (a malformed body, an
// unknown route), outside the domain's codes.
type httpError struct {
	status int
	code   string
	detail string
	fields []access.FieldError
}

func (e *httpError) Error() string { return e.detail }

// codeInternal is the code of every uncoded error.
const codeInternal = "internal"

// internalError is rendered for uncoded errors; the cause is only logged.
func internalError() *httpError {
	return &httpError{status: http.StatusInternalServerError, code: codeInternal,
		detail: "an internal error occurred; it has been logged"}
}

// retryAfterError attaches a Retry-After delay to a coded error.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// statusFor maps an access.Code to its HTTP status. This is the one place
// the mapping lives.
func statusFor(c access.Code) int {
	switch c {
	case access.CodeInvalid:
		return http.StatusUnprocessableEntity
	case access.CodeNotFound:
		return http.StatusNotFound
	case access.CodeForbidden:
		return http.StatusForbidden
	case access.CodeUnauthorized:
		return http.StatusUnauthorized
	case access.CodeConflict:
		return http.StatusConflict
	case access.CodeRateLimited:
		return http.StatusTooManyRequests
	case access.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problemFor renders err. Coded domain errors keep their message and
// fields; uncoded errors become a generic 500.
func problemFor(err error) Problem {
	if he, ok := errors.AsType[*httpError](err); ok {
		return Problem{Type: ProblemTypeBase + he.code, Title: http.StatusText(he.status), Status: he.status,
			Detail: he.detail, Code: he.code, Errors: he.fields}
	}
	if ae, ok := errors.AsType[*access.Error](err); ok {
		status := statusFor(ae.Code)
		if status != http.StatusInternalServerError {
			return Problem{Type: ProblemTypeBase + string(ae.Code), Title: http.StatusText(status), Status: status,
				Detail: ae.Message, Code: string(ae.Code), Errors: ae.Fields}
		}
	}
	return problemFor(internalError())
}

// fail writes err as a problem, logging internal errors with their cause.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	pr := problemFor(err)
	if pr.Code == codeInternal && !errors.Is(err, context.Canceled) {
		userID := ""
		if p != nil {
			userID = p.User.ID
		}
		h.log.ErrorContext(r.Context(), "api internal error", "method", r.Method, "path", r.URL.Path, "user", userID, "err", err)
	}
	if pr.Status == http.StatusUnauthorized {
		v := `Bearer realm="sesame"`
		if r.Header.Get("Authorization") != "" {
			v += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", v)
	}
	var ra *retryAfterError
	if pr.Status == http.StatusTooManyRequests && errors.As(err, &ra) && ra.after > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.after.Seconds()))))
	}
	writeProblem(w, r, pr)
}

// writeProblem sends pr as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, pr Problem) {
	pr.Instance = r.URL.Path
	b, err := json.Marshal(pr)
	if err != nil {
		http.Error(w, pr.Title, pr.Status)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(pr.Status)
	if _, err := w.Write(b); err != nil {
		return // the client went away; nothing to tell it
	}
}
