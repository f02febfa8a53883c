package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
)

// RevokeDueBatch revokes the grants among grantIDs that are active and due,
// as Revoke does for one, but in two transactions for the whole batch
// instead of two per grant (and without a job per grant): the first marks
// them revoking and audits each expiry, then each is revoked on its
// connector, then the second marks the revoked ones revoked, tells their
// holders and settles their requests. A grant whose connector call failed
// or handed the work to a person stays revoking and is returned in
// retry: the caller enqueues a Revoke job for it, which retries, alerts
// and creates tasks as usual. Grants not active and due are skipped.
// Every connector call is idempotent, so running a batch again is safe.
func (s *Service) RevokeDueBatch(ctx context.Context, grantIDs []string) (revoked int, retry []string, err error) {
	type item struct {
		t   connector.Target
		app *access.App
		err error
		// version is the grant's as the batch left it (see Revoke).
		version int
	}
	var items []*item
	err = s.run(ctx, func(q store.Queries, fx *effects) error {
		items = items[:0]
		for _, id := range grantIDs {
			g, err := q.GrantGetByID(ctx, id, true)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !g.Due(fx.now) {
				continue
			}
			before := *g
			if _, err := g.BeginRevoke("expired", fx.now); err != nil {
				return err
			}
			if err := q.GrantUpdate(ctx, g); err != nil {
				return err
			}
			if err := fx.audit(ctx, q, access.SystemActor, "grant.expired", "grant", g.ID, &before, g, nil); err != nil {
				return err
			}
			t, app, err := s.target(ctx, q, g)
			if err != nil {
				return err
			}
			items = append(items, &item{t: t, app: app, version: g.Version})
		}
		return nil
	})
	if err != nil || len(items) == 0 {
		return 0, nil, err
	}

	conns := map[string]connector.Connector{}
	for _, it := range items {
		conn, ok := conns[it.app.ID]
		if !ok {
			conn, it.err = s.openConnector(it.app)
			if it.err != nil {
				continue
			}
			conns[it.app.ID] = conn
		}
		it.err = s.traceConnector(ctx, "revoke", it.app, it.t, func(ctx context.Context) error { return conn.Revoke(ctx, it.t) })
		if ctx.Err() != nil {
			break // shutting down: the rest stay revoking for their jobs
		}
	}

	err = s.run(ctx, func(q store.Queries, fx *effects) error {
		revoked, retry = 0, retry[:0]
		for _, it := range items {
			if it.err != nil || ctx.Err() != nil {
				retry = append(retry, it.t.GrantID)
				continue
			}
			g, err := q.GrantGetByID(ctx, it.t.GrantID, true)
			if err != nil {
				return err
			}
			if g.State != access.GrantRevoking {
				continue // revoked by its own job meanwhile
			}
			if g.Version != it.version {
				// Changed during the call (a late grant put back to
				// revoking): its job revokes again.
				retry = append(retry, it.t.GrantID)
				continue
			}
			before := *g
			if err := s.revoked(ctx, q, fx, g); err != nil {
				return err
			}
			if err := fx.audit(ctx, q, access.SystemActor, "grant.revoked", "grant", g.ID, &before, g, nil); err != nil {
				return err
			}
			revoked++
		}
		return nil
	})
	if err != nil {
		// Every grant of the batch is revoking: their jobs finish the work.
		retry = retry[:0]
		for _, it := range items {
			retry = append(retry, it.t.GrantID)
		}
		return 0, retry, fmt.Errorf("finish revocation batch: %w", err)
	}
	return revoked, retry, nil
}

// Batch sizes of RevokeDue.
const (
	// RevokeBatchSize is how many grants one RevokeDueBatch takes.
	RevokeBatchSize = 100
	// revokeParallel is how many batches run at once.
	revokeParallel = 4
)

// RevokeDue revokes the grants due now (at most limit, oldest expiry
// first) in batches of RevokeBatchSize (RevokeDueBatch), a few batches at
// a time, and enqueues a Revoke job for every grant a batch could not
// finish. Like EnqueueDue it reads the (state, expires_at) index and skips
// a grant it handled for the same expiry less than DueRecheck ago (a
// grant it could not finish has a job by then). It returns how many grants
// it took.
func (s *Service) RevokeDue(ctx context.Context, limit int) (int, error) {
	now := s.now()
	due, err := s.st.GrantListDue(ctx, now, limit)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	var todo []Timed
	for _, g := range due {
		if !s.dueSeen.fresh(g.ID, g.ExpiresAt, now) {
			todo = append(todo, Timed{g.ID, g.ExpiresAt})
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	s.dueSeen.add(todo, now)
	expiry := make(map[string]Timed, len(todo))
	var batches [][]string
	for i, t := range todo {
		expiry[t.ID] = t
		if i%RevokeBatchSize == 0 {
			batches = append(batches, nil)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], t.ID)
	}

	var (
		mu    sync.Mutex
		retry Batch
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, revokeParallel)
	)
	for _, b := range batches {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			_, left, err := s.RevokeDueBatch(ctx, b)
			if err != nil && len(left) == 0 {
				left = b // nothing was revoked: every grant gets a job
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, id := range left {
				retry.RevokeDue = append(retry.RevokeDue, expiry[id])
			}
		})
	}
	wg.Wait()
	if !retry.Empty() {
		if err := s.enq.Enqueue(ctx, retry); err != nil {
			errs = append(errs, fmt.Errorf("enqueue revocations to retry: %w", err))
		}
	}
	return len(todo), errors.Join(errs...)
}
