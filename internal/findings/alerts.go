package findings

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// Alert actions (the buttons).
const (
	ActionWatch  = "watch"
	ActionIgnore = "ignore"
)

// Audit actions.
const (
	AuditAlertRaised   = "alert.raised"
	AuditAlertWatched  = "alert.watched"
	AuditAlertIgnored  = "alert.ignored"
	AuditAlertRefused  = "alert.action_refused"
	AuditAlertPosted   = "alert.posted"
	AuditAlertFailed   = "alert.delivery_failed"
	AuditSettingsSaved = "alert_settings.updated"
	AuditAppWatchlist  = "app.watchlist_added" //nolint:gosec // G101: an audit action name, not a credential
)

// appKeyOf names a catalog app for mutes.
func appKeyOf(appID string) string { return "app:" + appID }

// discoveredKeyOf names a discovered app for mutes.
func discoveredKeyOf(key string) string { return "key:" + key }

// raise stores a (ID, state, delivery and times filled in here) unless
// its dedup key is taken or its app is muted, audits it, and queues its
// delivery. It reports whether it stored the alert.
func (s *Service) raise(ctx context.Context, q store.Queries, t *tx, a *access.Alert) (bool, error) {
	if a.AppKey != "" {
		muted, err := q.AlertMuted(ctx, a.AppKey)
		if err != nil || muted {
			return false, err
		}
	}
	a.ID = ids.New("alr", t.now)
	a.State = access.AlertOpen
	a.Delivery = access.DeliveryPending
	a.CreatedAt, a.UpdatedAt = t.now, t.now
	inserted, err := q.AlertCreate(ctx, a)
	if err != nil || !inserted {
		return false, err
	}
	if err := audit(ctx, q, t.now, access.SystemActor, AuditAlertRaised, "alert", a.ID, nil, a,
		map[string]any{"type": a.Type, "dedup_key": a.DedupKey}); err != nil {
		return false, err
	}
	t.alerts = append(t.alerts, Delivery{AlertID: a.ID})
	return true, nil
}

// Settings returns the effective setting of every alert type: the stored
// one, else the configured default (enabled, default channel).
func (s *Service) Settings(ctx context.Context) ([]access.AlertSetting, error) {
	stored, err := s.st.AlertSettingsGet(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]access.AlertSetting, 0, 3)
	for _, typ := range access.AlertTypes() {
		out = append(out, s.settingOf(typ, stored))
	}
	return out, nil
}

func (s *Service) settingOf(typ access.AlertType, stored map[access.AlertType]access.AlertSetting) access.AlertSetting {
	if st, ok := stored[typ]; ok {
		return st
	}
	if d, ok := s.defaults[typ]; ok {
		d.Type = typ
		return d
	}
	return access.AlertSetting{Type: typ, Enabled: true}
}

// channelFor returns where an alert type posts ("" for nowhere: off, or
// no channel at all).
func (s *Service) channelFor(setting access.AlertSetting) string {
	if !setting.Enabled {
		return ""
	}
	if setting.Channel != "" {
		return setting.Channel
	}
	return s.defChan
}

// SeedSettings writes the configured settings (Config.Defaults) over the
// stored ones that came from the config, and leaves the ones an admin set
// through the API. It audits what changed.
func (s *Service) SeedSettings(ctx context.Context) error {
	return s.run(ctx, func(q store.Queries, t *tx) error {
		stored, err := q.AlertSettingsGet(ctx)
		if err != nil {
			return err
		}
		for typ, d := range s.defaults {
			cur, ok := stored[typ]
			if ok && cur.UpdatedBy != "config" {
				continue
			}
			d.Type, d.UpdatedBy, d.UpdatedAt = typ, "config", t.now
			if ok && cur.Enabled == d.Enabled && cur.Channel == d.Channel {
				continue
			}
			if err := q.AlertSettingPut(ctx, d); err != nil {
				return err
			}
			var before any
			if ok {
				before = cur
			}
			if err := audit(ctx, q, t.now, access.SystemActor, AuditSettingsSaved, "alert_setting", string(typ), before, d, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutSettings saves settings for the types listed (by an admin, checked
// here), audits each change, and returns the effective settings.
func (s *Service) PutSettings(ctx context.Context, actorID string, settings []access.AlertSetting) ([]access.AlertSetting, error) {
	var fields []access.FieldError
	seen := map[access.AlertType]bool{}
	for i, st := range settings {
		switch {
		case !access.ValidAlertType(st.Type):
			fields = append(fields, access.FieldError{Field: fmt.Sprintf("settings[%d].type", i), Message: "unknown alert type"})
		case seen[st.Type]:
			fields = append(fields, access.FieldError{Field: fmt.Sprintf("settings[%d].type", i), Message: "listed twice"})
		}
		seen[st.Type] = true
		if st.Channel != "" && !ValidChannel(st.Channel) {
			fields = append(fields, access.FieldError{Field: fmt.Sprintf("settings[%d].channel", i),
				Message: "a Slack channel ID (C0123ABCD) or name (#security), or empty for the default"})
		}
	}
	if len(fields) > 0 {
		return nil, access.Invalid("invalid alert settings; nothing was saved", fields...)
	}
	err := s.run(ctx, func(q store.Queries, t *tx) error {
		actor, err := loadAdmin(ctx, q, actorID)
		if err != nil {
			return err
		}
		stored, err := q.AlertSettingsGet(ctx)
		if err != nil {
			return err
		}
		for _, st := range settings {
			before := s.settingOf(st.Type, stored)
			st.UpdatedBy, st.UpdatedAt = actor.ID, t.now
			if err := q.AlertSettingPut(ctx, st); err != nil {
				return err
			}
			if err := audit(ctx, q, t.now, actor.ID, AuditSettingsSaved, "alert_setting", string(st.Type), before, st, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Settings(ctx)
}

// ValidChannel reports whether c looks like a Slack channel ID or a
// "#name".
func ValidChannel(c string) bool {
	if len(c) < 2 || len(c) > 81 {
		return false
	}
	if c[0] == '#' {
		for _, r := range c[1:] {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
				return false
			}
		}
		return true
	}
	if c[0] != 'C' && c[0] != 'G' {
		return false
	}
	for _, r := range c {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// loadAdmin returns the actor if they are an active admin: unknown is
// CodeUnauthorized, anyone else CodeForbidden.
func loadAdmin(ctx context.Context, q store.Queries, actorID string) (*access.User, error) {
	u, err := q.UserGetByID(ctx, actorID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeUnauthorized, "unknown user %q", actorID)
	}
	if err != nil {
		return nil, err
	}
	if !u.Active() || !u.HasRole(access.RoleAdmin) {
		return nil, access.Errorf(access.CodeForbidden, "only Sesame admins can act on security alerts")
	}
	return u, nil
}

// ReviewURL is the dashboard page an alert links to ("" without a base
// URL).
func (s *Service) ReviewURL(a *access.Alert) string {
	if s.baseURL == "" {
		return ""
	}
	switch {
	case a.Type == access.AlertOffboardedWithAccounts && a.UserID != "":
		return s.baseURL + "/people/" + url.PathEscape(a.UserID)
	case a.AppID != "":
		return s.baseURL + "/catalog/" + url.PathEscape(a.AppID)
	case strings.HasPrefix(a.AppKey, "key:"):
		return s.baseURL + "/catalog/discovered/" + url.PathEscape(strings.TrimPrefix(a.AppKey, "key:"))
	}
	return s.baseURL + "/alerts"
}

// Deliver posts alert id's message, or updates it when it was posted
// already, and records the outcome. It is the delivery job: running it
// again after success does nothing. A retryable failure is returned (the
// job retries; a *connector.RetryAfterError says how long to wait); a
// permanent one marks the delivery failed and returns nil. An update job
// (rev > 0) never posts: while the first post is still in flight (no ts
// stored yet) it asks to be retried in a second, so that a message is
// never posted twice.
func (s *Service) Deliver(ctx context.Context, id string, rev int) error {
	for range 3 {
		a, err := s.st.AlertGetByID(ctx, id, false)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if a.Delivery != access.DeliveryPending {
			return nil
		}
		if rev > 0 && a.TS == "" && a.Attempts == 0 {
			return &connector.RetryAfterError{After: time.Second, Err: fmt.Errorf("alert %s: first post in flight", id)}
		}
		err = s.deliverOnce(ctx, a)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		// Someone clicked meanwhile: read it again; the message then
		// shows the latest state.
	}
	return fmt.Errorf("deliver alert %s: changed too often", id)
}

func (s *Service) deliverOnce(ctx context.Context, a *access.Alert) error {
	poster := s.getPoster()
	stored, err := s.st.AlertSettingsGet(ctx)
	if err != nil {
		return err
	}
	channel := a.Channel
	setting := s.settingOf(a.Type, stored)
	if a.TS == "" {
		channel = s.channelFor(setting)
	}
	// The first delivery of an enabled alert about a catalog app also goes
	// to the integrations carrying alerts for that app (deduplicated by
	// alert there); a failure there is logged, not retried here.
	if fwd := s.getForwarder(); fwd != nil && a.TS == "" && a.Attempts == 0 && a.AppID != "" && setting.Enabled {
		if err := fwd.ForwardAlert(ctx, Message{Alert: a, ReviewURL: s.ReviewURL(a)}); err != nil {
			s.log.WarnContext(ctx, "forward alert to integrations", "alert", a.ID, "err", err)
		}
	}
	if poster == nil || channel == "" {
		why := "alert type is off"
		if poster == nil {
			why = "slack is not configured"
		} else if s.settingOf(a.Type, stored).Enabled {
			why = "no channel is set (alerts.<type>.channel or slack.alerts_channel)"
		}
		return s.finish(ctx, a, access.DeliverySkipped, "", "", why)
	}
	msg := Message{Alert: a, ReviewURL: s.ReviewURL(a)}
	var ts string
	if a.TS == "" {
		var id string
		id, ts, err = poster.PostAlert(ctx, channel, msg)
		if err == nil && id != "" {
			channel = id
		}
	} else {
		ts = a.TS
		err = poster.UpdateAlert(ctx, channel, a.TS, msg)
	}
	if err != nil {
		if connector.IsPermanent(err) {
			s.log.WarnContext(ctx, "alert not delivered", "alert", a.ID, "channel", channel, "err", err)
			return s.finish(ctx, a, access.DeliveryFailed, "", "", err.Error())
		}
		if ferr := s.failedAttempt(ctx, a, err); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	return s.finish(ctx, a, access.DeliveryPosted, channel, ts, "")
}

// finish records a delivery's outcome on a (at its Version: ErrConflict
// when it changed meanwhile). A message posted for the first time keeps
// its channel and ts even then.
func (s *Service) finish(ctx context.Context, a *access.Alert, d access.AlertDelivery, channel, ts, why string) error {
	return s.run(ctx, func(q store.Queries, t *tx) error {
		cur, err := q.AlertGetByID(ctx, a.ID, true)
		if err != nil {
			return err
		}
		first := cur.TS == "" && ts != ""
		if first {
			cur.Channel, cur.TS = channel, ts
		}
		if cur.Version != a.Version {
			// Changed meanwhile (a click): save the ts, stay pending, and
			// let the caller deliver the new state.
			if first {
				cur.UpdatedAt = t.now
				if err := q.AlertUpdate(ctx, cur); err != nil {
					return err
				}
			}
			return store.ErrConflict
		}
		cur.Delivery, cur.LastError, cur.UpdatedAt = d, why, t.now
		cur.Attempts++
		if err := q.AlertUpdate(ctx, cur); err != nil {
			return err
		}
		switch {
		case first:
			return audit(ctx, q, t.now, access.SystemActor, AuditAlertPosted, "alert", cur.ID, nil, nil,
				map[string]any{"channel": channel, "ts": ts})
		case d == access.DeliveryFailed:
			return audit(ctx, q, t.now, access.SystemActor, AuditAlertFailed, "alert", cur.ID, nil, nil,
				map[string]any{"error": why})
		}
		return nil
	})
}

// failedAttempt counts a retryable failure on the alert.
func (s *Service) failedAttempt(ctx context.Context, a *access.Alert, cause error) error {
	return s.run(ctx, func(q store.Queries, t *tx) error {
		cur, err := q.AlertGetByID(ctx, a.ID, true)
		if err != nil {
			return err
		}
		cur.Attempts++
		cur.LastError = cause.Error()
		cur.UpdatedAt = t.now
		return q.AlertUpdate(ctx, cur)
	})
}

// Act applies a button: ActionWatch (Add to Watchlist) or ActionIgnore.
// The actor must be an active Sesame admin (checked here, from the store;
// a refusal is audited and changes nothing). Watch on an app alert puts
// the app on the watchlist (a discovered app becomes a catalog app,
// source discovered, connector manual); Ignore mutes further alerts about
// the app. Both set the alert's state, audit, and queue the message
// update. Acting again with the same action is a no-op.
func (s *Service) Act(ctx context.Context, actorID, alertID, action string) (*access.Alert, error) {
	if action != ActionWatch && action != ActionIgnore {
		return nil, access.Invalid("unknown alert action " + action)
	}
	var out *access.Alert
	err := s.run(ctx, func(q store.Queries, t *tx) error {
		actor, err := loadAdmin(ctx, q, actorID)
		if err != nil {
			return err
		}
		a, err := q.AlertGetByID(ctx, alertID, true)
		if errors.Is(err, store.ErrNotFound) {
			return access.Errorf(access.CodeNotFound, "alert %s was not found", alertID)
		}
		if err != nil {
			return err
		}
		want := access.AlertWatching
		if action == ActionIgnore {
			want = access.AlertIgnored
		}
		if a.State == want {
			out = a
			return nil
		}
		before := *a
		a.State, a.DecidedBy, a.DecidedAt, a.UpdatedAt = want, actor.ID, t.now, t.now
		a.Delivery = access.DeliveryPending
		if action == ActionWatch {
			if err := s.watchApp(ctx, q, t, actor, a); err != nil {
				return err
			}
		} else if a.AppKey != "" {
			if err := q.AlertMuteAdd(ctx, a.AppKey, actor.ID, t.now); err != nil {
				return err
			}
		}
		if err := q.AlertUpdate(ctx, a); err != nil {
			return err
		}
		verb := AuditAlertWatched
		if action == ActionIgnore {
			verb = AuditAlertIgnored
		}
		if err := audit(ctx, q, t.now, actor.ID, verb, "alert", a.ID, &before, a, nil); err != nil {
			return err
		}
		t.alerts = append(t.alerts, Delivery{AlertID: a.ID, Rev: a.Version})
		out = a
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, alertID, action, err)
		return nil, err
	}
	return out, nil
}

// auditRefusal records a forbidden click in its own transaction.
func (s *Service) auditRefusal(ctx context.Context, actorID, alertID, action string, cause error) {
	switch access.ErrorCode(cause) {
	case access.CodeForbidden, access.CodeUnauthorized:
	default:
		return
	}
	now := s.now()
	err := s.st.InTx(ctx, func(q store.Queries) error {
		return audit(ctx, q, now, actorID, AuditAlertRefused, "alert", alertID, nil, nil,
			map[string]any{"action": action, "error": cause.Error()})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "audit refused alert action", "err", err)
	}
}

// watchApp puts the alert's app on the watchlist.
func (s *Service) watchApp(ctx context.Context, q store.Queries, t *tx, actor *access.User, a *access.Alert) error {
	switch {
	case a.AppID != "":
		app, err := q.AppGetByID(ctx, a.AppID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || app.Watchlist {
			return err
		}
		before := *app
		app.Watchlist, app.UpdatedAt = true, t.now
		if err := q.AppUpsert(ctx, app); err != nil {
			return err
		}
		return audit(ctx, q, t.now, actor.ID, AuditAppWatchlist, "app", app.ID, &before, app, map[string]any{"alert": a.ID})
	case strings.HasPrefix(a.AppKey, "key:"):
		key := strings.TrimPrefix(a.AppKey, "key:")
		d, err := q.DiscoveredAppGet(ctx, key)
		if err != nil {
			return err
		}
		id, err := freeAppID(ctx, q, key)
		if err != nil {
			return err
		}
		app := &access.App{ID: id, Name: d.Name, Description: "Discovered by " + d.Source + "; on the watchlist.",
			ConnectorType: "manual", ConnectorSettings: map[string]string{}, Watchlist: true,
			Source: access.SourceDiscovered, CreatedAt: t.now, UpdatedAt: t.now}
		if d.Domain != "" {
			app.Aliases = []string{d.Domain}
		}
		if err := q.AppUpsert(ctx, app); err != nil {
			return err
		}
		if err := q.DiscoveredAppSetAppID(ctx, key, id); err != nil {
			return err
		}
		a.AppID = id
		return audit(ctx, q, t.now, actor.ID, AuditAppWatchlist, "app", app.ID, nil, app, map[string]any{"alert": a.ID, "discovered": key})
	}
	return nil
}

// freeAppID returns an unused catalog app ID made from a discovered key.
func freeAppID(ctx context.Context, q store.Queries, key string) (string, error) {
	base := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		}
		return '-'
	}, key), "-")
	if base == "" {
		base = "app"
	}
	if len(base) > 40 {
		base = base[:40]
	}
	for i := 1; i < 100; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		_, err := q.AppGetByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("no free app id for %q", key)
}

// Sweep re-enqueues deliveries pending for longer than stall (their job
// was lost: a crash between commit and enqueue on PostgreSQL) and returns
// how many.
func (s *Service) Sweep(ctx context.Context, stall time.Duration) (int, error) {
	enq := s.getEnqueuer()
	if enq == nil {
		return 0, nil
	}
	list, err := s.st.AlertListPending(ctx, s.now().Add(-stall), 500)
	if err != nil || len(list) == 0 {
		return 0, err
	}
	ds := make([]Delivery, 0, len(list))
	for _, a := range list {
		ds = append(ds, Delivery{AlertID: a.ID})
	}
	return len(ds), enq.EnqueueAlerts(ctx, ds)
}

// Get returns an alert (for the API).
func (s *Service) Get(ctx context.Context, id string) (*access.Alert, error) {
	a, err := s.st.AlertGetByID(ctx, id, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeNotFound, "alert %s was not found", id)
	}
	return a, err
}
