package access

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxParsableDuration bounds ParseDuration: no access request lasts more
// than a year.
const MaxParsableDuration = 366 * 24 * time.Hour

// ParseDuration reads a human duration: one or more <number><unit> terms
// with units w, d, h, m, s ("90m", "2h", "1d12h", "1w"). Spaces between
// terms are allowed; signs, fractions, other units and totals above
// MaxParsableDuration are errors.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(strings.ToLower(s))
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("duration %q: expected a number at %q (examples: 30m, 2h, 1d, 1w)", s, rest)
		}
		if i > 6 {
			return 0, fmt.Errorf("duration %q: number too large", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		var unit time.Duration
		switch rest[:j] {
		case "w", "week", "weeks":
			unit = 7 * 24 * time.Hour
		case "d", "day", "days":
			unit = 24 * time.Hour
		case "h", "hr", "hrs", "hour", "hours":
			unit = time.Hour
		case "m", "min", "mins", "minute", "minutes":
			unit = time.Minute
		case "s", "sec", "secs", "second", "seconds":
			unit = time.Second
		case "":
			return 0, fmt.Errorf("duration %q: missing unit after %d (use w, d, h, m or s)", s, n)
		default:
			return 0, fmt.Errorf("duration %q: unknown unit %q (use w, d, h, m or s)", s, rest[:j])
		}
		rest = rest[j:]
		total += time.Duration(n) * unit
		if total > MaxParsableDuration {
			return 0, fmt.Errorf("duration %q: longer than %s", s, FormatDuration(MaxParsableDuration))
		}
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %q: must be positive", s)
	}
	return total, nil
}

// FormatDuration writes d the way ParseDuration reads it, largest units
// first ("1d2h", "45m"). Sub-second parts are dropped; zero is "0s".
func FormatDuration(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d %= u.size
		}
	}
	return b.String()
}
