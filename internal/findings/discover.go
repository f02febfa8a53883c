package findings

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// IngestResult says what Ingest did.
type IngestResult struct {
	Events      int `json:"events"`
	NewApps     int `json:"new_apps"`
	NewAccounts int `json:"new_accounts"`
	Alerts      int `json:"alerts"`
}

// catalogIndex maps normalised names, IDs and aliases of catalog apps to
// the apps.
type catalogIndex map[string]*access.App

func loadCatalog(ctx context.Context, q store.Queries) (catalogIndex, []*access.App, error) {
	idx := catalogIndex{}
	var all []*access.App
	cursor := ""
	for {
		apps, next, err := q.AppList(ctx, store.AppListParams{Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			return nil, nil, fmt.Errorf("list apps: %w", err)
		}
		for _, a := range apps {
			all = append(all, a)
			for _, n := range append([]string{a.ID, a.Name}, a.Aliases...) {
				if k := NormalizeName(n); k != "" {
					if _, taken := idx[k]; !taken {
						idx[k] = a
					}
				}
			}
		}
		if next == "" {
			return idx, all, nil
		}
		cursor = next
	}
}

// Ingest records events from a discovery source (the ingestion API,
// the IdP, Google Workspace): each app is stored once per normalised key
// (first source kept) and raises new_app_discovered the first time it is
// seen, unless it is a catalog app; an account email in an app on the
// watchlist that Sesame has not seen raises watchlist_signup, and one of
// an offboarded person raises offboarded_with_accounts. actorID is who
// sent them (audited with the batch). Events must come from ParseEvents
// (or be as clean). Only Sesame itself (access.SystemActor) and active
// admins may ingest.
func (s *Service) Ingest(ctx context.Context, actorID string, events []Event) (IngestResult, error) {
	if actorID != access.SystemActor {
		if _, err := loadAdmin(ctx, s.st, actorID); err != nil {
			return IngestResult{}, err
		}
	}
	res := IngestResult{Events: len(events)}
	var offboarded []*access.User
	err := s.run(ctx, func(q store.Queries, t *tx) error {
		res = IngestResult{Events: len(events)}
		offboarded = offboarded[:0]
		cat, _, err := loadCatalog(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := s.ingestOne(ctx, q, t, cat, e, &res, &offboarded); err != nil {
				return err
			}
		}
		res.Alerts = len(t.alerts)
		sources := map[string]bool{}
		for _, e := range events {
			sources[e.Source] = true
		}
		return audit(ctx, q, t.now, actorID, "discovery.ingested", "discovery", "", nil, nil,
			map[string]any{"events": res.Events, "new_apps": res.NewApps, "new_accounts": res.NewAccounts, "sources": keys(sources)})
	})
	if err != nil {
		return IngestResult{}, err
	}
	for _, u := range offboarded {
		if err := s.RaiseOffboarded(ctx, u); err != nil {
			return res, err
		}
	}
	return res, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (s *Service) ingestOne(ctx context.Context, q store.Queries, t *tx, cat catalogIndex, e Event, res *IngestResult, offboarded *[]*access.User) error {
	key := e.Key()
	if key == "" {
		return nil
	}
	name := e.AppName
	if name == "" {
		name = e.AppDomain
	}
	app := cat[key]
	d := &access.DiscoveredApp{Key: key, Name: name, Domain: e.AppDomain, Source: e.Source, FirstSeen: e.SeenAt, LastSeen: e.SeenAt}
	if app != nil {
		d.AppID = app.ID
	}
	inserted, err := q.DiscoveredAppSeen(ctx, d)
	if err != nil {
		return err
	}
	if !inserted {
		stored, err := q.DiscoveredAppGet(ctx, key)
		if err != nil {
			return err
		}
		if app == nil && stored.AppID != "" {
			app, err = q.AppGetByID(ctx, stored.AppID)
			if errors.Is(err, store.ErrNotFound) {
				app = nil
			} else if err != nil {
				return err
			}
		}
	}
	if inserted && app == nil {
		res.NewApps++
		what := name
		if e.AppDomain != "" && e.AppDomain != name {
			what += " (" + e.AppDomain + ")"
		}
		details := []string{"First seen by " + e.Source + " at " + e.SeenAt.Format("2006-01-02 15:04 MST")}
		if e.AccountEmail != "" {
			details = append(details, "Account: "+e.AccountEmail)
		}
		if _, err := s.raise(ctx, q, t, &access.Alert{Type: access.AlertNewAppDiscovered, DedupKey: "new_app:" + key,
			AppKey: discoveredKeyOf(key), AppName: name, Title: "New app discovered: " + what, Details: details, Source: e.Source}); err != nil {
			return err
		}
	}
	if e.AccountEmail == "" || app == nil {
		return nil
	}
	return s.seeAccount(ctx, q, t, app, e, res, offboarded)
}

// SourcedPrefix starts the external ID of an account a discovery source
// reported (by email) rather than a connector listed.
const SourcedPrefix = "email:"

// seeAccount records an account a source reported in a catalog app.
func (s *Service) seeAccount(ctx context.Context, q store.Queries, t *tx, app *access.App, e Event, res *IngestResult, offboarded *[]*access.User) error {
	ext := SourcedPrefix + e.AccountEmail
	prev, err := q.AccountGet(ctx, app.ID, ext)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	isNew := prev == nil
	acc := &access.Account{AppID: app.ID, ExternalID: ext, Email: e.AccountEmail, Name: e.AccountName, FirstSeen: e.SeenAt, LastSeen: e.SeenAt}
	if !isNew {
		acc.FirstSeen = prev.FirstSeen
		if acc.Name == "" {
			acc.Name = prev.Name
		}
	}
	u, err := q.UserGetByEmail(ctx, e.AccountEmail)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		acc.UserID = u.ID
		if u.Status == access.UserOffboarded {
			*offboarded = append(*offboarded, u)
		}
	}
	if err := q.AccountUpsertBatch(ctx, []*access.Account{acc}); err != nil {
		return err
	}
	if !isNew {
		return nil
	}
	res.NewAccounts++
	if !app.Watchlist {
		return nil
	}
	_, err = s.raise(ctx, q, t, signupAlert(app, acc, e.Source))
	return err
}

// signupAlert is the watchlist_signup alert of one new account.
func signupAlert(app *access.App, acc *access.Account, source string) *access.Alert {
	who := acc.Email
	if who == "" {
		who = acc.ExternalID
	}
	details := []string{"Account: " + describeAccount(acc)}
	if acc.UserID == "" {
		details = append(details, "No Sesame user has this email.")
	}
	return &access.Alert{Type: access.AlertWatchlistSignup, DedupKey: "signup:" + app.ID + ":" + acc.ExternalID,
		AppKey: appKeyOf(app.ID), AppID: app.ID, AppName: app.Name, UserID: acc.UserID,
		Title: "New sign-up in " + app.Name + ": " + who, Details: details, Source: source}
}

func describeAccount(a *access.Account) string {
	parts := []string{}
	if a.Email != "" {
		parts = append(parts, a.Email)
	}
	if a.Name != "" && a.Name != a.Email {
		parts = append(parts, a.Name)
	}
	if !strings.HasPrefix(a.ExternalID, "email:") && a.ExternalID != a.Email {
		parts = append(parts, "id "+a.ExternalID)
	}
	return strings.Join(parts, ", ")
}

// RaiseOffboarded raises the offboarded_with_accounts alert for u when
// discovery still sees accounts with u's email (once per person: the
// dedup key is the user ID). It is the offboarding hook.
func (s *Service) RaiseOffboarded(ctx context.Context, u *access.User) error {
	_, err := s.raiseOffboarded(ctx, u)
	return err
}

// raiseOffboarded is RaiseOffboarded, reporting whether it stored a new
// alert.
func (s *Service) raiseOffboarded(ctx context.Context, u *access.User) (bool, error) {
	if u == nil || u.Email == "" {
		return false, nil
	}
	raised := false
	err := s.run(ctx, func(q store.Queries, t *tx) error {
		raised = false
		accs, err := q.AccountListByEmail(ctx, strings.ToLower(u.Email))
		if err != nil || len(accs) == 0 {
			return err
		}
		details := make([]string, 0, min(len(accs), 20)+1)
		for i, a := range accs {
			if i == 20 {
				details = append(details, fmt.Sprintf("… and %d more", len(accs)-20))
				break
			}
			details = append(details, a.AppID+": "+describeAccount(a)+" (last seen "+a.LastSeen.Format("2006-01-02 15:04 MST")+")")
		}
		name := u.Name
		if name == "" {
			name = u.Email
		}
		raised, err = s.raise(ctx, q, t, &access.Alert{Type: access.AlertOffboardedWithAccounts, DedupKey: "offboarded:" + u.ID,
			UserID: u.ID, Title: fmt.Sprintf("Offboarded %s (%s) still has %d active account(s)", name, u.Email, len(accs)),
			Details: details, Source: "discovery"})
		return err
	})
	return raised, err
}
