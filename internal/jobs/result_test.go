package jobs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/workflow"
)

func TestResult(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snooze := func(err error) (time.Duration, bool) {
		se, ok := errors.AsType[*river.JobSnoozeError](err)
		if !ok {
			return 0, false
		}
		return se.Duration, true
	}

	d, ok := snooze(result(&workflow.NotDueError{At: now.Add(time.Minute)}, now))
	require.True(t, ok)
	require.Equal(t, time.Minute, d)

	rate := &workflow.RetryableError{Err: fmt.Errorf("revoke: %w", &connector.RetryAfterError{After: 90 * time.Second, Err: errors.New("429")})}
	d, ok = snooze(result(rate, now))
	require.True(t, ok, "a target's Retry-After is honoured through wrapping")
	require.Equal(t, 90*time.Second, d)

	plain := &workflow.RetryableError{Err: errors.New("down")}
	_, ok = snooze(result(plain, now))
	require.False(t, ok, "other failures use River's backoff")
	require.ErrorIs(t, result(plain, now), plain)
	require.NoError(t, result(nil, now))
}

func TestBatchResult(t *testing.T) {
	t.Parallel()
	limited := func(d time.Duration) error {
		return fmt.Errorf("notification ntf_1: %w", &workflow.RetryableError{Err: &connector.RetryAfterError{After: d, Err: errors.New("slack rate limit exceeded")}})
	}
	down := errors.New("notification ntf_2: slack is down")

	err := batchResult([]error{limited(30 * time.Second), down, limited(time.Minute)})
	se, ok := errors.AsType[*river.JobSnoozeError](err)
	require.True(t, ok, "Slack's Retry-After snoozes the delivery job: %v", err)
	require.Equal(t, time.Minute, se.Duration, "the longest wait asked")

	err = batchResult([]error{limited(200 * time.Millisecond)})
	se, ok = errors.AsType[*river.JobSnoozeError](err)
	require.True(t, ok)
	require.Equal(t, time.Second, se.Duration, "at least a second")

	err = batchResult([]error{down})
	_, ok = errors.AsType[*river.JobSnoozeError](err)
	require.False(t, ok, "other failures use River's backoff")
	require.ErrorIs(t, err, down)
	require.NoError(t, batchResult(nil))
}
