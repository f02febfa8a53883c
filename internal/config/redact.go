package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// redactedValue replaces a secret in printed output.
const redactedValue = "[redacted]"

// redact hides a non-empty secret.
func redact(s string) string {
	if s == "" {
		return ""
	}
	return redactedValue
}

// IsSecretSetting reports whether a connector setting holds a secret: its
// name contains "password", "secret", "token" or "key" (any case).
func IsSecretSetting(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret") ||
		strings.Contains(n, "token") || strings.Contains(n, "key")
}

func redactSetting(name, value string) string {
	if IsSecretSetting(name) {
		return redact(value)
	}
	return value
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// redactDatabase hides the password of a database URL.
func redactDatabase(db string) string {
	u, err := url.Parse(db)
	if err != nil {
		if strings.Contains(db, "@") {
			return redactedValue
		}
		return db
	}
	return u.Redacted()
}

// secretValues lists every secret in c, to scrub from messages.
func secretValues(c *Config) []string {
	out := []string{c.Slack.BotToken, c.Slack.AppToken, c.Slack.SigningSecret, c.Web.OIDC.ClientSecret}
	if u, err := url.Parse(c.Database); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	for _, a := range c.Catalog.Apps {
		for k, v := range a.Connector.Settings {
			if IsSecretSetting(k) {
				out = append(out, v)
			}
		}
	}
	out = append(out, integrationSecrets(c)...)
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// String prints the configuration as YAML with every secret hidden (see
// Redacted).
func (c Config) String() string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c.Redacted()); err != nil {
		return "config: " + err.Error()
	}
	if err := enc.Close(); err != nil {
		return "config: " + err.Error()
	}
	return b.String()
}

// GoString is String, so that %#v hides secrets too.
func (c Config) GoString() string { return c.String() }

// Redacted returns the effective configuration in the file's layout, for
// printing as YAML or JSON: durations written like "8h", defaults filled
// in (the demo's catalog, users and policies when Demo is set), and every
// secret (Slack tokens and signing secret, the database password, secret
// connector settings) replaced by "[redacted]". Printed as YAML, a
// configuration without secrets loads back to an equal Config (but for
// File and Demo).
func (c *Config) Redacted() any {
	out := printed{
		Server:   printedServer{Addr: c.Server.Addr, BaseURL: c.Server.BaseURL},
		DataDir:  c.DataDir,
		Database: redactDatabase(c.Database),
		Log:      printedLog{Level: c.Log.Level, Format: c.Log.Format},
		Secrets:  printedSecrets{KeyFile: c.Secrets.KeyFile},
		Slack: printedSlack{Mode: c.Slack.Mode, BotToken: redact(c.Slack.BotToken), AppToken: redact(c.Slack.AppToken),
			SigningSecret: redact(c.Slack.SigningSecret), APIURL: c.Slack.APIURL, Command: c.Slack.Command,
			AlertsChannel: c.Slack.AlertsChannel},
		Web: c.printedWeb(),
		Org: printedOrg{MaxDuration: dur(c.Org.MaxDuration),
			PolicyChanges: printedPolicyChanges{TwoPersonRule: c.Org.PolicyChanges.TwoPersonRule}},
	}
	for _, a := range c.Catalog.Apps {
		pa := printedApp{ID: a.ID, Name: a.Name, Description: a.Description,
			Connector: printedConnector{Type: a.Connector.Type}, Owners: a.Owners, Aliases: a.Aliases, Watchlist: a.Watchlist}
		if len(a.Connector.Settings) > 0 {
			pa.Connector.Settings = map[string]string{}
			for k, v := range a.Connector.Settings {
				pa.Connector.Settings[k] = redactSetting(k, v)
			}
		}
		for _, e := range a.Entitlements {
			pa.Entitlements = append(pa.Entitlements, printedEntitlement{Key: e.Key, Name: e.Name, Description: e.Description,
				MaxDuration: dur(e.MaxDuration), Requestable: e.Requestable, Risk: e.Risk, Tags: e.Tags, Owners: e.Owners})
		}
		out.Catalog.Apps = append(out.Catalog.Apps, pa)
	}
	for _, u := range c.Users {
		out.Users = append(out.Users, printedUser(u))
	}
	for _, r := range c.OnCall {
		out.OnCall = append(out.OnCall, printedRotation{ID: r.ID, Timezone: r.Timezone, Members: r.Members, Rotation: r.Period,
			Start: r.Start.UTC().Format(time.RFC3339), Handoff: r.Handoff})
	}
	for _, p := range c.Policies {
		out.Policies = append(out.Policies, printPolicy(p))
	}
	out.Integrations = printIntegrations(c.Integrations)
	out.Alerts = printAlerts(c.Alerts)
	return out
}

func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return access.FormatDuration(d)
}

func printPolicy(p policy.Policy) printedPolicy {
	m := p.Match
	pp := printedPolicy{ID: p.ID, Description: p.Description, Default: p.Default,
		Match: printedMatch{Apps: m.Apps, Entitlements: m.Entitlements, Risk: m.Risk, Groups: m.Groups, Tags: m.Tags,
			Condition: m.Condition},
		MaxDuration: dur(p.MaxDuration), DefaultDuration: dur(p.DefaultDuration), PendingTimeout: dur(p.PendingTimeout),
		Reminders: printedReminders{After: dur(p.Reminders.After), Every: dur(p.Reminders.Every), Max: p.Reminders.Max},
		Reason: printedReason{Required: p.Reason.Required, MinLength: p.Reason.MinLength, Pattern: p.Reason.Pattern,
			TicketPattern: p.Reason.TicketPattern, Hint: p.Reason.Hint},
		Extension: printedExtension{Approval: p.Extension.Approval, AutoWithin: dur(p.Extension.AutoWithin)}}
	for _, s := range p.Steps {
		pp.Steps = append(pp.Steps, printedStep{Name: s.Name, Required: s.Required, All: s.All,
			RequesterChooses: s.RequesterChooses, Choose: s.Choose, Approvers: printApprovers(s.Approvers),
			EscalateAfter: dur(s.EscalateAfter), EscalateTo: printApprovers(s.EscalateTo)})
	}
	for _, r := range p.AutoApprove {
		pp.AutoApprove = append(pp.AutoApprove, printedAuto(r))
	}
	return pp
}

func printApprovers(a policy.ApproverRule) printedApprovers {
	return printedApprovers{Users: a.Users, Groups: a.Groups, Manager: a.Manager, ManagersManager: a.ManagersManager,
		AppOwners: a.AppOwners, EntitlementOwners: a.EntitlementOwners, OnCall: a.OnCall}
}
