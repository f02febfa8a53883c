package jobs

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traceMiddleware gives every job run a span named "job <kind>" with the
// job's ID, kind and attempt (never its arguments).
type traceMiddleware struct {
	river.MiddlewareDefaults
	tracer trace.Tracer
}

var _ rivertype.WorkerMiddleware = (*traceMiddleware)(nil)

func (m *traceMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	ctx, span := m.tracer.Start(ctx, "job "+job.Kind, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.Int64("river.job.id", job.ID), attribute.String("river.job.kind", job.Kind),
			attribute.Int("river.job.attempt", job.Attempt)))
	defer span.End()
	err := doInner(ctx)
	if err != nil {
		// The error's text can come from a target system: only its
		// presence is recorded (the job row and the logs have it).
		span.SetStatus(codes.Error, "job failed")
	}
	return err
}
