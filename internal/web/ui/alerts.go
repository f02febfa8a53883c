package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// AlertFindings is what the security alert pages call
// (*findings.Service): settings, and the Add to Watchlist / Ignore
// actions, each checking on the server that the actor is an admin.
type AlertFindings interface {
	Settings(ctx context.Context) ([]access.AlertSetting, error)
	PutSettings(ctx context.Context, actorID string, settings []access.AlertSetting) ([]access.AlertSetting, error)
	Act(ctx context.Context, actorID, alertID, action string) (*access.Alert, error)
	ReviewURL(a *access.Alert) string
}

// AlertPages are the security alert pages, for Config.Pages:
// /settings/alerts (admins: per alert type on/off and channel), /alerts
// (admins and auditors: the alerts, with Add to Watchlist and Ignore for
// admins) and /catalog/discovered/{key} (a discovered app and its
// alerts). defaultChannel is slack.alerts_channel.
func AlertPages(f AlertFindings, defaultChannel string) []Page {
	p := &alertPages{f: f, defaultChannel: defaultChannel}
	return []Page{
		{Method: http.MethodGet, Path: "/settings/alerts", Access: AccessAdmin, Nav: "settings", Handle: p.settings},
		{Method: http.MethodPost, Path: "/settings/alerts", Access: AccessAdmin, Handle: p.saveSettings},
		{Method: http.MethodGet, Path: "/alerts", Access: AccessPrivileged, Nav: "settings", Handle: p.list},
		{Method: http.MethodPost, Path: "/alerts/{id}/{action}", Access: AccessAdmin, Handle: p.act},
		{Method: http.MethodGet, Path: "/catalog/discovered/{key}", Access: AccessPrivileged, Nav: "catalog", Handle: p.discovered},
	}
}

type alertPages struct {
	f              AlertFindings
	defaultChannel string
}

type alertSettingsView struct {
	Settings       []access.AlertSetting
	DefaultChannel string
	Menu           []menuItem
}

func (p *alertPages) settings(_ *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error {
	list, err := p.f.Settings(r.Context())
	if err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "alertsettings", alertSettingsView{Settings: list, DefaultChannel: p.defaultChannel, Menu: settingsMenu()})
}

// saveSettings reads enabled_<type> (a checkbox) and channel_<type> for
// every type; the findings service validates and audits.
func (p *alertPages) saveSettings(_ *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error {
	var list []access.AlertSetting
	for _, t := range access.AlertTypes() {
		list = append(list, access.AlertSetting{Type: t, Enabled: r.PostFormValue("enabled_"+string(t)) == "on",
			Channel: strings.TrimSpace(r.PostFormValue("channel_" + string(t)))})
	}
	if _, err := p.f.PutSettings(r.Context(), c.User.ID, list); err != nil {
		return err
	}
	return c.Done(w, "/settings/alerts", "Alert settings saved.")
}

type alertRow struct {
	A         *access.Alert
	ReviewURL string
}

type alertListView struct {
	Alerts []alertRow
	Next   string
	State  string
}

func (p *alertPages) rows(list []*access.Alert) []alertRow {
	out := make([]alertRow, 0, len(list))
	for _, a := range list {
		out = append(out, alertRow{A: a, ReviewURL: p.f.ReviewURL(a)})
	}
	return out
}

func (p *alertPages) list(h *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lp := store.AlertListParams{Page: store.Page{Cursor: q.Get("cursor"), Limit: 100}}
	state := q.Get("state")
	switch access.AlertState(state) {
	case access.AlertOpen, access.AlertWatching, access.AlertIgnored:
		lp.States = []access.AlertState{access.AlertState(state)}
	default:
		state = ""
	}
	list, next, err := h.st.AlertList(r.Context(), lp)
	if err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "alerts", alertListView{Alerts: p.rows(list), Next: next, State: state})
}

func (p *alertPages) act(_ *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error {
	action := r.PathValue("action")
	if action != "watch" && action != "ignore" {
		return access.Errorf(access.CodeNotFound, "no such action")
	}
	a, err := p.f.Act(r.Context(), c.User.ID, r.PathValue("id"), action)
	if err != nil {
		return err
	}
	msg := "Added to the watchlist."
	if a.State == access.AlertIgnored {
		msg = "Ignored: no more alerts about this."
	}
	return c.Done(w, "/alerts", msg)
}

type discoveredView struct {
	App    *access.DiscoveredApp
	Alerts []alertRow
}

func (p *alertPages) discovered(h *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	d, err := h.st.DiscoveredAppGet(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return access.Errorf(access.CodeNotFound, "no discovered app %q", key)
	}
	if err != nil {
		return err
	}
	var mine []*access.Alert
	cursor := ""
	for range 10 { // the newest 1,000 alerts at most
		list, next, err := h.st.AlertList(r.Context(), store.AlertListParams{Page: store.Page{Cursor: cursor, Limit: 100}})
		if err != nil {
			return err
		}
		for _, a := range list {
			if a.AppKey == "key:"+key || (d.AppID != "" && a.AppID == d.AppID) {
				mine = append(mine, a)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return c.Render(w, http.StatusOK, "discovered", discoveredView{App: d, Alerts: p.rows(mine)})
}
