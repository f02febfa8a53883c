package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Web configures the dashboard. Without OIDC.Issuer the dashboard only
// accepts one-time login links (sesame admin bootstrap).
type Web struct {
	OIDC WebOIDC
	// SessionTTL is how long a dashboard sign-in lasts. Default 12h,
	// between 5m and 30d.
	SessionTTL time.Duration
}

// WebOIDC is the OpenID Connect provider people sign in with (Okta, Entra,
// Google, Keycloak, or "Sign in with Slack" with issuer
// https://slack.com).
type WebOIDC struct {
	// Issuer is the provider's issuer URL; "" turns OIDC sign-in off.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes are space- or comma-separated. Default "openid email profile".
	Scopes string
	// SlackTeamID restricts "Sign in with Slack" to one workspace: the ID
	// token's https://slack.com/team_id claim must equal it. Required when
	// Issuer is https://slack.com.
	SlackTeamID string
}

// Enabled reports whether OIDC sign-in is configured.
func (o WebOIDC) Enabled() bool { return o.Issuer != "" }

// ScopeList returns Scopes split, with "openid" first.
func (o WebOIDC) ScopeList() []string {
	out := []string{"openid"}
	for _, s := range strings.FieldsFunc(o.Scopes, func(r rune) bool { return r == ' ' || r == ',' }) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// String describes o with the client secret hidden.
func (o WebOIDC) String() string {
	return "{issuer=" + o.Issuer + " client_id=" + o.ClientID + " client_secret=" + redact(o.ClientSecret) +
		" scopes=" + o.Scopes + " slack_team_id=" + o.SlackTeamID + "}"
}

// GoString is String, so that %#v hides the secret too.
func (o WebOIDC) GoString() string { return o.String() }

// SlackIssuer is the issuer of "Sign in with Slack".
const SlackIssuer = "https://slack.com"

var slackTeamRE = regexp.MustCompile(`^[TE][A-Z0-9]{2,31}$`)

func validateWeb(c *Config, r *report) {
	w := c.Web
	if w.SessionTTL < 5*time.Minute || w.SessionTTL > 30*24*time.Hour {
		r.addf("web.session_ttl", "must be between 5m and 30d")
	}
	o := w.OIDC
	if !o.Enabled() {
		if o.ClientID != "" || o.ClientSecret != "" || o.SlackTeamID != "" {
			r.addf("web.oidc.issuer", "is required when web.oidc.client_id, client_secret or slack_team_id is set (or set SESAME_WEB_OIDC_ISSUER)")
		}
		return
	}
	u, err := url.Parse(o.Issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		r.addf("web.oidc.issuer", "must be the provider's issuer URL, like https://example.okta.com")
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		r.addf("web.oidc.issuer", "must use https (http only for localhost)")
	}
	if o.ClientID == "" {
		r.addf("web.oidc.client_id", "is required with web.oidc.issuer")
	}
	if o.ClientSecret == "" {
		r.addf("web.oidc.client_secret", "is required with web.oidc.issuer (or set SESAME_WEB_OIDC_CLIENT_SECRET)")
	}
	if !slices.Contains(o.ScopeList(), "email") {
		r.addf("web.oidc.scopes", "must include email: people are matched by their verified email")
	}
	switch {
	case strings.TrimRight(o.Issuer, "/") == SlackIssuer && o.SlackTeamID == "":
		r.addf("web.oidc.slack_team_id", "is required for Sign in with Slack: only people of that workspace may sign in")
	case o.SlackTeamID != "" && !slackTeamRE.MatchString(o.SlackTeamID):
		r.addf("web.oidc.slack_team_id", "%q is not a Slack team ID (like T012AB3CD)", o.SlackTeamID)
	}
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

type printedWeb struct {
	OIDC       printedWebOIDC `yaml:"oidc" json:"oidc"`
	SessionTTL string         `yaml:"session_ttl" json:"session_ttl"`
}

type printedWebOIDC struct {
	Issuer       string `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	ClientID     string `yaml:"client_id,omitempty" json:"client_id,omitempty"`
	ClientSecret string `yaml:"client_secret,omitempty" json:"client_secret,omitempty"`
	Scopes       string `yaml:"scopes" json:"scopes"`
	SlackTeamID  string `yaml:"slack_team_id,omitempty" json:"slack_team_id,omitempty"`
}

func (c *Config) printedWeb() printedWeb {
	o := c.Web.OIDC
	return printedWeb{SessionTTL: dur(c.Web.SessionTTL), OIDC: printedWebOIDC{Issuer: o.Issuer, ClientID: o.ClientID,
		ClientSecret: redact(o.ClientSecret), Scopes: o.Scopes, SlackTeamID: o.SlackTeamID}}
}

// DefaultBaseURL is the server.base_url derived from a listen address
// when none is set ("http://localhost:8080" for ":8080").
func DefaultBaseURL(addr string) string { return "http://" + publicHost(addr) }
