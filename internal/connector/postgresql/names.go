package postgresql

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-access/sesame/internal/connector"
)

// login returns the role t is about: in role mode the person's existing
// login (login_template), in ephemeral mode the login made for the grant
// (ephemeral_role_template). Errors are permanent.
func (c *Connector) login(t connector.Target) (string, error) {
	local := localPart(t.Email)
	if t.Email == "" || strings.Trim(local, "_") == "" {
		return "", connector.Permanent(fmt.Errorf("target has no usable email (%q)", t.Email))
	}
	var name string
	if c.cfg.mode == ModeRole {
		name = strings.NewReplacer(
			"{local}", local,
			"{email}", strings.ToLower(t.Email),
		).Replace(c.cfg.loginTemplate)
	} else {
		if t.GrantID == "" {
			return "", connector.Permanent(errors.New("ephemeral mode needs the grant id"))
		}
		name = strings.NewReplacer(
			"{prefix}", c.cfg.loginPrefix,
			"{local}", truncate(local, maxEphemeralLocal),
			"{email}", strings.ToLower(t.Email),
			"{grant}", grantSuffix(t.GrantID),
		).Replace(c.cfg.ephemeralTemplate)
	}
	if err := checkIdentifier(name); err != nil {
		return "", connector.Permanent(fmt.Errorf("login for %s: %w", t.Email, err))
	}
	return name, nil
}

// role returns the entitlement's role, checked against the name rules.
// Revoke uses it as is, so that access to a role taken out of the roles
// setting can still be revoked. Errors are permanent.
func (c *Connector) role(t connector.Target) (string, error) {
	r := t.EntitlementKey
	if err := checkIdentifier(r); err != nil {
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

// grantSuffix is 8 hex characters of the SHA-256 of the grant id: the same
// for every call about one grant, and safe in an identifier whatever the
// id looks like.
func grantSuffix(grantID string) string {
	sum := sha256.Sum256([]byte(grantID))
	return hex.EncodeToString(sum[:4])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ident quotes a role or database name.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// quoteLiteral quotes s as an SQL string literal the way libpq's
// PQescapeLiteral does: quotes doubled, and backslashes doubled in an E”
// literal so the result is right whatever standard_conforming_strings says.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return ` E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}
	return "'" + s + "'"
}
