package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
)

// DriftReport says what one reconciliation of an app found.
type DriftReport struct {
	AppID string `json:"app_id"`
	// Skipped is set when the app's connector cannot list its grants.
	Skipped bool `json:"skipped,omitempty"`
	// Present is how many (account, entitlement) pairs the target has.
	Present int `json:"present"`
	// Reappeared counts access of revoked grants found again in the
	// target, and revoked again.
	Reappeared int `json:"reappeared"`
	// Unmanaged counts access Sesame never granted (reported to the app's
	// owners once per pair).
	Unmanaged int `json:"unmanaged"`
}

// grantsPerApp bounds how many of an app's grants one reconciliation reads.
const grantsPerApp = 100_000

// Reconcile compares the access an app really has (its connector's
// ListGrants) with Sesame's grants. Access of a revoked grant that
// reappeared is revoked again, audited and reported to the app's owners;
// access granted outside Sesame is audited and reported once per
// (account, entitlement). Apps whose connector cannot list grants are
// skipped.
func (s *Service) Reconcile(ctx context.Context, appID string) (DriftReport, error) {
	rep := DriftReport{AppID: appID}
	app, err := s.st.AppGetByID(ctx, appID)
	if err != nil {
		return rep, notFound(err, "app", appID)
	}
	conn, err := s.openConnector(app)
	if err != nil {
		return rep, err
	}
	lister, ok := conn.(connector.GrantLister)
	if !ok {
		rep.Skipped = true
		return rep, nil
	}
	records, err := lister.ListGrants(ctx)
	if err != nil {
		return rep, fmt.Errorf("list grants of %s: %w", appID, err)
	}
	rep.Present = len(records)
	mapper, _ := conn.(connector.AccountMapper)

	// Index Sesame's grants of the app by email and by mapped account.
	type held struct {
		live    bool // should have access now
		revoked *access.Grant
		target  connector.Target
	}
	byKey := map[string]*held{}
	emails := map[string]string{}
	var grants []*access.Grant
	cursor := ""
	for len(grants) < grantsPerApp {
		page, next, err := s.st.GrantList(ctx, store.GrantListParams{AppID: appID, Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			return rep, fmt.Errorf("list sesame grants of %s: %w", appID, err)
		}
		grants = append(grants, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	for _, g := range grants {
		email, ok := emails[g.UserID]
		if !ok {
			u, err := s.st.UserGetByID(ctx, g.UserID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return rep, err
			}
			if u != nil {
				email = u.Email
			}
			emails[g.UserID] = email
		}
		_, key, _ := access.SplitEntitlementID(g.EntitlementID)
		t := connector.Target{GrantID: g.ID, UserID: g.UserID, Email: email, AppID: appID, EntitlementKey: key, ExpiresAt: g.ExpiresAt}
		keys := []string{"e:" + strings.ToLower(email) + "\x00" + key}
		if mapper != nil {
			keys = append(keys, "a:"+mapper.AccountFor(t)+"\x00"+key)
		}
		for _, k := range keys {
			h := byKey[k]
			if h == nil {
				h = &held{target: t}
				byKey[k] = h
			}
			switch g.State {
			case access.GrantActive, access.GrantProvisioning, access.GrantRevoking, access.GrantRevokeFailed, access.GrantPending:
				h.live = true
			case access.GrantRevoked:
				if h.revoked == nil {
					h.revoked = g
					h.target = t
				}
			case access.GrantFailed:
			}
		}
	}

	for _, rec := range records {
		var h *held
		if rec.AccountEmail != "" {
			h = byKey["e:"+strings.ToLower(rec.AccountEmail)+"\x00"+rec.EntitlementKey]
		}
		if h == nil && rec.Account != "" {
			h = byKey["a:"+rec.Account+"\x00"+rec.EntitlementKey]
		}
		switch {
		case h != nil && h.live:
			continue
		case h != nil && h.revoked != nil:
			if err := s.revokeAgain(ctx, app, conn, h.revoked, h.target); err != nil {
				return rep, err
			}
			rep.Reappeared++
		default:
			if err := s.reportUnmanaged(ctx, app, rec); err != nil {
				return rep, err
			}
			rep.Unmanaged++
		}
	}
	return rep, nil
}

// revokeAgain takes away access of a revoked grant that reappeared.
func (s *Service) revokeAgain(ctx context.Context, app *access.App, conn connector.Connector, g *access.Grant, t connector.Target) error {
	revErr := conn.Revoke(ctx, t)
	return s.run(ctx, func(q store.Queries, fx *effects) error {
		data := map[string]any{"app": app.ID, "entitlement": g.EntitlementID}
		if revErr != nil {
			data["error"] = revErr.Error()
		}
		if err := fx.audit(ctx, q, access.SystemActor, "grant.drift_revoked", "grant", g.ID, nil, nil, data); err != nil {
			return err
		}
		msg := map[string]string{"entitlement": g.EntitlementID, "user": g.UserID}
		if revErr != nil {
			msg["error"] = revErr.Error()
		}
		return s.notifyOwners(ctx, q, fx, app, access.NotifyDriftRevoked, g, "drift/"+fx.now.Format("2006-01-02T15"), msg)
	})
}

// reportUnmanaged reports access granted outside Sesame, once per pair.
func (s *Service) reportUnmanaged(ctx context.Context, app *access.App, rec connector.GrantRecord) error {
	who := rec.AccountEmail
	if who == "" {
		who = rec.Account
	}
	return s.run(ctx, func(q store.Queries, fx *effects) error {
		before := len(fx.jobs.Deliver)
		for _, id := range app.Owners {
			if err := fx.notify(ctx, q, access.NotifyUnmanagedAccess, id, "", "", app.ID+"/"+who+"/"+rec.EntitlementKey,
				map[string]string{"app": app.ID, "account": who, "entitlement": rec.EntitlementKey}); err != nil {
				return err
			}
		}
		if len(fx.jobs.Deliver) == before && len(app.Owners) > 0 {
			return nil // already reported
		}
		return fx.audit(ctx, q, access.SystemActor, "app.unmanaged_access", "app", app.ID, nil, nil,
			map[string]any{"account": who, "entitlement": rec.EntitlementKey})
	})
}

// ReconcileAll reconciles every app whose connector lists its grants,
// and returns what each found. An app's failure is logged and does not
// stop the others.
func (s *Service) ReconcileAll(ctx context.Context) ([]DriftReport, error) {
	var out []DriftReport
	cursor := ""
	for {
		apps, next, err := s.st.AppList(ctx, store.AppListParams{Page: store.Page{Cursor: cursor, Limit: 500}})
		if err != nil {
			return out, fmt.Errorf("list apps: %w", err)
		}
		for _, a := range apps {
			rep, err := s.Reconcile(ctx, a.ID)
			if err != nil {
				s.log.WarnContext(ctx, "reconcile failed", "app", a.ID, "err", err)
				continue
			}
			if !rep.Skipped {
				out = append(out, rep)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}
