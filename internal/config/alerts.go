package config

import (
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Alerts configures security alerts and discovery (every key also has
// its environment variable, see EnvVars):
//
//	alerts:
//	  discovery_interval: 1h        # how often accounts and apps are synced (5m to 1w)
//	  watchlist_signup:         {enabled: true, channel: "#security"}
//	  offboarded_with_accounts: {enabled: true}            # channel: slack.alerts_channel
//	  new_app_discovered:       {enabled: false}
//
// The per-type settings seed the database at every start, except for a
// type an admin changed through the API (PUT /api/v1/settings/alerts) or
// the dashboard: that change is kept (see docs/alerts.md).
type Alerts struct {
	// DiscoveryInterval is how often the leader runs the discovery sync.
	// Default 1h.
	DiscoveryInterval time.Duration
	// Types holds the settings of the types the file or the environment
	// names, by type.
	Types map[string]AlertTypeSetting
}

// AlertTypeSetting is one alert type's setting in the file. Enabled
// defaults to true; Channel "" means slack.alerts_channel.
type AlertTypeSetting struct {
	Enabled bool
	Channel string
}

// alertTypeNames are the alert types the file may name.
func alertTypeNames() []string {
	return []string{"watchlist_signup", "offboarded_with_accounts", "new_app_discovered"}
}

func (d *decoder) alerts(n *yaml.Node, path string, c *Config) {
	f := fields{
		"discovery_interval": func(n *yaml.Node, path string) { d.duration(n, path, &c.Alerts.DiscoveryInterval) },
	}
	for _, typ := range alertTypeNames() {
		f[typ] = func(n *yaml.Node, path string) {
			s := AlertTypeSetting{Enabled: true}
			d.mapping(n, path, fields{
				"enabled": func(n *yaml.Node, path string) { d.boolean(n, path, &s.Enabled) },
				"channel": func(n *yaml.Node, path string) { d.str(n, path, &s.Channel) },
			})
			if c.Alerts.Types == nil {
				c.Alerts.Types = map[string]AlertTypeSetting{}
			}
			c.Alerts.Types[typ] = s
		}
	}
	d.mapping(n, path, f)
}

// channelRE is a Slack channel ID or #name.
var channelRE = regexp.MustCompile(`^(#[a-z0-9_-]{1,80}|[CG][A-Z0-9]{2,30})$`)

func validateAlerts(c *Config, r *report) {
	if c.Alerts.DiscoveryInterval == 0 {
		c.Alerts.DiscoveryInterval = time.Hour
	}
	if iv := c.Alerts.DiscoveryInterval; iv < 5*time.Minute || iv > 7*24*time.Hour {
		r.addf("alerts.discovery_interval", "must be between 5m and 1w")
	}
	for typ, s := range c.Alerts.Types {
		if s.Channel != "" && !channelRE.MatchString(s.Channel) {
			r.addf("alerts."+typ+".channel", "must be a Slack channel ID (C0123ABCD) or #name, or empty for slack.alerts_channel")
		}
	}
	if ch := c.Slack.AlertsChannel; ch != "" && !channelRE.MatchString(ch) {
		r.addf("slack.alerts_channel", "must be a Slack channel ID (C0123ABCD) or #name")
	}
}

// printedAlerts is the alerts section as the file writes it (for
// Redacted); nil when it is all defaults.
type printedAlerts struct {
	DiscoveryInterval      string                   `yaml:"discovery_interval" json:"discovery_interval"`
	WatchlistSignup        *printedAlertTypeSetting `yaml:"watchlist_signup,omitempty" json:"watchlist_signup,omitempty"`
	OffboardedWithAccounts *printedAlertTypeSetting `yaml:"offboarded_with_accounts,omitempty" json:"offboarded_with_accounts,omitempty"`
	NewAppDiscovered       *printedAlertTypeSetting `yaml:"new_app_discovered,omitempty" json:"new_app_discovered,omitempty"`
}

type printedAlertTypeSetting struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	Channel string `yaml:"channel,omitempty" json:"channel,omitempty"`
}

func printAlerts(a Alerts) *printedAlerts {
	if len(a.Types) == 0 && (a.DiscoveryInterval == 0 || a.DiscoveryInterval == time.Hour) {
		return nil
	}
	out := &printedAlerts{DiscoveryInterval: dur(a.DiscoveryInterval)}
	get := func(typ string) *printedAlertTypeSetting {
		s, ok := a.Types[typ]
		if !ok {
			return nil
		}
		return &printedAlertTypeSetting{Enabled: s.Enabled, Channel: s.Channel}
	}
	out.WatchlistSignup = get("watchlist_signup")
	out.OffboardedWithAccounts = get("offboarded_with_accounts")
	out.NewAppDiscovered = get("new_app_discovered")
	return out
}
