package okta

import (
	"net/http"
	"strings"
)

// App is an Okta application (an app integration) and who is assigned to
// it. Name is Okta's app name ("slack", "bookmark", "oidc_client"), Label
// the display name; URL is settings.app.url (bookmark and SWA apps).
type App struct {
	ID, Name, Label, URL string
	// Status is ACTIVE unless set (INACTIVE apps are left out by
	// filter=status eq "ACTIVE").
	Status string
}

type app struct {
	App
	// users are the assignments: user id -> credentials.userName, in
	// assignment order.
	order     []string
	userNames map[string]string
}

// AddApp creates an app and returns its id ("0oa...").
func (s *Server) AddApp(a App) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.ID = s.newID("0oa")
	if a.Status == "" {
		a.Status = "ACTIVE"
	}
	s.apps = append(s.apps, &app{App: a, userNames: map[string]string{}})
	return a.ID
}

// AssignApp assigns user id to app id with the app-specific userName
// (Okta's credentials.userName; by default the user's login).
func (s *Server) AssignApp(appID, userID, userName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.app(appID)
	u := s.user(userID)
	if a == nil || u == nil {
		panic("okta fake: AssignApp of an unknown app or user")
	}
	if userName == "" {
		userName = u.Login
	}
	if _, ok := a.userNames[userID]; !ok {
		a.order = append(a.order, userID)
	}
	a.userNames[userID] = userName
}

func (s *Server) app(id string) *app {
	for _, a := range s.apps {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func appJSON(a *app) map[string]any {
	m := map[string]any{"id": a.ID, "name": a.Name, "label": a.Label, "status": a.Status, "signOnMode": "BOOKMARK",
		"_links": map[string]any{"users": map[string]string{"href": "/api/v1/apps/" + a.ID + "/users"}}}
	if a.URL != "" {
		m["settings"] = map[string]any{"app": map[string]any{"url": a.URL}}
	}
	return m
}

// listApps is GET /api/v1/apps: limit default 20, max 200; the only
// filter understood is status eq "ACTIVE" or "INACTIVE" (others are 400
// E0000031).
func (s *Server) listApps(w http.ResponseWriter, r *http.Request, _ Token) {
	status := ""
	if f := r.URL.Query().Get("filter"); f != "" {
		v, ok := strings.CutPrefix(f, "status eq ")
		if !ok || (v != `"ACTIVE"` && v != `"INACTIVE"`) {
			s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.")
			return
		}
		status = strings.Trim(v, `"`)
	}
	var out []map[string]any
	for _, a := range s.apps {
		if status == "" || a.Status == status {
			out = append(out, appJSON(a))
		}
	}
	page(w, r, out, 20, 200)
}

// listAppUsers is GET /api/v1/apps/{appId}/users: application users (id
// is the Okta user id; credentials.userName the app's username), limit
// default 50, max 500; unknown apps are 404 E0000007.
func (s *Server) listAppUsers(w http.ResponseWriter, r *http.Request, _ Token) {
	id := r.PathValue("appId")
	a := s.app(id)
	if a == nil {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (AppInstance)")
		return
	}
	var out []map[string]any
	for _, uid := range a.order {
		u := s.user(uid)
		out = append(out, map[string]any{
			"id": uid, "scope": "USER", "status": "ACTIVE", "syncState": "DISABLED",
			"credentials": map[string]any{"userName": a.userNames[uid]},
			"profile":     map[string]any{},
			"_links":      map[string]any{"user": map[string]string{"href": "/api/v1/users/" + u.ID}},
		})
	}
	page(w, r, out, 50, 500)
}
