package ui

import "net/http"

func settingsPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/settings", Access: AccessAdmin, Nav: "settings", Handle: (*Handler).settings},
	}
}

type settingsView struct {
	S    Settings
	Menu []menuItem
	OIDC bool
}

// settings shows how the server is connected: Slack (mode, command,
// alerts channel), sign-in, sessions. Notification settings come from the
// configuration file (slack.*) and are shown read-only.
func (h *Handler) settings(c *Ctx, w http.ResponseWriter, _ *http.Request) error {
	return c.Render(w, http.StatusOK, "settings", settingsView{S: h.cfg.Settings, Menu: settingsMenu(), OIDC: h.cfg.OIDC != nil})
}
