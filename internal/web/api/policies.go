package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/workflow"
)

// simulateBody is POST /policies/simulate's body.
type simulateBody struct {
	// Requester is an email; empty means the caller.
	Requester    string   `json:"requester"`
	Entitlements []string `json:"entitlements"`
	Duration     *string  `json:"duration"`
	Reason       string   `json:"reason"`
	// At is an RFC 3339 time to simulate at (default now).
	At *time.Time `json:"at"`
}

// simulatePolicies: POST /policies/simulate explains what the policies
// would do with a request (which policy, why, the steps and eligible
// approvers with reasons, auto-approval, limits, how many people would be
// notified). Nothing is stored. Only admins and auditors may simulate
// someone else's request.
func (h *handler) simulatePolicies(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b simulateBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	fields := checkEntitlements(b.Entitlements)
	var d time.Duration
	if b.Duration != nil {
		var err error
		if d, err = access.ParseDuration(*b.Duration); err != nil {
			fields = append(fields, access.FieldError{Field: "duration", Message: err.Error()})
		}
	}
	if len(b.Requester) > 254 {
		fields = append(fields, access.FieldError{Field: "requester", Message: "too long"})
	}
	if len(fields) > 0 {
		return access.Invalid("invalid simulation", fields...)
	}
	sp := workflow.SimulateParams{RequesterEmail: b.Requester, Entitlements: b.Entitlements, Duration: d, Reason: b.Reason}
	if b.At != nil {
		sp.At = b.At.UTC()
	}
	sim, err := h.svc.Simulate(r.Context(), p.User.ID, sp)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return h.writeJSON(w, r, http.StatusOK, sim)
}
