package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

const userCols = `id, email, name, manager_id, groups_json, roles_json, status, slack_user_id, created_at, updated_at`

func scanUser(s scanner) (*access.User, error) {
	u := new(access.User)
	err := s.Scan(&u.ID, &u.Email, &u.Name, &u.ManagerID, jsonCol{&u.Groups}, jsonCol{&u.Roles},
		&u.Status, &u.SlackUserID, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	return u, err
}

// UserUpsert inserts u or replaces the user with its ID. It lowercases
// u.Email (emails are unique case-insensitively). Another user with the same
// email or Slack user ID is ErrConflict.
func (q *queries) UserUpsert(ctx context.Context, u *access.User) error {
	groups, err := jsonArg(u.Groups)
	if err != nil {
		return fmt.Errorf("upsert user %s: %w", u.ID, err)
	}
	roles, err := jsonArg(u.Roles)
	if err != nil {
		return fmt.Errorf("upsert user %s: %w", u.ID, err)
	}
	email := strings.ToLower(u.Email)
	err = q.atomic(ctx, func(q *queries) error {
		_, err := q.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name,
				manager_id = excluded.manager_id, groups_json = excluded.groups_json,
				roles_json = excluded.roles_json, status = excluded.status,
				slack_user_id = excluded.slack_user_id, created_at = excluded.created_at,
				updated_at = excluded.updated_at`,
			u.ID, email, u.Name, u.ManagerID, groups, roles, string(u.Status), u.SlackUserID,
			q.tm(u.CreatedAt), q.tm(u.UpdatedAt))
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `DELETE FROM user_groups WHERE user_id = ?`, u.ID); err != nil {
			return err
		}
		distinct := slices.Compact(slices.Sorted(slices.Values(u.Groups)))
		if len(distinct) == 0 {
			return nil
		}
		args := make([]any, 0, 2*len(distinct))
		for _, g := range distinct {
			args = append(args, g, u.ID)
		}
		_, err = q.exec(ctx, `INSERT INTO user_groups (group_name, user_id) VALUES `+rowsOf(len(distinct), 2), args...)
		return err
	})
	if err != nil {
		return q.classify(err, "upsert user %s", u.ID)
	}
	u.Email = email
	return nil
}

func (q *queries) userBy(ctx context.Context, col, val string) (*access.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+col+` = ?`, val))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user with %s %q: %w", col, val, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user by %s: %w", col, err)
	}
	return u, nil
}

// UserGetByID returns ErrNotFound if no user has id.
func (q *queries) UserGetByID(ctx context.Context, id string) (*access.User, error) {
	return q.userBy(ctx, "id", id)
}

// UserGetByEmail matches email case-insensitively; ErrNotFound if none.
func (q *queries) UserGetByEmail(ctx context.Context, email string) (*access.User, error) {
	return q.userBy(ctx, "email", strings.ToLower(email))
}

// UserGetBySlackID returns ErrNotFound if no user is linked to the Slack
// user (an empty ID never matches).
func (q *queries) UserGetBySlackID(ctx context.Context, slackUserID string) (*access.User, error) {
	if slackUserID == "" {
		return nil, fmt.Errorf("user with empty slack id: %w", store.ErrNotFound)
	}
	return q.userBy(ctx, "slack_user_id", slackUserID)
}

// UserListByIDs returns the users with ids, ordered by ID, leaving out IDs
// no user has. It runs one query per idsPerQuery distinct IDs.
func (q *queries) UserListByIDs(ctx context.Context, ids []string) ([]*access.User, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []*access.User
	// Sorted chunks of sorted IDs keep the whole result in ID order.
	for chunk := range slices.Chunk(ids, idsPerQuery) {
		var w where
		inPadded(&w, "id", chunk)
		rows, err := q.query(ctx, `SELECT `+userCols+` FROM users`+w.String()+` ORDER BY id`, w.args...)
		if err != nil {
			return nil, fmt.Errorf("list users by id: %w", err)
		}
		users, err := collect(rows, scanUser)
		if err != nil {
			return nil, fmt.Errorf("list users by id: %w", err)
		}
		out = append(out, users...)
	}
	return out, nil
}

// UserList returns users ordered by email, filtered by status and group.
func (q *queries) UserList(ctx context.Context, p store.UserListParams) ([]*access.User, string, error) {
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if p.Status != "" {
		w.add("status = ?", string(p.Status))
	}
	if p.Group != "" {
		w.add("id IN (SELECT user_id FROM user_groups WHERE group_name = ?)", p.Group)
	}
	if after != "" {
		w.add("email > ?", after)
	}
	rows, err := q.query(ctx, `SELECT `+userCols+` FROM users`+w.String()+` ORDER BY email LIMIT ?`,
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	users, next := page(users, limit, func(u *access.User) string { return u.Email })
	return users, next, nil
}

// UserListByGroup returns every member of group, active or offboarded,
// ordered by email.
func (q *queries) UserListByGroup(ctx context.Context, group string) ([]*access.User, error) {
	rows, err := q.query(ctx, `SELECT `+userCols+` FROM users
		WHERE id IN (SELECT user_id FROM user_groups WHERE group_name = ?) ORDER BY email`, group)
	if err != nil {
		return nil, fmt.Errorf("list group %s: %w", group, err)
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("list group %s: %w", group, err)
	}
	return users, nil
}
