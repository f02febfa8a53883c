package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Every job run gets a span with its kind, ID and attempt, never its
// arguments nor its error's text.
func TestJobSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.WithoutCancel(t.Context()))) })
	m := &traceMiddleware{tracer: tp.Tracer("test")}

	job := &rivertype.JobRow{ID: 42, Kind: "provision", Attempt: 2, EncodedArgs: []byte(`{"grant_id":"grt_secretish"}`)}
	ran := false
	require.NoError(t, m.Work(t.Context(), job, func(ctx context.Context) error {
		ran = true
		return nil
	}))
	require.True(t, ran)
	failure := errors.New("target said: password=hunter2 rejected")
	require.ErrorIs(t, m.Work(t.Context(), job, func(context.Context) error { return failure }), failure)

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	for i, s := range spans {
		require.Equal(t, "job provision", s.Name)
		attrs := map[string]any{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.AsInterface()
			require.NotContains(t, kv.Value.String(), "grt_secretish")
		}
		require.Equal(t, map[string]any{"river.job.id": int64(42), "river.job.kind": "provision", "river.job.attempt": int64(2)}, attrs)
		require.Empty(t, s.Events)
		if i == 1 {
			require.Equal(t, codes.Error, s.Status.Code)
			require.NotContains(t, s.Status.Description, "hunter2")
		}
	}
}
