package findings

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
)

// AppReport says what one app's sync did.
type AppReport struct {
	AppID   string `json:"app_id"`
	Seen    int    `json:"seen"`
	New     int    `json:"new"`
	Gone    int    `json:"gone"`
	Alerts  int    `json:"alerts"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// SyncReport says what a discovery sync did.
type SyncReport struct {
	Apps       []AppReport  `json:"apps"`
	Discovered IngestResult `json:"discovered"`
	Offboarded int          `json:"offboarded_alerts"`
	Swept      int          `json:"swept"`
}

// Directory maps lowercase emails to Sesame users, for matching accounts.
type Directory struct {
	byEmail map[string]dirUser
}

type dirUser struct {
	id         string
	offboarded bool
}

// LoadDirectory reads every user's email, ID and status (500 a page).
func (s *Service) LoadDirectory(ctx context.Context) (*Directory, error) {
	d := &Directory{byEmail: map[string]dirUser{}}
	cursor := ""
	for {
		users, next, err := s.st.UserList(ctx, store.UserListParams{Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		for _, u := range users {
			d.byEmail[strings.ToLower(u.Email)] = dirUser{id: u.ID, offboarded: u.Status == access.UserOffboarded}
		}
		if next == "" {
			return d, nil
		}
		cursor = next
	}
}

// SyncAll is the periodic discovery sync: for every catalog app whose
// connector lists accounts (connector.AccountLister, else the accounts of
// a connector.GrantLister), it diffs the listing with the stored accounts
// (SyncAccounts); for every connector that discovers apps
// (connector.AppDiscoverer: Okta's app assignments, Google Workspace's
// OAuth grants) it ingests what it reports; then it raises the
// offboarded alerts of people whose accounts are still seen, and sweeps
// deliveries that lost their job. One app's failure is reported and the
// others go on.
func (s *Service) SyncAll(ctx context.Context) (SyncReport, error) {
	var rep SyncReport
	dir, err := s.LoadDirectory(ctx)
	if err != nil {
		return rep, err
	}
	_, apps, err := loadCatalog(ctx, s.st)
	if err != nil {
		return rep, err
	}
	offboarded := map[string]bool{}
	var events []Event
	for _, app := range apps {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r := AppReport{AppID: app.ID}
		conn, err := s.openConnector(app)
		if err != nil {
			r.Error = err.Error()
			rep.Apps = append(rep.Apps, r)
			continue
		}
		if disc, ok := conn.(connector.AppDiscoverer); ok {
			found, err := disc.DiscoverApps(ctx)
			if err != nil {
				r.Error = "discover apps: " + err.Error()
				s.log.WarnContext(ctx, "app discovery failed", "app", app.ID, "err", err)
			}
			events = append(events, discoveredEvents(disc.DiscoverySource(), found, s.now())...)
		}
		listing, ok, err := listAccounts(ctx, conn)
		switch {
		case err != nil:
			r.Error = cmp.Or(r.Error, "list accounts: "+err.Error())
			s.log.WarnContext(ctx, "account listing failed", "app", app.ID, "err", err)
		case !ok:
			r.Skipped = "the connector does not list accounts"
		default:
			got, err := s.SyncAccounts(ctx, app, listing, dir, offboarded)
			got.Error = cmp.Or(r.Error, got.Error)
			r = got
			if err != nil {
				r.Error = err.Error()
			}
			if err := s.seenByConnector(ctx, app); err != nil {
				return rep, err
			}
		}
		rep.Apps = append(rep.Apps, r)
	}
	for start := 0; start < len(events); start += MaxEvents {
		res, err := s.Ingest(ctx, access.SystemActor, events[start:min(start+MaxEvents, len(events))])
		if err != nil {
			return rep, err
		}
		rep.Discovered.Events += res.Events
		rep.Discovered.NewApps += res.NewApps
		rep.Discovered.NewAccounts += res.NewAccounts
		rep.Discovered.Alerts += res.Alerts
	}
	ids := make([]string, 0, len(offboarded))
	for id := range offboarded {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		u, err := s.st.UserGetByID(ctx, id)
		if err != nil {
			return rep, err
		}
		raised, err := s.raiseOffboarded(ctx, u)
		if err != nil {
			return rep, err
		}
		if raised {
			rep.Offboarded++
		}
	}
	rep.Swept, err = s.Sweep(ctx, 2*time.Minute)
	return rep, err
}

// discoveredEvents turns a connector's discovered apps into events.
func discoveredEvents(source string, apps []connector.DiscoveredApp, now time.Time) []Event {
	var out []Event
	for _, a := range apps {
		e := Event{Source: source, AppName: strings.Join(strings.Fields(a.Name), " "), AppDomain: strings.ToLower(strings.TrimSpace(a.Domain)), SeenAt: now}
		e.AppName = strings.ToValidUTF8(e.AppName, "")
		for len(e.AppName) > maxAppName {
			_, size := utf8.DecodeLastRuneInString(e.AppName)
			e.AppName = e.AppName[:len(e.AppName)-size]
		}
		if e.Key() == "" {
			continue
		}
		if len(a.Emails) == 0 {
			out = append(out, e)
		}
		for _, m := range a.Emails {
			ev := e
			ev.AccountEmail = strings.ToLower(strings.TrimSpace(m))
			out = append(out, ev)
		}
	}
	return out
}

// seenByConnector records a catalog app as discovered by its connector
// (no alert: it is in the catalog).
func (s *Service) seenByConnector(ctx context.Context, app *access.App) error {
	key := NormalizeName(app.Name)
	if key == "" {
		key = NormalizeName(app.ID)
	}
	if key == "" {
		return nil
	}
	now := s.now()
	_, err := s.st.DiscoveredAppSeen(ctx, &access.DiscoveredApp{Key: key, Name: app.Name, Source: "connector", AppID: app.ID,
		FirstSeen: now, LastSeen: now})
	return err
}

// listAccounts returns the connector's accounts: its AccountLister, else
// the distinct accounts of its GrantLister. ok is false when it has
// neither.
func listAccounts(ctx context.Context, conn connector.Connector) ([]connector.Account, bool, error) {
	if al, ok := conn.(connector.AccountLister); ok {
		accs, err := al.ListAccounts(ctx)
		return accs, true, err
	}
	gl, ok := conn.(connector.GrantLister)
	if !ok {
		return nil, false, nil
	}
	recs, err := gl.ListGrants(ctx)
	if err != nil {
		return nil, true, err
	}
	seen := map[string]bool{}
	var out []connector.Account
	for _, r := range recs {
		if r.Account == "" || seen[r.Account] {
			continue
		}
		seen[r.Account] = true
		out = append(out, connector.Account{ExternalID: r.Account, Email: r.AccountEmail})
	}
	return out, true, nil
}

// SyncAccounts makes the stored accounts of app match listing: it walks
// the stored accounts in keyset pages (Config.PageSize) alongside the
// listing sorted by external ID, and writes each page's changes in one
// transaction: accounts seen are inserted or refreshed (email, name,
// matched user; LastSeen when something changed or the stored one is
// older than Config.LastSeenEvery), accounts no longer listed get
// GoneAt. Memory is
// the listing plus one page. New accounts in an app on the watchlist
// raise watchlist_signup (at most Config.MaxSignupAlerts per app and
// sync), except on the app's first sync (the baseline: everything is
// new; the store records each app's last sync). The IDs of offboarded users whose accounts are seen are added to
// offboarded. Accounts with an empty external ID are ignored, and so are
// stored accounts a discovery source reported (external ID
// SourcedPrefix + email): the connector's listing does not make them
// gone.
func (s *Service) SyncAccounts(ctx context.Context, app *access.App, listing []connector.Account, dir *Directory, offboarded map[string]bool) (AppReport, error) {
	rep := AppReport{AppID: app.ID}
	now := s.now()
	list := make([]connector.Account, 0, len(listing))
	for _, a := range listing {
		if a.ExternalID != "" {
			list = append(list, a)
		}
	}
	slices.SortFunc(list, func(a, b connector.Account) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	list = slices.CompactFunc(list, func(a, b connector.Account) bool { return a.ExternalID == b.ExternalID })
	rep.Seen = len(list)

	muted, err := s.st.AlertMuted(ctx, appKeyOf(app.ID))
	if err != nil {
		return rep, err
	}
	synced, err := s.st.AccountSyncedAt(ctx, app.ID)
	if err != nil {
		return rep, err
	}
	baseline := synced.IsZero()
	alertsLeft := s.maxAlert
	if baseline || !app.Watchlist || muted {
		alertsLeft = 0
	}

	var writes []*access.Account
	var newOnes []*access.Account
	var gone []string
	flush := func() error {
		if len(writes) == 0 && len(gone) == 0 {
			return nil
		}
		err := s.run(ctx, func(q store.Queries, t *tx) error {
			if err := q.AccountUpsertBatch(ctx, writes); err != nil {
				return err
			}
			n, err := q.AccountMarkGone(ctx, app.ID, gone, now)
			if err != nil {
				return err
			}
			rep.Gone += n
			for _, acc := range newOnes {
				if alertsLeft <= 0 {
					break
				}
				ok, err := s.raise(ctx, q, t, signupAlert(app, acc, "connector"))
				if err != nil {
					return err
				}
				if ok {
					alertsLeft--
					rep.Alerts++
				}
			}
			return nil
		})
		writes, newOnes, gone = writes[:0], newOnes[:0], gone[:0]
		return err
	}
	see := func(a connector.Account, prev *access.Account) {
		acc := &access.Account{AppID: app.ID, ExternalID: a.ExternalID, Email: strings.ToLower(strings.TrimSpace(a.Email)),
			Name: a.Name, FirstSeen: now, LastSeen: now}
		if u, ok := dir.byEmail[acc.Email]; ok && acc.Email != "" {
			acc.UserID = u.id
			if u.offboarded && offboarded != nil {
				offboarded[u.id] = true
			}
		}
		if prev != nil {
			acc.FirstSeen = prev.FirstSeen
			if prev.Active() && prev.Email == acc.Email && prev.Name == acc.Name && prev.UserID == acc.UserID &&
				now.Sub(prev.LastSeen) < s.seenEvery {
				return // unchanged, and seen recently enough
			}
		} else {
			rep.New++
			newOnes = append(newOnes, acc)
		}
		writes = append(writes, acc)
	}

	i := 0
	after := ""
	for {
		page, err := s.st.AccountListByApp(ctx, app.ID, after, s.pageSize)
		if err != nil {
			return rep, err
		}
		for _, st := range page {
			if strings.HasPrefix(st.ExternalID, SourcedPrefix) {
				continue // reported by a discovery source, not listed by connectors
			}
			for i < len(list) && list[i].ExternalID < st.ExternalID {
				see(list[i], nil)
				i++
			}
			if i < len(list) && list[i].ExternalID == st.ExternalID {
				see(list[i], st)
				i++
			} else if st.Active() {
				gone = append(gone, st.ExternalID)
			}
		}
		if len(writes) >= s.pageSize || len(gone) >= s.pageSize {
			if err := flush(); err != nil {
				return rep, err
			}
		}
		if len(page) < s.pageSize {
			break
		}
		after = page[len(page)-1].ExternalID
	}
	for ; i < len(list); i++ {
		see(list[i], nil)
		if len(writes) >= s.pageSize {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if err := s.st.AccountSyncedPut(ctx, app.ID, now); err != nil {
		return rep, err
	}
	if rep.New > rep.Alerts && alertsLeft == 0 && app.Watchlist && !baseline && !muted {
		s.log.WarnContext(ctx, "more new accounts than sign-up alerts", "app", app.ID, "new", rep.New, "alerts", rep.Alerts)
	}
	return rep, nil
}
