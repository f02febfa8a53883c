package store

import (
	"context"
	"time"
)

// IntegrationQueries are the reads and writes of notification integrations
// (Slack incoming webhooks and channels, the apps and categories each
// carries) and their delivery health. The SQL adapters implement them in
// sqldb/integrations.go.
type IntegrationQueries interface {
	// IntegrationCreate stores i with Version 1; a second integration with
	// i.ID or i.Name is ErrConflict.
	IntegrationCreate(ctx context.Context, i *Integration) error
	// IntegrationGetByID returns the integration or ErrNotFound.
	IntegrationGetByID(ctx context.Context, id string) (*Integration, error)
	// IntegrationList returns every integration ordered by name.
	IntegrationList(ctx context.Context) ([]*Integration, error)
	// IntegrationUpdate saves the settings of i (name, destination,
	// covers, categories, source) if the stored Version equals i.Version
	// (else ErrConflict; ErrNotFound when gone), then increments
	// i.Version. Health fields are not written: see IntegrationMarkFailing
	// and IntegrationMarkHealthy.
	IntegrationUpdate(ctx context.Context, i *Integration) error
	// IntegrationDelete removes the integration and its deliveries;
	// ErrNotFound when there is none.
	IntegrationDelete(ctx context.Context, id string) error
	// IntegrationMarkFailing records a failed delivery: LastError is set;
	// when the integration was not failing, Health becomes failing with
	// FailingSince at now and started is true (a new failure episode, told
	// to admins once). Concurrent callers see exactly one start.
	IntegrationMarkFailing(ctx context.Context, id, lastError string, now time.Time) (started bool, err error)
	// IntegrationMarkHealthy records a successful delivery at now; when
	// the integration was failing it becomes healthy and recovered is true
	// (for exactly one concurrent caller).
	IntegrationMarkHealthy(ctx context.Context, id string, now time.Time) (recovered bool, err error)

	// DeliveryCreate stores d unless a delivery with its (IntegrationID,
	// DedupKey) exists; inserted reports which.
	DeliveryCreate(ctx context.Context, d *Delivery) (inserted bool, err error)
	// DeliveryGetByID returns the delivery or ErrNotFound.
	DeliveryGetByID(ctx context.Context, id string) (*Delivery, error)
	// DeliveryClaim takes a pending delivery due at or before now for one
	// sender: its NextAt moves to until (a lease), and claimed is true for
	// exactly one of concurrent callers. A delivery not pending, not due
	// or gone is not claimed.
	DeliveryClaim(ctx context.Context, id string, now, until time.Time) (claimed bool, err error)
	// DeliveryUpdate saves State, Attempts, LastError, NextAt and SentAt;
	// ErrNotFound when gone.
	DeliveryUpdate(ctx context.Context, d *Delivery) error
	// DeliveryListDue returns pending deliveries whose NextAt is at or
	// before before, oldest NextAt first, at most limit.
	DeliveryListDue(ctx context.Context, before time.Time, limit int) ([]*Delivery, error)
	// DeliveryList returns the deliveries of integrationID ("" for all) in
	// the given states (all when none), newest first (by ID), at most
	// limit.
	DeliveryList(ctx context.Context, integrationID string, states []DeliveryState, limit int) ([]*Delivery, error)
	// DeliveryCounts returns, per integration ID, how many of its channel
	// messages (not admin DMs) are pending, held and failed.
	DeliveryCounts(ctx context.Context) (map[string]map[DeliveryState]int, error)
	// DeliveryRelease makes every held delivery of integrationID pending
	// again, due at now, with Attempts reset to 0, and returns how many.
	DeliveryRelease(ctx context.Context, integrationID string, now time.Time) (int, error)
}

// Integration is a place notifications go: a Slack incoming webhook or a
// channel the bot posts to, the apps it covers and the categories it
// carries. Covers and Categories are validated by package integrations;
// the store keeps them as given.
type Integration struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Source is "config" (from the configuration file, rewritten at each
	// start) or "api".
	Source string `json:"source"`
	// Kind is "webhook" or "channel".
	Kind string `json:"kind"`
	// Channel is the Slack channel ID of a channel integration.
	Channel string `json:"channel,omitempty"`
	// WebhookSealed is the incoming-webhook URL sealed with the secrets
	// box; WebhookMask is what may be shown of it.
	WebhookSealed string `json:"-"`
	WebhookMask   string `json:"webhook_mask,omitempty"`
	// Covers are selector terms ("app:github", "set:cloud-accounts").
	Covers     []string `json:"covers"`
	Categories []string `json:"categories"`

	// Health is "healthy" (the default) or "failing"; LastError and
	// FailingSince describe the current failure episode; LastOKAt is the
	// last successful delivery.
	Health       string    `json:"health"`
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	LastOKAt     time.Time `json:"last_ok_at,omitzero"`

	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Integration health values.
const (
	HealthHealthy = "healthy"
	HealthFailing = "failing"
)

// DeliveryState is where a delivery stands.
type DeliveryState string

// Delivery states: pending (due at NextAt), sent, held (the destination
// fails for good: kept until it recovers, never dropped), failed (Slack
// refused the message itself).
const (
	DeliveryPending DeliveryState = "pending"
	DeliverySent    DeliveryState = "sent"
	DeliveryHeld    DeliveryState = "held"
	DeliveryFailed  DeliveryState = "failed"
)

// Delivery is one message to one integration (or, with RecipientID, a DM
// to one admin about an integration), rendered when it was routed. The
// pair (IntegrationID, DedupKey) is unique: routing the same notification
// twice keeps one delivery.
type Delivery struct {
	ID            string `json:"id"`
	IntegrationID string `json:"integration_id"`
	// RecipientID is a user ID for a DM to an admin; "" for a message to
	// the integration's destination.
	RecipientID string `json:"recipient_id,omitempty"`
	DedupKey    string `json:"dedup_key"`
	Category    string `json:"category"`
	AppID       string `json:"app_id,omitempty"`
	// Payload is the Slack message (JSON with text and blocks).
	Payload   []byte        `json:"-"`
	State     DeliveryState `json:"state"`
	Attempts  int           `json:"attempts"`
	LastError string        `json:"last_error,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	NextAt    time.Time     `json:"next_at,omitzero"`
	SentAt    time.Time     `json:"sent_at,omitzero"`
}
