// Package store defines Sesame's persistence seam: the Store interface that
// the SQLite and PostgreSQL adapters implement, and that the conformance
// suite in storetest checks. Domain rules never live here: the store saves
// and loads domain values and enforces only uniqueness and optimistic
// concurrency (Version).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// Sentinel errors. Adapters wrap driver errors with these so callers can
// match them with errors.Is.
var (
	// ErrNotFound: no row has that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an update of a stale copy (Version mismatch), or a
	// uniqueness violation (a second decision by one approver, a duplicate
	// email or token hash).
	ErrConflict = errors.New("conflict")
)

// Store is a database. Methods on Store run outside a transaction; InTx
// runs fn in one transaction and commits if fn returns nil, rolls back
// otherwise. Nested InTx is not supported.
type Store interface {
	Queries
	// InTx runs fn in a read-write transaction. On SQLite the transaction
	// takes the write lock at BEGIN (IMMEDIATE); on PostgreSQL it is READ
	// COMMITTED, and Get methods with Lock take row locks (FOR UPDATE).
	InTx(ctx context.Context, fn func(q Queries) error) error
	// Ping checks the database is reachable and migrations are current.
	Ping(ctx context.Context) error
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	Close() error
}

// Page is a keyset page request. Cursor is the opaque NextCursor of the
// previous page ("" for the first); Limit is clamped to [1, 500] and
// defaults to 50.
type Page struct {
	Cursor string
	Limit  int
}

// Queries are the reads and writes, usable on a Store or inside InTx.
// Lists return items newest first (by ID, which is time ordered) unless
// stated otherwise, and a NextCursor that is "" on the last page.
type Queries interface {
	// WebQueries: dashboard sessions and one-time login links (web.go).
	WebQueries
	// DirectoryQueries: people and groups pushed by the identity provider,
	// SCIM clients (directory.go).
	DirectoryQueries
	// FindingQueries: accounts seen in apps, discovered apps, security
	// alerts and their settings (findings.go).
	FindingQueries
	// IntegrationQueries: notification integrations (webhooks, channels)
	// and their delivery health (integrations.go).
	IntegrationQueries

	// Users. UserUpsert inserts or replaces by ID; Email is unique
	// (ErrConflict). Get methods return ErrNotFound.
	UserUpsert(ctx context.Context, u *access.User) error
	UserGetByID(ctx context.Context, id string) (*access.User, error)
	UserGetByEmail(ctx context.Context, email string) (*access.User, error)
	UserGetBySlackID(ctx context.Context, slackUserID string) (*access.User, error)
	// UserListByIDs returns the users with ids (active or offboarded),
	// ordered by ID, in one query for up to 1,000 distinct IDs. A repeated
	// ID gives one user; an ID no user has is left out, not an error.
	UserListByIDs(ctx context.Context, ids []string) ([]*access.User, error)
	// UserList returns users ordered by email.
	UserList(ctx context.Context, p UserListParams) ([]*access.User, string, error)
	// UserListByGroup returns active and offboarded members of group.
	UserListByGroup(ctx context.Context, group string) ([]*access.User, error)

	// Catalog. Upserts insert or replace by ID.
	AppUpsert(ctx context.Context, a *access.App) error
	AppGetByID(ctx context.Context, id string) (*access.App, error)
	// AppList returns apps ordered by ID; Query filters by a
	// case-insensitive substring of ID, name or any alias.
	AppList(ctx context.Context, p AppListParams) ([]*access.App, string, error)
	EntitlementUpsert(ctx context.Context, e *access.Entitlement) error
	EntitlementGetByID(ctx context.Context, id string) (*access.Entitlement, error)
	// EntitlementListByApp returns the app's entitlements ordered by key.
	EntitlementListByApp(ctx context.Context, appID string) ([]*access.Entitlement, error)

	// Requests. RequestCreate stores the request with its entitlements,
	// steps and the approvers of each step (for the ApproverID filter).
	// RequestUpdate saves every field but RequesterID, AppID and CreatedAt
	// (fixed at creation), and the decisions not yet stored,
	// only if the stored Version equals r.Version (else ErrConflict), then
	// increments r.Version. A second decision by one approver on one
	// request is ErrConflict.
	RequestCreate(ctx context.Context, r *access.Request) error
	RequestGetByID(ctx context.Context, id string, lock bool) (*access.Request, error)
	// RequestListOpen returns requesterID's pending, approved and active
	// requests for appID, newest first, with their decisions (the overlap
	// check of a new request; it reads an index of open requests only).
	RequestListOpen(ctx context.Context, requesterID, appID string) ([]*access.Request, error)
	RequestUpdate(ctx context.Context, r *access.Request) error
	RequestList(ctx context.Context, p RequestListParams) ([]*access.Request, string, error)
	// RequestListTimedOut returns pending requests whose PendingUntil is at or
	// before now, oldest first, at most limit.
	RequestListTimedOut(ctx context.Context, now time.Time, limit int) ([]*access.Request, error)
	// RequestCountByState returns the number of requests in each state.
	RequestCountByState(ctx context.Context) (map[access.RequestState]int, error)

	// Grants. GrantUpdate has RequestUpdate's Version contract; it saves
	// every field but RequestID, UserID, AppID, EntitlementID and
	// CreatedAt (fixed at creation).
	GrantCreate(ctx context.Context, g *access.Grant) error
	GrantGetByID(ctx context.Context, id string, lock bool) (*access.Grant, error)
	GrantUpdate(ctx context.Context, g *access.Grant) error
	GrantList(ctx context.Context, p GrantListParams) ([]*access.Grant, string, error)
	// GrantListByRequest returns the request's grants ordered by ID.
	GrantListByRequest(ctx context.Context, requestID string) ([]*access.Grant, error)
	// GrantListDue returns grants due for revocation (active with ExpiresAt
	// at or before now), oldest expiry first, at most limit. It must use an
	// index on (state, expires_at): its cost grows with the grants due, not
	// the grants held.
	GrantListDue(ctx context.Context, now time.Time, limit int) ([]*access.Grant, error)
	// GrantListStalled returns grants in states whose UpdatedAt is at or
	// before before, oldest first, at most limit (the sweeper's view of
	// work that lost its job).
	GrantListStalled(ctx context.Context, states []access.GrantState, before time.Time, limit int) ([]*access.Grant, error)
	// GrantListTargetBehind returns active grants whose TargetExpiresAt is
	// set and differs from ExpiresAt (access.Grant.TargetBehind: extended,
	// the target's own expiry not moved yet) and whose UpdatedAt is at or
	// before before, oldest update first, at most limit (the sweeper's
	// view of target extensions that lost their job). It must read an
	// index of those grants only: its cost grows with the extensions in
	// flight, not the grants held.
	GrantListTargetBehind(ctx context.Context, before time.Time, limit int) ([]*access.Grant, error)
	GrantCountByState(ctx context.Context) (map[access.GrantState]int, error)

	// Notifications (the outbox). NotificationCreate ignores a duplicate
	// DedupKey and reports whether it inserted.
	NotificationCreate(ctx context.Context, n *access.Notification) (bool, error)
	NotificationGetByID(ctx context.Context, id string) (*access.Notification, error)
	// NotificationUpdate saves Data, State, Attempts, LastError and
	// SentAt; the rest is fixed at creation.
	NotificationUpdate(ctx context.Context, n *access.Notification) error
	// NotificationListPending returns pending notifications created at or
	// before before, oldest first, at most limit.
	NotificationListPending(ctx context.Context, before time.Time, limit int) ([]*access.Notification, error)
	NotificationListByRequest(ctx context.Context, requestID string) ([]*access.Notification, error)

	// Audit. EventAppend assigns Seq, PrevHash and Hash (chaining to the
	// last event under a lock, so concurrent appends form one chain) and
	// stores the event. Events are never updated or deleted. Inside InTx
	// an adapter may chain the event right after commit instead (the
	// PostgreSQL one does, so that writers do not queue on the chain's
	// head until commit): Seq, PrevHash and Hash are then left zero, and
	// the lists outside a transaction show the event once chained.
	EventAppend(ctx context.Context, e *access.Event) error
	// EventList returns events newest first (by Seq).
	EventList(ctx context.Context, p EventListParams) ([]*access.Event, string, error)
	// EventListAfter returns up to limit events with Seq > after, in Seq
	// order (for export and verification).
	EventListAfter(ctx context.Context, after int64, limit int) ([]*access.Event, error)

	// API tokens. Hash is unique.
	TokenCreate(ctx context.Context, t *access.Token) error
	TokenGetByHash(ctx context.Context, hash string) (*access.Token, error)
	TokenGetByID(ctx context.Context, id string) (*access.Token, error)
	// TokenList returns tokens of userID ("" for all), newest first.
	TokenList(ctx context.Context, userID string) ([]*access.Token, error)
	// TokenUpdate saves RevokedAt and LastUsedAt.
	TokenUpdate(ctx context.Context, t *access.Token) error

	// Approval policies. Every stored version of the set is kept.
	// PolicySetGet returns the latest version, or ErrNotFound when none is
	// stored. PolicySetPut stores s as the next version only if the latest
	// stored version is s.Version (0 when none), else ErrConflict (two
	// concurrent puts on one version: one wins); it then sets s.Version to
	// the new version (s.Version + 1).
	PolicySetGet(ctx context.Context) (*PolicySet, error)
	PolicySetPut(ctx context.Context, s *PolicySet) error

	// Policy changes. PolicyChangeCreate refuses a second change with one
	// ID (ErrConflict). PolicyChangeUpdate saves every field but ID,
	// ProposedBy, ProposedAt, BaseVersion, Before and After, only if the
	// stored Version equals c.Version (else ErrConflict; ErrNotFound when
	// missing), then increments c.Version.
	PolicyChangeCreate(ctx context.Context, c *PolicyChange) error
	PolicyChangeGetByID(ctx context.Context, id string) (*PolicyChange, error)
	PolicyChangeUpdate(ctx context.Context, c *PolicyChange) error
	// PolicyChangeList returns changes newest first (by ID).
	PolicyChangeList(ctx context.Context, p PolicyChangeListParams) ([]*PolicyChange, string, error)
}

// PolicySet is one stored version of the approval policies: the JSON of
// []policy.Policy (the store does not read it).
type PolicySet struct {
	// Version numbers the versions from 1.
	Version  int64
	Policies json.RawMessage
	// Digest is "sha256:<hex>" of Policies. ConfigDigest is the digest of
	// the config file's policies when they last seeded the store, carried
	// over by API changes (so that an unchanged file does not undo them).
	Digest       string
	ConfigDigest string
	// Source is "config" or "api"; ChangeID names the policy change an
	// API version applied.
	Source    string
	ChangeID  string
	UpdatedBy string
	UpdatedAt time.Time
}

// PolicyChange is a stored policy.Change: the proposed set in After, the
// set it replaces in Before (JSON of []policy.Policy).
type PolicyChange struct {
	ID string
	// State is proposed, approved, rejected or applied.
	State           string
	ProposedBy      string
	ProposedAt      time.Time
	Comment         string
	BaseVersion     int64
	Before, After   json.RawMessage
	DecidedBy       string
	DecidedAt       time.Time
	DecisionComment string
	SelfApproved    bool
	AppliedAt       time.Time
	AppliedVersion  int64
	Version         int
}

// PolicyChangeListParams filters PolicyChangeList; zero fields do not
// filter.
type PolicyChangeListParams struct {
	Page
	States []string
}

// UserListParams filters UserList.
type UserListParams struct {
	Page
	Status access.UserStatus // "" for all
	Group  string            // "" for all
}

// AppListParams filters AppList.
type AppListParams struct {
	Page
	Query string
}

// RequestListParams filters RequestList; zero fields do not filter.
type RequestListParams struct {
	Page
	States      []access.RequestState
	RequesterID string
	// ApproverID matches requests that notified this user at any step.
	ApproverID string
	AppID      string
}

// GrantListParams filters GrantList; zero fields do not filter.
type GrantListParams struct {
	Page
	States         []access.GrantState
	UserID         string
	AppID          string
	RequestID      string
	ExpiringBefore time.Time
}

// EventListParams filters EventList; zero fields do not filter.
type EventListParams struct {
	Page
	ActorID     string
	Action      string // exact, or a prefix ending in "." ("request.")
	SubjectType string
	SubjectID   string
	Since       time.Time // inclusive
	Until       time.Time // exclusive
}

// ClampLimit returns the effective page size for limit.
func ClampLimit(limit int) int {
	switch {
	case limit <= 0:
		return 50
	case limit > 500:
		return 500
	}
	return limit
}
