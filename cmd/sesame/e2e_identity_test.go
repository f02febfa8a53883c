package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// scimCall sends one SCIM request with a bearer token and decodes the
// answer.
func scimCall(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, base+"/scim/v2"+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close() //nolint:errcheck // read fully below
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

// TestSCIMDeactivationOffboards runs the binary: an identity provider
// pushes people, a manager and a group over SCIM with a token made by the
// CLI; the pushed person gets access and asks for more; deactivating them
// Entra-style revokes the grant and cancels the request; a revoked SCIM
// token stops working.
func TestSCIMDeactivationOffboards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"SESAME_DATA_DIR=" + filepath.Join(dir, "sesame-data")}
	p := startServe(t, env)
	token := strings.TrimSpace(runCLI(t, env, "scim", "token", "create", "--name", "entra"))
	require.True(t, strings.HasPrefix(token, "sesame_scim_"))
	require.Contains(t, runCLI(t, env, "scim", "token", "list"), "entra")

	code, _ := scimCall(t, p.url(), "wrong", "GET", "/Users", "")
	require.Equal(t, http.StatusUnauthorized, code)

	// bob comes from the demo config; the push adopts him.
	code, bob := scimCall(t, p.url(), token, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"bob@example.com","externalId":"e-bob","active":true,"emails":[{"primary":true,"type":"work","value":"bob@example.com"}],
		"name":{"givenName":"Bob","familyName":"Brown"}}`)
	require.Equal(t, http.StatusCreated, code, bob)
	code, frank := scimCall(t, p.url(), token, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"frank@example.com","externalId":"e-frank","active":true,"emails":[{"primary":true,"type":"work","value":"frank@example.com"}],
		"name":{"formatted":"Frank Fox","givenName":"Frank","familyName":"Fox"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"`+bob["id"].(string)+`"}}}`)
	require.Equal(t, http.StatusCreated, code, frank)
	frankID := frank["id"].(string)
	code, group := scimCall(t, p.url(), token, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"platform","externalId":"g-1"}`)
	require.Equal(t, http.StatusCreated, code, group)
	code, _ = scimCall(t, p.url(), token, "PATCH", "/Groups/"+group["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+frankID+`"}]}]}`)
	require.Equal(t, http.StatusNoContent, code)

	carol := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "carol@example.com"))}
	var u struct {
		Email   string   `json:"email"`
		Status  string   `json:"status"`
		Groups  []string `json:"groups"`
		Manager struct {
			Email string `json:"email"`
		} `json:"manager"`
		SCIM struct {
			UserName string `json:"user_name"`
		} `json:"scim"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/users/"+frankID, nil, &u))
	require.Equal(t, "frank@example.com", u.Email)
	require.Equal(t, "bob@example.com", u.Manager.Email, "the manager is resolved from the SCIM id")
	require.Equal(t, []string{"platform"}, u.Groups)
	require.Equal(t, "frank@example.com", u.SCIM.UserName)
	var g struct {
		Source     string `json:"source"`
		MemberPage struct {
			Items []struct {
				Email string `json:"email"`
			} `json:"items"`
		} `json:"member_page"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/groups/platform", nil, &g))
	require.Equal(t, "scim", g.Source)
	require.Len(t, g.MemberPage.Items, 1)

	// frank gets write access to GitHub, and asks for Grafana.
	frankAPI := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "frank@example.com"))}
	bobAPI := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))}
	var granted, pending idState
	require.Equal(t, http.StatusCreated, frankAPI.do("POST", "/requests", map[string]any{
		"entitlements": []string{"github:write"}, "duration": "2h", "reason": "ship the release", "approvers": []string{"bob@example.com"}}, &granted))
	require.Equal(t, http.StatusOK, bobAPI.do("POST", "/requests/"+granted.ID+"/approve", map[string]any{"comment": "ok"}, &granted))
	waitUntil(t, 20*time.Second, "grant active", func() bool {
		var got idState
		require.Equal(t, http.StatusOK, frankAPI.do("GET", "/requests/"+granted.ID, nil, &got))
		return got.State == "active" && len(got.Grants) == 1 && got.Grants[0].State == "active"
	})
	require.Equal(t, http.StatusCreated, frankAPI.do("POST", "/requests", map[string]any{
		"entitlements": []string{"grafana:viewer"}, "duration": "1h", "reason": "look at dashboards", "approvers": []string{"erin@example.com"}}, &pending))
	require.Equal(t, "pending", pending.State)

	// Entra deactivates frank with a string boolean.
	code, out := scimCall(t, p.url(), token, "PATCH", "/Users/"+frankID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, false, out["active"])

	var got idState
	require.Equal(t, http.StatusOK, carol.do("GET", "/requests/"+pending.ID, nil, &got))
	require.Equal(t, "cancelled", got.State, "the pending request is cancelled")
	waitUntil(t, 20*time.Second, "grant revoked by the revoke job", func() bool {
		var r idState
		require.Equal(t, http.StatusOK, carol.do("GET", "/requests/"+granted.ID, nil, &r))
		return len(r.Grants) == 1 && r.Grants[0].State == "revoked"
	})
	require.Equal(t, http.StatusOK, carol.do("GET", "/users/"+frankID, nil, &u))
	require.Equal(t, "offboarded", u.Status)
	require.Equal(t, http.StatusUnauthorized, frankAPI.do("GET", "/me", nil, nil), "an offboarded person's tokens stop working")

	// A second deactivation does nothing more; the audit chain holds.
	code, _ = scimCall(t, p.url(), token, "PATCH", "/Users/"+frankID, `{"Operations":[{"op":"replace","value":{"active":false}}]}`)
	require.Equal(t, http.StatusOK, code)
	var events struct {
		Items []struct {
			Actor struct {
				ID string `json:"id"`
			} `json:"actor"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/audit?action=user.offboarded&subject_id="+url.QueryEscape(frankID), nil, &events))
	require.Len(t, events.Items, 1)
	require.True(t, strings.HasPrefix(events.Items[0].Actor.ID, "scc_"), "audited as the SCIM client")
	var verify struct {
		OK bool `json:"ok"`
	}
	require.Equal(t, http.StatusOK, carol.do("GET", "/audit/verify", nil, &verify))
	require.True(t, verify.OK)

	runCLI(t, env, "scim", "token", "revoke", "entra")
	code, _ = scimCall(t, p.url(), token, "GET", "/Users", "")
	require.Equal(t, http.StatusUnauthorized, code, "a revoked token stops working")
}
