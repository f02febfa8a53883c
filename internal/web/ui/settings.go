package ui

import (
	"context"
	"net/http"
	"time"
)

func settingsPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/settings", Access: AccessAdmin, Nav: "settings", Handle: (*Handler).settings},
	}
}

type settingsView struct {
	S    Settings
	Menu []menuItem
	OIDC bool
	// Slack is what Slack answered to the live check (zero when Slack is
	// off or the check failed); SlackErr is the failure ("" when none).
	Slack    SlackIdentity
	SlackErr string
	Checked  bool
}

// slackCheckTimeout bounds the live Slack check of the settings page.
const slackCheckTimeout = 3 * time.Second

// settings shows how the server is connected: Slack (mode, command,
// alerts channel, and a live check of the bot token), sign-in, sessions.
// Alert and integration settings have pages of their own (see the menu).
func (h *Handler) settings(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	v := settingsView{S: h.cfg.Settings, Menu: settingsMenu(), OIDC: h.cfg.OIDC != nil}
	if h.cfg.SlackCheck != nil && h.cfg.Settings.SlackEnabled {
		ctx, cancel := context.WithTimeout(r.Context(), slackCheckTimeout)
		defer cancel()
		id, err := h.cfg.SlackCheck(ctx)
		v.Checked = true
		if err != nil {
			v.SlackErr = err.Error()
		} else {
			v.Slack = id
		}
	}
	return c.Render(w, http.StatusOK, "settings", v)
}
