package mysql

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/connector"
)

// login returns the account name t is about: in role mode the person's
// existing login (login_template), in ephemeral mode
// login_prefix + {local} + "_" + 8 hex characters of the SHA-256 of the
// grant id, with {local} cut so the whole fits 32 characters. Errors are
// permanent.
func (c *Connector) login(t connector.Target) (string, error) {
	local := localPart(t.Email)
	if t.Email == "" || strings.Trim(local, "_") == "" {
		return "", connector.Permanent(fmt.Errorf("target has no usable email (%q)", t.Email))
	}
	if c.cfg.mode == ModeRole {
		name := strings.NewReplacer("{local}", local, "{email}", strings.ToLower(t.Email)).Replace(c.cfg.loginTemplate)
		if !loginRE.MatchString(name) {
			return "", connector.Permanent(fmt.Errorf("login %q for %s must match %s", name, t.Email, loginRE))
		}
		return name, nil
	}
	if t.GrantID == "" {
		return "", connector.Permanent(errors.New("ephemeral mode needs the grant id"))
	}
	sum := sha256.Sum256([]byte(t.GrantID))
	room := 32 - len(c.cfg.loginPrefix) - ephemeralSuffixLen
	name := c.cfg.loginPrefix + local[:min(len(local), room)] + "_" + hex.EncodeToString(sum[:4])
	if !ephemeralRE.MatchString(name) {
		return "", connector.Permanent(fmt.Errorf("login %q must match %s", name, ephemeralRE))
	}
	return name, nil
}

// role returns the entitlement's role, checked against the name rules.
// Revoke uses it as is, so that access to a role taken out of the roles
// setting can still be revoked. Errors are permanent.
func (c *Connector) role(t connector.Target) (string, error) {
	r := t.EntitlementKey
	if err := checkRole(r); err != nil {
		return "", connector.Permanent(fmt.Errorf("entitlement: %w", err))
	}
	return r, nil
}

// grantableRole is role, also checked against the roles setting.
func (c *Connector) grantableRole(t connector.Target) (string, error) {
	r, err := c.role(t)
	if err != nil {
		return "", err
	}
	if len(c.cfg.roles) > 0 && !slices.Contains(c.cfg.roles, r) {
		return "", connector.Permanent(fmt.Errorf("role %q is not in the roles setting", r))
	}
	return r, nil
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

// account quotes user@host as 'user'@'host'. Both parts are checked
// against loginRE/hostRE first; the escaping is a second line of defence.
func account(user, host string) string { return quote(user) + "@" + quote(host) }

// quote makes s a string literal, escaping backslashes and quotes.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdent makes s a backquoted identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
