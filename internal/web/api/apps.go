package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// appJSON is an app of the catalog. Connector settings never leave the
// server.
type appJSON struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	ConnectorType string    `json:"connector_type"`
	Owners        []userRef `json:"owners"`
	Aliases       []string  `json:"aliases"`
	Watchlist     bool      `json:"watchlist"`
	Source        string    `json:"source"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// entitlementJSON is something that can be asked for in an app.
// MaxDuration is omitted (and MaxDurationSeconds 0) when the entitlement
// sets no limit of its own.
type entitlementJSON struct {
	ID                 string    `json:"id"`
	AppID              string    `json:"app_id"`
	Key                string    `json:"key"`
	Name               string    `json:"name"`
	Description        string    `json:"description"`
	MaxDuration        string    `json:"max_duration,omitempty"`
	MaxDurationSeconds int64     `json:"max_duration_seconds"`
	Requestable        bool      `json:"requestable"`
	Risk               string    `json:"risk"`
	Tags               []string  `json:"tags"`
	Owners             []userRef `json:"owners"`
}

func renderApp(a *access.App, us *users) appJSON {
	return appJSON{ID: a.ID, Name: a.Name, Description: a.Description, ConnectorType: a.ConnectorType,
		Owners: us.refs(a.Owners), Aliases: nonNil(a.Aliases), Watchlist: a.Watchlist, Source: string(a.Source),
		CreatedAt: utc(a.CreatedAt), UpdatedAt: utc(a.UpdatedAt)}
}

func renderEntitlement(e *access.Entitlement, us *users) entitlementJSON {
	return entitlementJSON{ID: e.ID, AppID: e.AppID, Key: e.Key, Name: e.Name, Description: e.Description,
		MaxDuration: durationText(e.MaxDuration), MaxDurationSeconds: int64(e.MaxDuration.Seconds()),
		Requestable: e.Requestable, Risk: string(e.Risk), Tags: nonNil(e.Tags), Owners: us.refs(e.Owners)}
}

// nonNil renders a nil list as [].
func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// listApps: GET /apps?q=&cursor=&limit=
func (h *handler) listApps(w http.ResponseWriter, r *http.Request, _ *principal) error {
	ps := newParams(r, "q", "cursor", "limit")
	q := ps.text("q", maxQueryLength)
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	apps, next, err := h.st.AppList(r.Context(), store.AppListParams{Page: pg, Query: q})
	if err != nil {
		return fmt.Errorf("list apps: %w", err)
	}
	us := newUsers(h.st)
	if err := us.load(r.Context(), userIDs(apps, func(a *access.App) []string { return a.Owners })...); err != nil {
		return err
	}
	out := page[appJSON]{Items: make([]appJSON, 0, len(apps)), NextCursor: next}
	for _, a := range apps {
		out.Items = append(out.Items, renderApp(a, us))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// getApp: GET /apps/{id}
func (h *handler) getApp(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	a, err := h.st.AppGetByID(r.Context(), id)
	if err != nil {
		return notFound(err, "app", id)
	}
	us := newUsers(h.st)
	if err := us.load(r.Context(), a.Owners...); err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, renderApp(a, us))
}

// listEntitlements: GET /apps/{id}/entitlements (every entitlement of the
// app, ordered by key; not paged).
func (h *handler) listEntitlements(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if _, err := h.st.AppGetByID(r.Context(), id); err != nil {
		return notFound(err, "app", id)
	}
	ents, err := h.st.EntitlementListByApp(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list entitlements: %w", err)
	}
	us := newUsers(h.st)
	if err := us.load(r.Context(), userIDs(ents, func(e *access.Entitlement) []string { return e.Owners })...); err != nil {
		return err
	}
	out := page[entitlementJSON]{Items: make([]entitlementJSON, 0, len(ents))}
	for _, e := range ents {
		out.Items = append(out.Items, renderEntitlement(e, us))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}
