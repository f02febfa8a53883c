package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/store"
)

// maxDirectoryPage bounds one page of a directory list.
const maxDirectoryPage = 1000

// DirectoryLockUser locks the user's row for the rest of the transaction.
func (q *queries) DirectoryLockUser(ctx context.Context, userID string) error {
	var id string
	err := q.queryRow(ctx, `SELECT id FROM users WHERE id = ?`+q.forUpdate(true), userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("user %s: %w", userID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("lock user %s: %w", userID, err)
	}
	return nil
}

// DirectoryLockGroup locks the group's row for the rest of the transaction.
func (q *queries) DirectoryLockGroup(ctx context.Context, groupID string) error {
	var id string
	err := q.queryRow(ctx, `SELECT id FROM directory_groups WHERE id = ?`+q.forUpdate(true), groupID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("directory group %s: %w", groupID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("lock directory group %s: %w", groupID, err)
	}
	return nil
}

//nolint:gosec // G101: column names, not a credential
const scimClientCols = `id, name, hash, created_by, created_at, last_used_at, revoked_at`

func scanScimClient(s scanner) (*store.ScimClient, error) {
	c := new(store.ScimClient)
	err := s.Scan(&c.ID, &c.Name, &c.Hash, &c.CreatedBy, timeCol{&c.CreatedAt}, timeCol{&c.LastUsedAt}, timeCol{&c.RevokedAt})
	return c, err
}

// ScimClientCreate stores c; a second client with c.ID or c.Hash is
// ErrConflict.
func (q *queries) ScimClientCreate(ctx context.Context, c *store.ScimClient) error {
	_, err := q.exec(ctx, `INSERT INTO scim_clients (`+scimClientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Hash, c.CreatedBy, q.tm(c.CreatedAt), q.tm(c.LastUsedAt), q.tm(c.RevokedAt))
	if err != nil {
		return q.classify(err, "create scim client %s", c.ID)
	}
	return nil
}

func (q *queries) scimClientBy(ctx context.Context, col, val, what string) (*store.ScimClient, error) {
	c, err := scanScimClient(q.queryRow(ctx, `SELECT `+scimClientCols+` FROM scim_clients WHERE `+col+` = ?`, val))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	return c, nil
}

// ScimClientGetByHash returns the client with hash (not echoed in errors).
func (q *queries) ScimClientGetByHash(ctx context.Context, hash string) (*store.ScimClient, error) {
	return q.scimClientBy(ctx, "hash", hash, "scim client with that hash")
}

// ScimClientGetByID returns the client or ErrNotFound.
func (q *queries) ScimClientGetByID(ctx context.Context, id string) (*store.ScimClient, error) {
	return q.scimClientBy(ctx, "id", id, "scim client "+id)
}

// ScimClientList returns every client, newest first.
func (q *queries) ScimClientList(ctx context.Context) ([]*store.ScimClient, error) {
	rows, err := q.query(ctx, `SELECT `+scimClientCols+` FROM scim_clients ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list scim clients: %w", err)
	}
	out, err := collect(rows, scanScimClient)
	if err != nil {
		return nil, fmt.Errorf("list scim clients: %w", err)
	}
	return out, nil
}

// ScimClientUpdate saves LastUsedAt and RevokedAt.
func (q *queries) ScimClientUpdate(ctx context.Context, c *store.ScimClient) error {
	n, err := q.execN(ctx, `UPDATE scim_clients SET last_used_at = ?, revoked_at = ? WHERE id = ?`,
		q.tm(c.LastUsedAt), q.tm(c.RevokedAt), c.ID)
	if err != nil {
		return fmt.Errorf("update scim client %s: %w", c.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("scim client %s: %w", c.ID, store.ErrNotFound)
	}
	return nil
}

const dirUserCols = `user_id, user_name, external_id, client_id, resource, created_at, updated_at, version`

func scanDirUser(s scanner) (*store.DirectoryUser, error) {
	u := new(store.DirectoryUser)
	err := s.Scan(&u.UserID, &u.UserName, &u.ExternalID, &u.ClientID, rawCol{&u.Resource},
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, &u.Version)
	return u, err
}

// DirectoryUserCreate stores u; a taken UserID or UserName is ErrConflict.
func (q *queries) DirectoryUserCreate(ctx context.Context, u *store.DirectoryUser) error {
	if u.Version == 0 {
		u.Version = 1
	}
	_, err := q.exec(ctx, `INSERT INTO directory_users (`+dirUserCols+`, user_name_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.UserID, u.UserName, u.ExternalID, u.ClientID, rawOrEmpty(u.Resource), q.tm(u.CreatedAt), q.tm(u.UpdatedAt),
		int64(u.Version), strings.ToLower(u.UserName))
	if err != nil {
		return q.classify(err, "create directory user %s", u.UserID)
	}
	return nil
}

// rawOrEmpty is raw JSON for a NOT NULL column ("{}" when empty).
func rawOrEmpty(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

// DirectoryUserGet returns ErrNotFound if userID has no directory row.
func (q *queries) DirectoryUserGet(ctx context.Context, userID string) (*store.DirectoryUser, error) {
	u, err := scanDirUser(q.queryRow(ctx, `SELECT `+dirUserCols+` FROM directory_users WHERE user_id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("directory user %s: %w", userID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get directory user %s: %w", userID, err)
	}
	return u, nil
}

// dirVersionErr explains a versioned update of table (keyed by col) that
// changed nothing.
func (q *queries) dirVersionErr(ctx context.Context, table, col, noun, id string, version int) error {
	var one int
	err := q.queryRow(ctx, `SELECT 1 FROM `+table+` WHERE `+col+` = ?`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s %s: %w", noun, id, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("update %s %s: %w", noun, id, err)
	}
	return fmt.Errorf("update %s %s at version %d: %w", noun, id, version, store.ErrConflict)
}

// DirectoryUserUpdate saves u if its Version is current.
func (q *queries) DirectoryUserUpdate(ctx context.Context, u *store.DirectoryUser) error {
	n, err := q.execN(ctx, `UPDATE directory_users SET user_name = ?, user_name_key = ?, external_id = ?,
		resource = ?, updated_at = ?, version = version + 1 WHERE user_id = ? AND version = ?`,
		u.UserName, strings.ToLower(u.UserName), u.ExternalID, rawOrEmpty(u.Resource), q.tm(u.UpdatedAt),
		u.UserID, int64(u.Version))
	if err != nil {
		return q.classify(err, "update directory user %s", u.UserID)
	}
	if n == 0 {
		return q.dirVersionErr(ctx, "directory_users", "user_id", "directory user", u.UserID, u.Version)
	}
	u.Version++
	return nil
}

// DirectoryUserDelete removes the row and the user's memberships.
func (q *queries) DirectoryUserDelete(ctx context.Context, userID string) error {
	return q.atomic(ctx, func(q *queries) error {
		if _, err := q.exec(ctx, `DELETE FROM directory_members WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("delete directory user %s: %w", userID, err)
		}
		n, err := q.execN(ctx, `DELETE FROM directory_users WHERE user_id = ?`, userID)
		if err != nil {
			return fmt.Errorf("delete directory user %s: %w", userID, err)
		}
		if n == 0 {
			return fmt.Errorf("directory user %s: %w", userID, store.ErrNotFound)
		}
		return nil
	})
}

// dirLimit clamps a directory page size to [0, maxDirectoryPage].
func dirLimit(n int) int { return min(max(n, 0), maxDirectoryPage) }

// DirectoryUserList returns a page of matching users by UserID, and the
// number matching.
func (q *queries) DirectoryUserList(ctx context.Context, p store.DirectoryListParams) ([]*store.DirectoryUser, int, error) {
	var w where
	if len(p.IDs) > 0 {
		in(&w, "user_id", p.IDs)
	}
	if p.UserName != "" {
		w.add("user_name_key = ?", strings.ToLower(p.UserName))
	}
	if p.ExternalID != "" {
		w.add("external_id = ?", p.ExternalID)
	}
	if p.Email != "" {
		w.add("user_id IN (SELECT id FROM users WHERE email = ?)", strings.ToLower(p.Email))
	}
	if p.Member != "" {
		w.add("user_id IN (SELECT user_id FROM directory_members WHERE group_id = ?)", p.Member)
	}
	if p.DisplayName != "" {
		w.add("1 = 0")
	}
	var total int
	if err := q.queryRow(ctx, `SELECT count(*) FROM directory_users`+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count directory users: %w", err)
	}
	limit := dirLimit(p.Limit)
	if limit == 0 || p.Offset >= total {
		return nil, total, nil
	}
	rows, err := q.query(ctx, `SELECT `+dirUserCols+` FROM directory_users`+w.String()+` ORDER BY user_id LIMIT ? OFFSET ?`,
		append(w.args, limit, max(p.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list directory users: %w", err)
	}
	users, err := collect(rows, scanDirUser)
	if err != nil {
		return nil, 0, fmt.Errorf("list directory users: %w", err)
	}
	return users, total, nil
}

const dirGroupCols = `id, display_name, external_id, client_id, created_at, updated_at, version`

func scanDirGroup(s scanner) (*store.DirectoryGroup, error) {
	g := new(store.DirectoryGroup)
	err := s.Scan(&g.ID, &g.DisplayName, &g.ExternalID, &g.ClientID, timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt}, &g.Version)
	return g, err
}

// DirectoryGroupCreate stores g; a taken ID or DisplayName is ErrConflict.
func (q *queries) DirectoryGroupCreate(ctx context.Context, g *store.DirectoryGroup) error {
	if g.Version == 0 {
		g.Version = 1
	}
	_, err := q.exec(ctx, `INSERT INTO directory_groups (`+dirGroupCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.DisplayName, g.ExternalID, g.ClientID, q.tm(g.CreatedAt), q.tm(g.UpdatedAt), int64(g.Version))
	if err != nil {
		return q.classify(err, "create directory group %s", g.ID)
	}
	return nil
}

// DirectoryGroupGet returns ErrNotFound if no group has id.
func (q *queries) DirectoryGroupGet(ctx context.Context, id string) (*store.DirectoryGroup, error) {
	g, err := scanDirGroup(q.queryRow(ctx, `SELECT `+dirGroupCols+` FROM directory_groups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("directory group %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get directory group %s: %w", id, err)
	}
	return g, nil
}

// DirectoryGroupUpdate saves g if its Version is current.
func (q *queries) DirectoryGroupUpdate(ctx context.Context, g *store.DirectoryGroup) error {
	n, err := q.execN(ctx, `UPDATE directory_groups SET display_name = ?, external_id = ?, updated_at = ?,
		version = version + 1 WHERE id = ? AND version = ?`,
		g.DisplayName, g.ExternalID, q.tm(g.UpdatedAt), g.ID, int64(g.Version))
	if err != nil {
		return q.classify(err, "update directory group %s", g.ID)
	}
	if n == 0 {
		return q.dirVersionErr(ctx, "directory_groups", "id", "directory group", g.ID, g.Version)
	}
	g.Version++
	return nil
}

// DirectoryGroupDelete removes the group and its memberships.
func (q *queries) DirectoryGroupDelete(ctx context.Context, id string) error {
	return q.atomic(ctx, func(q *queries) error {
		if _, err := q.exec(ctx, `DELETE FROM directory_members WHERE group_id = ?`, id); err != nil {
			return fmt.Errorf("delete directory group %s: %w", id, err)
		}
		n, err := q.execN(ctx, `DELETE FROM directory_groups WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete directory group %s: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("directory group %s: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// DirectoryGroupList returns a page of matching groups by ID, and the
// number matching.
func (q *queries) DirectoryGroupList(ctx context.Context, p store.DirectoryListParams) ([]*store.DirectoryGroup, int, error) {
	var w where
	if len(p.IDs) > 0 {
		in(&w, "id", p.IDs)
	}
	if p.DisplayName != "" {
		w.add("display_name = ?", p.DisplayName)
	}
	if p.ExternalID != "" {
		w.add("external_id = ?", p.ExternalID)
	}
	if p.Member != "" {
		w.add("id IN (SELECT group_id FROM directory_members WHERE user_id = ?)", p.Member)
	}
	if p.UserName != "" || p.Email != "" {
		w.add("1 = 0")
	}
	var total int
	if err := q.queryRow(ctx, `SELECT count(*) FROM directory_groups`+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count directory groups: %w", err)
	}
	limit := dirLimit(p.Limit)
	if limit == 0 || p.Offset >= total {
		return nil, total, nil
	}
	rows, err := q.query(ctx, `SELECT `+dirGroupCols+` FROM directory_groups`+w.String()+` ORDER BY id LIMIT ? OFFSET ?`,
		append(w.args, limit, max(p.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list directory groups: %w", err)
	}
	groups, err := collect(rows, scanDirGroup)
	if err != nil {
		return nil, 0, fmt.Errorf("list directory groups: %w", err)
	}
	return groups, total, nil
}

// memberBatch bounds the user IDs of one membership statement.
const memberBatch = 200

// DirectoryMemberAdd adds the members not yet present and returns them.
func (q *queries) DirectoryMemberAdd(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	var added []string
	err := q.atomic(ctx, func(q *queries) error {
		added = nil
		present, err := q.DirectoryMemberList(ctx, groupID)
		if err != nil {
			return err
		}
		var todo []string
		for _, id := range slices.Compact(slices.Sorted(slices.Values(userIDs))) {
			if _, found := slices.BinarySearch(present, id); !found {
				todo = append(todo, id)
			}
		}
		for chunk := range slices.Chunk(todo, memberBatch) {
			args := make([]any, 0, 2*len(chunk))
			for _, id := range chunk {
				args = append(args, groupID, id)
			}
			if _, err := q.exec(ctx, `INSERT INTO directory_members (group_id, user_id) VALUES `+rowsOf(len(chunk), 2), args...); err != nil {
				return q.classify(err, "add members to group %s", groupID)
			}
		}
		added = todo
		return nil
	})
	return added, err
}

// DirectoryMemberRemove removes the members present and returns them.
func (q *queries) DirectoryMemberRemove(ctx context.Context, groupID string, userIDs []string) ([]string, error) {
	var removed []string
	err := q.atomic(ctx, func(q *queries) error {
		removed = nil
		present, err := q.DirectoryMemberList(ctx, groupID)
		if err != nil {
			return err
		}
		var todo []string
		for _, id := range slices.Compact(slices.Sorted(slices.Values(userIDs))) {
			if _, found := slices.BinarySearch(present, id); found {
				todo = append(todo, id)
			}
		}
		for chunk := range slices.Chunk(todo, memberBatch) {
			var w where
			w.add("group_id = ?", groupID)
			in(&w, "user_id", chunk)
			if _, err := q.exec(ctx, `DELETE FROM directory_members`+w.String(), w.args...); err != nil {
				return fmt.Errorf("remove members from group %s: %w", groupID, err)
			}
		}
		removed = todo
		return nil
	})
	return removed, err
}

// DirectoryMemberList returns the sorted user IDs of groupID's members.
func (q *queries) DirectoryMemberList(ctx context.Context, groupID string) ([]string, error) {
	rows, err := q.query(ctx, `SELECT user_id FROM directory_members WHERE group_id = ? ORDER BY user_id`, groupID)
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
	}
	ids, err := collect(rows, func(s scanner) (string, error) {
		var id string
		err := s.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", groupID, err)
	}
	return ids, nil
}

// groupSelect lists every group name with its SCIM group, if any, and its
// member count.
const groupSelect = `SELECT n.name, COALESCE(g.id, ''), COALESCE(g.external_id, ''),
	(SELECT count(*) FROM user_groups ug WHERE ug.group_name = n.name)
	FROM (SELECT group_name AS name FROM user_groups UNION SELECT display_name FROM directory_groups) n
	LEFT JOIN directory_groups g ON g.display_name = n.name`

func scanGroup(s scanner) (*store.Group, error) {
	g := new(store.Group)
	if err := s.Scan(&g.Name, &g.ID, &g.ExternalID, &g.Members); err != nil {
		return nil, err
	}
	g.Source = "config"
	if g.ID != "" {
		g.Source = "scim"
	}
	return g, nil
}

// GroupList returns every group name ordered by name.
func (q *queries) GroupList(ctx context.Context, p store.Page) ([]*store.Group, string, error) {
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if after != "" {
		w.add("n.name > ?", after)
	}
	rows, err := q.query(ctx, groupSelect+w.String()+` ORDER BY n.name LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list groups: %w", err)
	}
	groups, err := collect(rows, scanGroup)
	if err != nil {
		return nil, "", fmt.Errorf("list groups: %w", err)
	}
	groups, next := page(groups, limit, func(g *store.Group) string { return g.Name })
	return groups, next, nil
}

// GroupGet returns the group named name, or the SCIM group with ID name.
func (q *queries) GroupGet(ctx context.Context, name string) (*store.Group, error) {
	rows, err := q.query(ctx, groupSelect+` WHERE n.name = ? OR g.id = ? ORDER BY n.name`, name, name)
	if err != nil {
		return nil, fmt.Errorf("get group %s: %w", name, err)
	}
	groups, err := collect(rows, scanGroup)
	if err != nil {
		return nil, fmt.Errorf("get group %s: %w", name, err)
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("group %s: %w", name, store.ErrNotFound)
	}
	return groups[0], nil
}
