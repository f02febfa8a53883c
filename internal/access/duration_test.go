package access_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	good := map[string]time.Duration{
		"30m": 30 * time.Minute, "2h": 2 * time.Hour, "1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour,
		"1d12h": 36 * time.Hour, "1h 30m": 90 * time.Minute, " 2H ": 2 * time.Hour, "90s": 90 * time.Second,
		"2 hours": 2 * time.Hour, "366d": 366 * 24 * time.Hour,
	}
	for in, want := range good {
		got, err := access.ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1h", "1 fortnight", "99999h", "1.5h", "h", "10", "0h", "0m0s", "367d", "1h-", "9999999999d", "1d\x00"} {
		_, err := access.ParseDuration(in)
		require.Error(t, err, "%q", in)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", time.Hour: "1h", 36 * time.Hour: "1d12h", 90 * time.Minute: "1h30m", 61 * time.Second: "1m1s",
	} {
		require.Equal(t, want, access.FormatDuration(d))
	}
}

// FuzzParseDuration checks the parser never panics, accepts only positive
// bounded durations, and that what it accepts round-trips through
// FormatDuration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30m", "1d12h", "-1h", "1 fortnight", "99999h", "2 hours", "1w1d1h1m1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := access.ParseDuration(s)
		if err != nil {
			return
		}
		if d <= 0 || d > access.MaxParsableDuration {
			t.Fatalf("ParseDuration(%q) = %v out of range", s, d)
		}
		back, err := access.ParseDuration(access.FormatDuration(d))
		if err != nil || back != d {
			t.Fatalf("round trip of %v: %v, %v", d, back, err)
		}
	})
}
