package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

const appCols = `id, name, description, connector_type, connector_settings, owners, aliases, watchlist, source, created_at, updated_at`

func scanApp(s scanner) (*access.App, error) {
	a := new(access.App)
	err := s.Scan(&a.ID, &a.Name, &a.Description, &a.ConnectorType, jsonCol{&a.ConnectorSettings},
		jsonCol{&a.Owners}, jsonCol{&a.Aliases}, &a.Watchlist, &a.Source, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

// appSearch is the text AppList's Query searches: the lowercased ID, name
// and aliases, each on its own line, so that a query without a newline
// matches within one of them only.
func appSearch(a *access.App) string {
	parts := append([]string{a.ID, a.Name}, a.Aliases...)
	return strings.ToLower("\n" + strings.Join(parts, "\n") + "\n")
}

// escapeLike escapes LIKE's wildcards with a backslash.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// AppUpsert inserts a or replaces the app with its ID. ConnectorSettings
// are stored as given: encrypting secrets is the caller's concern.
func (q *queries) AppUpsert(ctx context.Context, a *access.App) error {
	settings, err := jsonArg(a.ConnectorSettings)
	if err != nil {
		return fmt.Errorf("upsert app %s: %w", a.ID, err)
	}
	owners, err := jsonArg(a.Owners)
	if err != nil {
		return fmt.Errorf("upsert app %s: %w", a.ID, err)
	}
	aliases, err := jsonArg(a.Aliases)
	if err != nil {
		return fmt.Errorf("upsert app %s: %w", a.ID, err)
	}
	_, err = q.exec(ctx, `INSERT INTO apps (`+appCols+`, search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
			connector_type = excluded.connector_type, connector_settings = excluded.connector_settings,
			owners = excluded.owners, aliases = excluded.aliases, watchlist = excluded.watchlist,
			source = excluded.source, created_at = excluded.created_at, updated_at = excluded.updated_at,
			search = excluded.search`,
		a.ID, a.Name, a.Description, a.ConnectorType, settings, owners, aliases, a.Watchlist,
		string(a.Source), q.tm(a.CreatedAt), q.tm(a.UpdatedAt), appSearch(a))
	if err != nil {
		return q.classify(err, "upsert app %s", a.ID)
	}
	return nil
}

// AppGetByID returns ErrNotFound if no app has id.
func (q *queries) AppGetByID(ctx context.Context, id string) (*access.App, error) {
	a, err := scanApp(q.queryRow(ctx, `SELECT `+appCols+` FROM apps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("app %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get app %s: %w", id, err)
	}
	return a, nil
}

// AppList returns apps ordered by ID. Query (trimmed) matches a
// case-insensitive substring of the ID, the name or one alias.
func (q *queries) AppList(ctx context.Context, p store.AppListParams) ([]*access.App, string, error) {
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if query := strings.ToLower(strings.TrimSpace(p.Query)); query != "" {
		if strings.Contains(query, "\n") {
			return nil, "", nil // no ID, name or alias holds a newline
		}
		w.add(`search LIKE ? ESCAPE '\'`, "%"+escapeLike(query)+"%")
	}
	if after != "" {
		w.add("id > ?", after)
	}
	rows, err := q.query(ctx, `SELECT `+appCols+` FROM apps`+w.String()+` ORDER BY id LIMIT ?`,
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list apps: %w", err)
	}
	apps, err := collect(rows, scanApp)
	if err != nil {
		return nil, "", fmt.Errorf("list apps: %w", err)
	}
	apps, next := page(apps, limit, func(a *access.App) string { return a.ID })
	return apps, next, nil
}

const entitlementCols = `id, app_id, entitlement_key, name, description, max_duration, requestable, risk, tags, owners, created_at, updated_at`

func scanEntitlement(s scanner) (*access.Entitlement, error) {
	e := new(access.Entitlement)
	err := s.Scan(&e.ID, &e.AppID, &e.Key, &e.Name, &e.Description, &e.MaxDuration, &e.Requestable,
		&e.Risk, jsonCol{&e.Tags}, jsonCol{&e.Owners}, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt})
	return e, err
}

// EntitlementUpsert inserts e or replaces the entitlement with its ID.
// Another entitlement with the same app and key is ErrConflict.
func (q *queries) EntitlementUpsert(ctx context.Context, e *access.Entitlement) error {
	tags, err := jsonArg(e.Tags)
	if err != nil {
		return fmt.Errorf("upsert entitlement %s: %w", e.ID, err)
	}
	owners, err := jsonArg(e.Owners)
	if err != nil {
		return fmt.Errorf("upsert entitlement %s: %w", e.ID, err)
	}
	_, err = q.exec(ctx, `INSERT INTO entitlements (`+entitlementCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET app_id = excluded.app_id, entitlement_key = excluded.entitlement_key,
			name = excluded.name, description = excluded.description, max_duration = excluded.max_duration,
			requestable = excluded.requestable, risk = excluded.risk, tags = excluded.tags,
			owners = excluded.owners, created_at = excluded.created_at, updated_at = excluded.updated_at`,
		e.ID, e.AppID, e.Key, e.Name, e.Description, int64(e.MaxDuration), e.Requestable, string(e.Risk),
		tags, owners, q.tm(e.CreatedAt), q.tm(e.UpdatedAt))
	if err != nil {
		return q.classify(err, "upsert entitlement %s", e.ID)
	}
	return nil
}

// EntitlementGetByID returns ErrNotFound if no entitlement has id.
func (q *queries) EntitlementGetByID(ctx context.Context, id string) (*access.Entitlement, error) {
	e, err := scanEntitlement(q.queryRow(ctx, `SELECT `+entitlementCols+` FROM entitlements WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("entitlement %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get entitlement %s: %w", id, err)
	}
	return e, nil
}

// EntitlementListByApp returns the app's entitlements ordered by key (none
// for an unknown app).
func (q *queries) EntitlementListByApp(ctx context.Context, appID string) ([]*access.Entitlement, error) {
	rows, err := q.query(ctx, `SELECT `+entitlementCols+` FROM entitlements WHERE app_id = ? ORDER BY entitlement_key`, appID)
	if err != nil {
		return nil, fmt.Errorf("list entitlements of %s: %w", appID, err)
	}
	ents, err := collect(rows, scanEntitlement)
	if err != nil {
		return nil, fmt.Errorf("list entitlements of %s: %w", appID, err)
	}
	return ents, nil
}
