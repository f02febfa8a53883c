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

// ProvisionArgs provisions grants: GrantID names one (the sweeper's jobs,
// and every job written before batches existed); GrantIDs names the
// grants approved by the calls of one group commit or one shared insert,
// one job for all of them. A job may carry both; each grant is
// provisioned once.
type ProvisionArgs struct {
	GrantID  string   `json:"grant_id,omitempty"`
	GrantIDs []string `json:"grant_ids,omitempty"`
}

// ids returns the job's grants, each once, in order.
func (a ProvisionArgs) ids() []string {
	out := make([]string, 0, 1+len(a.GrantIDs))
	seen := make(map[string]bool, 1+len(a.GrantIDs))
	for _, id := range append([]string{a.GrantID}, a.GrantIDs...) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Kind implements river.JobArgs.
func (ProvisionArgs) Kind() string { return "provision" }

// RevokeArgs revokes one grant at its expiry. Due marks the job the due
// poller enqueued once the grant fell due (it runs at once); the other is
// the job scheduled at activation. Both may exist; the second to run finds
// the grant revoked and does nothing.
type RevokeArgs struct {
	GrantID   string    `json:"grant_id"`
	ExpiresAt time.Time `json:"expires_at"`
	Due       bool      `json:"due,omitempty"`
}

// Kind implements river.JobArgs.
func (RevokeArgs) Kind() string { return "revoke" }

// ExtendTargetArgs moves an extended grant's expiry in its target (a
// login's VALID UNTIL); see workflow.Service.ExtendTarget. ExpiresAt is
// the grant's new expiry, so a second extension makes a new job.
type ExtendTargetArgs struct {
	GrantID   string    `json:"grant_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Kind implements river.JobArgs.
func (ExtendTargetArgs) Kind() string { return "extend_target" }

// DeliverArgs delivers the notifications one transaction wrote (one job
// for all of them; a retry skips those already sent).
type DeliverArgs struct {
	NotificationIDs []string `json:"notification_ids"`
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

// DueArgs runs the due poller once (periodic, leader only).
type DueArgs struct{}

// Kind implements river.JobArgs.
func (DueArgs) Kind() string { return "revoke_due" }

// ReconcileArgs compares every app's real access with Sesame's grants
// (periodic, leader only).
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "reconcile" }

// SweepArgs runs one sweep (periodic, leader only).
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "sweep" }
