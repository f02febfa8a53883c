package access

import "time"

// NotificationKind names a message Sesame sends.
type NotificationKind string

// Notification kinds.
const (
	NotifyApprovalRequested NotificationKind = "approval_requested" // to an approver
	NotifyReminder          NotificationKind = "reminder"           // to an approver
	NotifyRequestCreated    NotificationKind = "request_created"    // to the requester
	NotifyRequestApproved   NotificationKind = "request_approved"
	NotifyRequestRejected   NotificationKind = "request_rejected"
	NotifyRequestCancelled  NotificationKind = "request_cancelled"
	NotifyRequestTimedOut   NotificationKind = "request_timed_out"
	NotifyRequestDecided    NotificationKind = "request_decided" // to approvers: update their copies
	NotifyGrantActive       NotificationKind = "grant_active"
	NotifyGrantFailed       NotificationKind = "grant_failed"
	NotifyGrantExpiring     NotificationKind = "grant_expiring"
	NotifyGrantRevoked      NotificationKind = "grant_revoked"
	NotifyRevokeFailed      NotificationKind = "revoke_failed"    // to app owners and admins
	NotifyManualTask        NotificationKind = "manual_task"      // to app owners
	NotifyDriftRevoked      NotificationKind = "drift_revoked"    // to app owners: expired access reappeared and was revoked again
	NotifyUnmanagedAccess   NotificationKind = "unmanaged_access" // to app owners: access granted outside Sesame
	NotifyGrantExtended     NotificationKind = "grant_extended"   // to the holder: the grant's expiry moved
	NotifyExtensionFailed   NotificationKind = "extension_failed" // to the holder: an approved extension could not be applied
)

// NotificationState is the delivery state.
type NotificationState string

// Delivery states.
const (
	NotificationPending NotificationState = "pending"
	NotificationSent    NotificationState = "sent"
	NotificationFailed  NotificationState = "failed"
)

// Notification is a message waiting for delivery, written in the same
// transaction as the change it reports (an outbox). DedupKey is unique:
// writing the same notification twice keeps one.
type Notification struct {
	ID          string            `json:"id"`
	Kind        NotificationKind  `json:"kind"`
	RecipientID string            `json:"recipient_id"`
	RequestID   string            `json:"request_id,omitempty"`
	GrantID     string            `json:"grant_id,omitempty"`
	Data        map[string]string `json:"data,omitempty"`
	DedupKey    string            `json:"dedup_key"`
	State       NotificationState `json:"state"`
	Attempts    int               `json:"attempts"`
	LastError   string            `json:"last_error,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	SentAt      time.Time         `json:"sent_at,omitzero"`
}

// Token is an API token. Only Hash (hex SHA-256 of the secret) is stored.
type Token struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Name       string    `json:"name"`
	Hash       string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// Valid reports whether the token may authenticate at now.
func (t *Token) Valid(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}
