package saasfake_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/saasfake"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := saasfake.NewLimiter(2, time.Minute, clk)

	d := l.Take()
	require.True(t, d.Allowed)
	require.Equal(t, 1, d.Remaining)
	require.True(t, l.Take().Allowed)
	clk.Advance(15*time.Second + time.Millisecond)
	d = l.Take()
	require.False(t, d.Allowed)
	require.Equal(t, 0, d.Remaining)
	require.Equal(t, 45*time.Second, d.RetryAfter, "rounded up to whole seconds")
	require.Equal(t, clk.Now().Add(45*time.Second-time.Millisecond), d.Reset)

	clk.Advance(45 * time.Second)
	require.True(t, l.Take().Allowed, "a new window starts")

	l.Set(0, time.Minute)
	for range 100 {
		require.True(t, l.Take().Allowed)
	}
}
