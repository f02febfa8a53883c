package mysql

import (
	"cmp"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"
)

// Modes of the connector (setting "mode").
const (
	// ModeRole grants an existing account a role.
	ModeRole = "role"
	// ModeEphemeral creates an account per grant and drops it on revoke.
	ModeEphemeral = "ephemeral"
)

// Setting defaults.
const (
	DefaultLoginTemplate = "{local}"
	DefaultLoginPrefix   = "sesame_"
	DefaultHost          = "%"
)

// Name rules. Every name is checked against these before it goes into a
// statement, which rules out injection whatever the quoting.
var (
	// roleRE is a role (an entitlement key): MySQL's 32-character limit.
	roleRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
	// ephemeralRE is a login made by ephemeral mode.
	ephemeralRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
	// loginRE is a person's existing login: email-like characters are
	// allowed so that login_template {email} works; the server enforces
	// its own length limit (32 on MySQL, 128 on MariaDB).
	loginRE = regexp.MustCompile(`^[A-Za-z0-9_.@+-]{1,128}$`)
	// hostRE is the host part of accounts: names, addresses, netmasks and
	// the % and _ wildcards.
	hostRE   = regexp.MustCompile(`^[A-Za-z0-9_.%:/-]{1,255}$`)
	prefixRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,16}$`)
	// placeholderRE finds {name} in templates.
	placeholderRE = regexp.MustCompile(`\{[a-z]*\}`)
)

// ephemeralSuffixLen is "_" and 8 hex characters of the grant id's hash.
const ephemeralSuffixLen = 9

// knownSettings lists the settings keys, for the unknown-key error.
func knownSettings() []string {
	return []string{"dsn", "password", "mode", "login_template", "host", "login_prefix", "roles", "host_hint", "terminate_sessions"}
}

// config is the validated form of the settings.
type config struct {
	connector         driver.Connector
	user              string
	addr              string
	dbName            string
	mode              string
	loginTemplate     string
	host              string
	loginPrefix       string
	roles             []string
	hostHint          string
	port              string
	terminateSessions bool
}

// parseSettings validates settings without connecting anywhere. Errors
// name the setting and never contain the DSN's password.
func parseSettings(settings map[string]string) (*config, error) {
	for k := range settings {
		if known := knownSettings(); !slices.Contains(known, k) {
			return nil, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	cfg := &config{
		mode:              cmp.Or(settings["mode"], ModeRole),
		loginTemplate:     cmp.Or(settings["login_template"], DefaultLoginTemplate),
		host:              cmp.Or(settings["host"], DefaultHost),
		loginPrefix:       DefaultLoginPrefix,
		terminateSessions: true,
	}
	raw := strings.TrimSpace(settings["dsn"])
	if raw == "" {
		return nil, errors.New("setting dsn is required (user:password@tcp(host:3306)/)")
	}
	dsn, err := gomysql.ParseDSN(raw)
	if err != nil {
		// The driver's DSN errors do not quote the DSN.
		return nil, fmt.Errorf("setting dsn: %w", err)
	}
	if v := settings["password"]; v != "" {
		dsn.Passwd = v
	}
	// Names are validated, but one statement per call is the rule anyway.
	dsn.MultiStatements = false
	cfg.connector, err = gomysql.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("setting dsn: %w", err)
	}
	cfg.user, cfg.addr, cfg.dbName = dsn.User, dsn.Addr, dsn.DBName
	cfg.hostHint, cfg.port = dsn.Addr, ""
	if h, p, err := net.SplitHostPort(dsn.Addr); err == nil {
		cfg.hostHint, cfg.port = h, p
	}
	if v := settings["host_hint"]; v != "" {
		cfg.hostHint = v
	}

	switch cfg.mode {
	case ModeRole, ModeEphemeral:
	default:
		return nil, fmt.Errorf("setting mode: %q must be %q or %q", cfg.mode, ModeRole, ModeEphemeral)
	}
	if err := checkTemplate(cfg.loginTemplate, "local", "email"); err != nil {
		return nil, fmt.Errorf("setting login_template: %w", err)
	}
	if !hostRE.MatchString(cfg.host) {
		return nil, fmt.Errorf("setting host: %q must match %s", cfg.host, hostRE)
	}
	if v, ok := settings["login_prefix"]; ok {
		// Required: the prefix keeps ephemeral logins apart from people's.
		if !prefixRE.MatchString(v) {
			return nil, fmt.Errorf("setting login_prefix: %q must match %s", v, prefixRE)
		}
		cfg.loginPrefix = v
	}
	if v := settings["roles"]; strings.TrimSpace(v) != "" {
		for r := range strings.SplitSeq(v, ",") {
			r = strings.TrimSpace(r)
			if err := checkRole(r); err != nil {
				return nil, fmt.Errorf("setting roles: %w", err)
			}
			if !slices.Contains(cfg.roles, r) {
				cfg.roles = append(cfg.roles, r)
			}
		}
	}
	if v := settings["terminate_sessions"]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("setting terminate_sessions: %q must be true or false", v)
		}
		cfg.terminateSessions = b
	}
	return cfg, nil
}

// checkTemplate reports an error if tmpl uses a placeholder not in
// allowed or has a stray brace.
func checkTemplate(tmpl string, allowed ...string) error {
	for _, p := range placeholderRE.FindAllString(tmpl, -1) {
		if !slices.Contains(allowed, strings.Trim(p, "{}")) {
			return fmt.Errorf("unknown placeholder %s in %q (known: {%s})", p, tmpl, strings.Join(allowed, "}, {"))
		}
	}
	if rest := placeholderRE.ReplaceAllString(tmpl, ""); strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("stray brace in %q", tmpl)
	}
	return nil
}

// checkRole reports whether r can name a role.
func checkRole(r string) error {
	if !roleRE.MatchString(r) {
		return fmt.Errorf("role name %q must match %s", r, roleRE)
	}
	if strings.EqualFold(r, "none") || strings.EqualFold(r, "public") {
		return fmt.Errorf("role name %q is reserved", r)
	}
	return nil
}
