package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// errNotDue: the delivery waits (Retry-After) or another sender holds it.
var errNotDue = errors.New("delivery not due yet")

// RetryError asks the job queue to run a delivery again: after After when
// Slack said how long to wait (429 Retry-After), else with the queue's
// backoff.
type RetryError struct {
	After time.Duration
	Err   error
}

func (e *RetryError) Error() string { return "retry: " + e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// Deliver sends one stored delivery (the job's work). A sent, held or
// failed delivery is not sent again, so a repeated job sends nothing twice
// (but for a crash between Slack's answer and the store write: delivery is
// at least once). Outcomes:
//   - sent: the integration is healthy again (if it was failing, its held
//     messages are released and admins told it recovered);
//   - destination failure (revoked webhook, archived channel, bot not in
//     channel): the message is held, the integration marked failing, and
//     admins DMed once per failure episode;
//   - rate limited (429): *RetryError after Slack's Retry-After, not
//     counted as a failed attempt;
//   - transient failure: *RetryError (with backoff); after
//     FailingAfter attempts the integration is marked failing, after
//     MaxAttempts the message is held;
//   - Slack refused the message itself: it is marked failed and logged.
func (s *Service) Deliver(ctx context.Context, deliveryID string) error {
	d, err := s.st.DeliveryGetByID(ctx, deliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.State != store.DeliveryPending {
		return nil
	}
	i, err := s.st.IntegrationGetByID(ctx, d.IntegrationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted with its deliveries
	}
	if err != nil {
		return err
	}
	if ok, err := s.claim(ctx, d); !ok || err != nil {
		return err
	}
	var m Message
	if err := json.Unmarshal(d.Payload, &m); err != nil {
		return s.finish(ctx, d, store.DeliveryFailed, fmt.Sprintf("stored message unreadable: %v", err))
	}
	if d.RecipientID != "" {
		return s.deliverDM(ctx, d, m)
	}
	sendErr := s.sendTo(ctx, i, m)
	if sendErr != nil && ctx.Err() != nil {
		return &RetryError{Err: sendErr}
	}
	now := s.clock.Now()
	d.Attempts++
	if sendErr == nil {
		d.State, d.SentAt, d.LastError = store.DeliverySent, now, ""
		if err := s.st.DeliveryUpdate(ctx, d); err != nil {
			return fmt.Errorf("save delivery: %w", err)
		}
		return s.healthy(ctx, i)
	}
	se, ok := errors.AsType[*SendError](sendErr)
	if !ok {
		se = &SendError{Code: "error", Class: FailTransient, Err: sendErr}
	}
	d.LastError = se.Error()
	limited := se.RetryAfter > 0 || se.Status == http.StatusTooManyRequests
	if limited {
		d.Attempts-- // Slack asked us to slow down: not a failure
	}
	switch {
	case se.Class == FailMessage:
		s.log.ErrorContext(ctx, "Slack refused an integration message", "integration", i.Name, "delivery", d.ID, "err", se)
		return s.finish(ctx, d, store.DeliveryFailed, d.LastError)
	case se.Class == FailDestination || d.Attempts >= MaxAttempts:
		d.State, d.NextAt = store.DeliveryHeld, now.Add(ProbeEvery)
		if err := s.st.DeliveryUpdate(ctx, d); err != nil {
			return fmt.Errorf("save delivery: %w", err)
		}
		return s.failing(ctx, i, se.Code)
	}
	d.NextAt = now.Add(max(se.RetryAfter, time.Second))
	if err := s.st.DeliveryUpdate(ctx, d); err != nil {
		return fmt.Errorf("save delivery: %w", err)
	}
	if d.Attempts >= FailingAfter && !limited {
		if err := s.failing(ctx, i, se.Code); err != nil {
			return err
		}
	}
	return &RetryError{After: se.RetryAfter, Err: se}
}

// claim takes d for this sender: the lease keeps others off it until the
// outcome is saved (or the lease ends, after a crash). Not claimed, it
// returns a *RetryError to wait until d is due, or nil when another
// sender took it.
func (s *Service) claim(ctx context.Context, d *store.Delivery) (bool, error) {
	now := s.clock.Now()
	claimed, err := s.st.DeliveryClaim(ctx, d.ID, now, now.Add(Lease))
	if err != nil || claimed {
		return claimed, err
	}
	if d.NextAt.After(now) {
		return false, &RetryError{After: d.NextAt.Sub(now), Err: errNotDue}
	}
	return false, nil
}

// finish ends d in state with lastError.
func (s *Service) finish(ctx context.Context, d *store.Delivery, state store.DeliveryState, lastError string) error {
	d.State, d.LastError = state, lastError
	if err := s.st.DeliveryUpdate(ctx, d); err != nil {
		return fmt.Errorf("save delivery: %w", err)
	}
	return nil
}

// sendTo posts m to i's destination.
func (s *Service) sendTo(ctx context.Context, i *store.Integration, m Message) error {
	switch i.Kind {
	case KindWebhook:
		u, err := s.box.Open(i.WebhookSealed)
		if err != nil {
			return &SendError{Code: "unsealable_url", Class: FailDestination, Err: errors.New("the webhook URL cannot be decrypted (secrets key changed?)")}
		}
		return s.send.webhook(ctx, u, m)
	case KindChannel:
		return s.send.postMessage(ctx, i.Channel, m)
	}
	return &SendError{Code: "unknown_kind", Class: FailDestination, Err: fmt.Errorf("unknown destination kind %q", i.Kind)}
}

// deliverDM sends an admin's health DM. Its failures never change the
// integration's health (the admin's DM is not the integration).
func (s *Service) deliverDM(ctx context.Context, d *store.Delivery, m Message) error {
	u, err := s.st.UserGetByID(ctx, d.RecipientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!u.Active() || u.SlackUserID == "")) {
		return s.finish(ctx, d, store.DeliveryFailed, "the admin is gone, inactive or not linked to Slack")
	}
	if err != nil {
		return err
	}
	sendErr := s.send.postMessage(ctx, u.SlackUserID, m)
	d.Attempts++
	if sendErr == nil {
		d.State, d.SentAt, d.LastError = store.DeliverySent, s.clock.Now(), ""
		return s.finish(ctx, d, store.DeliverySent, "")
	}
	se, _ := errors.AsType[*SendError](sendErr)
	if se != nil && se.Class != FailTransient || d.Attempts >= MaxAttempts {
		s.log.ErrorContext(ctx, "could not tell an admin about an integration", "admin", u.Email, "err", sendErr)
		return s.finish(ctx, d, store.DeliveryFailed, sendErr.Error())
	}
	d.LastError, d.NextAt = sendErr.Error(), s.clock.Now().Add(time.Second)
	if err := s.st.DeliveryUpdate(ctx, d); err != nil {
		return fmt.Errorf("save delivery: %w", err)
	}
	var after time.Duration
	if se != nil {
		after = se.RetryAfter
	}
	return &RetryError{After: after, Err: sendErr}
}

// failing marks i failing; the caller that starts the episode audits it
// and DMs every admin once.
func (s *Service) failing(ctx context.Context, i *store.Integration, code string) error {
	now := s.clock.Now()
	started, err := s.st.IntegrationMarkFailing(ctx, i.ID, code, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || !started {
		return err
	}
	s.log.WarnContext(ctx, "integration failing", "integration", i.Name, "error", code)
	if err := s.audit(ctx, access.SystemActor, "integration.failing", i.ID, map[string]any{"error": code}); err != nil {
		return err
	}
	i.Health, i.LastError, i.FailingSince = store.HealthFailing, code, now
	return s.tellAdmins(ctx, i, healthMessage(i, true, code, s.baseURL), "failing/"+now.UTC().Format(time.RFC3339Nano))
}

// healthy records a success; when i was failing it is audited, admins are
// told, and held messages are released.
func (s *Service) healthy(ctx context.Context, i *store.Integration) error {
	recovered, err := s.st.IntegrationMarkHealthy(ctx, i.ID, s.clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || !recovered {
		return err
	}
	s.log.InfoContext(ctx, "integration recovered", "integration", i.Name)
	if err := s.audit(ctx, access.SystemActor, "integration.recovered", i.ID, map[string]any{"since": i.FailingSince}); err != nil {
		return err
	}
	if err := s.release(ctx, i.ID); err != nil {
		return err
	}
	return s.tellAdmins(ctx, i, healthMessage(i, false, "", s.baseURL), "recovered/"+s.clock.Now().UTC().Format(time.RFC3339Nano))
}

// release makes i's held deliveries due now and enqueues them.
func (s *Service) release(ctx context.Context, integrationID string) error {
	if _, err := s.st.DeliveryRelease(ctx, integrationID, s.clock.Now()); err != nil {
		return err
	}
	due, err := s.st.DeliveryList(ctx, integrationID, []store.DeliveryState{store.DeliveryPending}, 1000)
	if err != nil {
		return err
	}
	ids := make([]Job, 0, len(due))
	for _, d := range due {
		ids = append(ids, jobOf(d))
	}
	s.log.InfoContext(ctx, "held messages released", "integration", integrationID, "deliveries", len(ids))
	s.enqueue(ctx, ids)
	return nil
}

// tellAdmins stores a DM of m to every active admin linked to Slack, as
// durable deliveries of i (key makes each once per episode).
func (s *Service) tellAdmins(ctx context.Context, i *store.Integration, m Message, key string) error {
	admins, err := s.admins(ctx)
	if err != nil {
		return err
	}
	if len(admins) == 0 {
		s.log.WarnContext(ctx, "no admin linked to Slack to tell about an integration", "integration", i.Name)
		return nil
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	var added []Job
	for _, a := range admins {
		d := &store.Delivery{ID: newID(now), IntegrationID: i.ID, RecipientID: a.ID, DedupKey: "health/" + key + "/" + a.ID,
			Category: "health", Payload: payload, State: store.DeliveryPending, CreatedAt: now, NextAt: now}
		ok, err := s.st.DeliveryCreate(ctx, d)
		if err != nil {
			return fmt.Errorf("store admin notice: %w", err)
		}
		if ok {
			added = append(added, jobOf(d))
		}
	}
	s.enqueue(ctx, added)
	return nil
}

// admins returns the active admins linked to Slack.
func (s *Service) admins(ctx context.Context) ([]*access.User, error) {
	var out []*access.User
	cursor := ""
	for range 100 {
		us, next, err := s.st.UserList(ctx, store.UserListParams{Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			return nil, fmt.Errorf("list admins: %w", err)
		}
		for _, u := range us {
			if u.Active() && u.HasRole(access.RoleAdmin) && u.SlackUserID != "" {
				out = append(out, u)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

// SweepResult counts what one Sweep enqueued.
type SweepResult struct {
	Stalled int // due deliveries whose job was lost
	Probes  int // held messages of failing integrations tried again
}

// Sweep enqueues due deliveries that have waited StallAfter (a lost job,
// a restart), and, for each failing integration, one held message whose
// probe time came (ProbeEvery), to notice a destination that works
// again. Run it periodically, on one replica.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := s.clock.Now()
	due, err := s.st.DeliveryListDue(ctx, now.Add(-StallAfter), 1000)
	if err != nil {
		return res, err
	}
	var ids []Job
	for _, d := range due {
		ids = append(ids, jobOf(d))
	}
	res.Stalled = len(ids)
	all, err := s.st.IntegrationList(ctx)
	if err != nil {
		return res, err
	}
	for _, i := range all {
		if i.Health != store.HealthFailing {
			continue
		}
		held, err := s.st.DeliveryList(ctx, i.ID, []store.DeliveryState{store.DeliveryHeld}, 1)
		if err != nil {
			return res, err
		}
		if len(held) == 0 || held[0].NextAt.After(now) {
			continue
		}
		d := held[0]
		d.State, d.NextAt = store.DeliveryPending, now
		if err := s.st.DeliveryUpdate(ctx, d); err != nil {
			return res, err
		}
		ids = append(ids, jobOf(d))
		res.Probes++
	}
	s.enqueue(ctx, ids)
	return res, nil
}
