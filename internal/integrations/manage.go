package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// Sources of an integration.
const (
	SourceConfig = "config" // the configuration file: read-only through the API
	SourceAPI    = "api"
)

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	channelRE = regexp.MustCompile(`^[CG][A-Z0-9]{2,31}$`)
)

func newID(now time.Time) string { return ids.New("dlv", now) }

// Spec is an integration's settings as a person writes them: exactly one
// of WebhookURL and Channel.
type Spec struct {
	// Name is a slug (a-z, 0-9, -), unique.
	Name string
	// WebhookURL is a Slack incoming-webhook URL (a secret).
	WebhookURL string
	// Channel is a Slack channel ID (C..., G...) the bot is a member of.
	Channel string
	// Covers are selector terms (see ParseTerm).
	Covers []string
	// Categories are the categories carried.
	Categories []string
}

// Check validates spec against sets and returns its field errors (nil when
// valid); field names are prefixed with prefix ("integrations.routes[0].").
func (s *Service) Check(spec Spec, prefix string) []access.FieldError {
	return CheckSpec(spec, prefix, s.sets, s.send.botToken != "", s.loop)
}

// CheckSpec validates spec: the configuration and the API use it.
func CheckSpec(spec Spec, prefix string, sets Sets, haveBot, allowLoopback bool) []access.FieldError {
	var fe []access.FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, access.FieldError{Field: prefix + field, Message: fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(spec.Name) {
		add("name", "%q is not a name: lowercase letters, digits and -, at most 63", spec.Name)
	}
	switch {
	case spec.WebhookURL != "" && spec.Channel != "":
		add("webhook_url", "set webhook_url or channel, not both")
	case spec.WebhookURL == "" && spec.Channel == "":
		add("webhook_url", "set webhook_url (a Slack incoming webhook) or channel (a channel ID the bot posts to)")
	case spec.WebhookURL != "":
		if err := CheckWebhookURL(spec.WebhookURL, allowLoopback); err != nil {
			add("webhook_url", "%s", err.Error())
		}
	default:
		if !channelRE.MatchString(spec.Channel) {
			add("channel", "%q is not a Slack channel ID (C0123ABCD)", spec.Channel)
		} else if !haveBot {
			add("channel", "posting to a channel needs the Slack bot (slack.bot_token)")
		}
	}
	sel, err := ParseSelector(spec.Covers)
	if err == nil {
		err = sel.Check(sets)
	}
	if err != nil {
		add("covers", "%s", err.Error())
	}
	if _, err := ParseCategories(spec.Categories); err != nil {
		add("categories", "%s", err.Error())
	}
	return fe
}

// normalize returns the canonical covers and categories of a valid spec.
func normalize(spec Spec) (covers, cats []string) {
	sel, _ := ParseSelector(spec.Covers)      //nolint:errcheck // checked by CheckSpec
	cs, _ := ParseCategories(spec.Categories) //nolint:errcheck // checked by CheckSpec
	for _, c := range cs {
		cats = append(cats, string(c))
	}
	return sel.Strings(), cats
}

// apply writes spec into i, sealing the webhook URL.
func (s *Service) apply(i *store.Integration, spec Spec) error {
	i.Name = spec.Name
	i.Covers, i.Categories = normalize(spec)
	if spec.WebhookURL != "" {
		sealed, err := s.box.Seal(spec.WebhookURL)
		if err != nil {
			return fmt.Errorf("seal webhook url: %w", err)
		}
		i.Kind, i.Channel, i.WebhookSealed, i.WebhookMask = KindWebhook, "", sealed, MaskWebhookURL(spec.WebhookURL)
		return nil
	}
	i.Kind, i.Channel, i.WebhookSealed, i.WebhookMask = KindChannel, spec.Channel, "", ""
	return nil
}

// mustAdmin refuses anyone but an active admin.
func mustAdmin(actor *access.User) error {
	if !actor.Active() || !actor.HasRole(access.RoleAdmin) {
		return access.Errorf(access.CodeForbidden, "only admins manage integrations")
	}
	return nil
}

func invalid(fe []access.FieldError) error {
	return access.Invalid("invalid integration", fe...)
}

// List returns every integration, by name.
func (s *Service) List(ctx context.Context) ([]*store.Integration, error) {
	return s.st.IntegrationList(ctx)
}

// Backlog is what an integration has not delivered: Waiting messages
// (pending or held while it fails) and Failed ones (refused by Slack).
type Backlog struct {
	Waiting int `json:"waiting"`
	Failed  int `json:"failed"`
}

// Backlogs returns the backlog of every integration that has one, by ID.
func (s *Service) Backlogs(ctx context.Context) (map[string]Backlog, error) {
	counts, err := s.st.DeliveryCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Backlog, len(counts))
	for id, c := range counts {
		out[id] = Backlog{Waiting: c[store.DeliveryPending] + c[store.DeliveryHeld], Failed: c[store.DeliveryFailed]}
	}
	return out, nil
}

// Get returns one integration; access.CodeNotFound when there is none.
func (s *Service) Get(ctx context.Context, id string) (*store.Integration, error) {
	i, err := s.st.IntegrationGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeNotFound, "integration %s not found", id)
	}
	return i, err
}

// Create adds an integration (admins only), audited.
func (s *Service) Create(ctx context.Context, actor *access.User, spec Spec) (*store.Integration, error) {
	if err := mustAdmin(actor); err != nil {
		return nil, err
	}
	if fe := s.Check(spec, ""); len(fe) > 0 {
		return nil, invalid(fe)
	}
	now := s.clock.Now()
	i := &store.Integration{ID: ids.New("int", now), Source: SourceAPI, Health: store.HealthHealthy, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(i, spec); err != nil {
		return nil, err
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.IntegrationCreate(ctx, i); err != nil {
			return err
		}
		return auditIn(ctx, q, now, actor.ID, "integration.created", i.ID, nil, i, nil)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, access.Errorf(access.CodeConflict, "an integration named %q exists", spec.Name)
	}
	return i, err
}

// Patch changes some settings of an integration; nil fields are kept.
// Setting WebhookURL turns a channel integration into a webhook one and
// the reverse with Channel.
type Patch struct {
	Name       *string
	WebhookURL *string
	Channel    *string
	Covers     *[]string
	Categories *[]string
}

// Update applies p (admins only; integrations from the configuration file
// are read-only), audited. A new destination releases the messages held
// while the old one failed.
func (s *Service) Update(ctx context.Context, actor *access.User, id string, p Patch) (*store.Integration, error) {
	if err := mustAdmin(actor); err != nil {
		return nil, err
	}
	i, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if i.Source == SourceConfig {
		return nil, access.Errorf(access.CodeConflict, "integration %s comes from the configuration file: change it there", i.Name)
	}
	before := *i
	spec := Spec{Name: i.Name, Channel: i.Channel, Covers: i.Covers, Categories: i.Categories}
	newDest := false
	if i.Kind == KindWebhook {
		if spec.WebhookURL, err = s.box.Open(i.WebhookSealed); err != nil {
			return nil, fmt.Errorf("open webhook url: %w", err)
		}
	}
	if p.Name != nil {
		spec.Name = *p.Name
	}
	if p.WebhookURL != nil {
		spec.WebhookURL, spec.Channel, newDest = *p.WebhookURL, "", true
	}
	if p.Channel != nil {
		spec.Channel, newDest = *p.Channel, true
		if p.WebhookURL == nil {
			spec.WebhookURL = ""
		}
	}
	if p.Covers != nil {
		spec.Covers = *p.Covers
	}
	if p.Categories != nil {
		spec.Categories = *p.Categories
	}
	if fe := s.Check(spec, ""); len(fe) > 0 {
		return nil, invalid(fe)
	}
	if err := s.apply(i, spec); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	i.UpdatedAt = now
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.IntegrationUpdate(ctx, i); err != nil {
			return err
		}
		return auditIn(ctx, q, now, actor.ID, "integration.updated", i.ID, &before, i, map[string]any{"new_destination": newDest})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, access.Errorf(access.CodeConflict, "integration %s changed meanwhile, or its new name is taken: reload and retry", i.Name)
	}
	if err != nil {
		return nil, err
	}
	if newDest {
		if err := s.release(ctx, i.ID); err != nil {
			return i, err
		}
	}
	return i, nil
}

// Delete removes an integration and its undelivered messages (admins
// only; not one from the configuration file), audited.
func (s *Service) Delete(ctx context.Context, actor *access.User, id string) error {
	if err := mustAdmin(actor); err != nil {
		return err
	}
	i, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if i.Source == SourceConfig {
		return access.Errorf(access.CodeConflict, "integration %s comes from the configuration file: remove it there", i.Name)
	}
	now := s.clock.Now()
	return s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.IntegrationDelete(ctx, id); err != nil {
			return err
		}
		return auditIn(ctx, q, now, actor.ID, "integration.deleted", id, i, nil, nil)
	})
}

// TestResult is the outcome of a test message.
type TestResult struct {
	OK bool `json:"ok"`
	// Error is Slack's answer when it failed ("channel_is_archived").
	Error string `json:"error,omitempty"`
	// Class is FailTransient, FailDestination or FailMessage on failure.
	Class string `json:"class,omitempty"`
}

// Test posts a test message to the integration now (admins only), audited,
// and updates its health: a success makes it healthy (and releases held
// messages), a destination failure makes it failing.
func (s *Service) Test(ctx context.Context, actor *access.User, id string) (TestResult, error) {
	if err := mustAdmin(actor); err != nil {
		return TestResult{}, err
	}
	i, err := s.Get(ctx, id)
	if err != nil {
		return TestResult{}, err
	}
	now := s.clock.Now()
	sendErr := s.sendTo(ctx, i, testMessage(i, cmpName(actor), now))
	res := TestResult{OK: sendErr == nil}
	if se, ok := errors.AsType[*SendError](sendErr); ok {
		res.Error, res.Class = se.Code, se.Class
	} else if sendErr != nil {
		res.Error, res.Class = sendErr.Error(), FailTransient
	}
	if err := s.audit(ctx, actor.ID, "integration.tested", i.ID, map[string]any{"ok": res.OK, "error": res.Error}); err != nil {
		return res, err
	}
	switch {
	case res.OK:
		return res, s.healthy(ctx, i)
	case res.Class == FailDestination:
		return res, s.failing(ctx, i, res.Error)
	}
	return res, nil
}

func cmpName(u *access.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// SyncConfig makes the integrations from the configuration file match
// specs (by name): new ones are created, changed ones updated, and those
// no longer in the file removed. Integrations created through the API
// are left alone; one whose name is now in the file is taken over by the
// file. Each change is audited as the system. Replicas starting together
// may run it at once: a change another replica made first is skipped. It
// returns how many integrations it created, updated and removed.
func (s *Service) SyncConfig(ctx context.Context, specs []Spec) (created, updated, removed int, err error) {
	for n, spec := range specs {
		// A channel route without the bot is accepted (the file may be
		// shared by a deployment without Slack): it is logged here and
		// its deliveries fail with no_bot, shown as its health.
		if fe := CheckSpec(spec, fmt.Sprintf("integrations.routes[%d].", n), s.sets, true, s.loop); len(fe) > 0 {
			return 0, 0, 0, invalid(fe)
		}
		if spec.Channel != "" && s.send.botToken == "" {
			s.log.WarnContext(ctx, "integration posts to a channel but the Slack bot is not configured (slack.bot_token): its messages will wait",
				"integration", spec.Name)
		}
	}
	existing, err := s.st.IntegrationList(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	byName := map[string]*store.Integration{}
	for _, i := range existing {
		byName[i.Name] = i
	}
	now := s.clock.Now()
	var names []string
	for _, spec := range specs {
		names = append(names, spec.Name)
		old := byName[spec.Name]
		if old == nil {
			i := &store.Integration{ID: ids.New("int", now), Source: SourceConfig, Health: store.HealthHealthy, CreatedAt: now, UpdatedAt: now}
			if err := s.apply(i, spec); err != nil {
				return created, updated, removed, err
			}
			if err := s.st.InTx(ctx, func(q store.Queries) error {
				if err := q.IntegrationCreate(ctx, i); err != nil {
					return err
				}
				return auditIn(ctx, q, now, access.SystemActor, "integration.created", i.ID, nil, i, map[string]any{"source": SourceConfig})
			}); errors.Is(err, store.ErrConflict) {
				continue // another replica starting at the same time created it
			} else if err != nil {
				return created, updated, removed, fmt.Errorf("create integration %s: %w", spec.Name, err)
			}
			created++
			continue
		}
		cur := Spec{Name: old.Name, Channel: old.Channel, Covers: old.Covers, Categories: old.Categories}
		if old.Kind == KindWebhook {
			if cur.WebhookURL, err = s.box.Open(old.WebhookSealed); err != nil {
				cur.WebhookURL = "" // a changed key: rewrite it
			}
		}
		wantCovers, wantCats := normalize(spec)
		if old.Source == SourceConfig && cur.WebhookURL == spec.WebhookURL && cur.Channel == spec.Channel &&
			slices.Equal(old.Covers, wantCovers) && slices.Equal(old.Categories, wantCats) {
			continue
		}
		before := *old
		if err := s.apply(old, spec); err != nil {
			return created, updated, removed, err
		}
		old.Source, old.UpdatedAt = SourceConfig, now
		if err := s.st.InTx(ctx, func(q store.Queries) error {
			if err := q.IntegrationUpdate(ctx, old); err != nil {
				return err
			}
			return auditIn(ctx, q, now, access.SystemActor, "integration.updated", old.ID, &before, old, map[string]any{"source": SourceConfig})
		}); errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			continue // another replica starting at the same time changed it
		} else if err != nil {
			return created, updated, removed, fmt.Errorf("update integration %s: %w", spec.Name, err)
		}
		if cur.WebhookURL != spec.WebhookURL || cur.Channel != spec.Channel {
			if err := s.release(ctx, old.ID); err != nil {
				return created, updated, removed, err
			}
		}
		updated++
	}
	for _, i := range existing {
		if i.Source != SourceConfig || slices.Contains(names, i.Name) {
			continue
		}
		if err := s.st.InTx(ctx, func(q store.Queries) error {
			if err := q.IntegrationDelete(ctx, i.ID); err != nil {
				return err
			}
			return auditIn(ctx, q, now, access.SystemActor, "integration.deleted", i.ID, i, nil, map[string]any{"source": SourceConfig})
		}); errors.Is(err, store.ErrNotFound) {
			continue // another replica removed it
		} else if err != nil {
			return created, updated, removed, fmt.Errorf("remove integration %s: %w", i.Name, err)
		}
		removed++
	}
	return created, updated, removed, nil
}

// audit appends an event outside a transaction.
func (s *Service) audit(ctx context.Context, actor, action, id string, data map[string]any) error {
	return auditIn(ctx, s.st, s.clock.Now(), actor, action, id, nil, nil, data)
}

// auditIn appends an event about integration id in q. Snapshots never
// hold the webhook URL (only its mask).
func auditIn(ctx context.Context, q store.Queries, now time.Time, actor, action, id string, before, after *store.Integration, data map[string]any) error {
	e := &access.Event{ID: ids.New("evt", now), Time: now, ActorID: actor, Action: action, SubjectType: "integration", SubjectID: id}
	if before != nil {
		e.Before = access.Snapshot(before)
	}
	if after != nil {
		e.After = access.Snapshot(after)
	}
	if len(data) > 0 {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("audit data: %w", err)
		}
		e.Data = b
	}
	if err := q.EventAppend(ctx, e); err != nil {
		return fmt.Errorf("append audit event %s: %w", action, err)
	}
	return nil
}

// Redact hides every webhook URL of specs in s (for error messages).
func Redact(s string, specs []Spec) string {
	for _, sp := range specs {
		if sp.WebhookURL != "" {
			s = strings.ReplaceAll(s, sp.WebhookURL, MaskWebhookURL(sp.WebhookURL))
		}
	}
	return s
}
