package config

import (
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// Config is Sesame's validated configuration. Load and Parse return it with
// every default filled in, so no field needs a fallback at the point of use.
//
// Config holds secrets (Slack tokens, connector settings, the database
// password): print it through String or Redacted, which hide them.
type Config struct {
	Server Server
	// DataDir holds Sesame's files (the SQLite database by default).
	// Default "./sesame-data".
	DataDir string
	// Database is a sqlite:// or postgres:// (postgresql://) URL. Default
	// "sqlite://" + DataDir + "/sesame.db". See DatabaseDialect and
	// SQLitePath.
	Database string
	Log      Log
	Secrets  Secrets
	Slack    Slack
	// Web configures the dashboard's sign-in (web.go).
	Web     Web
	Org     Org
	Catalog Catalog
	Users   []User
	// OnCall are the on-call rotations policies refer to (approvers.oncall,
	// the CEL oncall list). Members are emails of configured users,
	// lowercase; Start is UTC.
	OnCall []policy.Rotation
	// Policies are validated with policy.Validate (with WithRotations(OnCall)
	// and the catalog's entitlements); build the engine with PolicyOptions:
	// policy.New(c.Policies, c.Org.MaxDuration, c.PolicyOptions()...).
	Policies []policy.Policy
	// Integrations route notifications to Slack webhooks and channels by
	// account set (integrations.go).
	Integrations Integrations
	// Alerts configures security alerts and discovery (alerts.go).
	Alerts Alerts
	// Demo is true when the configuration names no apps: Catalog, Users
	// and Policies then come from the embedded demo (demo.yaml).
	Demo bool
	// File is the configuration file read ("" when none).
	File string
}

// Server is where the HTTP server listens and how it is reached.
type Server struct {
	// Addr is the listen address, host:port. Default "127.0.0.1:8080".
	Addr string
	// BaseURL is the public URL of the dashboard and of Slack's HTTP
	// endpoints, without a trailing slash. Default "http://" + Addr, with
	// "localhost" for an empty or unspecified host.
	BaseURL string
	// ListConcurrency is how many API list requests run at once; more wait
	// their turn. 0 (the default) picks by database: GOMAXPROCS-1 (at least
	// 1) on SQLite, so that reads leave a core to the single writer, and
	// 4*GOMAXPROCS on PostgreSQL. `sesame serve --list-concurrency`
	// overrides it. At most MaxListConcurrency.
	ListConcurrency int
}

// MaxListConcurrency bounds Server.ListConcurrency.
const MaxListConcurrency = 4096

// Log configures logging.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string
	// Format is auto (default: text on a terminal, JSON otherwise), text
	// or json.
	Format string
}

// Secrets configures encryption of secrets at rest.
type Secrets struct {
	// KeyFile is the path of the encryption key file ("" when not set).
	// Not used yet.
	KeyFile string
}

// Slack connects Sesame to a Slack workspace. Slack is off when BotToken
// is empty.
type Slack struct {
	// Mode is "socket" (default: Socket Mode, no public URL needed) or
	// "http" (signed requests to BaseURL/slack/...).
	Mode string
	// BotToken (xoxb-...) is required for Slack; AppToken (xapp-...) is
	// required with it in socket mode, SigningSecret in http mode.
	BotToken      string
	AppToken      string
	SigningSecret string
	// APIURL is the Slack Web API base URL, ending in "/". Default
	// "https://slack.com/api/"; tests point it at a fake.
	APIURL string
	// Command is the slash command, "/" and at most 31 more characters.
	// Default "/access".
	Command string
	// AlertsChannel is where security alerts are posted ("" for none).
	AlertsChannel string
}

// Enabled reports whether Slack is configured (a bot token is set).
func (s Slack) Enabled() bool { return s.BotToken != "" }

// String describes s with its secrets hidden.
func (s Slack) String() string {
	return "{mode=" + s.Mode + " bot_token=" + redact(s.BotToken) + " app_token=" + redact(s.AppToken) +
		" signing_secret=" + redact(s.SigningSecret) + " api_url=" + s.APIURL + " command=" + s.Command +
		" alerts_channel=" + s.AlertsChannel + "}"
}

// GoString is String, so that %#v hides secrets too.
func (s Slack) GoString() string { return s.String() }

// Org holds organisation-wide limits.
type Org struct {
	// MaxDuration bounds every grant, whatever the policy or entitlement
	// says. Default 12h.
	MaxDuration time.Duration
	// PolicyChanges controls changes to the policies made through the API.
	// File-only: no environment variable can turn the review off.
	PolicyChanges PolicyChanges
}

// PolicyChanges controls changes to the approval policies.
type PolicyChanges struct {
	// TwoPersonRule makes a policy change proposed through the API wait
	// for a second admin's approval (see policy.Change). Default false.
	TwoPersonRule bool
}

// Catalog lists the apps people can request access to.
type Catalog struct {
	Apps []App
}

// App is one configured target system; see access.App.
type App struct {
	// ID is a slug: ^[a-z0-9][a-z0-9-]{0,62}$.
	ID string
	// Name defaults to ID.
	Name        string
	Description string
	Connector   Connector
	// Owners are emails of configured users.
	Owners []string
	// Aliases are extra names for "/access <alias>": slugs, unique across
	// app IDs and aliases.
	Aliases      []string
	Watchlist    bool
	Entitlements []Entitlement
}

// Connector names an app's connector type and its settings. Settings whose
// key contains "password", "secret", "token" or "key" are secrets.
type Connector struct {
	Type     string
	Settings map[string]string
}

// String describes c with its secret settings hidden.
func (c Connector) String() string {
	var b strings.Builder
	b.WriteString("{type=" + c.Type)
	for _, k := range sortedKeys(c.Settings) {
		b.WriteString(" " + k + "=" + redactSetting(k, c.Settings[k]))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v hides secrets too.
func (c Connector) GoString() string { return c.String() }

// Entitlement is something that can be requested in an app; see
// access.Entitlement.
type Entitlement struct {
	// Key is ^[a-z0-9][a-z0-9_.:-]{0,62}$; the entitlement's ID is
	// access.EntitlementID(app.ID, Key).
	Key string
	// Name defaults to Key.
	Name        string
	Description string
	// MaxDuration is zero when the entitlement sets no limit; it is never
	// above Org.MaxDuration.
	MaxDuration time.Duration
	// Requestable defaults to true.
	Requestable bool
	// Risk defaults to low.
	Risk access.Risk
	Tags []string
	// Owners are emails of configured users.
	Owners []string
}

// User is a configured person. Emails are stored lowercase.
type User struct {
	Email string
	Name  string
	// Manager is the email of another configured user ("" for none).
	Manager     string
	Groups      []string
	Roles       []access.Role
	SlackUserID string
}

// PolicyOptions are the options to build the policy engine with: the
// on-call rotations and the configured entitlements (for the tie
// analysis), as Load validated them.
func (c *Config) PolicyOptions() []policy.Option {
	var ents []*access.Entitlement
	for _, a := range c.Catalog.Apps {
		for _, e := range a.Entitlements {
			ents = append(ents, &access.Entitlement{ID: access.EntitlementID(a.ID, e.Key), AppID: a.ID, Key: e.Key,
				Name: e.Name, Risk: e.Risk, Tags: e.Tags})
		}
	}
	return []policy.Option{policy.WithRotations(c.OnCall), policy.WithCatalog(ents)}
}

// DatabaseDialect returns "sqlite" or "postgres" according to Database's
// scheme.
func (c *Config) DatabaseDialect() string {
	if strings.HasPrefix(c.Database, sqliteScheme) {
		return "sqlite"
	}
	return "postgres"
}

// SQLitePath returns the file path of a sqlite:// Database (the URL
// without its scheme: "sqlite:///var/lib/sesame.db" gives
// "/var/lib/sesame.db", "sqlite://./data/sesame.db" gives
// "./data/sesame.db"), or "" for PostgreSQL.
func (c *Config) SQLitePath() string {
	p, ok := strings.CutPrefix(c.Database, sqliteScheme)
	if !ok {
		return ""
	}
	return p
}

const sqliteScheme = "sqlite://"
