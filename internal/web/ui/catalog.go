package ui

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/store"
)

func catalogPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/catalog", Nav: "catalog", Handle: (*Handler).catalog},
		{Method: http.MethodGet, Path: "/catalog/{appID}", Nav: "catalog", Handle: (*Handler).app},
		{Method: http.MethodPost, Path: "/catalog/{appID}/health", Access: AccessAdmin, Handle: (*Handler).appHealth},
		{Method: http.MethodPost, Path: "/catalog/{appID}/watchlist", Access: AccessAdmin, Handle: (*Handler).appWatchlist},
		{Method: http.MethodPost, Path: "/catalog/{appID}/settings", Access: AccessAdmin, Handle: (*Handler).appSetting},
		{Method: http.MethodPost, Path: "/catalog/{appID}/owners", Access: AccessAdmin, Handle: (*Handler).appOwners},
		{Method: http.MethodPost, Path: "/catalog/{appID}/aliases", Access: AccessAdmin, Handle: (*Handler).appAliases},
	}
}

type catalogView struct {
	Query string
	Apps  []*access.App
	Next  string
}

func (h *Handler) catalog(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := catalogView{Query: strings.TrimSpace(q.Get("q"))}
	apps, next, err := h.st.AppList(r.Context(), store.AppListParams{Page: store.Page{Cursor: q.Get("cursor"), Limit: 100}, Query: v.Query})
	if err != nil {
		return err
	}
	v.Apps, v.Next = apps, next
	return c.Render(w, http.StatusOK, "catalog", v)
}

type settingView struct {
	Name, Value string
	Secret, Set bool
}

type appView struct {
	App          *access.App
	Entitlements []*access.Entitlement
	Settings     []settingView
	Grants       []*access.Grant
	Health       string
	HealthOK     bool
	CanHealth    bool
	CanEdit      bool
}

func (h *Handler) loadApp(c *Ctx, id string) (*access.App, error) {
	app, err := h.st.AppGetByID(c.R.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeNotFound, "app %s not found", id)
	}
	return app, err
}

// appPage renders an app: entitlements, owners, aliases, connector
// settings (secret ones only as "set"), active grants for privileged
// users.
func (h *Handler) appPage(c *Ctx, w http.ResponseWriter, app *access.App, health string, ok bool) error {
	ents, err := h.st.EntitlementListByApp(c.R.Context(), app.ID)
	if err != nil {
		return err
	}
	v := appView{App: app, Entitlements: ents, Health: health, HealthOK: ok,
		CanHealth: c.Admin() && h.cfg.HealthCheck != nil, CanEdit: c.Admin() && h.cfg.SealSetting != nil}
	if c.Privileged() || slices.Contains(app.Owners, c.User.ID) {
		names := make([]string, 0, len(app.ConnectorSettings))
		for k := range app.ConnectorSettings {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			sv := settingView{Name: k, Secret: config.IsSecretSetting(k), Set: app.ConnectorSettings[k] != ""}
			if !sv.Secret {
				sv.Value = app.ConnectorSettings[k]
			}
			v.Settings = append(v.Settings, sv)
		}
		grants, _, err := h.st.GrantList(c.R.Context(), store.GrantListParams{Page: store.Page{Limit: 50}, AppID: app.ID, States: []access.GrantState{access.GrantActive}})
		if err != nil {
			return err
		}
		v.Grants = grants
		if err := c.preloadRows(nil, grants); err != nil {
			return err
		}
	}
	return c.Render(w, http.StatusOK, "app", v)
}

func (h *Handler) app(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	app, err := h.loadApp(c, r.PathValue("appID"))
	if err != nil {
		return err
	}
	return h.appPage(c, w, app, "", false)
}

func (h *Handler) appHealth(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	app, err := h.loadApp(c, r.PathValue("appID"))
	if err != nil {
		return err
	}
	if h.cfg.HealthCheck == nil {
		return access.Errorf(access.CodeUnavailable, "health checks are not available")
	}
	msg, ok := "healthy: the target answered with these settings", true
	if err := h.cfg.HealthCheck(r.Context(), app); err != nil {
		msg, ok = err.Error(), false
	}
	if err := h.audit(c, c.User.ID, "app.health_checked", "app", app.ID, map[string]any{"ok": ok}); err != nil {
		return err
	}
	return h.appPage(c, w, app, msg, ok)
}

// appWatchlist turns the watchlist flag on or off (audited). The config
// file wins again at the next start when it lists the app.
func (h *Handler) appWatchlist(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	on := r.PostFormValue("watchlist") == "on"
	err := h.updateApp(c, r.PathValue("appID"), "app.watchlist_changed", func(a *access.App) (map[string]any, error) {
		a.Watchlist = on
		return map[string]any{"watchlist": on}, nil
	})
	if err != nil {
		return err
	}
	return c.Done(w, "/catalog/"+r.PathValue("appID"), "Watchlist updated.")
}

// appSetting sets one connector setting; secret values are sealed and
// never shown again (write-only).
func (h *Handler) appSetting(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	name, value := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("value")
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n") || len(value) > 8192 {
		return access.Invalid("invalid setting", access.FieldError{Field: "name", Message: "a setting name without spaces (at most 64 characters) and a value of at most 8 KiB"})
	}
	if h.cfg.SealSetting == nil {
		return access.Errorf(access.CodeUnavailable, "settings cannot be changed here")
	}
	err := h.updateApp(c, r.PathValue("appID"), "app.setting_changed", func(a *access.App) (map[string]any, error) {
		sealed, err := h.cfg.SealSetting(name, value)
		if err != nil {
			return nil, err
		}
		settings := make(map[string]string, len(a.ConnectorSettings)+1)
		maps.Copy(settings, a.ConnectorSettings)
		settings[name] = sealed
		a.ConnectorSettings = settings
		return map[string]any{"setting": name, "secret": config.IsSecretSetting(name)}, nil
	})
	if err != nil {
		return err
	}
	return c.Done(w, "/catalog/"+r.PathValue("appID"), "Setting "+name+" saved.")
}

// listField splits a form list on commas and spaces.
func listField(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// appOwners replaces the app's owners with the active users whose emails
// are given (every one must exist).
func (h *Handler) appOwners(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	emails := listField(strings.ToLower(r.PostFormValue("owners")))
	if len(emails) > 50 {
		return access.Invalid("invalid owners", access.FieldError{Field: "owners", Message: "at most 50 owners"})
	}
	var ownerIDs []string
	var fields []access.FieldError
	for _, e := range emails {
		u, err := h.st.UserGetByEmail(r.Context(), e)
		switch {
		case errors.Is(err, store.ErrNotFound):
			fields = append(fields, access.FieldError{Field: "owners", Message: "no Sesame user has the email " + e})
		case err != nil:
			return err
		case !u.Active():
			fields = append(fields, access.FieldError{Field: "owners", Message: e + " is " + string(u.Status)})
		case !slices.Contains(ownerIDs, u.ID):
			ownerIDs = append(ownerIDs, u.ID)
		}
	}
	if len(fields) > 0 {
		return access.Invalid("invalid owners", fields...)
	}
	err := h.updateApp(c, r.PathValue("appID"), "app.owners_changed", func(a *access.App) (map[string]any, error) {
		before := a.Owners
		a.Owners = ownerIDs
		return map[string]any{"before": before, "after": ownerIDs}, nil
	})
	if err != nil {
		return err
	}
	return c.Done(w, "/catalog/"+r.PathValue("appID"), "Owners saved.")
}

// aliasRE is what an alias may look like (as in the config file).
var aliasRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// appAliases replaces the app's aliases (what /access <alias> finds).
func (h *Handler) appAliases(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	aliases := listField(strings.ToLower(r.PostFormValue("aliases")))
	var fields []access.FieldError
	if len(aliases) > 20 {
		fields = append(fields, access.FieldError{Field: "aliases", Message: "at most 20 aliases"})
	}
	for _, a := range aliases {
		if !aliasRE.MatchString(a) {
			fields = append(fields, access.FieldError{Field: "aliases", Message: fmt.Sprintf("%q: lowercase letters, digits and dashes, at most 63", a)})
		}
	}
	if len(fields) > 0 {
		return access.Invalid("invalid aliases", fields...)
	}
	slices.Sort(aliases)
	aliases = slices.Compact(aliases)
	err := h.updateApp(c, r.PathValue("appID"), "app.aliases_changed", func(a *access.App) (map[string]any, error) {
		before := a.Aliases
		a.Aliases = aliases
		return map[string]any{"before": before, "after": aliases}, nil
	})
	if err != nil {
		return err
	}
	return c.Done(w, "/catalog/"+r.PathValue("appID"), "Aliases saved.")
}

// updateApp changes an app in a transaction with its audit event (the
// event records what changed, never a setting's value).
func (h *Handler) updateApp(c *Ctx, id, action string, change func(*access.App) (map[string]any, error)) error {
	ctx := c.R.Context()
	return h.st.InTx(ctx, func(q store.Queries) error {
		app, err := q.AppGetByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return access.Errorf(access.CodeNotFound, "app %s not found", id)
		}
		if err != nil {
			return err
		}
		data, err := change(app)
		if err != nil {
			return err
		}
		app.UpdatedAt = c.Now
		if err := q.AppUpsert(ctx, app); err != nil {
			return err
		}
		return auditQ(ctx, q, c.Now, c.User.ID, action, "app", app.ID, data)
	})
}
