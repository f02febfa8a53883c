package access

import (
	"slices"
	"time"
)

// Account is an account in an app, as discovery last saw it. AppID and
// ExternalID identify it; Email is lowercase ("" when the app does not
// say); UserID is the Sesame user whose email matches ("" for none).
// GoneAt is set when a listing no longer shows the account (zero while
// it is seen).
type Account struct {
	AppID      string    `json:"app_id"`
	ExternalID string    `json:"external_id"`
	Email      string    `json:"email,omitempty"`
	Name       string    `json:"name,omitempty"`
	UserID     string    `json:"user_id,omitempty"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	GoneAt     time.Time `json:"gone_at,omitzero"`
}

// Active reports whether the last listing still showed the account.
func (a *Account) Active() bool { return a != nil && a.GoneAt.IsZero() }

// DiscoveredApp is an app seen by a discovery source. Key is the
// normalised name or domain that deduplicates it; Source is the source
// that saw it first ("connector", "okta", "gworkspace", or a custom
// source's name). AppID is the catalog app it became or matched ("" for
// none).
type DiscoveredApp struct {
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	Domain    string    `json:"domain,omitempty"`
	Source    string    `json:"source"`
	AppID     string    `json:"app_id,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	SeenCount int64     `json:"seen_count"`
}

// AlertType is the kind of a security finding.
type AlertType string

// Alert types.
const (
	AlertWatchlistSignup        AlertType = "watchlist_signup"
	AlertOffboardedWithAccounts AlertType = "offboarded_with_accounts"
	AlertNewAppDiscovered       AlertType = "new_app_discovered"
)

// AlertTypes lists every alert type, in a fixed order.
func AlertTypes() []AlertType {
	return []AlertType{AlertWatchlistSignup, AlertOffboardedWithAccounts, AlertNewAppDiscovered}
}

// ValidAlertType reports whether t is a known alert type.
func ValidAlertType(t AlertType) bool {
	return slices.Contains(AlertTypes(), t)
}

// AlertState is what the security team decided about an alert.
type AlertState string

// Alert states: open until someone clicks Add to Watchlist (watching) or
// Ignore (ignored).
const (
	AlertOpen     AlertState = "open"
	AlertWatching AlertState = "watching"
	AlertIgnored  AlertState = "ignored"
)

// AlertDelivery is where the alert's channel message stands.
type AlertDelivery string

// Alert deliveries: pending (to post or to update), posted (the message
// shows the current state), skipped (the alert type was off, or no
// channel is set), failed (Slack refused for good; LastError says why).
const (
	DeliveryPending AlertDelivery = "pending"
	DeliveryPosted  AlertDelivery = "posted"
	DeliverySkipped AlertDelivery = "skipped"
	DeliveryFailed  AlertDelivery = "failed"
)

// Alert is a security finding posted to a Slack channel. DedupKey is
// unique: a finding raised twice is stored (and posted) once. AppKey
// names the app the finding is about ("app:<id>" for a catalog app,
// "key:<normalised>" for a discovered one; "" for none), so that Ignore
// stops further alerts for it. Channel and TS locate the posted message
// (empty until posted) so it can be updated.
type Alert struct {
	ID       string     `json:"id"`
	Type     AlertType  `json:"type"`
	DedupKey string     `json:"-"`
	State    AlertState `json:"state"`
	AppKey   string     `json:"app_key,omitempty"`
	AppID    string     `json:"app_id,omitempty"`
	AppName  string     `json:"app_name,omitempty"`
	UserID   string     `json:"user_id,omitempty"`
	// Title and Details are what the message says (Details one line per
	// account or fact).
	Title     string        `json:"title"`
	Details   []string      `json:"details,omitempty"`
	Source    string        `json:"source,omitempty"`
	Channel   string        `json:"channel,omitempty"`
	TS        string        `json:"ts,omitempty"`
	Delivery  AlertDelivery `json:"delivery"`
	Attempts  int           `json:"attempts"`
	LastError string        `json:"last_error,omitempty"`
	DecidedBy string        `json:"decided_by,omitempty"`
	DecidedAt time.Time     `json:"decided_at,omitzero"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	Version   int           `json:"-"`
}

// AlertSetting turns one alert type on or off and names its channel ("":
// the default channel).
type AlertSetting struct {
	Type      AlertType `json:"type"`
	Enabled   bool      `json:"enabled"`
	Channel   string    `json:"channel"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}
