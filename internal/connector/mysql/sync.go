package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/connector"
)

// systemAccounts are the servers' own accounts, left out of ListAccounts.
const systemAccounts = "'', 'mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema'"

// ListAccounts implements connector.AccountLister: every account but the
// servers' own (and, on MariaDB, but roles). ExternalID is the user name
// when the host part is the host setting, else user@host. Email is set
// when login_template is {email}.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	var out []connector.Account
	err := c.withConn(ctx, func(s *session) error {
		q := "SELECT User, Host FROM mysql.user WHERE User NOT IN (" + systemAccounts + ")"
		if s.mariadb {
			q += " AND is_role = 'N'"
		}
		rows, err := s.conn.QueryContext(ctx, q+" ORDER BY User, Host")
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r *sql.Rows) (connector.Account, error) {
			var user, host string
			err := r.Scan(&user, &host)
			id := c.accountID(user, host)
			return connector.Account{ExternalID: id, Name: id, Email: c.emailOf(user)}, err
		})
		return err
	})
	return out, wrap(err, "list accounts")
}

// ListEntitlements implements connector.EntitlementLister: the roles of
// the roles setting that exist, or else every role (MariaDB: is_role;
// MySQL: locked accounts on host % without a password, which is what
// CREATE ROLE makes).
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	var out []connector.Entitlement
	err := c.withConn(ctx, func(s *session) error {
		q := "SELECT DISTINCT User FROM mysql.user WHERE Host = '%' AND account_locked = 'Y' AND authentication_string = '' ORDER BY User"
		if s.mariadb {
			q = "SELECT User FROM mysql.user WHERE is_role = 'Y' ORDER BY User"
		}
		rows, err := s.conn.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		roles, err := collect(rows, scanOne[string])
		if err != nil {
			return err
		}
		for _, r := range roles {
			if len(c.cfg.roles) == 0 || slices.Contains(c.cfg.roles, r) {
				out = append(out, connector.Entitlement{Key: r, Name: r})
			}
		}
		return nil
	})
	return out, wrap(err, "list entitlements")
}

// ListGrants implements connector.GrantLister: every direct grant of the
// roles (of the roles setting, when set) to an account or another role.
// Account is named as in ListAccounts (a role as its name). MariaDB
// grants a role WITH ADMIN OPTION to the account that created it, and
// those grants are listed too.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	var out []connector.GrantRecord
	err := c.withConn(ctx, func(s *session) error {
		q := "SELECT TO_USER, TO_HOST, FROM_USER FROM mysql.role_edges WHERE FROM_HOST = '%' ORDER BY 3, 1, 2"
		if s.mariadb {
			q = "SELECT User, Host, Role FROM mysql.roles_mapping ORDER BY 3, 1, 2"
		}
		rows, err := s.conn.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		all, err := collect(rows, func(r *sql.Rows) (connector.GrantRecord, error) {
			var user, host, role string
			err := r.Scan(&user, &host, &role)
			return connector.GrantRecord{Account: c.accountID(user, host), AccountEmail: c.emailOf(user), EntitlementKey: role}, err
		})
		if err != nil {
			return err
		}
		for _, g := range all {
			if len(c.cfg.roles) == 0 || slices.Contains(c.cfg.roles, g.EntitlementKey) {
				out = append(out, g)
			}
		}
		return nil
	})
	return out, wrap(err, "list grants")
}

// accountID names an account: the user name when its host part is the
// host setting (or empty, as for a role), else user@host.
func (c *Connector) accountID(user, host string) string {
	if host == c.cfg.host || host == "" {
		return user
	}
	return user + "@" + host
}

// emailOf returns user when logins are email addresses, else "".
func (c *Connector) emailOf(user string) string {
	if c.cfg.mode == ModeRole && c.cfg.loginTemplate == "{email}" && strings.Contains(user, "@") {
		return user
	}
	return ""
}

// HealthCheck implements connector.HealthChecker: the server answers, the
// admin can read mysql.user, every role of the roles setting exists, and
// in ephemeral mode the admin has CREATE USER. A missing privilege or role
// is a permanent error.
func (c *Connector) HealthCheck(ctx context.Context) error {
	err := c.withConn(ctx, func(s *session) error {
		var n int
		if err := s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user").Scan(&n); err != nil {
			return fmt.Errorf("read mysql.user: %w", err)
		}
		var missing []string
		for _, r := range c.cfg.roles {
			ok, err := s.roleExists(ctx, r)
			if err != nil {
				return err
			}
			if !ok {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			return connector.Permanent(errors.New("roles setting names roles that do not exist: " + strings.Join(missing, ", ")))
		}
		if c.cfg.mode != ModeEphemeral {
			return nil
		}
		var current string
		if err := s.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&current); err != nil {
			return err
		}
		i := strings.LastIndexByte(current, '@')
		if i < 0 {
			return fmt.Errorf("unexpected CURRENT_USER() %q", current)
		}
		user, host := current[:i], current[i+1:]
		if err := s.conn.QueryRowContext(ctx,
			"SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? AND PRIVILEGE_TYPE = 'CREATE USER'",
			account(user, host)).Scan(&n); err != nil {
			return fmt.Errorf("read privileges: %w", err)
		}
		if n == 0 {
			return connector.Permanent(fmt.Errorf("admin %s lacks CREATE USER", current))
		}
		return nil
	})
	return wrap(err, "health check")
}
