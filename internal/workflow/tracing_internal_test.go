package workflow

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
)

// A connector call gets a span with the app, connector type and grant;
// a failure records its kind, never its text, and the settings and the
// account never show.
func TestConnectorSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.WithoutCancel(t.Context()))) })
	s := &Service{tracer: tp.Tracer("test")}
	app := &access.App{ID: "pg-prod", ConnectorType: "postgresql", ConnectorSettings: map[string]string{"password": "hunter2"}}
	tgt := connector.Target{GrantID: "grt_1", Email: "alice@example.com", EntitlementKey: "admin"}

	require.NoError(t, s.traceConnector(t.Context(), "grant", app, tgt, func(context.Context) error { return nil }))
	perm := connector.Permanent(errors.New("role admin: permission denied for hunter2"))
	require.ErrorIs(t, s.traceConnector(t.Context(), "revoke", app, tgt, func(context.Context) error { return perm }), perm)
	require.Error(t, s.traceConnector(t.Context(), "revoke", app, tgt, func(context.Context) error { return errors.New("timeout") }))

	spans := exp.GetSpans()
	require.Len(t, spans, 3)
	require.Equal(t, []string{"connector grant", "connector revoke", "connector revoke"}, []string{spans[0].Name, spans[1].Name, spans[2].Name})
	require.Equal(t, codes.Unset, spans[0].Status.Code)
	require.Equal(t, codes.Error, spans[1].Status.Code)
	require.Equal(t, "permanent failure", spans[1].Status.Description)
	require.Equal(t, "retryable failure", spans[2].Status.Description)
	for _, sp := range spans {
		attrs := map[string]string{}
		for _, kv := range sp.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		require.Equal(t, map[string]string{"sesame.app": "pg-prod", "sesame.connector": "postgresql", "sesame.grant": "grt_1"}, attrs)
		require.Empty(t, sp.Events)
	}
}
