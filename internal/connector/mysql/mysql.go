package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "mysql"

// Connector is the role-mode connector: it grants roles to existing
// accounts. It holds no connection: every call opens one with the admin
// DSN and closes it, so a Connector needs no Close and is safe for
// concurrent use.
type Connector struct {
	cfg *config
}

// EphemeralConnector is the ephemeral-mode connector: it creates an
// account per grant (IssueGrant) and drops it on Revoke. Listing, mapping
// and health checks are the Connector's.
type EphemeralConnector struct {
	*Connector
}

var (
	_ connector.Connector         = (*Connector)(nil)
	_ connector.Connector         = (*EphemeralConnector)(nil)
	_ connector.CredentialIssuer  = (*EphemeralConnector)(nil)
	_ connector.AccountMapper     = (*Connector)(nil)
	_ connector.GrantLister       = (*Connector)(nil)
	_ connector.AccountLister     = (*Connector)(nil)
	_ connector.EntitlementLister = (*Connector)(nil)
	_ connector.HealthChecker     = (*Connector)(nil)
	_ connector.SettingsValidator = (*Connector)(nil)
	_ connector.Factory           = New
)

// New is the connector.Factory. It validates settings (see the package
// documentation) without connecting, and returns a *Connector in role mode
// or an *EphemeralConnector in ephemeral mode.
func New(settings map[string]string) (connector.Connector, error) {
	cfg, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	if cfg.mode == ModeEphemeral {
		return &EphemeralConnector{&Connector{cfg: cfg}}, nil
	}
	return &Connector{cfg: cfg}, nil
}

// ValidateSettings implements connector.SettingsValidator.
func (c *Connector) ValidateSettings(settings map[string]string) error {
	_, err := parseSettings(settings)
	return err
}

// AccountFor implements connector.AccountMapper: the person's login in
// role mode, the grant's login in ephemeral mode (the user part; the host
// part is the host setting); "" when t cannot be mapped.
func (c *Connector) AccountFor(t connector.Target) string {
	login, err := c.login(t)
	if err != nil {
		return ""
	}
	return login
}

// Grant grants the entitlement's role to the person's account
// 'login'@'host' and, when the account has no default role, makes it the
// default so that it is active at the next login without SET ROLE. A
// missing account or role is a permanent error.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	login, err := c.login(t)
	if err != nil {
		return err
	}
	role, err := c.grantableRole(t)
	if err != nil {
		return err
	}
	host := c.cfg.host
	err = c.withConn(ctx, func(s *session) error {
		acct, err := s.account(ctx, login, host)
		if err != nil {
			return err
		}
		if !acct.exists {
			return connector.Permanent(fmt.Errorf("account %s does not exist", account(login, host)))
		}
		if err := s.requireRole(ctx, role); err != nil {
			return err
		}
		if err := s.grantRole(ctx, role, login, host); err != nil {
			return err
		}
		if len(acct.defaultRoles) == 0 {
			return s.setDefaultRoles(ctx, login, host, []string{role})
		}
		return nil
	})
	return wrap(err, "grant %s to %s", role, account(login, host))
}

// Revoke revokes the role, clears it from the account's default roles
// and, unless terminate_sessions is false, kills every connection of the
// login (even when the role was already gone): a session keeps an active
// role after REVOKE. A missing account means nothing to revoke.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	login, err := c.login(t)
	if err != nil {
		return err
	}
	role, err := c.role(t)
	if err != nil {
		return err
	}
	host := c.cfg.host
	err = c.withConn(ctx, func(s *session) error {
		acct, err := s.account(ctx, login, host)
		if err != nil || !acct.exists {
			return err
		}
		member, err := s.isMember(ctx, role, login, host)
		if err != nil {
			return err
		}
		if member {
			if err := s.exec(ctx, "REVOKE "+quoteIdent(role)+" FROM "+account(login, host)); err != nil && !isNumber(err, 1962) {
				return err
			}
		}
		if slices.Contains(acct.defaultRoles, role) {
			rest := slices.DeleteFunc(slices.Clone(acct.defaultRoles), func(r string) bool { return r == role })
			if err := s.setDefaultRoles(ctx, login, host, rest); err != nil {
				return err
			}
		}
		if c.cfg.terminateSessions {
			return s.kill(ctx, login)
		}
		return nil
	})
	return wrap(err, "revoke %s from %s", role, account(login, host))
}

// Grant creates the grant's account as IssueGrant does, with a random
// password that nobody is told: callers that want the password call
// IssueGrant.
func (c *EphemeralConnector) Grant(ctx context.Context, t connector.Target) error {
	_, err := c.IssueGrant(ctx, t)
	return err
}

// IssueGrant implements connector.CredentialIssuer: it creates (or, for
// the same grant again, gives a fresh password to) the account
// 'login'@'host', grants it the entitlement's role and makes that its
// default role, so the role is active as soon as it logs in. MariaDB gets
// the password as a mysql_native_password hash, MySQL in clear (MySQL
// rewrites it in its logs). t.ExpiresAt is not enforced by the server:
// Revoke is the control.
func (c *EphemeralConnector) IssueGrant(ctx context.Context, t connector.Target) (connector.Credentials, error) {
	login, err := c.login(t)
	if err != nil {
		return connector.Credentials{}, err
	}
	role, err := c.grantableRole(t)
	if err != nil {
		return connector.Credentials{}, err
	}
	password, err := randomPassword()
	if err != nil {
		return connector.Credentials{}, err
	}
	host := c.cfg.host
	err = c.withConn(ctx, func(s *session) error {
		if err := s.requireRole(ctx, role); err != nil {
			return err
		}
		identified := "IDENTIFIED BY " + quote(password)
		if s.mariadb {
			identified = "IDENTIFIED BY PASSWORD " + quote(nativeHash(password))
		}
		// CREATE ... IF NOT EXISTS then ALTER: safe when two calls race.
		if err := s.exec(ctx, "CREATE USER IF NOT EXISTS "+account(login, host)+" "+identified); err != nil {
			return err
		}
		if err := s.exec(ctx, "ALTER USER "+account(login, host)+" "+identified); err != nil {
			return err
		}
		if err := s.grantRole(ctx, role, login, host); err != nil {
			return err
		}
		return s.setDefaultRoles(ctx, login, host, []string{role})
	})
	if err != nil {
		// The driver's errors never include the statement, which holds the
		// password.
		return connector.Credentials{}, wrap(err, "create account %s with role %s", account(login, host), role)
	}
	hint := fmt.Sprintf("mysql -h %s", c.cfg.hostHint)
	if c.cfg.port != "" {
		hint += " -P " + c.cfg.port
	}
	hint += " -u " + login + " -p"
	if c.cfg.dbName != "" {
		hint += " " + c.cfg.dbName
	}
	hint += " (role " + role + " is the default role)"
	return connector.Credentials{Kind: "password", Username: login, Secret: password, Hint: hint}, nil
}

// Revoke drops the grant's account, then kills its connections (in that
// order, so none can open in between). An account that does not exist is
// already revoked.
func (c *EphemeralConnector) Revoke(ctx context.Context, t connector.Target) error {
	login, err := c.login(t)
	if err != nil {
		return err
	}
	if _, err := c.role(t); err != nil {
		return err
	}
	host := c.cfg.host
	err = c.withConn(ctx, func(s *session) error {
		acct, err := s.account(ctx, login, host)
		if err != nil || !acct.exists {
			return err
		}
		if err := s.exec(ctx, "DROP USER IF EXISTS "+account(login, host)); err != nil {
			return err
		}
		return s.kill(ctx, login)
	})
	return wrap(err, "drop account %s", account(login, host))
}

// session is one admin connection and the server's flavour.
type session struct {
	conn    *sql.Conn
	mariadb bool
}

// withConn runs fn on a new admin connection, closed afterwards.
func (c *Connector) withConn(ctx context.Context, fn func(*session) error) (err error) {
	db := sql.OpenDB(c.cfg.connector)
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
	}()
	conn, err := db.Conn(ctx)
	if err != nil {
		// The driver names neither the DSN nor the password.
		return fmt.Errorf("connect to %s as %s: %w", c.cfg.addr, c.cfg.user, err)
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && !errors.Is(cerr, sql.ErrConnDone) {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
	}()
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	return fn(&session{conn: conn, mariadb: isMariaDB(version)})
}

func (s *session) exec(ctx context.Context, stmt string) error {
	_, err := s.conn.ExecContext(ctx, stmt)
	return err
}

// grantRole grants role to the account unless it holds it already.
func (s *session) grantRole(ctx context.Context, role, login, host string) error {
	member, err := s.isMember(ctx, role, login, host)
	if err != nil || member {
		return err
	}
	return s.exec(ctx, "GRANT "+quoteIdent(role)+" TO "+account(login, host))
}

// requireRole returns a permanent error if role does not exist.
func (s *session) requireRole(ctx context.Context, role string) error {
	ok, err := s.roleExists(ctx, role)
	if err != nil {
		return err
	}
	if !ok {
		return connector.Permanent(fmt.Errorf("role %s does not exist", role))
	}
	return nil
}

// kill kills every connection of login but this one. A connection that
// ended in between is not an error.
func (s *session) kill(ctx context.Context, login string) error {
	rows, err := s.conn.QueryContext(ctx,
		"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()", login)
	if err != nil {
		return fmt.Errorf("list connections of %s: %w", login, err)
	}
	ids, err := collect(rows, scanOne[int64])
	if err != nil {
		return fmt.Errorf("list connections of %s: %w", login, err)
	}
	for _, id := range ids {
		// 1094: unknown thread id, the connection is gone already.
		if err := s.exec(ctx, "KILL CONNECTION "+strconv.FormatInt(id, 10)); err != nil && !isNumber(err, 1094) {
			return fmt.Errorf("kill connection %d of %s: %w", id, login, err)
		}
	}
	return nil
}

// wrap adds "mysql: <what>: " to err and classifies it.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return classify(fmt.Errorf("mysql: "+format+": %w", append(args, err)...))
}
