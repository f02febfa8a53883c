package workflow

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
)

// traceConnector runs call, one connector call ("connector grant",
// "connector revoke"), in a span with the app, its connector type and the
// grant. Settings, credentials and the account are never recorded, nor
// the error's text (it comes from the target and may quote it): only
// whether the failure was permanent or retryable.
func (s *Service) traceConnector(ctx context.Context, op string, app *access.App, t connector.Target, call func(ctx context.Context) error) error {
	ctx, span := s.tracer.Start(ctx, "connector "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("sesame.app", app.ID), attribute.String("sesame.connector", app.ConnectorType),
			attribute.String("sesame.grant", t.GrantID)))
	defer span.End()
	err := call(ctx)
	switch {
	case err == nil:
	case connector.IsPermanent(err):
		span.SetStatus(codes.Error, "permanent failure")
	default:
		span.SetStatus(codes.Error, "retryable failure")
	}
	return err
}
