package postgresql

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Modes of the connector (setting "mode").
const (
	// ModeRole grants an existing login membership in a role.
	ModeRole = "role"
	// ModeEphemeral creates a login per grant and drops it on revoke.
	ModeEphemeral = "ephemeral"
)

// Setting defaults.
const (
	DefaultLoginTemplate     = "{local}"
	DefaultLoginPrefix       = "sesame_"
	DefaultEphemeralTemplate = "{prefix}{local}_{grant}"
)

// maxIdentifier is PostgreSQL's identifier limit (NAMEDATALEN-1 bytes);
// longer names are truncated by the server, so they are refused here.
const maxIdentifier = 63

// maxEphemeralLocal bounds {local} in ephemeral logins so that long
// email addresses still give a login within maxIdentifier.
const maxEphemeralLocal = 32

// knownSettings lists the settings keys, for the unknown-key error.
func knownSettings() []string {
	return []string{
		"url", "password", "mode", "login_template", "login_prefix", "ephemeral_role_template",
		"connection_limit", "reassign_owned_to", "host_hint", "roles", "terminate_sessions",
	}
}

// config is the validated form of the settings.
type config struct {
	conn              *pgx.ConnConfig
	mode              string
	loginTemplate     string
	loginPrefix       string
	ephemeralTemplate string
	connLimit         int // -1: no limit
	reassignTo        string
	hostHint          string
	roles             []string
	terminateSessions bool
}

var placeholderRE = regexp.MustCompile(`\{[a-z]*\}`)

var prefixRE = regexp.MustCompile(`^[a-z0-9_]{0,24}$`)

// parseSettings validates settings without connecting anywhere. Errors
// name the setting and never contain the password of url.
func parseSettings(settings map[string]string) (*config, error) {
	for k := range settings {
		if known := knownSettings(); !slices.Contains(known, k) {
			return nil, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	cfg := &config{
		mode:              cmp.Or(settings["mode"], ModeRole),
		loginTemplate:     cmp.Or(settings["login_template"], DefaultLoginTemplate),
		loginPrefix:       DefaultLoginPrefix,
		ephemeralTemplate: cmp.Or(settings["ephemeral_role_template"], DefaultEphemeralTemplate),
		connLimit:         -1,
		reassignTo:        settings["reassign_owned_to"],
		hostHint:          settings["host_hint"],
		terminateSessions: true,
	}

	raw := strings.TrimSpace(settings["url"])
	if raw == "" {
		return nil, errors.New("setting url is required (postgres://user@host:5432/db)")
	}
	conn, err := pgx.ParseConfig(raw)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("setting url: %w", err)
	}
	if v := settings["password"]; v != "" {
		conn.Password = v
	}
	conn.RuntimeParams["application_name"] = cmp.Or(conn.RuntimeParams["application_name"], "sesame")
	cfg.conn = conn
	if cfg.hostHint == "" {
		cfg.hostHint = conn.Host
	}

	switch cfg.mode {
	case ModeRole, ModeEphemeral:
	default:
		return nil, fmt.Errorf("setting mode: %q must be %q or %q", cfg.mode, ModeRole, ModeEphemeral)
	}
	if err := checkTemplate(cfg.loginTemplate, "local", "email"); err != nil {
		return nil, fmt.Errorf("setting login_template: %w", err)
	}
	if v, ok := settings["login_prefix"]; ok {
		if !prefixRE.MatchString(v) {
			return nil, fmt.Errorf("setting login_prefix: %q must match %s", v, prefixRE)
		}
		cfg.loginPrefix = v
	}
	if err := checkTemplate(cfg.ephemeralTemplate, "prefix", "local", "email", "grant"); err != nil {
		return nil, fmt.Errorf("setting ephemeral_role_template: %w", err)
	}
	if !strings.Contains(cfg.ephemeralTemplate, "{grant}") {
		// Without it two grants of one person share a login, and revoking
		// one would end the other.
		return nil, fmt.Errorf("setting ephemeral_role_template: %q must contain {grant}", cfg.ephemeralTemplate)
	}
	if v := settings["connection_limit"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("setting connection_limit: %q must be a positive integer", v)
		}
		cfg.connLimit = n
	}
	if cfg.reassignTo != "" {
		if err := checkIdentifier(cfg.reassignTo); err != nil {
			return nil, fmt.Errorf("setting reassign_owned_to: %w", err)
		}
	}
	if v := settings["roles"]; strings.TrimSpace(v) != "" {
		for r := range strings.SplitSeq(v, ",") {
			r = strings.TrimSpace(r)
			if err := checkIdentifier(r); err != nil {
				return nil, fmt.Errorf("setting roles: %w", err)
			}
			if !slices.Contains(cfg.roles, r) {
				cfg.roles = append(cfg.roles, r)
			}
		}
	}
	if v, ok := settings["terminate_sessions"]; ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("setting terminate_sessions: %q must be true or false", v)
		}
		cfg.terminateSessions = b
	}
	return cfg, nil
}

// checkTemplate reports an error if tmpl is empty, uses a placeholder not
// in allowed, or has a stray brace.
func checkTemplate(tmpl string, allowed ...string) error {
	if tmpl == "" {
		return errors.New("empty template")
	}
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

// checkIdentifier reports whether s can name a role: 1 to 63 bytes of
// valid UTF-8 without NUL. Identifiers are always quoted, so any other
// character is safe.
func checkIdentifier(s string) error {
	switch {
	case s == "":
		return errors.New("empty role name")
	case len(s) > maxIdentifier:
		return fmt.Errorf("role name %q is longer than %d bytes", s, maxIdentifier)
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return fmt.Errorf("role name %q is not valid", s)
	}
	return nil
}

// localPart returns the part of email before the last @, lowercased, with
// every character outside [a-z0-9_] replaced by _.
func localPart(email string) string {
	local := email
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		local = email[:i]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '_'
	}, local)
}
