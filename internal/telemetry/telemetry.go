// Package telemetry holds Sesame's cross-cutting observability: the HTTP
// metrics middleware, the store collector behind /metrics, and the
// slog logger set-up.
package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sesame-access/sesame/internal/store"
)

// NewLogger returns a slog logger writing to w: text when format is "text",
// or "auto" and w is a terminal; JSON otherwise. level is debug, info,
// warn or error.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	text := format == "text"
	if format == "" || format == "auto" {
		text = isTerminal(w)
	}
	if text {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// HTTPMetrics counts and times HTTP requests by method, route pattern and
// status code.
type HTTPMetrics struct {
	duration *prometheus.HistogramVec
}

// NewHTTPMetrics registers the HTTP histogram on reg.
func NewHTTPMetrics(reg prometheus.Registerer) (*HTTPMetrics, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sesame_http_request_duration_seconds",
		Help:    "HTTP request latency by method, route and status.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"method", "route", "code"})
	if err := reg.Register(h); err != nil {
		return nil, err
	}
	return &HTTPMetrics{duration: h}, nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush supports streaming responses (audit export).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Middleware observes every request. The route label is the matched
// ServeMux pattern (bounded cardinality), or "unmatched".
func (m *HTTPMetrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() //nolint:forbidigo // latency needs the monotonic clock, not the domain clock
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		m.duration.WithLabelValues(r.Method, route, strconv.Itoa(code)).Observe(time.Since(start).Seconds()) //nolint:forbidigo // see above
	})
}

// StoreCollector reports counts from the store at scrape time: requests
// by state, grants by state, and the job queue depth.
type StoreCollector struct {
	st       store.Store
	depth    func(ctx context.Context) (int, error)
	requests *prometheus.Desc
	grants   *prometheus.Desc
	queue    *prometheus.Desc
	up       *prometheus.Desc
}

// NewStoreCollector returns a collector; depth may be nil.
func NewStoreCollector(st store.Store, depth func(ctx context.Context) (int, error)) *StoreCollector {
	return &StoreCollector{
		st:       st,
		depth:    depth,
		requests: prometheus.NewDesc("sesame_requests", "Access requests by state.", []string{"state"}, nil),
		grants:   prometheus.NewDesc("sesame_grants", "Grants by state (state=\"active\" is access held now).", []string{"state"}, nil),
		queue:    prometheus.NewDesc("sesame_job_queue_depth", "Jobs waiting, scheduled, retrying or running.", nil, nil),
		up:       prometheus.NewDesc("sesame_store_up", "1 when the last scrape could read the store.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.grants
	ch <- c.queue
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	if rs, err := c.st.RequestCountByState(ctx); err == nil {
		for s, n := range rs {
			ch <- prometheus.MustNewConstMetric(c.requests, prometheus.GaugeValue, float64(n), string(s))
		}
	} else {
		up = 0
	}
	if gs, err := c.st.GrantCountByState(ctx); err == nil {
		for s, n := range gs {
			ch <- prometheus.MustNewConstMetric(c.grants, prometheus.GaugeValue, float64(n), string(s))
		}
	} else {
		up = 0
	}
	if c.depth != nil {
		if n, err := c.depth(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(n))
		}
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}
