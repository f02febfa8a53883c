package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store"
)

// Counts says what a sync did to one kind of thing.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// Summary reports a sync. Changes names what was created or updated, in
// the order it was written ("user alice@example.com created", "app github
// updated", "entitlement github:admin created").
type Summary struct {
	Users        Counts   `json:"users"`
	Apps         Counts   `json:"apps"`
	Entitlements Counts   `json:"entitlements"`
	Changes      []string `json:"changes,omitempty"`
}

// Changed reports whether the sync wrote anything.
func (s Summary) Changed() bool { return len(s.Changes) > 0 }

// Action is the audit action of the event a sync appends.
const Action = "catalog.synced"

// Sync makes the store hold cfg's users, apps and entitlements, in one
// transaction, at time now:
//
//   - Users are matched by email: an existing user keeps its ID, status and
//     CreatedAt; a new one gets an ID from ids.New("usr", now) and is
//     active. Name, groups, roles and manager come from cfg; the Slack user
//     ID too, unless cfg has none (a linked account is kept). Managers are
//     resolved to user IDs after every user is written.
//   - A user the identity provider manages over SCIM (one with a directory
//     row) keeps the provider's name and manager (the file's manager must
//     still be a user); their groups are the file's and their SCIM groups'
//     (store.DirectoryQueries membership) together, in the stored order;
//     roles and a Slack user ID set in the file are the file's. So a
//     restart changes nothing the provider pushed.
//   - Apps and entitlements are matched by ID (access.EntitlementID for
//     entitlements), owner emails resolved to user IDs; apps become
//     access.SourceConfig. CreatedAt is kept on update.
//   - Only what differs from the store is written, with UpdatedAt now.
//     When anything was written, one audit event (Action, by
//     access.SystemActor, subject type "catalog", the Summary as Data) is
//     appended in the same transaction; a sync that changes nothing
//     appends nothing.
//
// Users, apps and entitlements missing from cfg are kept as they are. An
// owner or manager email that is neither in cfg nor in the store is an
// error, as is any store error; the transaction is then rolled back and
// the returned Summary is zero.
func Sync(ctx context.Context, st store.Store, cfg *config.Config, now time.Time) (Summary, error) {
	return SyncWith(ctx, st, cfg, now, Options{})
}

// Options adjust a sync.
type Options struct {
	// Secrets, when set, seals connector settings whose names are secret
	// (config.IsSecretSetting) before they are stored; comparisons with
	// the stored values are made on the opened values, so an unchanged
	// config writes nothing.
	Secrets *secrets.Box
}

// SyncWith is Sync with options.
func SyncWith(ctx context.Context, st store.Store, cfg *config.Config, now time.Time, opts Options) (Summary, error) {
	var sum Summary
	err := st.InTx(ctx, func(q store.Queries) error {
		s := &syncer{q: q, now: now, userIDs: map[string]string{}, box: opts.Secrets}
		if err := s.users(ctx, cfg.Users); err != nil {
			return err
		}
		for _, a := range cfg.Catalog.Apps {
			if err := s.app(ctx, a); err != nil {
				return err
			}
		}
		if !s.sum.Changed() {
			sum = s.sum
			return nil
		}
		data, err := json.Marshal(s.sum)
		if err != nil {
			return fmt.Errorf("catalog sync: %w", err)
		}
		ev := &access.Event{ID: ids.New("evt", now), Time: now, ActorID: access.SystemActor, Action: Action,
			SubjectType: "catalog", Data: data}
		if err := q.EventAppend(ctx, ev); err != nil {
			return fmt.Errorf("catalog sync: audit: %w", err)
		}
		sum = s.sum
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// syncer carries one sync's state.
type syncer struct {
	q   store.Queries
	now time.Time
	sum Summary
	// userIDs maps the emails of configured users to their IDs.
	userIDs map[string]string
	box     *secrets.Box
}

// count records the outcome of one write.
func (s *syncer) count(c *Counts, created, changed bool, what string) {
	switch {
	case created:
		c.Created++
		s.sum.Changes = append(s.sum.Changes, what+" created")
	case changed:
		c.Updated++
		s.sum.Changes = append(s.sum.Changes, what+" updated")
	default:
		c.Unchanged++
	}
}

// userID resolves an email to a user ID: a configured user, else one in
// the store.
func (s *syncer) userID(ctx context.Context, email string) (string, error) {
	if id, ok := s.userIDs[email]; ok {
		return id, nil
	}
	u, err := s.q.UserGetByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%s is not a user", email)
	}
	if err != nil {
		return "", err
	}
	s.userIDs[email] = u.ID
	return u.ID, nil
}

func (s *syncer) userIDList(ctx context.Context, emails []string) ([]string, error) {
	if emails == nil {
		return nil, nil
	}
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		id, err := s.userID(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}
