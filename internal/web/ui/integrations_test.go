package ui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
	"github.com/sesame-access/sesame/internal/web/signin"
	"github.com/sesame-access/sesame/internal/web/ui"
)

// TestIntegrationPages: admins see every integration with its masked
// destination and health, and Send test message posts through Slack and
// updates the health shown (failing with Slack's answer, then healthy).
func TestIntegrationPages(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	fake := slackfake.New(slackfake.Options{Clock: env.Clock})
	t.Cleanup(fake.Close)
	box, err := secrets.New(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	svc, err := integrations.New(integrations.Config{Store: env.Store, Clock: env.Clock, Secrets: box, AllowLoopback: true,
		SlackAPIURL: fake.APIURL(), BotToken: fake.BotToken()})
	require.NoError(t, err)
	hook := fake.AddWebhook("C0CLOUD")
	i, err := svc.Create(t.Context(), env.Carol, integrations.Spec{Name: "cloud", WebhookURL: hook, Covers: []string{"*"},
		Categories: []string{"grants"}})
	require.NoError(t, err)
	h := ui.New(ui.Config{Service: env.Service, Store: env.Store, Clock: env.Clock,
		Sessions: signin.NewSessions(env.Store, env.Clock, "http://sesame.test", 0), Pages: ui.IntegrationPages(svc)})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &testBundle{env: env, srv: srv}

	status, _ := b.signIn(t, env.Alice).get("/settings/integrations")
	require.Equal(t, http.StatusForbidden, status)
	status, _ = b.signIn(t, env.Dave).post("/settings/integrations/"+i.ID+"/test", url.Values{})
	require.Equal(t, http.StatusForbidden, status)

	carol := b.signIn(t, env.Carol)
	status, body := carol.get("/settings/integrations")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "cloud")
	require.Contains(t, body, "healthy")
	require.Contains(t, body, "••••")
	require.NotContains(t, body, hook[strings.LastIndex(hook, "/")+1:], "the webhook secret is never shown")

	status, body = carol.post("/settings/integrations/"+i.ID+"/test", url.Values{})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Test message sent.")
	require.Len(t, fake.Messages("C0CLOUD"), 1)

	fake.SetWebhookState(hook, slackfake.WebhookRevoked)
	status, body = carol.post("/settings/integrations/"+i.ID+"/test", url.Values{})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Slack answered invalid_token")
	status, body = carol.get("/settings/integrations")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "1 failing")
	require.Contains(t, body, "<code>invalid_token</code>")
}
