package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is a minimal OTLP/HTTP trace receiver: it keeps every span's
// name and everything exported, as text.
type collector struct {
	mu    sync.Mutex
	names map[string]bool
	text  strings.Builder
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Path != "/v1/traces" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names[s.GetName()] = true
			}
		}
	}
	c.text.WriteString(req.String())
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, the binary exports spans for HTTP
// requests, job runs and connector calls, and none carries a token.
func TestTracingThroughTheBinary(t *testing.T) {
	t.Parallel()
	col := &collector{names: map[string]bool{}}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := []string{"SESAME_DATA_DIR=" + filepath.Join(dir, "sesame-data"), "OTEL_EXPORTER_OTLP_ENDPOINT=" + srv.URL,
		"OTEL_SERVICE_NAME=sesame-e2e"}
	p := startServe(t, env)
	aliceToken := strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "alice@example.com"))
	bobToken := strings.TrimSpace(runCLI(t, env, "token", "create", "--user", "bob@example.com"))
	alice, bob := client{t, p.url(), aliceToken}, client{t, p.url(), bobToken}
	var r idState
	require.Equal(t, http.StatusCreated, alice.do("POST", "/requests", map[string]any{
		"entitlements": []string{"github:write"}, "duration": "1h", "reason": "trace me please", "approvers": []string{"bob@example.com"}}, &r))
	require.Equal(t, http.StatusOK, bob.do("POST", "/requests/"+r.ID+"/approve", map[string]any{"comment": "ok"}, &r))
	waitUntil(t, 20*time.Second, "grant active", func() bool {
		var got idState
		require.Equal(t, http.StatusOK, alice.do("GET", "/requests/"+r.ID, nil, &got))
		return got.State == "active"
	})
	p.interrupt(t) // flushes the batch of spans

	col.mu.Lock()
	defer col.mu.Unlock()
	for _, want := range []string{"POST /api/v1/requests", "POST /api/v1/requests/{id}/approve", "job provision", "connector grant"} {
		require.True(t, col.names[want], "span %q among %v", want, col.names)
	}
	text := col.text.String()
	require.Contains(t, text, "sesame-e2e")
	for _, secret := range []string{aliceToken, bobToken, "trace me please"} {
		require.NotContains(t, text, secret)
	}
}
