// Package connector is the seam between Sesame and the systems it grants
// access in. A Connector must Grant and Revoke; listing accounts,
// entitlements and grants, validating settings and health checks are
// optional capabilities found by type assertion. The vocabulary mirrors
// ConductorOne's baton: resource types, entitlements, grants.
package connector

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Target says who gets (or loses) what: one account, one entitlement.
type Target struct {
	// GrantID identifies the grant; connectors may use it as an
	// idempotency key.
	GrantID string
	// UserID, Email and Name describe the person; connectors map them to
	// an account in the target (an email, a login, an external id).
	UserID string
	Email  string
	Name   string
	// AppID and EntitlementKey name what is granted: the entitlement's key
	// within the app ("admin", "team:platform").
	AppID          string
	EntitlementKey string
	// ExpiresAt is when access ends (zero when unknown); connectors that
	// can set an expiry in the target (VALID UNTIL, certificate validity)
	// use it as a second line of defence.
	ExpiresAt time.Time
}

// Connector provisions and revokes access in one target system. Both
// methods are idempotent: granting what is already granted, or revoking
// what is already gone, succeeds. Errors are retryable unless wrapped with
// Permanent; a *PendingError means a person must finish the work.
type Connector interface {
	Grant(ctx context.Context, t Target) error
	Revoke(ctx context.Context, t Target) error
}

// Account is an account in a target, as a sync sees it.
type Account struct {
	ExternalID string
	Email      string
	Name       string
}

// Entitlement is something grantable in a target, as a sync sees it.
type Entitlement struct {
	Key         string
	Name        string
	Description string
}

// GrantRecord is one (account, entitlement) pair present in a target.
// Account is the account's name in the target (a login, a DN, a user
// id); AccountEmail is set when the target knows it.
type GrantRecord struct {
	Account        string
	AccountEmail   string
	EntitlementKey string
}

// AccountMapper names the account a target's person has in the system
// (for connectors whose accounts are not emails: a database login derived
// from the email, an LDAP DN).
type AccountMapper interface {
	AccountFor(t Target) string
}

// AccountLister lists the accounts in a target.
type AccountLister interface {
	ListAccounts(ctx context.Context) ([]Account, error)
}

// EntitlementLister lists what can be granted in a target.
type EntitlementLister interface {
	ListEntitlements(ctx context.Context) ([]Entitlement, error)
}

// GrantLister lists the access present in a target, for drift detection.
type GrantLister interface {
	ListGrants(ctx context.Context) ([]GrantRecord, error)
}

// HealthChecker reports whether a target is reachable with the settings.
type HealthChecker interface {
	HealthCheck(ctx context.Context) error
}

// ExpiryExtender is a connector that set an expiry in the target (a login's
// VALID UNTIL, a certificate's validity) and can move it when Sesame
// extends a grant; t.ExpiresAt is the new expiry, t.GrantID the grant
// (unchanged by an extension). It is idempotent. It returns new
// credentials when the holder's old ones cannot outlive their first
// expiry (a certificate is re-issued), nil when nothing new must be
// handed over.
type ExpiryExtender interface {
	ExtendGrant(ctx context.Context, t Target) (*Credentials, error)
}

// ErrPermanent marks an error that retrying will not fix (bad settings, no
// permission, unknown entitlement).
var ErrPermanent = errors.New("permanent connector error")

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() []error      { return []error{e.err, ErrPermanent} }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent wraps err so that IsPermanent reports true. Nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err should not be retried.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// RetryAfterError is a retryable error from a target that said how long
// to wait (Retry-After, a rate-limit reset header). The job queue waits at
// least that long before the next attempt.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return fmt.Sprintf("%v (retry after %s)", e.Err, e.After) }

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns how long the target asked to wait, if err (or an
// error it wraps) says.
func RetryAfter(err error) (time.Duration, bool) {
	if e, ok := errors.AsType[*RetryAfterError](err); ok {
		return e.After, true
	}
	return 0, false
}

// PendingError means the connector handed the work to a person (Task says
// what to do); the grant waits until someone marks it done.
type PendingError struct{ Task string }

func (e *PendingError) Error() string { return "waiting for a person: " + e.Task }

// Factory builds a connector from an app's settings. It returns an error
// naming the bad setting when settings are invalid.
type Factory func(settings map[string]string) (Connector, error)

// Registry maps connector type names to factories. It is built once in
// cmd/sesame; there is no package-level registry.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds a factory; registering a name twice panics (a wiring bug).
func (r *Registry) Register(name string, f Factory) {
	if _, dup := r.factories[name]; dup {
		panic("connector: type registered twice: " + name)
	}
	r.factories[name] = f
}

// Types returns the registered type names.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.factories))
	for n := range r.factories {
		out = append(out, n)
	}
	return out
}

// Has reports whether a type is registered.
func (r *Registry) Has(name string) bool { _, ok := r.factories[name]; return ok }

// Open builds the connector of type name. Unknown types and invalid
// settings are permanent errors.
func (r *Registry) Open(name string, settings map[string]string) (Connector, error) {
	f, ok := r.factories[name]
	if !ok {
		return nil, Permanent(fmt.Errorf("unknown connector type %q", name))
	}
	c, err := f(settings)
	if err != nil {
		return nil, Permanent(fmt.Errorf("connector %s: %w", name, err))
	}
	return c, nil
}

// Credentials are secrets a connector made for one grant (a temporary
// database password, an SSH certificate). Sesame hands them to the
// requester once and never stores them in clear.
type Credentials struct {
	// Kind says what they are ("password", "ssh-certificate").
	Kind string
	// Username is the login to use, when there is one.
	Username string
	// Secret is the password, certificate or key material.
	Secret string
	// Hint tells the requester how to use them ("psql -h db -U ...").
	Hint string
}

// CredentialIssuer is a connector whose grants create credentials rather
// than (or as well as) changing an existing account. IssueGrant replaces
// Grant for it; calling it again for the same grant returns fresh
// credentials for the same access.
type CredentialIssuer interface {
	IssueGrant(ctx context.Context, t Target) (Credentials, error)
}

// AppScoped is a connector whose one backend can serve several apps (the
// fake); ForApp narrows it to one app, so that listings show only that
// app's access. Sesame calls it whenever it opens a connector for an app.
type AppScoped interface {
	ForApp(appID string) Connector
}

// SettingsValidator checks settings without connecting anywhere (for
// `sesame config validate`); the Factory calls it too.
type SettingsValidator interface {
	ValidateSettings(settings map[string]string) error
}
