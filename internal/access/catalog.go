package access

import (
	"strings"
	"time"
)

// Risk is how dangerous an entitlement is.
type Risk string

// Risk levels.
const (
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// ValidRisk reports whether r is a known risk level.
func ValidRisk(r Risk) bool { return r == RiskLow || r == RiskMedium || r == RiskHigh }

// AppSource tells where an app came from.
type AppSource string

// App sources.
const (
	SourceConfig     AppSource = "config"
	SourceDiscovered AppSource = "discovered"
	SourceAPI        AppSource = "api"
)

// App is a target system. ID is a short slug ("github", "aws-prod").
// ConnectorSettings never leave the server through the API in clear.
type App struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Description       string            `json:"description,omitempty"`
	ConnectorType     string            `json:"connector_type"`
	ConnectorSettings map[string]string `json:"-"`
	// Owners are user IDs.
	Owners    []string  `json:"owners,omitempty"`
	Aliases   []string  `json:"aliases,omitempty"`
	Watchlist bool      `json:"watchlist"`
	Source    AppSource `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Entitlement is something that can be asked for in an app: a role, a
// group, a permission level. ID is AppID + ":" + Key.
type Entitlement struct {
	ID          string `json:"id"`
	AppID       string `json:"app_id"`
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// MaxDuration is the longest grant allowed; zero means no entitlement
	// limit (the policy and org limits still apply).
	MaxDuration time.Duration `json:"max_duration"`
	Requestable bool          `json:"requestable"`
	Risk        Risk          `json:"risk"`
	Tags        []string      `json:"tags,omitempty"`
	// Owners are user IDs.
	Owners    []string  `json:"owners,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EntitlementID joins an app ID and an entitlement key.
func EntitlementID(appID, key string) string { return appID + ":" + key }

// SplitEntitlementID is the inverse of EntitlementID. ok is false when id
// has no colon.
func SplitEntitlementID(id string) (appID, key string, ok bool) {
	return strings.Cut(id, ":")
}
