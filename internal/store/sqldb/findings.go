package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

const accountCols = `app_id, external_id, email, name, user_id, first_seen, last_seen, gone_at`

func scanAccount(s scanner) (*access.Account, error) {
	a := new(access.Account)
	err := s.Scan(&a.AppID, &a.ExternalID, &a.Email, &a.Name, &a.UserID, timeCol{&a.FirstSeen},
		timeCol{&a.LastSeen}, timeCol{&a.GoneAt})
	return a, err
}

// accountBatch is how many accounts one upsert statement carries (8
// parameters each: well under SQLite's and PostgreSQL's limits).
const accountBatch = 500

// AccountListByApp returns a keyset page of app's accounts by external ID.
func (q *queries) AccountListByApp(ctx context.Context, appID, after string, limit int) ([]*access.Account, error) {
	rows, err := q.query(ctx, `SELECT `+accountCols+` FROM accounts WHERE app_id = ? AND external_id > ?
		ORDER BY external_id LIMIT ?`, appID, after, limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list accounts of %s: %w", appID, err)
	}
	out, err := collect(rows, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("list accounts of %s: %w", appID, err)
	}
	return out, nil
}

// AccountGet returns ErrNotFound when app has no account externalID.
func (q *queries) AccountGet(ctx context.Context, appID, externalID string) (*access.Account, error) {
	a, err := scanAccount(q.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE app_id = ? AND external_id = ?`,
		appID, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %s in %s: %w", externalID, appID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get account %s in %s: %w", externalID, appID, err)
	}
	return a, nil
}

// AccountUpsertBatch inserts or refreshes accounts, accountBatch per
// statement. Within one call the last copy of an (app, external ID) wins.
func (q *queries) AccountUpsertBatch(ctx context.Context, accounts []*access.Account) error {
	seen := make(map[[2]string]int, len(accounts))
	uniq := make([]*access.Account, 0, len(accounts))
	for _, a := range accounts {
		k := [2]string{a.AppID, a.ExternalID}
		if i, dup := seen[k]; dup {
			uniq[i] = a
			continue
		}
		seen[k] = len(uniq)
		uniq = append(uniq, a)
	}
	for start := 0; start < len(uniq); start += accountBatch {
		chunk := uniq[start:min(start+accountBatch, len(uniq))]
		args := make([]any, 0, len(chunk)*8)
		for _, a := range chunk {
			args = append(args, a.AppID, a.ExternalID, a.Email, a.Name, a.UserID, q.tm(a.FirstSeen), q.tm(a.LastSeen), q.tm(a.GoneAt))
		}
		_, err := q.exec(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES `+rowsOf(len(chunk), 8)+`
			ON CONFLICT (app_id, external_id) DO UPDATE SET email = excluded.email, name = excluded.name,
				user_id = excluded.user_id, last_seen = excluded.last_seen, gone_at = excluded.gone_at`, args...)
		if err != nil {
			return q.classify(err, "upsert %d accounts", len(chunk))
		}
	}
	return nil
}

// AccountMarkGone marks active accounts of app as gone at at.
func (q *queries) AccountMarkGone(ctx context.Context, appID string, externalIDs []string, at time.Time) (int, error) {
	total := 0
	for start := 0; start < len(externalIDs); start += accountBatch {
		chunk := externalIDs[start:min(start+accountBatch, len(externalIDs))]
		var w where
		w.add("app_id = ?", appID)
		w.add("gone_at IS NULL")
		in(&w, "external_id", chunk)
		n, err := q.execN(ctx, `UPDATE accounts SET gone_at = ?`+w.String(), append([]any{q.tm(at)}, w.args...)...)
		if err != nil {
			return total, fmt.Errorf("mark accounts of %s gone: %w", appID, err)
		}
		total += int(n)
	}
	return total, nil
}

// AccountListByEmail returns the active accounts with email.
func (q *queries) AccountListByEmail(ctx context.Context, email string) ([]*access.Account, error) {
	if email == "" {
		return nil, nil
	}
	rows, err := q.query(ctx, `SELECT `+accountCols+` FROM accounts WHERE email = ? AND gone_at IS NULL
		ORDER BY app_id, external_id`, email)
	if err != nil {
		return nil, fmt.Errorf("list accounts of %s: %w", email, err)
	}
	out, err := collect(rows, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("list accounts of %s: %w", email, err)
	}
	return out, nil
}

// AccountSyncedAt returns app's last connector sync (zero for never).
func (q *queries) AccountSyncedAt(ctx context.Context, appID string) (time.Time, error) {
	var at time.Time
	err := q.queryRow(ctx, `SELECT synced_at FROM account_syncs WHERE app_id = ?`, appID).Scan(timeCol{&at})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read last sync of %s: %w", appID, err)
	}
	return at, nil
}

// AccountSyncedPut records app's last connector sync.
func (q *queries) AccountSyncedPut(ctx context.Context, appID string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO account_syncs (app_id, synced_at) VALUES (?, ?)
		ON CONFLICT (app_id) DO UPDATE SET synced_at = excluded.synced_at`, appID, q.tm(at))
	if err != nil {
		return fmt.Errorf("record sync of %s: %w", appID, err)
	}
	return nil
}

// AccountCount counts active accounts by app.
func (q *queries) AccountCount(ctx context.Context) (map[string]int, error) {
	rows, err := q.query(ctx, `SELECT app_id, count(*) FROM accounts WHERE gone_at IS NULL GROUP BY app_id`)
	if err != nil {
		return nil, fmt.Errorf("count accounts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var app string
		var n int
		if err := rows.Scan(&app, &n); err != nil {
			return nil, fmt.Errorf("count accounts: %w", err)
		}
		out[app] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count accounts: %w", err)
	}
	return out, nil
}

const discoveredCols = `app_key, name, domain, source, app_id, first_seen, last_seen, seen_count`

func scanDiscovered(s scanner) (*access.DiscoveredApp, error) {
	d := new(access.DiscoveredApp)
	err := s.Scan(&d.Key, &d.Name, &d.Domain, &d.Source, &d.AppID, timeCol{&d.FirstSeen}, timeCol{&d.LastSeen}, &d.SeenCount)
	return d, err
}

// DiscoveredAppSeen inserts d or records another sighting.
func (q *queries) DiscoveredAppSeen(ctx context.Context, d *access.DiscoveredApp) (bool, error) {
	n, err := q.execN(ctx, `INSERT INTO discovered_apps (`+discoveredCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (app_key) DO NOTHING`,
		d.Key, d.Name, d.Domain, d.Source, d.AppID, q.tm(d.FirstSeen), q.tm(d.LastSeen))
	if err != nil {
		return false, q.classify(err, "store discovered app %s", d.Key)
	}
	if n == 1 {
		return true, nil
	}
	_, err = q.exec(ctx, `UPDATE discovered_apps SET seen_count = seen_count + 1,
		last_seen = CASE WHEN last_seen IS NULL OR last_seen < ? THEN ? ELSE last_seen END,
		domain = CASE WHEN domain = '' THEN ? ELSE domain END WHERE app_key = ?`,
		q.tm(d.LastSeen), q.tm(d.LastSeen), d.Domain, d.Key)
	if err != nil {
		return false, fmt.Errorf("update discovered app %s: %w", d.Key, err)
	}
	return false, nil
}

// DiscoveredAppGet returns ErrNotFound when no app has key.
func (q *queries) DiscoveredAppGet(ctx context.Context, key string) (*access.DiscoveredApp, error) {
	d, err := scanDiscovered(q.queryRow(ctx, `SELECT `+discoveredCols+` FROM discovered_apps WHERE app_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("discovered app %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get discovered app %s: %w", key, err)
	}
	return d, nil
}

// DiscoveredAppSetAppID links key to a catalog app; ErrNotFound if key is
// not stored.
func (q *queries) DiscoveredAppSetAppID(ctx context.Context, key, appID string) error {
	n, err := q.execN(ctx, `UPDATE discovered_apps SET app_id = ? WHERE app_key = ?`, appID, key)
	if err != nil {
		return fmt.Errorf("link discovered app %s: %w", key, err)
	}
	if n == 0 {
		return fmt.Errorf("discovered app %s: %w", key, store.ErrNotFound)
	}
	return nil
}

// DiscoveredAppList pages discovered apps by key.
func (q *queries) DiscoveredAppList(ctx context.Context, p store.Page) ([]*access.DiscoveredApp, string, error) {
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	rows, err := q.query(ctx, `SELECT `+discoveredCols+` FROM discovered_apps WHERE app_key > ? ORDER BY app_key LIMIT ?`,
		after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list discovered apps: %w", err)
	}
	list, err := collect(rows, scanDiscovered)
	if err != nil {
		return nil, "", fmt.Errorf("list discovered apps: %w", err)
	}
	list, next := page(list, limit, func(d *access.DiscoveredApp) string { return d.Key })
	return list, next, nil
}

const alertCols = `id, type, dedup_key, state, app_key, app_id, app_name, user_id, title, details, source, channel, ts,
	delivery, attempts, last_error, decided_by, decided_at, created_at, updated_at, version`

func scanAlert(s scanner) (*access.Alert, error) {
	a := new(access.Alert)
	err := s.Scan(&a.ID, &a.Type, &a.DedupKey, &a.State, &a.AppKey, &a.AppID, &a.AppName, &a.UserID, &a.Title,
		jsonCol{&a.Details}, &a.Source, &a.Channel, &a.TS, &a.Delivery, &a.Attempts, &a.LastError, &a.DecidedBy,
		timeCol{&a.DecidedAt}, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, &a.Version)
	return a, err
}

// AlertCreate inserts a unless its DedupKey is taken.
func (q *queries) AlertCreate(ctx context.Context, a *access.Alert) (bool, error) {
	details, err := jsonArg(a.Details)
	if err != nil {
		return false, fmt.Errorf("create alert %s: %w", a.ID, err)
	}
	n, err := q.execN(ctx, `INSERT INTO alerts (`+alertCols+`) VALUES (`+marks(21)+`) ON CONFLICT (dedup_key) DO NOTHING`,
		a.ID, string(a.Type), a.DedupKey, string(a.State), a.AppKey, a.AppID, a.AppName, a.UserID, a.Title, details,
		a.Source, a.Channel, a.TS, string(a.Delivery), a.Attempts, a.LastError, a.DecidedBy, q.tm(a.DecidedAt),
		q.tm(a.CreatedAt), q.tm(a.UpdatedAt), a.Version)
	if err != nil {
		return false, q.classify(err, "create alert %s", a.ID)
	}
	return n == 1, nil
}

// AlertGetByID returns ErrNotFound if no alert has id.
func (q *queries) AlertGetByID(ctx context.Context, id string, lock bool) (*access.Alert, error) {
	a, err := scanAlert(q.queryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = ?`+q.forUpdate(lock), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("alert %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get alert %s: %w", id, err)
	}
	return a, nil
}

// AlertUpdate saves a at its Version.
func (q *queries) AlertUpdate(ctx context.Context, a *access.Alert) error {
	details, err := jsonArg(a.Details)
	if err != nil {
		return fmt.Errorf("update alert %s: %w", a.ID, err)
	}
	n, err := q.execN(ctx, `UPDATE alerts SET state = ?, app_key = ?, app_id = ?, app_name = ?, user_id = ?, title = ?,
		details = ?, source = ?, channel = ?, ts = ?, delivery = ?, attempts = ?, last_error = ?, decided_by = ?,
		decided_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
		string(a.State), a.AppKey, a.AppID, a.AppName, a.UserID, a.Title, details, a.Source, a.Channel, a.TS,
		string(a.Delivery), a.Attempts, a.LastError, a.DecidedBy, q.tm(a.DecidedAt), q.tm(a.UpdatedAt), a.ID, a.Version)
	if err != nil {
		return fmt.Errorf("update alert %s: %w", a.ID, err)
	}
	if n == 0 {
		return q.versionErr(ctx, "alerts", "alert", a.ID, a.Version)
	}
	a.Version++
	return nil
}

// AlertList pages alerts newest first.
func (q *queries) AlertList(ctx context.Context, p store.AlertListParams) ([]*access.Alert, string, error) {
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := store.ClampLimit(p.Limit)
	var w where
	if len(p.Types) > 0 {
		in(&w, "type", p.Types)
	}
	if len(p.States) > 0 {
		in(&w, "state", p.States)
	}
	if p.AppID != "" {
		w.add("app_id = ?", p.AppID)
	}
	if p.UserID != "" {
		w.add("user_id = ?", p.UserID)
	}
	if after != "" {
		w.add("id < ?", after)
	}
	rows, err := q.query(ctx, `SELECT `+alertCols+` FROM alerts`+w.String()+` ORDER BY id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	list, err := collect(rows, scanAlert)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	list, next := page(list, limit, func(a *access.Alert) string { return a.ID })
	return list, next, nil
}

// AlertListPending returns pending deliveries untouched since before.
func (q *queries) AlertListPending(ctx context.Context, before time.Time, limit int) ([]*access.Alert, error) {
	rows, err := q.query(ctx, `SELECT `+alertCols+` FROM alerts WHERE delivery = ? AND updated_at <= ?
		ORDER BY updated_at, id LIMIT ?`, string(access.DeliveryPending), q.tm(before), limitOr(limit))
	if err != nil {
		return nil, fmt.Errorf("list pending alerts: %w", err)
	}
	out, err := collect(rows, scanAlert)
	if err != nil {
		return nil, fmt.Errorf("list pending alerts: %w", err)
	}
	return out, nil
}

// AlertMuteAdd mutes appKey; muting again keeps the first record.
func (q *queries) AlertMuteAdd(ctx context.Context, appKey, by string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO alert_mutes (app_key, muted_by, muted_at) VALUES (?, ?, ?)
		ON CONFLICT (app_key) DO NOTHING`, appKey, by, q.tm(at))
	if err != nil {
		return fmt.Errorf("mute alerts of %s: %w", appKey, err)
	}
	return nil
}

// AlertMuted reports whether appKey is muted.
func (q *queries) AlertMuted(ctx context.Context, appKey string) (bool, error) {
	if appKey == "" {
		return false, nil
	}
	var one int
	err := q.queryRow(ctx, `SELECT 1 FROM alert_mutes WHERE app_key = ?`, appKey).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read mute of %s: %w", appKey, err)
	}
	return true, nil
}

// AlertSettingsGet returns every stored setting.
func (q *queries) AlertSettingsGet(ctx context.Context) (map[access.AlertType]access.AlertSetting, error) {
	rows, err := q.query(ctx, `SELECT type, enabled, channel, updated_by, updated_at FROM alert_settings`)
	if err != nil {
		return nil, fmt.Errorf("read alert settings: %w", err)
	}
	list, err := collect(rows, func(s scanner) (access.AlertSetting, error) {
		var a access.AlertSetting
		err := s.Scan(&a.Type, &a.Enabled, &a.Channel, &a.UpdatedBy, timeCol{&a.UpdatedAt})
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("read alert settings: %w", err)
	}
	out := make(map[access.AlertType]access.AlertSetting, len(list))
	for _, s := range list {
		out[s.Type] = s
	}
	return out, nil
}

// AlertSettingPut inserts or replaces the setting of s.Type.
func (q *queries) AlertSettingPut(ctx context.Context, s access.AlertSetting) error {
	_, err := q.exec(ctx, `INSERT INTO alert_settings (type, enabled, channel, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (type) DO UPDATE SET enabled = excluded.enabled, channel = excluded.channel,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		string(s.Type), s.Enabled, s.Channel, s.UpdatedBy, q.tm(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store alert setting %s: %w", s.Type, err)
	}
	return nil
}
