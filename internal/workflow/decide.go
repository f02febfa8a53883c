package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// DecideParams is one approver's decision.
type DecideParams struct {
	RequestID string
	Outcome   access.DecisionOutcome
	Comment   string
	// Duration, when set, changes how long access lasts (within the
	// request's max).
	Duration time.Duration
}

// Decide records actorID's approval or rejection. Eligibility is checked
// against the stored request, never the caller: the requester, an
// ineligible or offboarded user, a second decision by one person, or a
// decision on a closed request are refused, and the refusal is audited.
func (s *Service) Decide(ctx context.Context, actorID string, p DecideParams) (*access.Request, error) {
	if len(p.Comment) > MaxReasonLength {
		return nil, access.Invalid("invalid decision", access.FieldError{Field: "comment", Message: fmt.Sprintf("must be at most %d characters", MaxReasonLength)})
	}
	var out *access.Request
	err := s.run(ctx, func(q store.Queries, fx *effects) error {
		actor, err := loadActor(ctx, q, actorID)
		if err != nil {
			return err
		}
		r, err := q.RequestGetByID(ctx, p.RequestID, true)
		if err != nil {
			return notFound(err, "request", p.RequestID)
		}
		before := *r
		before.Decisions = append([]access.Decision(nil), r.Decisions...)
		step := r.CurrentStep
		approved, err := r.Decide(actor, access.Decision{ID: ids.New("dec", fx.now), Outcome: p.Outcome,
			Comment: strings.TrimSpace(p.Comment), Duration: p.Duration}, fx.now)
		if err != nil {
			return err
		}
		if err := q.RequestUpdate(ctx, r); err != nil {
			return fmt.Errorf("save decision: %w", err)
		}
		action := "request.approval_recorded"
		switch {
		case r.State == access.RequestRejected:
			action = "request.rejected"
		case approved:
			action = "request.approved"
		}
		if err := fx.audit(ctx, q, actor.ID, action, "request", r.ID, &before, r,
			map[string]any{"step": step, "outcome": p.Outcome, "comment": strings.TrimSpace(p.Comment), "duration": p.Duration.String()}); err != nil {
			return err
		}
		switch {
		case r.State == access.RequestRejected:
			if err := fx.notify(ctx, q, access.NotifyRequestRejected, r.RequesterID, r.ID, "", r.ID,
				map[string]string{"by": actor.ID, "comment": strings.TrimSpace(p.Comment)}); err != nil {
				return err
			}
			if err := s.notifyDecided(ctx, q, fx, r); err != nil {
				return err
			}
		case approved && r.IsExtension():
			if err := s.extensionApproved(ctx, q, fx, r, actor); err != nil {
				return err
			}
			if err := s.notifyDecided(ctx, q, fx, r); err != nil {
				return err
			}
		case approved:
			if err := s.approved(ctx, q, fx, r, actor); err != nil {
				return err
			}
			if err := s.notifyDecided(ctx, q, fx, r); err != nil {
				return err
			}
		case r.CurrentStep != step:
			if err := s.askStep(ctx, q, fx, r); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	if err != nil {
		s.auditRefusal(ctx, actorID, "request.decision_refused", "request", p.RequestID, err)
		return nil, err
	}
	return out, nil
}

// notifyDecided tells every notified approver that the request is closed,
// so their copies of the message can be updated.
func (s *Service) notifyDecided(ctx context.Context, q store.Queries, fx *effects, r *access.Request) error {
	for _, id := range r.Approvers() {
		if err := fx.notify(ctx, q, access.NotifyRequestDecided, id, r.ID, "", r.ID+"/"+string(r.State),
			map[string]string{"state": string(r.State)}); err != nil {
			return err
		}
	}
	return nil
}

// auditRefusal records a refused action that was forbidden or a wrong
// transition (someone clicking where they may not), in its own
// transaction. Input errors are not audited.
func (s *Service) auditRefusal(ctx context.Context, actorID, action, subjType, subjID string, cause error) {
	switch access.ErrorCode(cause) {
	case access.CodeForbidden, access.CodeConflict, access.CodeUnauthorized:
	default:
		return
	}
	fx := &effects{now: s.now()}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		return fx.audit(ctx, q, actorID, action, subjType, subjID, nil, nil, map[string]any{"error": cause.Error()})
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.ErrorContext(ctx, "audit refusal failed", "action", action, "err", err)
	}
}
