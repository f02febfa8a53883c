package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/slackfake"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
)

// TestIntegrationsAPI: admins only; bodies validated (unknown fields 400,
// bad values 422 naming the field); the webhook URL is masked in every
// answer and never returned; config integrations are read-only; the test
// message reports Slack's answer.
func TestIntegrationsAPI(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	fake := slackfake.New(slackfake.Options{Clock: env.Clock})
	t.Cleanup(fake.Close)
	box, err := secrets.New(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	svc, err := integrations.New(integrations.Config{Store: env.Store, Clock: env.Clock, Secrets: box, AllowLoopback: true,
		SlackAPIURL: fake.APIURL(), BotToken: fake.BotToken()})
	require.NoError(t, err)
	_, _, _, err = svc.SyncConfig(t.Context(), []integrations.Spec{{Name: "from-file", Channel: "C0FILE", Covers: []string{"*"}, Categories: []string{"alerts"}}})
	require.NoError(t, err)
	served := *env
	served.Handler = api.New(api.Config{Service: env.Service, Store: env.Store, Clock: env.Clock, Logger: slog.New(slog.DiscardHandler),
		Integrations: svc})
	served.Server = httptest.NewServer(served.Handler)
	t.Cleanup(served.Server.Close)
	e := &served
	hook := fake.AddWebhook("C0CLOUD")
	secret := hook[strings.LastIndex(hook, "/")+1:]

	require.Equal(t, http.StatusForbidden, e.Do(t, env.Alice, "GET", "/api/v1/integrations", "").Status)
	require.Equal(t, http.StatusForbidden, e.Do(t, env.Dave, "GET", "/api/v1/integrations", "").Status, "auditors neither")
	require.Equal(t, http.StatusUnauthorized, e.Do(t, nil, "GET", "/api/v1/integrations", "").Status)

	r := e.Do(t, env.Carol, "POST", "/api/v1/integrations", `{"name":"cloud","webhook_url":"`+hook+`","covers":["app:github"],"categories":["grants"],"colour":"red"}`)
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "colour")
	r = e.Do(t, env.Carol, "POST", "/api/v1/integrations", `{"name":"cloud","webhook_url":"https://hooks.example.com/services/T/B/`+secret+`","covers":["group:x"],"categories":["grants"]}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	require.Contains(t, string(r.Body), `"field":"webhook_url"`)
	require.Contains(t, string(r.Body), `"field":"covers"`)
	require.NotContains(t, string(r.Body), secret, "a rejected URL is not echoed")

	r = e.Do(t, env.Carol, "POST", "/api/v1/integrations", `{"name":"cloud","webhook_url":"`+hook+`","covers":["app:github"],"categories":["grants"]}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.NotContains(t, string(r.Body), secret)
	var created struct {
		ID         string `json:"id"`
		WebhookURL string `json:"webhook_url"`
		Health     struct {
			Status string `json:"status"`
		} `json:"health"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &created))
	require.Contains(t, created.WebhookURL, "/services/T…/B…/••••")
	require.Equal(t, "healthy", created.Health.Status)
	require.Contains(t, r.Header.Get("Location"), "/api/v1/integrations/"+created.ID)

	r = e.Do(t, env.Carol, "GET", "/api/v1/integrations", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Body), "from-file")
	require.NotContains(t, string(r.Body), secret)

	r = e.Do(t, env.Carol, "POST", "/api/v1/integrations/"+created.ID+"/test", "")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"ok":true`)
	fake.ArchiveChannel("C0CLOUD", true)
	env.Clock.Advance(2 * time.Second)
	r = e.Do(t, env.Carol, "POST", "/api/v1/integrations/"+created.ID+"/test", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, string(r.Body), `"error":"channel_is_archived"`)
	require.Contains(t, string(r.Body), `"status":"failing"`)
	require.Equal(t, http.StatusForbidden, e.Do(t, env.Alice, "POST", "/api/v1/integrations/"+created.ID+"/test", "").Status)

	r = e.Do(t, env.Carol, "PATCH", "/api/v1/integrations/"+created.ID, `{"webhook_url":"x","channel":"C0X1"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	r = e.Do(t, env.Carol, "PATCH", "/api/v1/integrations/"+created.ID, `{"categories":["alerts","decisions"]}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), `"categories":["alerts","decisions"]`)

	var list struct {
		Items []struct {
			ID     string `json:"id"`
			Source string `json:"source"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(e.Do(t, env.Carol, "GET", "/api/v1/integrations", "").Body, &list))
	var fileID string
	for _, i := range list.Items {
		if i.Source == "config" {
			fileID = i.ID
		}
	}
	require.Equal(t, http.StatusConflict, e.Do(t, env.Carol, "DELETE", "/api/v1/integrations/"+fileID, "").Status)
	require.Equal(t, http.StatusNoContent, e.Do(t, env.Carol, "DELETE", "/api/v1/integrations/"+created.ID, "").Status)
	require.Equal(t, http.StatusNotFound, e.Do(t, env.Carol, "GET", "/api/v1/integrations/"+created.ID, "").Status)
}
