package bench

import (
	"context"
	"fmt"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// WritesOnly runs n lifecycles' worth of the store's writes alone, with
// workers concurrent clients, and returns lifecycles per second: the rows
// a lifecycle leaves (a request with its entitlement and approver index
// rows, a decision, a grant, five audit events, seven notifications
// inserted and then marked sent) in the four transactions the workflow
// writes them in (submit, approve, activate, deliver), through the same
// store methods and group commit, without the workflow's reads and checks,
// the policy, the connector or the job queue. It bounds what the full
// lifecycle can reach on this database: its ratio to the raw-commit
// ceiling is the cost of the rows themselves. offset picks fresh (user,
// entitlement) pairs, as for Lifecycles.
func (s *Stack) WritesOnly(ctx context.Context, n, workers, offset int) (float64, error) {
	if n+offset > Users*Entitlements {
		return 0, fmt.Errorf("at most %d lifecycles per stack", Users*Entitlements)
	}
	start := now()
	err := forEach(n, workers, func(k int) error {
		i := offset + k
		return s.lifecycleWrites(ctx, i%Users, (i/Users)%Entitlements, i%2)
	})
	if err != nil {
		return 0, err
	}
	return float64(n) / now().Sub(start).Seconds(), nil
}

// lifecycleWrites writes one lifecycle's rows for user u, entitlement e,
// approved by owner<approver>.
func (s *Stack) lifecycleWrites(ctx context.Context, u, e, approver int) error {
	at := clock.Real{}.Now()
	r := activeRequest(u, e, at)
	r.State, r.CurrentStep = access.RequestPending, 0
	approverID := fmt.Sprintf("owner%d", approver)
	var ns []*access.Notification
	notify := func(q store.Queries, kind access.NotificationKind, to, grantID string) error {
		n := &access.Notification{ID: ids.New("ntf", at), Kind: kind, RecipientID: to, RequestID: r.ID, GrantID: grantID,
			DedupKey: string(kind) + "/" + to + "/" + r.ID, State: access.NotificationPending, CreatedAt: at}
		if _, err := q.NotificationCreate(ctx, n); err != nil {
			return err
		}
		ns = append(ns, n)
		return nil
	}
	event := func(q store.Queries, actor, action, subjType, subjID string, after any) error {
		return q.EventAppend(ctx, &access.Event{ID: ids.New("evt", at), Time: at, ActorID: actor, Action: action,
			SubjectType: subjType, SubjectID: subjID, After: access.Snapshot(after)})
	}
	// Submit.
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		if err := q.RequestCreate(ctx, r); err != nil {
			return err
		}
		if err := event(q, r.RequesterID, "request.submitted", "request", r.ID, r); err != nil {
			return err
		}
		for _, to := range []string{r.RequesterID, "owner0", "owner1"} {
			kind := access.NotifyApprovalRequested
			if to == r.RequesterID {
				kind = access.NotifyRequestCreated
			}
			if err := notify(q, kind, to, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	// Approve: the decision, the grant.
	at = clock.Real{}.Now()
	g := &access.Grant{ID: ids.New("grt", at), RequestID: r.ID, UserID: r.RequesterID, AppID: r.AppID,
		EntitlementID: r.EntitlementIDs[0], State: access.GrantPending, Duration: r.Duration, MaxDuration: r.MaxDuration,
		CreatedAt: at, UpdatedAt: at}
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		r.Decisions = append(r.Decisions, access.Decision{ID: ids.New("dec", at), RequestID: r.ID, ApproverID: approverID,
			Outcome: access.Approve, CreatedAt: at})
		r.State, r.CurrentStep, r.UpdatedAt = access.RequestApproved, 1, at
		if err := q.RequestUpdate(ctx, r); err != nil {
			return err
		}
		if err := event(q, approverID, "request.decided", "request", r.ID, r.Decisions[0]); err != nil {
			return err
		}
		if err := q.GrantCreate(ctx, g); err != nil {
			return err
		}
		if err := event(q, access.SystemActor, "grant.created", "grant", g.ID, g); err != nil {
			return err
		}
		if err := notify(q, access.NotifyRequestApproved, r.RequesterID, ""); err != nil {
			return err
		}
		for _, to := range []string{"owner0", "owner1"} {
			if err := notify(q, access.NotifyRequestDecided, to, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	// Activate.
	at = clock.Real{}.Now()
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		g.State, g.Attempts, g.ActivatedAt, g.ExpiresAt, g.TargetExpiresAt, g.UpdatedAt = access.GrantActive, 1, at, at.Add(g.Duration), at.Add(g.Duration), at
		if err := q.GrantUpdate(ctx, g); err != nil {
			return err
		}
		if err := event(q, access.SystemActor, "grant.provisioned", "grant", g.ID, g); err != nil {
			return err
		}
		r.State, r.UpdatedAt = access.RequestActive, at
		if err := q.RequestUpdate(ctx, r); err != nil {
			return err
		}
		if err := event(q, access.SystemActor, "request.active", "request", r.ID, nil); err != nil {
			return err
		}
		return notify(q, access.NotifyGrantActive, r.RequesterID, g.ID)
	})
	if err != nil {
		return fmt.Errorf("activate: %w", err)
	}
	// Deliver: every notification marked sent.
	at = clock.Real{}.Now()
	err = s.Store.InTx(ctx, func(q store.Queries) error {
		for _, n := range ns {
			n.State, n.Attempts, n.SentAt = access.NotificationSent, 1, at
			if err := q.NotificationUpdate(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	return nil
}
