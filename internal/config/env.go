package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// EnvVar is one environment variable that overrides a configuration key.
type EnvVar struct {
	// Name is the variable: "SESAME_" + Key upper-cased with "." as "_".
	Name string
	// Key is the dotted key in the configuration file ("slack.bot_token").
	Key         string
	Description string
	// Default is the value used when neither the file nor the environment
	// sets the key ("" for none; derived defaults are described).
	Default string
	// Secret is true for values that are never printed.
	Secret bool
}

// EnvVars lists the environment variables Load and Parse read, in file
// order. Every scalar key of the file can be overridden; lists (the
// catalog, users, policies) are file-only. An empty variable counts as
// unset. The variables are:
//
//	SESAME_SERVER_ADDR            server.addr            listen address (127.0.0.1:8080)
//	SESAME_SERVER_BASE_URL        server.base_url        public URL (http://<server.addr>)
//	SESAME_SERVER_LIST_CONCURRENCY server.list_concurrency API list requests run at once (0: by database)
//	SESAME_DATA_DIR               data_dir               directory for Sesame's files (./sesame-data)
//	SESAME_DATABASE               database               sqlite:// or postgres:// URL (sqlite://<data_dir>/sesame.db)
//	SESAME_LOG_LEVEL              log.level              debug, info, warn or error (info)
//	SESAME_LOG_FORMAT             log.format             auto, text or json (auto)
//	SESAME_SECRETS_KEY_FILE       secrets.key_file       encryption key file (not used yet)
//	SESAME_SLACK_MODE             slack.mode             socket or http (socket)
//	SESAME_SLACK_BOT_TOKEN        slack.bot_token        bot token, xoxb-... (secret)
//	SESAME_SLACK_APP_TOKEN        slack.app_token        app-level token for socket mode, xapp-... (secret)
//	SESAME_SLACK_SIGNING_SECRET   slack.signing_secret   signing secret for http mode (secret)
//	SESAME_SLACK_API_URL          slack.api_url          Slack Web API base URL (https://slack.com/api/)
//	SESAME_SLACK_COMMAND          slack.command          slash command (/access)
//	SESAME_SLACK_ALERTS_CHANNEL   slack.alerts_channel   channel for security alerts
//	SESAME_WEB_OIDC_ISSUER        web.oidc.issuer        OIDC issuer of the dashboard's sign-in
//	SESAME_WEB_OIDC_CLIENT_ID     web.oidc.client_id     OIDC client ID
//	SESAME_WEB_OIDC_CLIENT_SECRET web.oidc.client_secret OIDC client secret (secret)
//	SESAME_WEB_OIDC_SCOPES        web.oidc.scopes        OIDC scopes (openid email profile)
//	SESAME_WEB_OIDC_SLACK_TEAM_ID web.oidc.slack_team_id workspace for Sign in with Slack
//	SESAME_WEB_SESSION_TTL        web.session_ttl        how long a dashboard sign-in lasts (12h)
//	SESAME_ORG_MAX_DURATION       org.max_duration       longest grant allowed anywhere (12h)
//	SESAME_ALERTS_DISCOVERY_INTERVAL alerts.discovery_interval how often accounts and apps are synced (1h)
//	SESAME_ALERTS_WATCHLIST_SIGNUP_ENABLED alerts.watchlist_signup.enabled alert on watchlist app sign-ups (true)
//	SESAME_ALERTS_WATCHLIST_SIGNUP_CHANNEL alerts.watchlist_signup.channel its channel (slack.alerts_channel)
//	SESAME_ALERTS_OFFBOARDED_WITH_ACCOUNTS_ENABLED alerts.offboarded_with_accounts.enabled alert on offboarded people with accounts (true)
//	SESAME_ALERTS_OFFBOARDED_WITH_ACCOUNTS_CHANNEL alerts.offboarded_with_accounts.channel its channel (slack.alerts_channel)
//	SESAME_ALERTS_NEW_APP_DISCOVERED_ENABLED alerts.new_app_discovered.enabled alert on newly discovered apps (true)
//	SESAME_ALERTS_NEW_APP_DISCOVERED_CHANNEL alerts.new_app_discovered.channel its channel (slack.alerts_channel)
//
// The alerts.* variables act as if the file set the key: a type they name
// seeds the database at start like one the file names (see Alerts).
func EnvVars() []EnvVar {
	list := settings()
	out := make([]EnvVar, len(list))
	for i, s := range list {
		out[i] = s.EnvVar
	}
	return out
}

// setting is one scalar key: where it lives in Config and how it is read.
// Exactly one of str, dur, num and set is set. A setting with set is
// decoded from the file by its section's own decoder (alerts); the table
// only adds its variable.
type setting struct {
	EnvVar
	str func(*Config) *string
	dur func(*Config) *time.Duration
	num func(*Config) *int
	// set applies the variable's value v, or says why it cannot.
	set func(c *Config, v string) error
}

// settings returns the scalar keys, in file order.
func settings() []setting {
	s := func(key, def, desc string, secret bool, f func(*Config) *string) setting {
		return setting{EnvVar: EnvVar{Name: envName(key), Key: key, Description: desc, Default: def, Secret: secret}, str: f}
	}
	return append([]setting{
		s("server.addr", "127.0.0.1:8080", "HTTP listen address, host:port", false, func(c *Config) *string { return &c.Server.Addr }),
		s("server.base_url", "http://<server.addr>", "public URL of the dashboard and Slack endpoints", false, func(c *Config) *string { return &c.Server.BaseURL }),
		{
			EnvVar: EnvVar{Name: envName("server.list_concurrency"), Key: "server.list_concurrency", Default: "0",
				Description: "API list requests run at once, more wait their turn (0: GOMAXPROCS-1 on SQLite, 4*GOMAXPROCS on PostgreSQL)"},
			num: func(c *Config) *int { return &c.Server.ListConcurrency },
		},
		s("data_dir", "./sesame-data", "directory for Sesame's files", false, func(c *Config) *string { return &c.DataDir }),
		s("database", "sqlite://<data_dir>/sesame.db", "sqlite:// or postgres:// URL", false, func(c *Config) *string { return &c.Database }),
		s("log.level", "info", "debug, info, warn or error", false, func(c *Config) *string { return &c.Log.Level }),
		s("log.format", "auto", "auto, text or json", false, func(c *Config) *string { return &c.Log.Format }),
		s("secrets.key_file", "", "path of the encryption key file (not used yet)", false, func(c *Config) *string { return &c.Secrets.KeyFile }),
		s("slack.mode", "socket", "socket or http", false, func(c *Config) *string { return &c.Slack.Mode }),
		s("slack.bot_token", "", "Slack bot token (xoxb-...)", true, func(c *Config) *string { return &c.Slack.BotToken }),
		s("slack.app_token", "", "Slack app-level token for socket mode (xapp-...)", true, func(c *Config) *string { return &c.Slack.AppToken }),
		s("slack.signing_secret", "", "Slack signing secret for http mode", true, func(c *Config) *string { return &c.Slack.SigningSecret }),
		s("slack.api_url", "https://slack.com/api/", "Slack Web API base URL", false, func(c *Config) *string { return &c.Slack.APIURL }),
		s("slack.command", "/access", "slash command", false, func(c *Config) *string { return &c.Slack.Command }),
		s("slack.alerts_channel", "", "channel for security alerts", false, func(c *Config) *string { return &c.Slack.AlertsChannel }),
		s("web.oidc.issuer", "", "OIDC issuer URL of the dashboard's sign-in (https://slack.com for Sign in with Slack)", false, func(c *Config) *string { return &c.Web.OIDC.Issuer }),
		s("web.oidc.client_id", "", "OIDC client ID", false, func(c *Config) *string { return &c.Web.OIDC.ClientID }),
		s("web.oidc.client_secret", "", "OIDC client secret", true, func(c *Config) *string { return &c.Web.OIDC.ClientSecret }),
		s("web.oidc.scopes", "openid email profile", "OIDC scopes, space-separated", false, func(c *Config) *string { return &c.Web.OIDC.Scopes }),
		s("web.oidc.slack_team_id", "", "Slack workspace allowed to Sign in with Slack (T...)", false, func(c *Config) *string { return &c.Web.OIDC.SlackTeamID }),
		{
			EnvVar: EnvVar{Name: envName("web.session_ttl"), Key: "web.session_ttl", Default: "12h",
				Description: "how long a dashboard sign-in lasts"},
			dur: func(c *Config) *time.Duration { return &c.Web.SessionTTL },
		},
		{
			EnvVar: EnvVar{Name: envName("org.max_duration"), Key: "org.max_duration", Default: "12h",
				Description: "longest grant allowed anywhere (30m, 8h, 1d, 1w)"},
			dur: func(c *Config) *time.Duration { return &c.Org.MaxDuration },
		},
		alertsInterval(),
	}, alertTypeSettings()...)
}

// alertsInterval is alerts.discovery_interval (decoded from the file by
// Alerts' decoder, defaulted by its validation).
func alertsInterval() setting {
	return setting{
		EnvVar: EnvVar{Name: envName("alerts.discovery_interval"), Key: "alerts.discovery_interval", Default: "1h",
			Description: "how often accounts and apps are synced (5m to 1w)"},
		set: func(c *Config, v string) error {
			d, err := access.ParseDuration(v)
			if err != nil {
				return err
			}
			c.Alerts.DiscoveryInterval = d
			return nil
		},
	}
}

// alertTypeSettings are alerts.<type>.enabled and alerts.<type>.channel.
func alertTypeSettings() []setting {
	var out []setting
	for _, typ := range alertTypeNames() {
		update := func(c *Config, f func(s *AlertTypeSetting)) {
			if c.Alerts.Types == nil {
				c.Alerts.Types = map[string]AlertTypeSetting{}
			}
			s, ok := c.Alerts.Types[typ]
			if !ok {
				s = AlertTypeSetting{Enabled: true}
			}
			f(&s)
			c.Alerts.Types[typ] = s
		}
		what := strings.ReplaceAll(typ, "_", " ")
		out = append(out, setting{
			EnvVar: EnvVar{Name: envName("alerts." + typ + ".enabled"), Key: "alerts." + typ + ".enabled", Default: "true",
				Description: "whether " + what + " alerts are raised"},
			set: func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("must be true or false, not %q", v)
				}
				update(c, func(s *AlertTypeSetting) { s.Enabled = b })
				return nil
			},
		}, setting{
			EnvVar: EnvVar{Name: envName("alerts." + typ + ".channel"), Key: "alerts." + typ + ".channel", Default: "<slack.alerts_channel>",
				Description: "channel of " + what + " alerts (C0123ABCD or #name)"},
			set: func(c *Config, v string) error {
				update(c, func(s *AlertTypeSetting) { s.Channel = v })
				return nil
			},
		})
	}
	return out
}

// envName is "SESAME_" + key upper-cased, with "." written "_".
func envName(key string) string {
	return "SESAME_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv overrides settings with the non-empty variables of getenv and
// records them in the index as coming from the environment.
func applyEnv(c *Config, r *report, getenv func(string) string) {
	if getenv == nil {
		return
	}
	for _, s := range settings() {
		v := getenv(s.Name)
		if v == "" {
			continue
		}
		at := pos{file: "$" + s.Name}
		r.index[s.Key] = at
		switch {
		case s.str != nil:
			*s.str(c) = v
			continue
		case s.num != nil:
			n, err := strconv.Atoi(v)
			if err != nil {
				r.atf(at, s.Key, "must be a whole number, not %q", v)
				r.unreadable[s.Key] = true
				continue
			}
			*s.num(c) = n
			continue
		case s.set != nil:
			if err := s.set(c, v); err != nil {
				r.atf(at, s.Key, "%v", err)
				r.unreadable[s.Key] = true
			}
			continue
		}
		d, err := access.ParseDuration(v)
		if err != nil {
			r.atf(at, s.Key, "%v", err)
			r.unreadable[s.Key] = true
			continue
		}
		*s.dur(c) = d
	}
}

// applyDefaults fills unset settings, then the derived ones (BaseURL,
// Database) and normalises URLs.
func applyDefaults(c *Config) {
	for _, s := range settings() {
		if s.num != nil || s.set != nil {
			continue // 0 is the default; alerts default in validateAlerts
		}
		if s.dur != nil {
			if *s.dur(c) == 0 {
				d, err := access.ParseDuration(s.Default)
				if err != nil {
					panic("config: bad default for " + s.Key) // a bug in the table above
				}
				*s.dur(c) = d
			}
			continue
		}
		if p := s.str(c); *p == "" && !strings.Contains(s.Default, "<") {
			*p = s.Default
		}
	}
	if c.Server.BaseURL == "" {
		c.Server.BaseURL = "http://" + publicHost(c.Server.Addr)
	}
	c.Server.BaseURL = strings.TrimRight(c.Server.BaseURL, "/")
	if c.Database == "" {
		c.Database = sqliteScheme + strings.TrimRight(c.DataDir, "/") + "/sesame.db"
	}
	if !strings.HasSuffix(c.Slack.APIURL, "/") {
		c.Slack.APIURL += "/"
	}
}

// publicHost turns a listen address into one a browser can reach:
// ":8080" and "0.0.0.0:8080" become "localhost:8080".
func publicHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
