package store

import (
	"context"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// FindingQueries are the reads and writes of what Sesame watches: accounts
// seen in apps, discovered apps, security alerts and their settings. The SQL
// adapters implement them in sqldb/findings.go.
type FindingQueries interface {
	// AccountListByApp returns up to limit accounts of app (active and
	// gone) with ExternalID > after, ordered by ExternalID (byte order):
	// the keyset page a discovery diff walks.
	AccountListByApp(ctx context.Context, appID, after string, limit int) ([]*access.Account, error)
	// AccountGet returns one account (active or gone), or ErrNotFound.
	AccountGet(ctx context.Context, appID, externalID string) (*access.Account, error)
	// AccountUpsertBatch inserts accounts new to their app and, for the
	// others, sets Email, Name, UserID and LastSeen and clears GoneAt
	// (FirstSeen is kept). One statement per up to 500 accounts.
	AccountUpsertBatch(ctx context.Context, accounts []*access.Account) error
	// AccountMarkGone sets GoneAt to at on the active accounts of app with
	// the given external IDs and returns how many it changed.
	AccountMarkGone(ctx context.Context, appID string, externalIDs []string, at time.Time) (int, error)
	// AccountListByEmail returns the active accounts whose Email is email
	// (lowercase) in any app, ordered by app and external ID.
	AccountListByEmail(ctx context.Context, email string) ([]*access.Account, error)
	// AccountSyncedAt returns when app's accounts were last synced from its
	// connector (zero when never); AccountSyncedPut records it.
	AccountSyncedAt(ctx context.Context, appID string) (time.Time, error)
	AccountSyncedPut(ctx context.Context, appID string, at time.Time) error
	// AccountCount returns the number of active accounts, by app ID.
	AccountCount(ctx context.Context) (map[string]int, error)

	// DiscoveredAppSeen stores d when no app with d.Key is stored (and
	// reports inserted), else it moves LastSeen forward to d.LastSeen,
	// adds one to SeenCount and fills an empty Domain; the stored
	// FirstSeen and Source are kept.
	DiscoveredAppSeen(ctx context.Context, d *access.DiscoveredApp) (inserted bool, err error)
	// DiscoveredAppGet returns the app with key, or ErrNotFound.
	DiscoveredAppGet(ctx context.Context, key string) (*access.DiscoveredApp, error)
	// DiscoveredAppSetAppID links the discovered app to a catalog app.
	DiscoveredAppSetAppID(ctx context.Context, key, appID string) error
	// DiscoveredAppList returns discovered apps ordered by key.
	DiscoveredAppList(ctx context.Context, p Page) ([]*access.DiscoveredApp, string, error)

	// AlertCreate stores a unless an alert with its DedupKey exists, and
	// reports whether it inserted. A second alert with a.ID (and a new
	// DedupKey) is ErrConflict.
	AlertCreate(ctx context.Context, a *access.Alert) (inserted bool, err error)
	// AlertGetByID returns the alert or ErrNotFound.
	AlertGetByID(ctx context.Context, id string, lock bool) (*access.Alert, error)
	// AlertUpdate saves every field but ID, Type, DedupKey and CreatedAt,
	// only if the stored Version equals a.Version (else ErrConflict;
	// ErrNotFound when missing), then increments a.Version.
	AlertUpdate(ctx context.Context, a *access.Alert) error
	// AlertList returns alerts newest first (by ID).
	AlertList(ctx context.Context, p AlertListParams) ([]*access.Alert, string, error)
	// AlertListPending returns alerts whose Delivery is pending and whose
	// UpdatedAt is at or before before, oldest first, at most limit (the
	// sweep's view of deliveries that lost their job).
	AlertListPending(ctx context.Context, before time.Time, limit int) ([]*access.Alert, error)

	// AlertMuteAdd records that alerts about appKey are ignored (again is
	// a no-op); AlertMuted reports it.
	AlertMuteAdd(ctx context.Context, appKey, by string, at time.Time) error
	AlertMuted(ctx context.Context, appKey string) (bool, error)

	// AlertSettingsGet returns the stored settings by type (types never
	// stored are absent). AlertSettingPut inserts or replaces one.
	AlertSettingsGet(ctx context.Context) (map[access.AlertType]access.AlertSetting, error)
	AlertSettingPut(ctx context.Context, s access.AlertSetting) error
}

// AlertListParams filters AlertList; zero fields do not filter.
type AlertListParams struct {
	Page
	Types  []access.AlertType
	States []access.AlertState
	AppID  string
	UserID string
}
