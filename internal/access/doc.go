// Package access is Sesame's domain: users, apps, entitlements, requests,
// decisions, grants, notifications and audit events, their states, and the
// transitions between them. Every transition is a method that checks who may
// make it and when, and returns a coded *Error (see errors.go) when not.
//
// The package does no I/O and never reads the clock: callers pass now.
package access
