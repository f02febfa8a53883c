package config

import (
	"errors"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

var (
	slugRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	keyRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,62}$`)
	slackUserRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,31}$`)
)

// maxCommandLen is Slack's limit on a slash command, "/" included.
const maxCommandLen = 32

// validate normalises c (lowercase emails, default names) and records
// every problem in r.
func validate(c *Config, r *report, o LoadOptions) {
	normalize(c)
	validateSettings(c, r)
	users := validateUsers(c, r)
	validateCatalog(c, r, o, users)
	validatePolicies(c, r, users)
	validateIntegrations(c, r)
	validateAlerts(c, r)
}

func normalize(c *Config) {
	email := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	emails := func(list []string) {
		for i := range list {
			list[i] = email(list[i])
		}
	}
	for i := range c.Users {
		c.Users[i].Email = email(c.Users[i].Email)
		c.Users[i].Manager = email(c.Users[i].Manager)
	}
	for i := range c.Catalog.Apps {
		a := &c.Catalog.Apps[i]
		a.Name = cmpOr(a.Name, a.ID)
		emails(a.Owners)
		for j := range a.Entitlements {
			e := &a.Entitlements[j]
			e.Name = cmpOr(e.Name, e.Key)
			emails(e.Owners)
		}
	}
	for i := range c.Policies {
		for j := range c.Policies[i].Steps {
			emails(c.Policies[i].Steps[j].Approvers.Users)
			emails(c.Policies[i].Steps[j].EscalateTo.Users)
		}
	}
	for i := range c.OnCall {
		emails(c.OnCall[i].Members)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func validateSettings(c *Config, r *report) {
	if c.Server.ListConcurrency < 0 || c.Server.ListConcurrency > MaxListConcurrency {
		r.addf("server.list_concurrency", "must be 0 (the default for the database) to %d, not %d", MaxListConcurrency, c.Server.ListConcurrency)
	}
	if host, port, err := net.SplitHostPort(c.Server.Addr); err != nil || !validPort(port) || strings.ContainsAny(host, " /") {
		r.addf("server.addr", "%q is not host:port (examples: 127.0.0.1:8080, :8080)", c.Server.Addr)
	}
	if !httpURL(c.Server.BaseURL) {
		r.addf("server.base_url", "must be an absolute http:// or https:// URL, like https://sesame.example.com")
	}
	if c.DataDir == "" || strings.ContainsAny(c.DataDir, "\x00\n") {
		r.addf("data_dir", "must be a directory path")
	}
	validateDatabase(c.Database, r)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		r.addf("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if !slices.Contains([]string{"auto", "text", "json"}, c.Log.Format) {
		r.addf("log.format", "%q is not auto, text or json", c.Log.Format)
	}
	if strings.ContainsAny(c.Secrets.KeyFile, "\x00\n\r") {
		r.addf("secrets.key_file", "must be a file path")
	}
	validateSlack(c.Slack, r)
	validateWeb(c, r)
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// validateDatabase never quotes the URL: it may hold a password.
func validateDatabase(db string, r *report) {
	scheme, rest, ok := strings.Cut(db, "://")
	switch {
	case !ok:
		r.addf("database", "must be a URL starting with sqlite:// or postgres://")
	case scheme == "sqlite":
		if rest == "" || strings.ContainsAny(rest, "\x00\n") {
			r.addf("database", "sqlite:// needs a file path, like sqlite:///var/lib/sesame/sesame.db")
		}
	case scheme == "postgres" || scheme == "postgresql":
		if _, err := url.Parse(db); err != nil {
			r.addf("database", "is not a valid postgres:// URL (check that special characters in the password are %%-encoded)")
		}
	default:
		r.addf("database", "unsupported scheme %q: use sqlite:// or postgres://", scheme)
	}
}

func validateSlack(s Slack, r *report) {
	if s.Mode != "socket" && s.Mode != "http" {
		r.addf("slack.mode", "%q is not socket or http", s.Mode)
	}
	switch {
	case !strings.HasPrefix(s.Command, "/"):
		r.addf("slack.command", "%q must start with /", s.Command)
	case len(s.Command) > maxCommandLen:
		r.addf("slack.command", "%q is longer than %d characters", s.Command, maxCommandLen)
	case len(s.Command) == 1 || strings.ContainsAny(s.Command, " \t\n"):
		r.addf("slack.command", "%q must be / and a name without spaces, like /access", s.Command)
	}
	if !httpURL(s.APIURL) {
		r.addf("slack.api_url", "must be an absolute http:// or https:// URL, like https://slack.com/api/")
	}
	switch {
	case s.BotToken == "" && (s.AppToken != "" || s.SigningSecret != ""):
		r.addf("slack.bot_token", "is required when slack.app_token or slack.signing_secret is set (or set SESAME_SLACK_BOT_TOKEN)")
	case s.BotToken != "" && s.Mode == "socket" && s.AppToken == "":
		r.addf("slack.app_token", "is required in socket mode (or set SESAME_SLACK_APP_TOKEN, or use mode: http)")
	case s.BotToken != "" && s.Mode == "http" && s.SigningSecret == "":
		r.addf("slack.signing_secret", "is required in http mode (or set SESAME_SLACK_SIGNING_SECRET)")
	}
}

// userSet knows the configured users' emails.
type userSet map[string]bool

// check records a problem unless email is a configured user.
func (u userSet) check(r *report, path, email string) {
	switch {
	case email == "":
		r.addf(path, "must be the email of a configured user")
	case u[email]:
	case len(u) == 0:
		r.addf(path, "%q is not a configured user: this configuration lists no users; add them under users:", email)
	default:
		r.addf(path, "%q is not a configured user (add them under users:)", email)
	}
}

func validateUsers(c *Config, r *report) userSet {
	users := userSet{}
	first := map[string]string{} // email or slack id -> path
	for i, u := range c.Users {
		p := index("users", i)
		switch {
		case u.Email == "":
			r.addf(p+".email", "is required")
		case !validEmail(u.Email):
			r.addf(p+".email", "%q is not an email address", u.Email)
		case first[u.Email] != "":
			r.addf(p+".email", "%q is configured twice (first at line %d)", u.Email, r.lineOf(first[u.Email]))
		default:
			first[u.Email] = p + ".email"
			users[u.Email] = true
		}
		if u.SlackUserID != "" {
			key := "slack:" + u.SlackUserID
			switch {
			case !slackUserRE.MatchString(u.SlackUserID):
				r.addf(p+".slack_user_id", "%q is not a Slack user ID (like U012AB3CD)", u.SlackUserID)
			case first[key] != "":
				r.addf(p+".slack_user_id", "%q is used twice (first at line %d)", u.SlackUserID, r.lineOf(first[key]))
			default:
				first[key] = p + ".slack_user_id"
			}
		}
		for j, g := range u.Groups {
			if strings.TrimSpace(g) == "" {
				r.addf(index(p+".groups", j), "must not be empty")
			}
		}
		for j, role := range u.Roles {
			if role != access.RoleAdmin && role != access.RoleAuditor {
				r.addf(index(p+".roles", j), "unknown role %q (known: admin, auditor)", role)
			}
		}
	}
	for i, u := range c.Users {
		p := index("users", i) + ".manager"
		switch u.Manager {
		case "":
		case u.Email:
			r.addf(p, "a user cannot be their own manager")
		default:
			users.check(r, p, u.Manager)
		}
	}
	return users
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// ownerList checks a list of owner emails.
func ownerList(r *report, users userSet, path string, owners []string) {
	seen := map[string]bool{}
	for i, o := range owners {
		p := index(path, i)
		if seen[o] {
			r.addf(p, "%q is listed twice", o)
			continue
		}
		seen[o] = true
		users.check(r, p, o)
	}
}

// durationCheck records a problem when d is above the org maximum (unless
// the maximum itself was unreadable: the default would mislead).
func durationCheck(c *Config, r *report, path string, d time.Duration) {
	if d > c.Org.MaxDuration && !r.unreadable["org.max_duration"] {
		r.addf(path, "%s is longer than org.max_duration (%s); lower it or raise org.max_duration",
			access.FormatDuration(d), access.FormatDuration(c.Org.MaxDuration))
	}
}

// policyProblems maps policy.Validate's problems ("policies[i].path" or
// "oncall[i].path") to problems at those paths; a CEL condition's problem
// is reported on the line of its key, with the position within the
// expression in the message.
func policyProblems(r *report, err error) {
	ve, ok := errors.AsType[*policy.ValidationError](err)
	if !ok {
		r.addf("policies", "%s", err.Error())
		return
	}
	for _, p := range ve.Problems {
		path := p.Path
		if !strings.HasPrefix(path, "policies") && !strings.HasPrefix(path, "oncall") && !strings.HasPrefix(path, "org.") {
			path = "policies"
		}
		r.addf(path, "%s", p.Message)
	}
}

func validatePolicies(c *Config, r *report, users userSet) {
	for i, rot := range c.OnCall {
		for j, m := range rot.Members {
			if m != "" {
				users.check(r, index(index("oncall", i)+".members", j), m)
			}
		}
	}
	if err := policy.Validate(c.Policies, c.PolicyOptions()...); err != nil {
		policyProblems(r, err)
	}
	apps := map[string]bool{}
	ents := map[string]bool{}
	for _, a := range c.Catalog.Apps {
		apps[a.ID] = true
		for _, e := range a.Entitlements {
			ents[access.EntitlementID(a.ID, e.Key)] = true
		}
	}
	for i, p := range c.Policies {
		pp := index("policies", i)
		for j, a := range p.Match.Apps {
			if !apps[a] {
				r.addf(index(pp+".match.apps", j), "%q is not a configured app", a)
			}
		}
		for j, e := range p.Match.Entitlements {
			if !ents[e] {
				r.addf(index(pp+".match.entitlements", j), "%q is not a configured entitlement (write app:key, like github:admin)", e)
			}
		}
		for j, s := range p.Steps {
			ownerList(r, users, index(pp+".steps", j)+".approvers.users", s.Approvers.Users)
			ownerList(r, users, index(pp+".steps", j)+".escalate_to.users", s.EscalateTo.Users)
		}
		durationCheck(c, r, pp+".max_duration", p.MaxDuration)
		durationCheck(c, r, pp+".default_duration", p.DefaultDuration)
	}
}
