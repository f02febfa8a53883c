package jobs

import (
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// uniqueStates are River's required unique states without completed,
// discarded and cancelled: once a job is finished, the sweeper may enqueue
// the same work again if it is still due.
var uniqueStates = []rivertype.JobState{ //nolint:gochecknoglobals // constant table
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

func uniqueOpts() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByState: uniqueStates}
}

// ProvisionArgs provisions one grant.
type ProvisionArgs struct {
	GrantID string `json:"grant_id"`
}

// Kind implements river.JobArgs.
func (ProvisionArgs) Kind() string { return "provision" }

// RevokeArgs revokes one grant at its expiry.
type RevokeArgs struct {
	GrantID   string    `json:"grant_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Kind implements river.JobArgs.
func (RevokeArgs) Kind() string { return "revoke" }

// DeliverArgs delivers one notification.
type DeliverArgs struct {
	NotificationID string `json:"notification_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "deliver" }

// TimeOutArgs ends a request nobody decided.
type TimeOutArgs struct {
	RequestID string `json:"request_id"`
}

// Kind implements river.JobArgs.
func (TimeOutArgs) Kind() string { return "timeout" }

// RemindArgs sends automatic reminder N of a request.
type RemindArgs struct {
	RequestID string `json:"request_id"`
	N         int    `json:"n"`
}

// Kind implements river.JobArgs.
func (RemindArgs) Kind() string { return "remind" }

// SweepArgs runs one sweep (periodic, leader only).
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "sweep" }
