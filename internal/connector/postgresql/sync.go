package postgresql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-access/sesame/internal/connector"
)

// ListAccounts implements connector.AccountLister: every LOGIN role but
// PostgreSQL's own pg_* roles, ephemeral logins included. Email is set
// when login_template is {email}.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	var out []connector.Account
	err := c.withConn(ctx, "", func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT rolname, coalesce(shobj_description(oid, 'pg_authid'), '')
			FROM pg_roles WHERE rolcanlogin AND rolname !~ '^pg_' ORDER BY rolname`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (connector.Account, error) {
			var a connector.Account
			err := row.Scan(&a.ExternalID, &a.Name)
			a.Email = c.emailOf(a.ExternalID)
			if a.Name == "" {
				a.Name = a.ExternalID
			}
			return a, err
		})
		return err
	})
	return out, wrap(err, "list accounts")
}

// ListEntitlements implements connector.EntitlementLister: the roles of
// the roles setting that exist, or else every NOLOGIN role but pg_*. The
// description is the role's COMMENT.
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	var out []connector.Entitlement
	err := c.withConn(ctx, "", func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT rolname, coalesce(shobj_description(oid, 'pg_authid'), '')
			FROM pg_roles
			WHERE CASE WHEN cardinality($1::text[]) > 0 THEN rolname = ANY($1)
			           ELSE NOT rolcanlogin AND rolname !~ '^pg_' END
			ORDER BY rolname`, c.cfg.roles)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (connector.Entitlement, error) {
			var e connector.Entitlement
			err := row.Scan(&e.Key, &e.Description)
			e.Name = e.Key
			return e, err
		})
		return err
	})
	return out, wrap(err, "list entitlements")
}

// ListGrants implements connector.GrantLister: the direct members of the
// roles of the roles setting, or else of every NOLOGIN role but pg_*.
// Account is the member's name (a login, an ephemeral login, or a role
// nested in another); AccountEmail is set when login_template is {email}.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	var out []connector.GrantRecord
	err := c.withConn(ctx, "", func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT DISTINCT u.rolname, r.rolname
			FROM pg_auth_members m
			JOIN pg_roles r ON r.oid = m.roleid
			JOIN pg_roles u ON u.oid = m.member
			WHERE CASE WHEN cardinality($1::text[]) > 0 THEN r.rolname = ANY($1)
			           ELSE NOT r.rolcanlogin AND r.rolname !~ '^pg_' END
			ORDER BY 2, 1`, c.cfg.roles)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (connector.GrantRecord, error) {
			var g connector.GrantRecord
			err := row.Scan(&g.Account, &g.EntitlementKey)
			g.AccountEmail = c.emailOf(g.Account)
			return g, err
		})
		return err
	})
	return out, wrap(err, "list grants")
}

// emailOf returns login when logins are email addresses, else "".
func (c *Connector) emailOf(login string) string {
	if c.cfg.mode == ModeRole && c.cfg.loginTemplate == "{email}" && strings.Contains(login, "@") {
		return login
	}
	return ""
}

// HealthCheck implements connector.HealthChecker: the server answers, the
// admin is a superuser or has CREATEROLE, and every role of the roles
// setting exists. A missing privilege or role is a permanent error.
func (c *Connector) HealthCheck(ctx context.Context) error {
	err := c.withConn(ctx, "", func(conn *pgx.Conn) error {
		var user string
		var super, createRole bool
		err := conn.QueryRow(ctx, `
			SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user`,
		).Scan(&user, &super, &createRole)
		if err != nil {
			return err
		}
		if !super && !createRole {
			return connector.Permanent(fmt.Errorf("admin role %q is neither superuser nor CREATEROLE", user))
		}
		if len(c.cfg.roles) == 0 {
			return nil
		}
		rows, err := conn.Query(ctx, `
			SELECT r FROM unnest($1::text[]) AS r
			WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) ORDER BY r`, c.cfg.roles)
		if err != nil {
			return err
		}
		missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return connector.Permanent(errors.New("roles setting names roles that do not exist: " + strings.Join(missing, ", ")))
		}
		return nil
	})
	return wrap(err, "health check")
}
