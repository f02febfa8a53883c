package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sesame-access/sesame/internal/telemetry"
)

// secret appears in a request's path, query, headers and body: no span may
// carry it.
const secret = "s3cr3t-login-token-9f2c"

// spanText is everything a span exports, as text.
func spanText(s tracetest.SpanStub) string {
	var b strings.Builder
	b.WriteString(s.Name)
	for _, kv := range s.Attributes {
		b.WriteString(" " + string(kv.Key) + "=" + kv.Value.String())
	}
	for _, e := range s.Events {
		b.WriteString(" " + e.Name)
		for _, kv := range e.Attributes {
			b.WriteString(" " + string(kv.Key) + "=" + kv.Value.String())
		}
	}
	b.WriteString(" " + s.Status.Description)
	return b.String()
}

func TestHTTPSpansCarryRouteAndNoSecrets(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := telemetry.NewTracingWith(sdktrace.WithSyncer(exp), "sesame-test", "v0")
	t.Cleanup(func() { require.NoError(t, tr.Shutdown(context.WithoutCancel(t.Context()))) })
	require.True(t, tr.Enabled)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/{token}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusFound) })
	mux.HandleFunc("POST /api/v1/requests", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	srv := httptest.NewServer(tr.HTTP(mux))
	t.Cleanup(srv.Close)

	for _, req := range []struct{ method, path, body string }{
		{"GET", "/login/" + secret + "?code=" + secret, ""},
		{"POST", "/api/v1/requests?token=" + secret, `{"reason":"` + secret + `"}`},
	} {
		r, err := http.NewRequestWithContext(t.Context(), req.method, srv.URL+req.path, strings.NewReader(req.body))
		require.NoError(t, err)
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set("Cookie", "sesame_session="+secret)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(r)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	names := []string{spans[0].Name, spans[1].Name}
	require.ElementsMatch(t, []string{"GET /login/{token}", "POST /api/v1/requests"}, names)
	for _, s := range spans {
		text := spanText(s)
		require.NotContains(t, text, secret, text)
		require.Contains(t, text, "http.response.status_code=", text)
	}
	for _, kv := range spans[0].Attributes {
		if kv.Key == "url.path" {
			require.Equal(t, "/login/…", kv.Value.AsString())
		}
	}
}

func TestTracingIsOffWithoutEndpoint(t *testing.T) {
	t.Parallel()
	tr, err := telemetry.NewTracing(t.Context(), func(string) string { return "" }, "v0")
	require.NoError(t, err)
	require.False(t, tr.Enabled)
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	require.NotNil(t, tr.HTTP(h))
	_, span := tr.Tracer().Start(t.Context(), "x")
	require.False(t, span.SpanContext().IsValid(), "no-op spans")
	span.End()
	require.NoError(t, tr.Shutdown(t.Context()))
}

func TestTracingOnWithEndpoint(t *testing.T) {
	t.Parallel()
	// A collector that accepts every export.
	var got atomic.Int64
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
			got.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(col.Close)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL}
	tr, err := telemetry.NewTracing(t.Context(), func(k string) string { return env[k] }, "v0")
	require.NoError(t, err)
	require.True(t, tr.Enabled)
	_, span := tr.Tracer().Start(t.Context(), "job test")
	span.End()
	require.NoError(t, tr.Shutdown(t.Context()))
	require.Positive(t, got.Load(), "the span was exported to the collector on shutdown")
}
