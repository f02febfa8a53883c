package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
)

type findingsBundle struct {
	env *apitest.Env
	srv *httptest.Server
}

func (b *findingsBundle) do(t *testing.T, u *access.User, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+b.env.Token(u))
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

// TestFindingsRoutes: ingestion (admins only, validated, nothing stored
// on a bad event), alerts (read by admins and auditors, acted on by
// admins), discovered apps and accounts, alert settings; without the
// findings service the routes answer 503.
func TestFindingsRoutes(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	svc, err := findings.New(findings.Config{Store: env.Store, Clock: env.Clock, BaseURL: "https://sesame.example.com"})
	require.NoError(t, err)
	b := &findingsBundle{env: env, srv: httptest.NewServer(api.New(api.Config{Service: env.Service, Store: env.Store, Clock: env.Clock,
		Findings: svc, AlertsChannel: "#security"}))}
	t.Cleanup(b.srv.Close)

	status, body := b.do(t, env.Alice, http.MethodPost, "/api/v1/discovery/events", `{"source":"s","app_name":"Notion"}`)
	require.Equal(t, http.StatusForbidden, status, body)
	status, body = b.do(t, env.Carol, http.MethodPost, "/api/v1/discovery/events",
		`{"events":[{"source":"s","app_name":"Notion"},{"source":"s","app_name":"Figma","account_email":"bad"}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, `"field":"events[1].account_email"`)
	status, body = b.do(t, env.Carol, http.MethodGet, "/api/v1/discovery/apps", "")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"items":[],"next_cursor":""}`, body, "nothing was stored")

	status, body = b.do(t, env.Carol, http.MethodPost, "/api/v1/discovery/events",
		`{"events":[{"source":"s","app_name":"Notion","app_domain":"notion.so"},{"source":"s","app_name":"GitHub","account_email":"Alice@Example.com"}]}`)
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"events":2,"new_apps":1,"new_accounts":1,"alerts":1}`, body)

	status, body = b.do(t, env.Dave, http.MethodGet, "/api/v1/alerts?type=new_app_discovered", "")
	require.Equal(t, http.StatusOK, status, body)
	var list struct {
		Items []struct {
			ID        string `json:"id"`
			State     string `json:"state"`
			ReviewURL string `json:"review_url"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Items, 1)
	require.Equal(t, "https://sesame.example.com/catalog/discovered/notion", list.Items[0].ReviewURL)
	id := list.Items[0].ID
	status, _ = b.do(t, env.Alice, http.MethodGet, "/api/v1/alerts", "")
	require.Equal(t, http.StatusForbidden, status)
	status, _ = b.do(t, env.Carol, http.MethodGet, "/api/v1/alerts?state=bogus", "")
	require.Equal(t, http.StatusUnprocessableEntity, status)
	status, _ = b.do(t, env.Dave, http.MethodPost, "/api/v1/alerts/"+id+"/watch", "")
	require.Equal(t, http.StatusForbidden, status, "auditors read, admins act")
	status, body = b.do(t, env.Carol, http.MethodPost, "/api/v1/alerts/"+id+"/watch", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"state":"watching"`)
	status, _ = b.do(t, env.Carol, http.MethodGet, "/api/v1/alerts/alr_nope", "")
	require.Equal(t, http.StatusNotFound, status)

	status, body = b.do(t, env.Carol, http.MethodGet, "/api/v1/discovery/accounts?email=alice@example.com", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"external_id":"email:alice@example.com"`)
	require.Contains(t, body, `"user_id":"`+env.Alice.ID+`"`)
	status, _ = b.do(t, env.Carol, http.MethodGet, "/api/v1/discovery/accounts", "")
	require.Equal(t, http.StatusUnprocessableEntity, status)

	status, body = b.do(t, env.Carol, http.MethodGet, "/api/v1/settings/alerts", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"default_channel":"#security"`)
	status, _ = b.do(t, env.Dave, http.MethodGet, "/api/v1/settings/alerts", "")
	require.Equal(t, http.StatusForbidden, status)
	status, body = b.do(t, env.Carol, http.MethodPut, "/api/v1/settings/alerts", `{"settings":[{"type":"new_app_discovered"}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "settings[0].enabled")
	status, body = b.do(t, env.Carol, http.MethodPut, "/api/v1/settings/alerts",
		`{"settings":[{"type":"new_app_discovered","enabled":false},{"type":"watchlist_signup","enabled":true,"channel":"C0WATCH"}]}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"channel":"C0WATCH"`)
	require.Contains(t, body, `"updated_by":"`+env.Carol.ID+`"`)

	// A server without the findings service.
	off := httptest.NewServer(api.New(api.Config{Service: env.Service, Store: env.Store, Clock: env.Clock}))
	t.Cleanup(off.Close)
	b.srv = off
	status, _ = b.do(t, env.Carol, http.MethodGet, "/api/v1/settings/alerts", "")
	require.Equal(t, http.StatusServiceUnavailable, status)
}
