package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/store"
)

// Findings is the findings service the discovery, alert and alert
// settings routes call: *findings.Service. Without it (Config.Findings
// nil) those routes answer 503.
type Findings interface {
	Ingest(ctx context.Context, actorID string, events []findings.Event) (findings.IngestResult, error)
	Act(ctx context.Context, actorID, alertID, action string) (*access.Alert, error)
	Settings(ctx context.Context) ([]access.AlertSetting, error)
	PutSettings(ctx context.Context, actorID string, settings []access.AlertSetting) ([]access.AlertSetting, error)
	RequestSync(ctx context.Context) error
	ReviewURL(a *access.Alert) string
}

// alertJSON is an alert with its dashboard link.
type alertJSON struct {
	*access.Alert
	ReviewURL string `json:"review_url,omitempty"`
}

func (h *handler) findingsOr503() (Findings, error) {
	if h.findings == nil {
		return nil, &httpError{status: http.StatusServiceUnavailable, code: string(access.CodeUnavailable),
			detail: "security alerts and discovery are not running on this server"}
	}
	return h.findings, nil
}

// ingestDiscovery: POST /discovery/events (admins): one event or
// {"events": [...]} (up to 1,000, 1 MiB). Every event is validated
// before anything is stored.
func (h *handler) ingestDiscovery(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := h.findingsOr503()
	if err != nil {
		return err
	}
	if !p.admin() {
		return forbidden("only admins may send discovery events (use an admin's API token)")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return badRequest("the request body must be sent with Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, findings.MaxEventsBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large",
				detail: fmt.Sprintf("the request body is larger than %d bytes", findings.MaxEventsBody)}
		}
		return badRequest("could not read the request body")
	}
	events, err := findings.ParseEvents(body, h.clock.Now())
	if err != nil {
		return err
	}
	res, err := f.Ingest(r.Context(), p.User.ID, events)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, res)
}

// syncDiscovery: POST /discovery/sync (admins) queues a discovery sync.
func (h *handler) syncDiscovery(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := h.findingsOr503()
	if err != nil {
		return err
	}
	if !p.admin() {
		return forbidden("only admins may start a discovery sync")
	}
	if err := f.RequestSync(r.Context()); err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusAccepted, map[string]string{"status": "queued"})
}

// listDiscoveredApps: GET /discovery/apps (admins and auditors), by key.
func (h *handler) listDiscoveredApps(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may list discovered apps")
	}
	ps := newParams(r, "cursor", "limit")
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	list, next, err := h.st.DiscoveredAppList(r.Context(), pg)
	if err != nil {
		return err
	}
	out := page[*access.DiscoveredApp]{Items: list, NextCursor: next}
	if out.Items == nil {
		out.Items = []*access.DiscoveredApp{}
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// listAccounts: GET /discovery/accounts?app_id= (admins and auditors):
// one app's accounts by external ID, or ?email= every active account
// with that email.
func (h *handler) listAccounts(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may list accounts")
	}
	ps := newParams(r, "app_id", "email", "cursor", "limit")
	appID := ps.id("app_id")
	email := ps.one("email")
	cursor, limit := ps.cursor(), ps.limit()
	if email != "" && !validEmail(email) {
		ps.add("email", "not an email address")
	}
	if (appID == "") == (email == "") {
		ps.add("app_id", "give app_id or email (one of them)")
	}
	if err := ps.Err(); err != nil {
		return err
	}
	if email != "" {
		list, err := h.st.AccountListByEmail(r.Context(), email)
		if err != nil {
			return err
		}
		return h.writeJSON(w, r, http.StatusOK, page[*access.Account]{Items: nonNilSlice(list)})
	}
	after, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return badRequest("invalid cursor", access.FieldError{Field: "cursor", Message: "not a cursor from a previous page"})
	}
	list, err := h.st.AccountListByApp(r.Context(), appID, string(after), limit+1)
	if err != nil {
		return err
	}
	out := page[*access.Account]{Items: nonNilSlice(list)}
	if len(list) > limit {
		out.Items = list[:limit]
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(list[limit-1].ExternalID))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// nonNilSlice returns s, or an empty slice for nil (JSON [] not null).
func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// listAlerts: GET /alerts?type=&state=&app_id=&user_id= (admins and
// auditors), newest first.
func (h *handler) listAlerts(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may list alerts")
	}
	ps := newParams(r, "type", "state", "app_id", "user_id", "cursor", "limit")
	var lp store.AlertListParams
	for _, t := range ps.list("type") {
		if !access.ValidAlertType(access.AlertType(t)) {
			ps.add("type", "must be watchlist_signup, offboarded_with_accounts or new_app_discovered")
		}
		lp.Types = append(lp.Types, access.AlertType(t))
	}
	for _, s := range ps.list("state") {
		switch access.AlertState(s) {
		case access.AlertOpen, access.AlertWatching, access.AlertIgnored:
		default:
			ps.add("state", "must be open, watching or ignored")
		}
		lp.States = append(lp.States, access.AlertState(s))
	}
	lp.AppID, lp.UserID = ps.id("app_id"), ps.id("user_id")
	lp.Page = store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	list, next, err := h.st.AlertList(r.Context(), lp)
	if err != nil {
		return err
	}
	out := page[alertJSON]{Items: make([]alertJSON, 0, len(list)), NextCursor: next}
	for _, a := range list {
		out.Items = append(out.Items, h.renderAlert(a))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

func (h *handler) renderAlert(a *access.Alert) alertJSON {
	out := alertJSON{Alert: a}
	if h.findings != nil {
		out.ReviewURL = h.findings.ReviewURL(a)
	}
	return out
}

// getAlert: GET /alerts/{id} (admins and auditors).
func (h *handler) getAlert(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may read alerts")
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := h.st.AlertGetByID(r.Context(), id, false)
	if errors.Is(err, store.ErrNotFound) {
		return access.Errorf(access.CodeNotFound, "alert %s was not found", id)
	}
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, h.renderAlert(a))
}

// watchAlert: POST /alerts/{id}/watch (admins): the Add to Watchlist
// button.
func (h *handler) watchAlert(w http.ResponseWriter, r *http.Request, p *principal) error {
	return h.actOnAlert(w, r, p, findings.ActionWatch)
}

// ignoreAlert: POST /alerts/{id}/ignore (admins): the Ignore button.
func (h *handler) ignoreAlert(w http.ResponseWriter, r *http.Request, p *principal) error {
	return h.actOnAlert(w, r, p, findings.ActionIgnore)
}

func (h *handler) actOnAlert(w http.ResponseWriter, r *http.Request, p *principal, action string) error {
	f, err := h.findingsOr503()
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := f.Act(r.Context(), p.User.ID, id, action)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, h.renderAlert(a))
}

// alertSettingsJSON is the body of GET and PUT /settings/alerts.
type alertSettingsJSON struct {
	Settings []access.AlertSetting `json:"settings"`
	// DefaultChannel is slack.alerts_channel (read only).
	DefaultChannel string `json:"default_channel,omitempty"`
}

// getAlertSettings: GET /settings/alerts (admins).
func (h *handler) getAlertSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := h.findingsOr503()
	if err != nil {
		return err
	}
	if !p.admin() {
		return forbidden("only admins may read alert settings")
	}
	list, err := f.Settings(r.Context())
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, alertSettingsJSON{Settings: list, DefaultChannel: h.alertsChannel})
}

// putAlertSettingsBody is what PUT /settings/alerts accepts.
type putAlertSettingsBody struct {
	Settings []struct {
		Type    access.AlertType `json:"type"`
		Enabled *bool            `json:"enabled"`
		Channel string           `json:"channel"`
	} `json:"settings"`
}

// putAlertSettings: PUT /settings/alerts (admins): each listed type's
// enabled (required) and channel ("" for the default).
func (h *handler) putAlertSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := h.findingsOr503()
	if err != nil {
		return err
	}
	if !p.admin() {
		return forbidden("only admins may change alert settings")
	}
	var body putAlertSettingsBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	var fields []access.FieldError
	if len(body.Settings) == 0 {
		fields = append(fields, access.FieldError{Field: "settings", Message: "list at least one alert type"})
	}
	list := make([]access.AlertSetting, 0, len(body.Settings))
	for i, s := range body.Settings {
		if s.Enabled == nil {
			fields = append(fields, access.FieldError{Field: fmt.Sprintf("settings[%d].enabled", i), Message: "is required (true or false)"})
			continue
		}
		list = append(list, access.AlertSetting{Type: s.Type, Enabled: *s.Enabled, Channel: s.Channel})
	}
	if len(fields) > 0 {
		return access.Invalid("invalid alert settings; nothing was saved", fields...)
	}
	out, err := f.PutSettings(r.Context(), p.User.ID, list)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, alertSettingsJSON{Settings: out, DefaultChannel: h.alertsChannel})
}
