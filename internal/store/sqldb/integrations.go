package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/store"
)

const integrationCols = `id, name, source, kind, channel, webhook_sealed, webhook_mask, covers, categories, health,
	last_error, failing_since, last_ok_at, version, created_at, updated_at`

func scanIntegration(s scanner) (*store.Integration, error) {
	i := new(store.Integration)
	err := s.Scan(&i.ID, &i.Name, &i.Source, &i.Kind, &i.Channel, &i.WebhookSealed, &i.WebhookMask, jsonCol{&i.Covers},
		jsonCol{&i.Categories}, &i.Health, &i.LastError, timeCol{&i.FailingSince}, timeCol{&i.LastOKAt}, &i.Version,
		timeCol{&i.CreatedAt}, timeCol{&i.UpdatedAt})
	return i, err
}

// IntegrationCreate implements store.IntegrationQueries.
func (q *queries) IntegrationCreate(ctx context.Context, i *store.Integration) error {
	covers, err := jsonArg(i.Covers)
	if err != nil {
		return err
	}
	cats, err := jsonArg(i.Categories)
	if err != nil {
		return err
	}
	if i.Health == "" {
		i.Health = store.HealthHealthy
	}
	i.Version = 1
	_, err = q.exec(ctx, `INSERT INTO integrations (`+integrationCols+`) VALUES (`+marks(16)+`)`,
		i.ID, i.Name, i.Source, i.Kind, i.Channel, i.WebhookSealed, i.WebhookMask, covers, cats, i.Health, i.LastError,
		q.tm(i.FailingSince), q.tm(i.LastOKAt), int64(i.Version), q.tm(i.CreatedAt), q.tm(i.UpdatedAt))
	if err != nil {
		i.Version = 0
		return q.classify(err, "create integration %s", i.ID)
	}
	return nil
}

// IntegrationGetByID implements store.IntegrationQueries.
func (q *queries) IntegrationGetByID(ctx context.Context, id string) (*store.Integration, error) {
	i, err := scanIntegration(q.queryRow(ctx, `SELECT `+integrationCols+` FROM integrations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("integration %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get integration %s: %w", id, err)
	}
	return i, nil
}

// IntegrationList implements store.IntegrationQueries.
func (q *queries) IntegrationList(ctx context.Context) ([]*store.Integration, error) {
	rows, err := q.query(ctx, `SELECT `+integrationCols+` FROM integrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	out, err := collect(rows, scanIntegration)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	return out, nil
}

// IntegrationUpdate implements store.IntegrationQueries.
func (q *queries) IntegrationUpdate(ctx context.Context, i *store.Integration) error {
	covers, err := jsonArg(i.Covers)
	if err != nil {
		return err
	}
	cats, err := jsonArg(i.Categories)
	if err != nil {
		return err
	}
	n, err := q.execN(ctx, `UPDATE integrations SET name = ?, source = ?, kind = ?, channel = ?, webhook_sealed = ?,
		webhook_mask = ?, covers = ?, categories = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
		i.Name, i.Source, i.Kind, i.Channel, i.WebhookSealed, i.WebhookMask, covers, cats, q.tm(i.UpdatedAt), i.ID, int64(i.Version))
	if err != nil {
		return q.classify(err, "update integration %s", i.ID)
	}
	if n == 0 {
		return q.versionErr(ctx, "integrations", "integration", i.ID, i.Version)
	}
	i.Version++
	return nil
}

// IntegrationDelete implements store.IntegrationQueries.
func (q *queries) IntegrationDelete(ctx context.Context, id string) error {
	return q.atomic(ctx, func(q *queries) error {
		if _, err := q.exec(ctx, `DELETE FROM integration_deliveries WHERE integration_id = ?`, id); err != nil {
			return fmt.Errorf("delete deliveries of integration %s: %w", id, err)
		}
		n, err := q.execN(ctx, `DELETE FROM integrations WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete integration %s: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("integration %s: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// IntegrationMarkFailing implements store.IntegrationQueries: the first
// UPDATE only matches an integration that was not failing, so one caller
// starts the episode.
func (q *queries) IntegrationMarkFailing(ctx context.Context, id, lastError string, now time.Time) (bool, error) {
	n, err := q.execN(ctx, `UPDATE integrations SET health = ?, last_error = ?, failing_since = ? WHERE id = ? AND health <> ?`,
		store.HealthFailing, lastError, q.tm(now), id, store.HealthFailing)
	if err != nil {
		return false, fmt.Errorf("mark integration %s failing: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	n, err = q.execN(ctx, `UPDATE integrations SET last_error = ? WHERE id = ?`, lastError, id)
	if err != nil {
		return false, fmt.Errorf("mark integration %s failing: %w", id, err)
	}
	if n == 0 {
		return false, fmt.Errorf("integration %s: %w", id, store.ErrNotFound)
	}
	return false, nil
}

// IntegrationMarkHealthy implements store.IntegrationQueries.
func (q *queries) IntegrationMarkHealthy(ctx context.Context, id string, now time.Time) (bool, error) {
	n, err := q.execN(ctx, `UPDATE integrations SET health = ?, last_error = '', failing_since = NULL, last_ok_at = ?
		WHERE id = ? AND health = ?`, store.HealthHealthy, q.tm(now), id, store.HealthFailing)
	if err != nil {
		return false, fmt.Errorf("mark integration %s healthy: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	n, err = q.execN(ctx, `UPDATE integrations SET last_ok_at = ? WHERE id = ?`, q.tm(now), id)
	if err != nil {
		return false, fmt.Errorf("mark integration %s healthy: %w", id, err)
	}
	if n == 0 {
		return false, fmt.Errorf("integration %s: %w", id, store.ErrNotFound)
	}
	return false, nil
}

const deliveryCols = `id, integration_id, recipient_id, dedup_key, category, app_id, payload, state, attempts, last_error,
	created_at, next_at, sent_at`

func scanDelivery(s scanner) (*store.Delivery, error) {
	d := new(store.Delivery)
	var payload string
	err := s.Scan(&d.ID, &d.IntegrationID, &d.RecipientID, &d.DedupKey, &d.Category, &d.AppID, &payload, &d.State,
		&d.Attempts, &d.LastError, timeCol{&d.CreatedAt}, timeCol{&d.NextAt}, timeCol{&d.SentAt})
	d.Payload = []byte(payload)
	return d, err
}

// DeliveryCreate implements store.IntegrationQueries.
func (q *queries) DeliveryCreate(ctx context.Context, d *store.Delivery) (bool, error) {
	n, err := q.execN(ctx, `INSERT INTO integration_deliveries (`+deliveryCols+`) VALUES (`+marks(13)+`)
		ON CONFLICT (integration_id, dedup_key) DO NOTHING`,
		d.ID, d.IntegrationID, d.RecipientID, d.DedupKey, d.Category, d.AppID, string(d.Payload), string(d.State),
		int64(d.Attempts), d.LastError, q.tm(d.CreatedAt), q.tm(d.NextAt), q.tm(d.SentAt))
	if err != nil {
		return false, q.classify(err, "create delivery %s", d.ID)
	}
	return n == 1, nil
}

// DeliveryGetByID implements store.IntegrationQueries.
func (q *queries) DeliveryGetByID(ctx context.Context, id string) (*store.Delivery, error) {
	d, err := scanDelivery(q.queryRow(ctx, `SELECT `+deliveryCols+` FROM integration_deliveries WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("delivery %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get delivery %s: %w", id, err)
	}
	return d, nil
}

// DeliveryClaim implements store.IntegrationQueries.
func (q *queries) DeliveryClaim(ctx context.Context, id string, now, until time.Time) (bool, error) {
	n, err := q.execN(ctx, `UPDATE integration_deliveries SET next_at = ? WHERE id = ? AND state = ? AND next_at <= ?`,
		q.tm(until), id, string(store.DeliveryPending), q.tm(now))
	if err != nil {
		return false, fmt.Errorf("claim delivery %s: %w", id, err)
	}
	return n == 1, nil
}

// DeliveryUpdate implements store.IntegrationQueries.
func (q *queries) DeliveryUpdate(ctx context.Context, d *store.Delivery) error {
	n, err := q.execN(ctx, `UPDATE integration_deliveries SET state = ?, attempts = ?, last_error = ?, next_at = ?, sent_at = ?
		WHERE id = ?`, string(d.State), int64(d.Attempts), d.LastError, q.tm(d.NextAt), q.tm(d.SentAt), d.ID)
	if err != nil {
		return fmt.Errorf("update delivery %s: %w", d.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("delivery %s: %w", d.ID, store.ErrNotFound)
	}
	return nil
}

// DeliveryListDue implements store.IntegrationQueries.
func (q *queries) DeliveryListDue(ctx context.Context, before time.Time, limit int) ([]*store.Delivery, error) {
	rows, err := q.query(ctx, `SELECT `+deliveryCols+` FROM integration_deliveries WHERE state = ? AND next_at <= ?
		ORDER BY next_at, id LIMIT ?`, string(store.DeliveryPending), q.tm(before), limit)
	if err != nil {
		return nil, fmt.Errorf("list due deliveries: %w", err)
	}
	out, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("list due deliveries: %w", err)
	}
	return out, nil
}

// DeliveryList implements store.IntegrationQueries.
func (q *queries) DeliveryList(ctx context.Context, integrationID string, states []store.DeliveryState, limit int) ([]*store.Delivery, error) {
	var w where
	if integrationID != "" {
		w.add("integration_id = ?", integrationID)
	}
	if len(states) > 0 {
		in(&w, "state", states)
	}
	rows, err := q.query(ctx, `SELECT `+deliveryCols+` FROM integration_deliveries`+w.String()+` ORDER BY id DESC LIMIT ?`,
		append(w.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// DeliveryCounts implements store.IntegrationQueries.
func (q *queries) DeliveryCounts(ctx context.Context) (map[string]map[store.DeliveryState]int, error) {
	rows, err := q.query(ctx, `SELECT integration_id, state, count(*) FROM integration_deliveries
		WHERE recipient_id = '' AND state IN (?, ?, ?) GROUP BY integration_id, state`,
		string(store.DeliveryPending), string(store.DeliveryHeld), string(store.DeliveryFailed))
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	out := map[string]map[store.DeliveryState]int{}
	for rows.Next() {
		var id string
		var state store.DeliveryState
		var n int
		if err := rows.Scan(&id, &state, &n); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		if out[id] == nil {
			out[id] = map[store.DeliveryState]int{}
		}
		out[id][state] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	return out, nil
}

// DeliveryRelease implements store.IntegrationQueries.
func (q *queries) DeliveryRelease(ctx context.Context, integrationID string, now time.Time) (int, error) {
	n, err := q.execN(ctx, `UPDATE integration_deliveries SET state = ?, next_at = ?, attempts = 0
		WHERE integration_id = ? AND state = ?`,
		string(store.DeliveryPending), q.tm(now), integrationID, string(store.DeliveryHeld))
	if err != nil {
		return 0, fmt.Errorf("release deliveries of integration %s: %w", integrationID, err)
	}
	return int(n), nil
}
