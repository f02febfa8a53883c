package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// extendConfig: a fake-connector app whose grants an owner must approve,
// and whose extensions need a new approval.
const extendConfig = `
database: %s
users:
  - {email: alice@example.com, name: Alice}
  - {email: bob@example.com, name: Bob}
catalog:
  apps:
    - id: ops
      name: Ops
      owners: [bob@example.com]
      connector: {type: fake}
      entitlements:
        - {key: read, name: Read, max_duration: 1h}
policies:
  - id: default
    default: true
    max_duration: 8h
    steps: [{name: Owner, approvers: {app_owners: true}}]
    reason: {required: true, min_length: 5}
    extension: {approval: steps}
`

// TestExtensionThroughTheBinary: the holder asks to extend an active
// fake-connector grant through the API, the owner approves, and the same
// grant is revoked at the new expiry, not the old one.
func TestExtensionThroughTheBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "sesame.yaml", sprintf(extendConfig, "sqlite://"+filepath.Join(dir, "data", "sesame.db")))
	env := []string{"SESAME_CONFIG=" + cfg}
	p := startServe(t, env)
	alice := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))}
	bob := client{t, p.url(), strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))}

	type grant struct {
		ID        string    `json:"id"`
		State     string    `json:"state"`
		ExpiresAt time.Time `json:"expires_at"`
		RevokedAt time.Time `json:"revoked_at"`
	}
	getGrant := func(id string) grant {
		var g grant
		require.Equal(t, http.StatusOK, alice.do("GET", "/grants/"+id, nil, &g))
		return g
	}
	var r idState
	require.Equal(t, http.StatusCreated, alice.do("POST", "/requests", map[string]any{
		"entitlements": []string{"ops:read"}, "duration": "8s", "reason": "look at the logs"}, &r))
	require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+r.ID+"/approve", nil, &r))
	waitUntil(t, 20*time.Second, "grant active", func() bool {
		require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+r.ID, nil, &r))
		return len(r.Grants) == 1 && r.Grants[0].State == "active"
	})
	first := getGrant(r.Grants[0].ID)

	// The holder asks for more time: an extension request of that grant.
	var ext struct {
		ID             string `json:"id"`
		State          string `json:"state"`
		ExtendsGrantID string `json:"extends_grant_id"`
	}
	require.Equal(t, http.StatusCreated, alice.do("POST", "/grants/"+first.ID+"/extend",
		map[string]any{"duration": "20s", "reason": "still looking"}, &ext))
	require.Equal(t, "pending", ext.State)
	require.Equal(t, first.ID, ext.ExtendsGrantID)
	require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+ext.ID+"/approve", nil, &ext))
	require.Equal(t, "extended", ext.State)
	extended := getGrant(first.ID)
	require.Equal(t, "active", extended.State)
	require.True(t, extended.ExpiresAt.After(first.ExpiresAt.Add(10*time.Second)), "moved from %s to %s", first.ExpiresAt, extended.ExpiresAt)

	// Past the first expiry, the grant is still there.
	waitUntil(t, 30*time.Second, "first expiry passed", func() bool {
		return time.Now().After(first.ExpiresAt.Add(3 * time.Second)) //nolint:forbidigo // real time of the process under test
	})
	require.Equal(t, "active", getGrant(first.ID).State, "not revoked at the old expiry")

	// At the new one it goes.
	var gone grant
	waitUntil(t, 40*time.Second, "grant revoked", func() bool {
		gone = getGrant(first.ID)
		return gone.State == "revoked"
	})
	require.False(t, gone.RevokedAt.Before(extended.ExpiresAt), "revoked at %s, before the new expiry %s", gone.RevokedAt, extended.ExpiresAt)
	require.Less(t, gone.RevokedAt.Sub(extended.ExpiresAt), 5*time.Second, "revoked within seconds of the new expiry")

	var req idState
	require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+r.ID, nil, &req))
	require.Len(t, req.Grants, 1, "the extension made no second grant")
}
