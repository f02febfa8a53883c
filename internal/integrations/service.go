package integrations

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store"
)

// Tuning of deliveries.
const (
	// FailingAfter is how many failed attempts of one delivery (transient
	// failures) mark its integration failing.
	FailingAfter = 3
	// MaxAttempts is how many transient failures a delivery takes before it
	// is held like a destination failure.
	MaxAttempts = 10
	// ProbeEvery is how often one held message of a failing integration
	// is tried again, to notice that it works again.
	ProbeEvery = 5 * time.Minute
	// StallAfter is how long a due delivery may wait before the sweep
	// enqueues it again (its job was lost).
	StallAfter = 30 * time.Second
	// Lease is how long a sender holds a delivery it is sending: longer
	// than a job may run, so a crashed sender's delivery is tried again
	// only after it.
	Lease = 2 * time.Minute
)

// Config configures a Service. Store, Clock and Secrets are required.
type Config struct {
	Store   store.Store
	Clock   clock.Clock
	Secrets *secrets.Box
	Logger  *slog.Logger
	// BaseURL is the dashboard's URL, for links in messages.
	BaseURL string
	// SlackAPIURL (with a trailing slash) and BotToken post to channels
	// and DM admins; without a bot token only webhook integrations work.
	SlackAPIURL string
	BotToken    string
	// Sets are the named account sets selectors may refer to (set:NAME).
	Sets Sets
	// AllowLoopback accepts webhook URLs on loopback addresses (tests).
	AllowLoopback bool
	// HTTPClient posts to Slack (default: a client with a 15s timeout).
	HTTPClient *http.Client
}

// Enqueuer runs deliveries in the background (the job queue): each is
// one job that calls Service.Deliver, with retries.
type Enqueuer interface {
	EnqueueDeliveries(ctx context.Context, jobs []Job) error
}

// Job names a delivery to run. Due is the delivery's NextAt when it was
// enqueued: a queue that deduplicates jobs by their arguments then keeps
// one job per (delivery, due time), so a released or re-enqueued delivery
// is never dropped as a duplicate of its finished earlier job.
type Job struct {
	DeliveryID string
	Due        time.Time
}

func jobOf(d *store.Delivery) Job { return Job{DeliveryID: d.ID, Due: d.NextAt} }

// Service routes notifications to integrations and delivers them.
type Service struct {
	st      store.Store
	clock   clock.Clock
	box     *secrets.Box
	log     *slog.Logger
	baseURL string
	sets    Sets
	loop    bool
	send    *sender

	mu  sync.Mutex
	enq Enqueuer
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Clock == nil || cfg.Secrets == nil {
		return nil, errors.New("integrations: Store, Clock and Secrets are required")
	}
	apiURL := cmp.Or(cfg.SlackAPIURL, "https://slack.com/api/")
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	return &Service{
		st: cfg.Store, clock: cfg.Clock, box: cfg.Secrets, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		baseURL: strings.TrimRight(cfg.BaseURL, "/"), sets: cfg.Sets, loop: cfg.AllowLoopback,
		send: &sender{http: cmp.Or(cfg.HTTPClient, &http.Client{Timeout: 15 * time.Second}), apiURL: apiURL, botToken: cfg.BotToken},
	}, nil
}

// SetEnqueuer sets the job queue (it is built after the service).
func (s *Service) SetEnqueuer(e Enqueuer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enq = e
}

// enqueue starts jobs for ids; a failure is logged, not returned: the
// deliveries are stored and Sweep enqueues them again.
func (s *Service) enqueue(ctx context.Context, ids []Job) {
	s.mu.Lock()
	e := s.enq
	s.mu.Unlock()
	if e == nil || len(ids) == 0 {
		return
	}
	if err := e.EnqueueDeliveries(ctx, ids); err != nil {
		s.log.WarnContext(ctx, "enqueue integration deliveries failed; the sweep will retry", "err", err)
	}
}

// Sets returns the account sets.
func (s *Service) Sets() Sets { return s.sets }

// Destination is an integration a message is routed to.
type Destination struct {
	IntegrationID string `json:"integration_id"`
	Name          string `json:"name"`
	// Kind is KindWebhook or KindChannel; Channel is set for a channel.
	Kind    string `json:"kind"`
	Channel string `json:"channel,omitempty"`
}

// carries reports whether i carries category c.
func carries(i *store.Integration, c Category) bool {
	for _, x := range i.Categories {
		if Category(x) == c {
			return true
		}
	}
	return false
}

// match returns the integrations that carry c and cover subj.
func (s *Service) match(ctx context.Context, c Category, subj Subject) ([]*store.Integration, error) {
	all, err := s.st.IntegrationList(ctx)
	if err != nil {
		return nil, err
	}
	var out []*store.Integration
	for _, i := range all {
		if !carries(i, c) {
			continue
		}
		sel, err := ParseSelector(i.Covers)
		if err != nil {
			s.log.WarnContext(ctx, "integration with an invalid selector skipped", "integration", i.Name, "err", err)
			continue
		}
		if sel.Covers(subj, s.sets) {
			out = append(out, i)
		}
	}
	return out, nil
}

// appSubject is the subject of an app-wide message: the app and the tags
// of all its entitlements. An app that is not in the catalog (a
// discovered one, or "") is a bare app with that ID: only "*" and
// app:ID cover it.
func (s *Service) appSubject(ctx context.Context, appID string) (Subject, error) {
	if appID == "" {
		return Subject{App: &access.App{}}, nil
	}
	app, err := s.st.AppGetByID(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return Subject{App: &access.App{ID: appID}}, nil
	}
	if err != nil {
		return Subject{}, fmt.Errorf("load app %s: %w", appID, err)
	}
	ents, err := s.st.EntitlementListByApp(ctx, appID)
	if err != nil {
		return Subject{}, fmt.Errorf("load entitlements of %s: %w", appID, err)
	}
	subj := Subject{App: app}
	for _, e := range ents {
		subj.Tags = append(subj.Tags, e.Tags...)
	}
	return subj, nil
}

// Route returns the integrations a message of category about appID goes
// to: those that carry the category and whose selector covers the app
// (tag: terms match the tags of any of the app's entitlements). An app
// not in the catalog, or "", is covered only by "*" (and app:ID).
func (s *Service) Route(ctx context.Context, category Category, appID string) ([]Destination, error) {
	subj, err := s.appSubject(ctx, appID)
	if err != nil {
		return nil, err
	}
	is, err := s.match(ctx, category, subj)
	if err != nil {
		return nil, err
	}
	out := make([]Destination, 0, len(is))
	for _, i := range is {
		out = append(out, Destination{IntegrationID: i.ID, Name: i.Name, Kind: i.Kind, Channel: i.Channel})
	}
	return out, nil
}

// Post routes a message of category about appID (see Route) and stores
// one durable delivery per integration, sent in the background with
// retries; dedupKey names the event, so posting it again adds nothing
// (a finding's ID, for example). It returns how many deliveries it
// added. This is how other packages (security alerts) reach the
// integrations. m is posted as given: escape user text in mrkdwn (&, <,
// >) before.
func (s *Service) Post(ctx context.Context, category Category, appID, dedupKey string, m Message) (int, error) {
	if dedupKey == "" {
		return 0, errors.New("integrations: Post needs a dedup key")
	}
	if err := m.Validate(); err != nil {
		return 0, err
	}
	subj, err := s.appSubject(ctx, appID)
	if err != nil {
		return 0, err
	}
	is, err := s.match(ctx, category, subj)
	if err != nil {
		return 0, err
	}
	return s.store(ctx, is, category, appID, string(category)+"/"+dedupKey, m)
}

// store writes a delivery of m to each integration and enqueues the new
// ones.
func (s *Service) store(ctx context.Context, is []*store.Integration, c Category, appID, key string, m Message) (int, error) {
	if len(is) == 0 {
		return 0, nil
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("encode message: %w", err)
	}
	now := s.clock.Now()
	var added []Job
	for _, i := range is {
		d := &store.Delivery{ID: ids.New("dlv", now), IntegrationID: i.ID, DedupKey: key, Category: string(c), AppID: appID,
			Payload: payload, State: store.DeliveryPending, CreatedAt: now, NextAt: now}
		ok, err := s.st.DeliveryCreate(ctx, d)
		if err != nil {
			return len(added), fmt.Errorf("store delivery to %s: %w", i.Name, err)
		}
		if ok {
			added = append(added, jobOf(d))
		}
	}
	s.enqueue(ctx, added)
	return len(added), nil
}

// RouteNotification routes an outbox notification of a carried kind (see
// Category) to every integration that carries its category and covers
// its app and entitlements. Each recipient's copy of one event routes to
// the same deliveries, so an integration gets one message per event.
// Notifications about deleted requests, grants or apps are skipped.
func (s *Service) RouteNotification(ctx context.Context, n *access.Notification) error {
	c, ok := categoryOf(n.Kind)
	if !ok {
		return nil
	}
	f, err := load(ctx, s.st, n)
	if errors.Is(err, store.ErrNotFound) {
		s.log.InfoContext(ctx, "notification about something gone: not routed", "notification", n.ID, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("route notification %s: %w", n.ID, err)
	}
	is, err := s.match(ctx, c, f.subject())
	if err != nil {
		return fmt.Errorf("route notification %s: %w", n.ID, err)
	}
	if len(is) == 0 {
		return nil
	}
	_, err = s.store(ctx, is, c, f.app.ID, eventKey(n), render(n, f, s.baseURL))
	return err
}

// Notifier is the workflow's notifier interface (workflow.Notifier).
type Notifier interface {
	Deliver(ctx context.Context, n *access.Notification) error
}

// Notifier wraps inner (the Slack bot's DMs; nil for none) so that every
// notification is also routed to the integrations, first: a routing
// failure returns an error and the outbox retries the notification (a
// retry routes nothing twice).
func (s *Service) Notifier(inner Notifier) Notifier { return &routingNotifier{s: s, inner: inner} }

type routingNotifier struct {
	s     *Service
	inner Notifier
}

func (r *routingNotifier) Deliver(ctx context.Context, n *access.Notification) error {
	if err := r.s.RouteNotification(ctx, n); err != nil {
		return err
	}
	if r.inner == nil {
		return nil
	}
	return r.inner.Deliver(ctx, n)
}
