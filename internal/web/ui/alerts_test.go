package ui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
	"github.com/sesame-access/sesame/internal/web/signin"
	"github.com/sesame-access/sesame/internal/web/ui"
)

// TestAlertPages: the settings page (admins only) saves per-type
// settings through the findings service (audited there), the alerts list
// shows alerts to admins and auditors, only admins act on them, and a
// discovered app has its page.
func TestAlertPages(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	svc, err := findings.New(findings.Config{Store: env.Store, Clock: env.Clock, BaseURL: "http://sesame.test", DefaultChannel: "#security"})
	require.NoError(t, err)
	h := ui.New(ui.Config{Service: env.Service, Store: env.Store, Clock: env.Clock,
		Sessions: signin.NewSessions(env.Store, env.Clock, "http://sesame.test", 0), Pages: ui.AlertPages(svc, "#security")})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &testBundle{env: env, srv: srv}

	for _, tc := range []struct {
		user   *access.User
		path   string
		status int
	}{
		{env.Alice, "/settings/alerts", http.StatusForbidden},
		{env.Dave, "/settings/alerts", http.StatusForbidden},
		{env.Alice, "/alerts", http.StatusForbidden},
		{env.Dave, "/alerts", http.StatusOK},
		{env.Carol, "/catalog/discovered/nope", http.StatusNotFound},
	} {
		status, body := b.signIn(t, tc.user).get(tc.path)
		require.Equal(t, tc.status, status, "%s %s: %s", tc.user.Email, tc.path, body)
	}

	carol := b.signIn(t, env.Carol)
	status, body := carol.get("/settings/alerts")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "#security")
	require.Contains(t, body, "new_app_discovered")
	status, body = carol.post("/settings/alerts", url.Values{"enabled_watchlist_signup": {"on"}, "channel_watchlist_signup": {"C0WATCH"},
		"enabled_offboarded_with_accounts": {"on"}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Alert settings saved.")
	got, err := svc.Settings(t.Context())
	require.NoError(t, err)
	require.Equal(t, "C0WATCH", got[0].Channel)
	require.True(t, got[1].Enabled)
	require.False(t, got[2].Enabled, "an unchecked box turns the type off")
	status, _ = carol.post("/settings/alerts", url.Values{"channel_watchlist_signup": {"not a channel"}})
	require.Equal(t, http.StatusBadRequest, status)

	_, err = svc.Ingest(t.Context(), env.Carol.ID, []findings.Event{{Source: "email-gateway", AppName: "Notion", AppDomain: "notion.so", SeenAt: env.Clock.Now()}})
	require.NoError(t, err)
	list, _, err := env.Store.AlertList(t.Context(), store.AlertListParams{})
	require.NoError(t, err)
	require.Len(t, list, 1)

	dave := b.signIn(t, env.Dave)
	status, body = dave.get("/alerts")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "New app discovered: Notion")
	require.NotContains(t, body, "Add to Watchlist", "auditors read, admins act")
	status, _ = dave.post("/alerts/"+list[0].ID+"/watch", url.Values{})
	require.Equal(t, http.StatusForbidden, status)

	status, body = carol.get("/alerts?state=open")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Add to Watchlist")
	status, body = carol.post("/alerts/"+list[0].ID+"/watch", url.Values{})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Added to the watchlist.")
	a, err := env.Store.AlertGetByID(t.Context(), list[0].ID, false)
	require.NoError(t, err)
	require.Equal(t, access.AlertWatching, a.State)
	require.Equal(t, env.Carol.ID, a.DecidedBy)

	status, body = carol.get("/catalog/discovered/notion")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "notion.so")
	require.Contains(t, body, `href="/catalog/notion"`)
}
