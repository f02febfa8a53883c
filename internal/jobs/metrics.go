package jobs

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
)

type metrics struct {
	done      *prometheus.CounterVec
	run       *prometheus.HistogramVec
	wait      *prometheus.HistogramVec
	revokeLag prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		done: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sesame_jobs_finished_total",
			Help: "Jobs finished, by kind and outcome (completed, failed, snoozed, cancelled)."}, []string{"kind", "outcome"}),
		run: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sesame_job_run_seconds",
			Help: "Time jobs spent running.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"kind"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sesame_job_queue_wait_seconds",
			Help: "Time jobs waited between becoming available and starting.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"kind"}),
		revokeLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sesame_revoke_lag_seconds",
			Help: "Time from a grant's expiry to its revocation.", Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.done, m.run, m.wait, m.revokeLag} {
			if err := reg.Register(c); err != nil {
				if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
					return nil, err
				}
			}
		}
	}
	return m, nil
}

func (m *metrics) consume(ch <-chan *river.Event) {
	for ev := range ch {
		if ev.Job == nil {
			continue
		}
		kind := ev.Job.Kind
		m.done.WithLabelValues(kind, outcome(ev.Kind)).Inc()
		if ev.JobStats != nil {
			m.run.WithLabelValues(kind).Observe(ev.JobStats.RunDuration.Seconds())
			m.wait.WithLabelValues(kind).Observe(ev.JobStats.QueueWaitDuration.Seconds())
		}
	}
}

func outcome(k river.EventKind) string {
	switch k {
	case river.EventKindJobCompleted:
		return "completed"
	case river.EventKindJobFailed:
		return "failed"
	case river.EventKindJobSnoozed:
		return "snoozed"
	case river.EventKindJobCancelled:
		return "cancelled"
	case river.EventKindJobInterrupted:
		return "interrupted"
	case river.EventKindQueuePaused, river.EventKindQueueResumed:
		// Not job outcomes; not subscribed to.
	}
	return string(k)
}

func (m *metrics) observeRevokeLag(d time.Duration) {
	m.revokeLag.Observe(max(d, 0).Seconds())
}
