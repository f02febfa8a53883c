package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// MariaDB and MySQL 8 keep roles in different tables: MariaDB marks roles
// in mysql.user (is_role) and records grants in mysql.roles_mapping and a
// single default role in mysql.user.default_role; MySQL stores roles as
// locked accounts (host %), grants in mysql.role_edges and default roles
// in mysql.default_roles. information_schema.APPLICABLE_ROLES only shows
// the current user's roles, so it cannot serve a sync.

func isMariaDB(version string) bool { return strings.Contains(strings.ToLower(version), "mariadb") }

// accountState is what the server says about one account.
type accountState struct {
	exists       bool
	defaultRoles []string
}

// account looks up 'login'@'host' (roles excluded on MariaDB).
func (s *session) account(ctx context.Context, login, host string) (accountState, error) {
	var st accountState
	if s.mariadb {
		var def string
		err := s.conn.QueryRowContext(ctx,
			"SELECT default_role FROM mysql.user WHERE User = ? AND Host = ? AND is_role = 'N'", login, host).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("look up account: %w", err)
		}
		st.exists = true
		if def != "" {
			st.defaultRoles = []string{def}
		}
		return st, nil
	}
	var n int
	if err := s.conn.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?", login, host).Scan(&n); err != nil {
		return st, fmt.Errorf("look up account: %w", err)
	}
	if n == 0 {
		return st, nil
	}
	st.exists = true
	rows, err := s.conn.QueryContext(ctx,
		"SELECT DEFAULT_ROLE_USER FROM mysql.default_roles WHERE USER = ? AND HOST = ? AND DEFAULT_ROLE_HOST = '%'", login, host)
	if err != nil {
		return st, fmt.Errorf("look up default roles: %w", err)
	}
	st.defaultRoles, err = collect(rows, scanOne[string])
	if err != nil {
		return st, fmt.Errorf("look up default roles: %w", err)
	}
	return st, nil
}

// roleExists reports whether role exists.
func (s *session) roleExists(ctx context.Context, role string) (bool, error) {
	q := "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = '%'"
	if s.mariadb {
		q = "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND is_role = 'Y'"
	}
	var n int
	if err := s.conn.QueryRowContext(ctx, q, role).Scan(&n); err != nil {
		return false, fmt.Errorf("look up role: %w", err)
	}
	return n > 0, nil
}

// isMember reports whether 'login'@'host' was granted role directly.
func (s *session) isMember(ctx context.Context, role, login, host string) (bool, error) {
	q := "SELECT COUNT(*) FROM mysql.role_edges WHERE FROM_USER = ? AND FROM_HOST = '%' AND TO_USER = ? AND TO_HOST = ?"
	if s.mariadb {
		q = "SELECT COUNT(*) FROM mysql.roles_mapping WHERE Role = ? AND User = ? AND Host = ?"
	}
	var n int
	if err := s.conn.QueryRowContext(ctx, q, role, login, host).Scan(&n); err != nil {
		return false, fmt.Errorf("look up role grant: %w", err)
	}
	return n > 0, nil
}

// setDefaultRoles makes roles the account's default roles (NONE when
// empty). MariaDB has one default role: only roles[0] counts there.
func (s *session) setDefaultRoles(ctx context.Context, login, host string, roles []string) error {
	list := "NONE"
	if len(roles) > 0 {
		if s.mariadb {
			roles = roles[:1]
		}
		quoted := make([]string, len(roles))
		for i, r := range roles {
			quoted[i] = quoteIdent(r)
		}
		list = strings.Join(quoted, ", ")
	}
	keyword := " TO "
	if s.mariadb {
		keyword = " FOR "
	}
	if err := s.exec(ctx, "SET DEFAULT ROLE "+list+keyword+account(login, host)); err != nil {
		return fmt.Errorf("set default role: %w", err)
	}
	return nil
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, errors.Join(err, rows.Close())
		}
		out = append(out, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	return out, nil
}

// scanOne scans a one-column row.
func scanOne[T any](r *sql.Rows) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}
