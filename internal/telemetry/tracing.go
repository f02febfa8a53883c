package telemetry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName names the tracer of Sesame's own spans (jobs, connector
// calls).
const TracerName = "github.com/sesame-access/sesame"

// Tracing is Sesame's OpenTelemetry tracing: spans for HTTP requests, job
// runs and connector calls, exported over OTLP/HTTP when an endpoint is
// configured, and a no-op otherwise. Spans carry no secrets: no headers,
// no query strings, no bodies, and URL paths cut to their first segment
// (login links carry their token in the path; the span name has the
// route pattern instead).
type Tracing struct {
	provider trace.TracerProvider
	shutdown func(context.Context) error
	// Enabled reports whether spans are recorded and exported.
	Enabled bool
}

// NewTracing turns tracing on when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (read through getenv); the
// exporter reads the other standard OTEL_EXPORTER_OTLP_* variables
// (headers, timeout, compression, insecure) itself. OTEL_SERVICE_NAME
// names the service (default "sesame"). Without an endpoint it returns a
// no-op Tracing. Call Shutdown to flush on exit.
func NewTracing(ctx context.Context, getenv func(string) string, version string) (*Tracing, error) {
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		if base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); base != "" {
			endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
		}
	}
	if endpoint == "" {
		return &Tracing{provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	return NewTracingWith(sdktrace.WithBatcher(exp), cmp.Or(getenv("OTEL_SERVICE_NAME"), "sesame"), version), nil
}

// NewTracingWith builds an enabled Tracing on a span processor of the
// caller's (tests use sdktrace.WithSyncer with an in-memory exporter).
func NewTracingWith(processor sdktrace.TracerProviderOption, service, version string) *Tracing {
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		// First, so that exporters never see what it removes.
		sdktrace.WithSpanProcessor(redactor{}),
		processor,
	)
	return &Tracing{provider: tp, shutdown: tp.Shutdown, Enabled: true}
}

// Tracer returns the tracer for Sesame's own spans.
func (t *Tracing) Tracer() trace.Tracer { return t.provider.Tracer(TracerName) }

// Provider returns the tracer provider.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Shutdown flushes pending spans and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if err := t.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// HTTP wraps h so that every request gets a server span named by its
// method and route pattern, continuing a W3C traceparent from the caller.
// A no-op Tracing returns h unchanged.
func (t *Tracing) HTTP(h http.Handler) http.Handler {
	if !t.Enabled {
		return h
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				if strings.HasPrefix(r.Pattern, r.Method+" ") {
					return r.Pattern
				}
				return r.Method + " " + r.Pattern
			}
			return r.Method
		}))
}

// redactor rewrites, when a span starts, attributes that could carry a
// secret: url.path keeps only its first segment.
type redactor struct{}

func (redactor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	for _, kv := range s.Attributes() {
		if kv.Key == "url.path" {
			s.SetAttributes(attribute.String("url.path", firstSegment(kv.Value.AsString())))
		}
	}
}

func (redactor) OnEnd(sdktrace.ReadOnlySpan)      {}
func (redactor) Shutdown(context.Context) error   { return nil }
func (redactor) ForceFlush(context.Context) error { return nil }

// firstSegment returns "/api/…" for "/api/v1/requests/req_1", and a path
// of one segment unchanged.
func firstSegment(p string) string {
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return "…"
	}
	seg, _, more := strings.Cut(rest, "/")
	if !more {
		return p
	}
	return "/" + seg + "/…"
}
