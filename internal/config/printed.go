package config

import "github.com/sesame-access/sesame/internal/access"

// The printed* types are the file's layout, for Redacted: field order and
// names as in the YAML file, durations as text, so that printed output
// loads again.

type printed struct {
	Server   printedServer     `yaml:"server" json:"server"`
	DataDir  string            `yaml:"data_dir" json:"data_dir"`
	Database string            `yaml:"database" json:"database"`
	Log      printedLog        `yaml:"log" json:"log"`
	Secrets  printedSecrets    `yaml:"secrets" json:"secrets"`
	Slack    printedSlack      `yaml:"slack" json:"slack"`
	Web      printedWeb        `yaml:"web" json:"web"`
	Org      printedOrg        `yaml:"org" json:"org"`
	Catalog  printedCatalog    `yaml:"catalog" json:"catalog"`
	Users    []printedUser     `yaml:"users" json:"users"`
	OnCall   []printedRotation `yaml:"oncall,omitempty" json:"oncall,omitempty"`
	Policies []printedPolicy   `yaml:"policies" json:"policies"`
	// Integrations: see integrations.go.
	Integrations *printedIntegrations `yaml:"integrations,omitempty" json:"integrations,omitempty"`
	// Alerts: see alerts.go.
	Alerts *printedAlerts `yaml:"alerts,omitempty" json:"alerts,omitempty"`
}

type printedRotation struct {
	ID       string   `yaml:"id" json:"id"`
	Timezone string   `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Members  []string `yaml:"members" json:"members"`
	Rotation string   `yaml:"rotation" json:"rotation"`
	Start    string   `yaml:"start" json:"start"`
	Handoff  string   `yaml:"handoff,omitempty" json:"handoff,omitempty"`
}

type printedServer struct {
	Addr    string `yaml:"addr" json:"addr"`
	BaseURL string `yaml:"base_url" json:"base_url"`
}

type printedLog struct {
	Level  string `yaml:"level" json:"level"`
	Format string `yaml:"format" json:"format"`
}

type printedSecrets struct {
	KeyFile string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
}

type printedSlack struct {
	Mode          string `yaml:"mode" json:"mode"`
	BotToken      string `yaml:"bot_token,omitempty" json:"bot_token,omitempty"`
	AppToken      string `yaml:"app_token,omitempty" json:"app_token,omitempty"`
	SigningSecret string `yaml:"signing_secret,omitempty" json:"signing_secret,omitempty"`
	APIURL        string `yaml:"api_url" json:"api_url"`
	Command       string `yaml:"command" json:"command"`
	AlertsChannel string `yaml:"alerts_channel,omitempty" json:"alerts_channel,omitempty"`
}

type printedOrg struct {
	MaxDuration   string               `yaml:"max_duration" json:"max_duration"`
	PolicyChanges printedPolicyChanges `yaml:"policy_changes" json:"policy_changes"`
}

type printedPolicyChanges struct {
	TwoPersonRule bool `yaml:"two_person_rule" json:"two_person_rule"`
}

type printedCatalog struct {
	Apps []printedApp `yaml:"apps" json:"apps"`
}

type printedApp struct {
	ID           string               `yaml:"id" json:"id"`
	Name         string               `yaml:"name" json:"name"`
	Description  string               `yaml:"description,omitempty" json:"description,omitempty"`
	Connector    printedConnector     `yaml:"connector" json:"connector"`
	Owners       []string             `yaml:"owners,omitempty" json:"owners,omitempty"`
	Aliases      []string             `yaml:"aliases,omitempty" json:"aliases,omitempty"`
	Watchlist    bool                 `yaml:"watchlist,omitempty" json:"watchlist,omitempty"`
	Entitlements []printedEntitlement `yaml:"entitlements,omitempty" json:"entitlements,omitempty"`
}

type printedConnector struct {
	Type     string            `yaml:"type" json:"type"`
	Settings map[string]string `yaml:"settings,omitempty" json:"settings,omitempty"`
}

type printedEntitlement struct {
	Key         string      `yaml:"key" json:"key"`
	Name        string      `yaml:"name" json:"name"`
	Description string      `yaml:"description,omitempty" json:"description,omitempty"`
	MaxDuration string      `yaml:"max_duration,omitempty" json:"max_duration,omitempty"`
	Requestable bool        `yaml:"requestable" json:"requestable"`
	Risk        access.Risk `yaml:"risk" json:"risk"`
	Tags        []string    `yaml:"tags,omitempty" json:"tags,omitempty"`
	Owners      []string    `yaml:"owners,omitempty" json:"owners,omitempty"`
}

// printedUser has exactly User's fields, so a User converts to it.
type printedUser struct {
	Email       string        `yaml:"email" json:"email"`
	Name        string        `yaml:"name,omitempty" json:"name,omitempty"`
	Manager     string        `yaml:"manager,omitempty" json:"manager,omitempty"`
	Groups      []string      `yaml:"groups,omitempty" json:"groups,omitempty"`
	Roles       []access.Role `yaml:"roles,omitempty" json:"roles,omitempty"`
	SlackUserID string        `yaml:"slack_user_id,omitempty" json:"slack_user_id,omitempty"`
}

type printedPolicy struct {
	ID              string           `yaml:"id" json:"id"`
	Description     string           `yaml:"description,omitempty" json:"description,omitempty"`
	Default         bool             `yaml:"default,omitempty" json:"default,omitempty"`
	Match           printedMatch     `yaml:"match,omitempty" json:"match"`
	Steps           []printedStep    `yaml:"steps" json:"steps"`
	AutoApprove     []printedAuto    `yaml:"auto_approve,omitempty" json:"auto_approve,omitempty"`
	MaxDuration     string           `yaml:"max_duration,omitempty" json:"max_duration,omitempty"`
	DefaultDuration string           `yaml:"default_duration,omitempty" json:"default_duration,omitempty"`
	PendingTimeout  string           `yaml:"pending_timeout,omitempty" json:"pending_timeout,omitempty"`
	Reminders       printedReminders `yaml:"reminders,omitempty" json:"reminders"`
	Reason          printedReason    `yaml:"reason,omitempty" json:"reason"`
	Extension       printedExtension `yaml:"extension,omitempty" json:"extension"`
}

type printedExtension struct {
	Approval   string `yaml:"approval,omitempty" json:"approval,omitempty"`
	AutoWithin string `yaml:"auto_within,omitempty" json:"auto_within,omitempty"`
}

type printedMatch struct {
	Apps         []string      `yaml:"apps,omitempty" json:"apps,omitempty"`
	Entitlements []string      `yaml:"entitlements,omitempty" json:"entitlements,omitempty"`
	Risk         []access.Risk `yaml:"risk,omitempty" json:"risk,omitempty"`
	Groups       []string      `yaml:"groups,omitempty" json:"groups,omitempty"`
	Tags         []string      `yaml:"tags,omitempty" json:"tags,omitempty"`
	Condition    string        `yaml:"condition,omitempty" json:"condition,omitempty"`
}

type printedAuto struct {
	Name      string `yaml:"name" json:"name"`
	Condition string `yaml:"condition" json:"condition"`
}

type printedStep struct {
	Name             string           `yaml:"name" json:"name"`
	Approvers        printedApprovers `yaml:"approvers" json:"approvers"`
	Required         int              `yaml:"required,omitempty" json:"required,omitempty"`
	All              bool             `yaml:"all,omitempty" json:"all,omitempty"`
	RequesterChooses bool             `yaml:"requester_chooses,omitempty" json:"requester_chooses,omitempty"`
	Choose           int              `yaml:"choose,omitempty" json:"choose,omitempty"`
	EscalateAfter    string           `yaml:"escalate_after,omitempty" json:"escalate_after,omitempty"`
	EscalateTo       printedApprovers `yaml:"escalate_to,omitempty" json:"escalate_to"`
}

type printedApprovers struct {
	Users             []string `yaml:"users,omitempty" json:"users,omitempty"`
	Groups            []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	Manager           bool     `yaml:"manager,omitempty" json:"manager,omitempty"`
	ManagersManager   bool     `yaml:"managers_manager,omitempty" json:"managers_manager,omitempty"`
	AppOwners         bool     `yaml:"app_owners,omitempty" json:"app_owners,omitempty"`
	EntitlementOwners bool     `yaml:"entitlement_owners,omitempty" json:"entitlement_owners,omitempty"`
	OnCall            []string `yaml:"oncall,omitempty" json:"oncall,omitempty"`
}

type printedReason struct {
	Required      bool   `yaml:"required,omitempty" json:"required,omitempty"`
	MinLength     int    `yaml:"min_length,omitempty" json:"min_length,omitempty"`
	Pattern       string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	TicketPattern string `yaml:"ticket_pattern,omitempty" json:"ticket_pattern,omitempty"`
	Hint          string `yaml:"hint,omitempty" json:"hint,omitempty"`
}

type printedReminders struct {
	After string `yaml:"after,omitempty" json:"after,omitempty"`
	Every string `yaml:"every,omitempty" json:"every,omitempty"`
	Max   int    `yaml:"max,omitempty" json:"max,omitempty"`
}
