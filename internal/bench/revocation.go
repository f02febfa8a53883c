package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

const (
	// RevocationLead is how long after seeding the first expiring grant
	// expires: the time to set the expiries and measure the due poll.
	RevocationLead = 30 * time.Second
	// RevocationWindow is the span over which the expiring grants expire,
	// evenly spread.
	RevocationWindow = time.Minute
	// seedBatch is how many grants one seeding transaction stores.
	seedBatch = 5000
	// duePollLimit is the batch of one due poll (jobs.dueBatch).
	duePollLimit = 5000
)

// RevocationResult is what RevocationLag measured.
type RevocationResult struct {
	// Total grants were active, Expiring of them expired within
	// RevocationWindow.
	Total, Expiring int
	// Seed is the time to store the Total grants (and a request for each
	// expiring one), before the expiries were set.
	Seed time.Duration
	// DuePoll is the median time of one due poll (GrantListDue with the
	// poller's limit) over Total active grants while none was due.
	DuePoll time.Duration
	// P50, P99 and Max are the revocation lag, RevokedAt − ExpiresAt as
	// stored, over the expiring grants.
	P50, P99, Max time.Duration
}

// SeedRate is grants stored per second while seeding.
func (r *RevocationResult) SeedRate() float64 { return float64(r.Total) / r.Seed.Seconds() }

// RevocationLag measures how long after its expiry a grant is revoked on
// the fake connector, among total active grants of which expiring expire
// within one minute. The grants are stored straight through the store in
// batches, active, with an expiry a week ahead; the expiring ones (every
// total/expiring-th, each with an active request of its own and granted in
// the fake backend) then get expiries spread evenly over RevocationWindow
// from RevocationLead on, so that the seeding time does not eat into the
// window. Seeded grants have no scheduled River revoke job (those are made
// at activation): what is measured is the due poller (leader, every
// jobs.Config.DueInterval) with the sweep as its backstop. It waits until
// every expiring grant is revoked and fails if one is not within five
// minutes of the window's end, or if the fake backend did not lose the
// access. expiring must be between 1 and Users*Entitlements (one distinct
// user and entitlement pair each) and at most total.
func (s *Stack) RevocationLag(ctx context.Context, total, expiring int) (*RevocationResult, error) {
	return s.revocationLag(ctx, total, expiring, RevocationLead, RevocationWindow)
}

// revocationLag is RevocationLag with another lead and window (tests).
func (s *Stack) revocationLag(ctx context.Context, total, expiring int, lead, window time.Duration) (*RevocationResult, error) {
	if expiring < 1 || expiring > total || expiring > Users*Entitlements {
		return nil, fmt.Errorf("revocation lag: need 1 <= expiring (%d) <= total (%d) and <= %d", expiring, total, Users*Entitlements)
	}
	res := &RevocationResult{Total: total, Expiring: expiring}
	start := now()
	due, err := s.seedGrants(ctx, total, expiring)
	if err != nil {
		return nil, err
	}
	res.Seed = now().Sub(start)
	_, revokedBefore := s.Backend.Counts()

	if res.DuePoll, err = s.timeDuePoll(ctx); err != nil {
		return nil, err
	}
	if err := s.setExpiries(ctx, due, clock.Real{}.Now().Add(lead), window); err != nil {
		return nil, err
	}
	last := due[len(due)-1].ExpiresAt
	if err := s.waitRevoked(ctx, last, last.Add(5*time.Minute)); err != nil {
		return nil, err
	}

	lags := make([]time.Duration, 0, len(due))
	for _, g := range due {
		got, err := s.Store.GrantGetByID(ctx, g.ID, false)
		if err != nil {
			return nil, fmt.Errorf("read back grant: %w", err)
		}
		if got.State != access.GrantRevoked {
			return nil, fmt.Errorf("grant %s is %s, not revoked", got.ID, got.State)
		}
		lag := got.RevokedAt.Sub(got.ExpiresAt)
		lags = append(lags, lag)
		res.Max = max(res.Max, lag)
	}
	if _, revoked := s.Backend.Counts(); revoked-revokedBefore != expiring {
		return nil, fmt.Errorf("the fake backend lost %d of the %d expiring pairs", revoked-revokedBefore, expiring)
	}
	res.P50, res.P99 = Percentiles(lags)
	return res, nil
}

// seedGrants stores total active grants expiring in a week, in batches,
// and returns the expiring ones (every stride-th), whose requests it
// stores too and whose access it grants in the fake backend. The other
// grants belong to one active request per user.
func (s *Stack) seedGrants(ctx context.Context, total, expiring int) ([]*access.Grant, error) {
	t0 := clock.Real{}.Now()
	holders := make([]string, Users)
	err := s.Store.InTx(ctx, func(q store.Queries) error {
		for u := range Users {
			r := activeRequest(u, 0, t0)
			holders[u] = r.ID
			if err := q.RequestCreate(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seed holder requests: %w", err)
	}
	fake, err := s.Backend.Factory()(nil)
	if err != nil {
		return nil, err
	}
	stride := total / expiring
	due := make([]*access.Grant, 0, expiring)
	for done := 0; done < total; done += seedBatch {
		at := clock.Real{}.Now()
		var batch []*access.Grant
		err := s.Store.InTx(ctx, func(q store.Queries) error {
			batch = batch[:0]
			for i := done; i < min(total, done+seedBatch); i++ {
				k := i / stride
				isDue := i%stride == 0 && k < expiring
				// Expiring grant k holds the pair (user k%Users,
				// entitlement k/Users), distinct for every k.
				u, e := i%Users, (i/Users)%Entitlements
				if isDue {
					u, e = k%Users, k/Users
				}
				g := &access.Grant{ID: ids.New("grt", at), RequestID: holders[u], UserID: UserID(u), AppID: "bench",
					EntitlementID: EntitlementID(e), State: access.GrantActive, Duration: 7 * 24 * time.Hour, MaxDuration: 8 * time.Hour,
					ActivatedAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour), Attempts: 1, CreatedAt: at, UpdatedAt: at}
				if isDue {
					r := activeRequest(u, e, at)
					if err := q.RequestCreate(ctx, r); err != nil {
						return err
					}
					g.RequestID = r.ID
					batch = append(batch, g)
				}
				if err := q.GrantCreate(ctx, g); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("seed grants: %w", err)
		}
		for _, g := range batch {
			_, key, _ := access.SplitEntitlementID(g.EntitlementID)
			if err := fake.Grant(ctx, connector.Target{GrantID: g.ID, UserID: g.UserID, Email: g.UserID + "@example.com",
				AppID: g.AppID, EntitlementKey: key}); err != nil {
				return nil, err
			}
		}
		due = append(due, batch...)
	}
	return due, nil
}

// activeRequest is an approved request of user u for entitlement e whose
// grant is active, made at at.
func activeRequest(u, e int, at time.Time) *access.Request {
	return &access.Request{ID: ids.New("req", at), RequesterID: UserID(u), AppID: "bench",
		EntitlementIDs: []string{EntitlementID(e)}, Duration: time.Hour, MaxDuration: 8 * time.Hour,
		Reason: "revocation benchmark", State: access.RequestActive, PolicyID: "default", CurrentStep: 1,
		Steps:     []access.Step{{Name: "Owner", Eligible: []string{"owner0", "owner1"}, Notified: []string{"owner0", "owner1"}, Required: 1}},
		CreatedAt: at, UpdatedAt: at, PendingUntil: at.Add(24 * time.Hour)}
}

// timeDuePoll returns the median of 11 due polls, which must find nothing.
func (s *Stack) timeDuePoll(ctx context.Context) (time.Duration, error) {
	var ds []time.Duration
	for range 11 {
		start := now()
		gs, err := s.Store.GrantListDue(ctx, clock.Real{}.Now(), duePollLimit)
		if err != nil {
			return 0, err
		}
		ds = append(ds, now().Sub(start))
		if len(gs) > 0 {
			return 0, fmt.Errorf("due poll: %d grants due before any expiry was set", len(gs))
		}
	}
	p50, _ := Percentiles(ds)
	return p50, nil
}

// setExpiries moves the expiry of due[k] to first + k·window/len(due).
func (s *Stack) setExpiries(ctx context.Context, due []*access.Grant, first time.Time, window time.Duration) error {
	for done := 0; done < len(due); done += seedBatch {
		err := s.Store.InTx(ctx, func(q store.Queries) error {
			for k := done; k < min(len(due), done+seedBatch); k++ {
				g := due[k]
				g.ExpiresAt = first.Add(time.Duration(k) * window / time.Duration(len(due)))
				g.Duration = g.ExpiresAt.Sub(g.ActivatedAt)
				if err := q.GrantUpdate(ctx, g); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("set expiries: %w", err)
		}
	}
	return nil
}

// waitRevoked waits until last has passed and no grant is due or being
// revoked, or fails at deadline.
func (s *Stack) waitRevoked(ctx context.Context, last, deadline time.Time) error {
	for {
		t := clock.Real{}.Now()
		if t.After(last) {
			due, err := s.Store.GrantListDue(ctx, t, 1)
			if err != nil {
				return err
			}
			busy, err := s.Store.GrantListStalled(ctx, []access.GrantState{access.GrantRevoking, access.GrantRevokeFailed}, t, 1)
			if err != nil {
				return err
			}
			if len(due) == 0 && len(busy) == 0 {
				return nil
			}
			if t.After(deadline) {
				return fmt.Errorf("grants still due or revoking %s after the last expiry", t.Sub(last).Round(time.Second))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// dueQuery is the statement of sqldb's GrantListDue (grantCols and the
// clauses, copied): ExplainDue shows its plan.
const dueQuery = `SELECT id, request_id, user_id, app_id, entitlement_id, state, duration, max_duration, activated_at,
	expires_at, revoked_at, attempts, last_error, revoke_reason, manual_task, credentials, created_at, updated_at,
	target_expires_at, version FROM grants` +
	` WHERE state = ? AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`

// ExplainDue returns the plan of the due poll's query at the current time
// with the poller's limit: SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's
// EXPLAIN (ANALYZE, BUFFERS), which runs it and shows rows and time.
func (s *Stack) ExplainDue(ctx context.Context) (string, error) {
	sq, ok := s.Store.(interface{ SQL() *sql.DB })
	if !ok {
		return "", errors.New("explain: the store has no *sql.DB")
	}
	db := sq.SQL()
	t := clock.Real{}.Now().UTC().Truncate(time.Microsecond)
	if s.Dialect == "sqlite" {
		return explainSQLite(ctx, db, t)
	}
	q := dueQuery
	for i := 1; strings.Contains(q, "?"); i++ {
		q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
	}
	rows, err := db.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q, string(access.GrantActive), t, duePollLimit)
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	defer rows.Close() //nolint:errcheck // rows.Err is checked below
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", fmt.Errorf("explain: %w", err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	return b.String(), nil
}

// explainSQLite renders EXPLAIN QUERY PLAN as the sqlite3 shell does.
func explainSQLite(ctx context.Context, db *sql.DB, t time.Time) (string, error) {
	// Times are TEXT in sqldb's fixed-width layout on SQLite.
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+dueQuery,
		string(access.GrantActive), t.Format("2006-01-02T15:04:05.000000Z"), duePollLimit)
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	defer rows.Close() //nolint:errcheck // rows.Err is checked below
	depth := map[int]int{0: 0}
	b := strings.Builder{}
	b.WriteString("QUERY PLAN\n")
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", fmt.Errorf("explain: %w", err)
		}
		depth[id] = depth[parent] + 1
		b.WriteString(strings.Repeat("   ", depth[id]-1) + "--" + detail + "\n")
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	return b.String(), nil
}
