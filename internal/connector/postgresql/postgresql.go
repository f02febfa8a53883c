package postgresql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "postgresql"

// ephemeralMarker starts the comment on every login ephemeral mode
// creates; Sesame never changes or drops a role without it.
const ephemeralMarker = "sesame ephemeral login"

// Connector is the role-mode connector: it grants roles to existing
// logins. It holds no connection: every call opens one with the admin URL
// and closes it, so a Connector needs no Close and is safe for concurrent
// use.
type Connector struct {
	cfg *config
}

// EphemeralConnector is the ephemeral-mode connector: it creates a login
// per grant (IssueGrant) and drops it on Revoke. Listing, mapping and
// health checks are the Connector's.
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
// role mode, the grant's login in ephemeral mode; "" when t has no usable
// email (or, in ephemeral mode, no grant id).
func (c *Connector) AccountFor(t connector.Target) string {
	login, err := c.login(t)
	if err != nil {
		return ""
	}
	return login
}

// Grant grants the entitlement's role to the person's existing login. A
// missing login or role is a permanent error.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	login, err := c.login(t)
	if err != nil {
		return err
	}
	role, err := c.grantableRole(t)
	if err != nil {
		return err
	}
	err = c.withConn(ctx, "", func(conn *pgx.Conn) error {
		st, err := lookup(ctx, conn, login, role)
		if err != nil {
			return err
		}
		switch {
		case !st.loginExists:
			return connector.Permanent(fmt.Errorf("login %q does not exist", login))
		case !st.roleExists:
			return connector.Permanent(fmt.Errorf("role %q does not exist", role))
		case st.member:
			return nil
		}
		// A concurrent GRANT of the same membership only raises a NOTICE.
		_, err = conn.Exec(ctx, "GRANT "+ident(role)+" TO "+ident(login))
		return err
	})
	return wrap(err, "grant %q to %q", role, login)
}

// Revoke revokes the entitlement's role from the login and, unless
// terminate_sessions is false, ends every session of the login (even when
// the membership was already gone): a session that ran SET ROLE keeps the
// role's privileges until it ends. A missing login or role means nothing
// to revoke.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	login, err := c.login(t)
	if err != nil {
		return err
	}
	role, err := c.role(t)
	if err != nil {
		return err
	}
	err = c.withConn(ctx, "", func(conn *pgx.Conn) error {
		st, err := lookup(ctx, conn, login, role)
		if err != nil || !st.loginExists {
			return err
		}
		if st.member {
			if _, err := conn.Exec(ctx, "REVOKE "+ident(role)+" FROM "+ident(login)); err != nil {
				return err
			}
			// Since PostgreSQL 16 REVOKE only removes the grants made by
			// the current role; anything left needs a person.
			st, err = lookup(ctx, conn, login, role)
			if err != nil {
				return err
			}
			if st.member {
				return connector.Permanent(fmt.Errorf("%q is still a member of %q after REVOKE (granted by another role?)", login, role))
			}
		}
		if c.cfg.terminateSessions {
			return terminate(ctx, conn, login)
		}
		return nil
	})
	return wrap(err, "revoke %q from %q", role, login)
}

// Grant creates the grant's login as IssueGrant does, with a random
// password that nobody is told: callers that want the password call
// IssueGrant.
func (c *EphemeralConnector) Grant(ctx context.Context, t connector.Target) error {
	_, err := c.IssueGrant(ctx, t)
	return err
}

// Revoke drops the grant's login (see revokeEphemeral). A login that does
// not exist is already revoked.
func (c *EphemeralConnector) Revoke(ctx context.Context, t connector.Target) error {
	login, err := c.login(t)
	if err != nil {
		return err
	}
	role, err := c.role(t)
	if err != nil {
		return err
	}
	return wrap(c.revokeEphemeral(ctx, login, role), "drop login %q", login)
}

// IssueGrant implements connector.CredentialIssuer: it creates the grant's
// login with a fresh random password, VALID UNTIL t.ExpiresAt (infinity
// when zero), connection_limit, and membership in the entitlement's role.
// Called again for the same grant it sets a fresh password and expiry on
// the same login. A role of that name that Sesame did not create is a
// permanent error and is left alone.
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
	verifier, err := newVerifier(password)
	if err != nil {
		return connector.Credentials{}, err
	}
	validUntil := "infinity"
	if !t.ExpiresAt.IsZero() {
		validUntil = t.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	comment := fmt.Sprintf("%s; grant %s; for %s; valid until %s", ephemeralMarker, t.GrantID, t.Email, validUntil)

	err = c.withConn(ctx, "", func(conn *pgx.Conn) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			st, err := lookup(ctx, tx.Conn(), login, role)
			if err != nil {
				return err
			}
			if !st.roleExists {
				return connector.Permanent(fmt.Errorf("role %q does not exist", role))
			}
			limit := ""
			if c.cfg.connLimit > 0 {
				limit = fmt.Sprintf(" CONNECTION LIMIT %d", c.cfg.connLimit)
			}
			var stmts []string
			switch {
			case !st.loginExists:
				stmts = append(stmts, "CREATE ROLE "+ident(login)+" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS"+
					limit+" PASSWORD "+quoteLiteral(verifier)+" VALID UNTIL "+quoteLiteral(validUntil)+" IN ROLE "+ident(role))
			case !st.ours:
				return connector.Permanent(fmt.Errorf("role %q exists and was not created by Sesame; not touching it", login))
			default:
				if limit == "" {
					limit = " CONNECTION LIMIT -1"
				}
				stmts = append(stmts, "ALTER ROLE "+ident(login)+" WITH LOGIN"+limit+
					" PASSWORD "+quoteLiteral(verifier)+" VALID UNTIL "+quoteLiteral(validUntil))
				if !st.member {
					stmts = append(stmts, "GRANT "+ident(role)+" TO "+ident(login))
				}
			}
			stmts = append(stmts, "COMMENT ON ROLE "+ident(login)+" IS "+quoteLiteral(comment))
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		// Never wrap the statements: they hold the verifier.
		return connector.Credentials{}, wrap(err, "create login %q in role %q", login, role)
	}
	return connector.Credentials{
		Kind:     "password",
		Username: login,
		Secret:   password,
		Hint:     c.hint(login, role, validUntil),
	}, nil
}

func (c *EphemeralConnector) hint(login, role, validUntil string) string {
	h := fmt.Sprintf("psql -h %s -p %d -U %s -d %s (member of %s", c.cfg.hostHint, c.cfg.conn.Port, login, c.cfg.conn.Database, role)
	if validUntil != "infinity" {
		h += "; password valid until " + validUntil
	}
	return h + ")"
}

// revokeEphemeral drops login: it stops new sessions (NOLOGIN), ends the
// open ones, then in every database where the login owns objects or holds
// privileges (connecting there with the admin URL) reassigns what it owns
// to reassign_owned_to and drops the rest, and finally drops the role. A
// login that does not exist is already revoked.
func (c *EphemeralConnector) revokeEphemeral(ctx context.Context, login, role string) error {
	return c.withConn(ctx, "", func(conn *pgx.Conn) error {
		st, err := lookup(ctx, conn, login, role)
		if err != nil || !st.loginExists {
			return err
		}
		if !st.ours {
			return connector.Permanent(fmt.Errorf("role %q exists but was not created by Sesame; not dropping it", login))
		}
		if _, err := conn.Exec(ctx, "ALTER ROLE "+ident(login)+" NOLOGIN"); err != nil {
			return err
		}
		if st.member {
			if _, err := conn.Exec(ctx, "REVOKE "+ident(role)+" FROM "+ident(login)); err != nil {
				return err
			}
		}
		if err := terminate(ctx, conn, login); err != nil {
			return err
		}
		rows, err := conn.Query(ctx, `
			SELECT DISTINCT d.datname
			FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
			WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1
			  AND d.datname <> current_database()
			ORDER BY 1`, st.loginOID)
		if err != nil {
			return err
		}
		others, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, db := range others {
			err := c.withConn(ctx, db, func(other *pgx.Conn) error {
				return c.dropOwned(ctx, other, login)
			})
			if err != nil {
				return fmt.Errorf("in database %q: %w", db, err)
			}
		}
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := c.dropOwned(ctx, tx.Conn(), login); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "DROP ROLE IF EXISTS "+ident(login))
			return err
		})
	})
}

// dropOwned reassigns what login owns in conn's database and drops the
// privileges granted to it there.
func (c *EphemeralConnector) dropOwned(ctx context.Context, conn *pgx.Conn, login string) error {
	to := "CURRENT_USER"
	if c.cfg.reassignTo != "" {
		to = ident(c.cfg.reassignTo)
	}
	if _, err := conn.Exec(ctx, "REASSIGN OWNED BY "+ident(login)+" TO "+to); err != nil {
		return fmt.Errorf("reassign owned: %w", err)
	}
	if _, err := conn.Exec(ctx, "DROP OWNED BY "+ident(login)); err != nil {
		return fmt.Errorf("drop owned: %w", err)
	}
	return nil
}

// terminate ends every session of login but this one.
func terminate(ctx context.Context, conn *pgx.Conn, login string) error {
	_, err := conn.Exec(ctx, `
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE usename = $1 AND pid <> pg_backend_pid()`, login)
	if err != nil {
		return fmt.Errorf("terminate sessions of %q: %w", login, err)
	}
	return nil
}

// state is what the server says about a login and a role.
type state struct {
	loginExists bool
	loginOID    uint32
	ours        bool // the login carries ephemeralMarker
	roleExists  bool
	member      bool // the login is a direct member of the role
}

func lookup(ctx context.Context, conn *pgx.Conn, login, role string) (state, error) {
	var st state
	var oid *uint32
	var comment *string
	err := conn.QueryRow(ctx, `
		SELECT l.oid, shobj_description(l.oid, 'pg_authid'),
		       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2),
		       EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
		               WHERE r.rolname = $2 AND m.member = l.oid)
		FROM (SELECT 1) AS one LEFT JOIN pg_roles l ON l.rolname = $1`, login, role,
	).Scan(&oid, &comment, &st.roleExists, &st.member)
	if err != nil {
		return st, fmt.Errorf("look up roles: %w", err)
	}
	if oid != nil {
		st.loginExists, st.loginOID = true, *oid
	}
	st.ours = comment != nil && strings.HasPrefix(*comment, ephemeralMarker)
	return st, nil
}

// withConn runs fn on a new connection to db (the admin URL's database
// when ""), closed afterwards.
func (c *Connector) withConn(ctx context.Context, db string, fn func(*pgx.Conn) error) (err error) {
	cfg := c.cfg.conn.Copy()
	if db != "" {
		cfg.Database = db
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		// pgx names user, database and address, never the password.
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if cerr := conn.Close(closeCtx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
	}()
	return fn(conn)
}

// wrap adds "postgresql: <what>: " to err and classifies it.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return classify(fmt.Errorf("postgresql: "+format+": %w", append(args, err)...))
}
