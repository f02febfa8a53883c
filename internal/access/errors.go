package access

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error for every front end: the REST API maps it once to
// an HTTP status, the Slack bot once to a reply.
type Code string

// Error codes.
const (
	CodeInvalid      Code = "invalid"      // bad input (422)
	CodeNotFound     Code = "not_found"    // unknown id (404)
	CodeForbidden    Code = "forbidden"    // known actor, not allowed (403)
	CodeUnauthorized Code = "unauthorized" // unknown or unlinked actor (401)
	CodeConflict     Code = "conflict"     // wrong state for this action (409)
	CodeRateLimited  Code = "rate_limited" // too soon (429)
	CodeUnavailable  Code = "unavailable"  // a dependency failed; retry (503)
)

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a coded domain error. Message is safe to show to the actor.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Err is an optional cause, matched by errors.Is (for example
	// ErrNotEligible).
	Err error
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	var b strings.Builder
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by code when the target has no message, so
// errors.Is(err, &Error{Code: CodeNotFound}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a CodeInvalid error listing field problems.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: message, Fields: fields}
}

// ErrorCode returns the code of err, or "" for an uncoded error (an
// internal failure).
func ErrorCode(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return ""
}

// Sentinel causes, wrapped in *Error values by the transition methods.
var (
	// ErrNotEligible: the actor may not approve or reject this request.
	ErrNotEligible = errors.New("not an eligible approver")
	// ErrSelfApproval: the requester tried to decide their own request.
	ErrSelfApproval = errors.New("requesters cannot approve their own requests")
	// ErrInvalidTransition: the object is not in a state that allows this.
	ErrInvalidTransition = errors.New("invalid state transition")
	// ErrAlreadyDecided: the approver already decided this request.
	ErrAlreadyDecided = errors.New("already decided")
	// ErrDurationTooLong: a duration above the maximum that applies.
	ErrDurationTooLong = errors.New("duration exceeds the maximum")
)
