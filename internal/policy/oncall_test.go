package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/policy"
)

func TestRotationOnCallAt(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	at := func(y int, m time.Month, d, h, minute int) time.Time {
		return time.Date(y, m, d, h, minute, 0, 0, paris)
	}
	weeklyABC := policy.Rotation{ID: "w", Timezone: "Europe/Paris", Period: policy.RotationWeekly, Handoff: "09:00",
		Members: []string{"a", "b", "c"}, Start: at(2026, 1, 5, 9, 0)} // Monday 09:00
	daily := policy.Rotation{ID: "d", Timezone: "Europe/Paris", Period: policy.RotationDaily, Handoff: "09:00",
		Members: []string{"a", "b"}, Start: at(2026, 3, 27, 9, 0)} // the Friday before the spring DST change
	lateStart := policy.Rotation{ID: "l", Period: policy.RotationDaily, Handoff: "09:00", Members: []string{"a", "b"},
		Start: time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)} // starts after the day's handoff, UTC
	noHandoff := policy.Rotation{ID: "n", Period: policy.RotationDaily, Members: []string{"a", "b"},
		Start: time.Date(2026, 1, 5, 7, 30, 0, 0, time.UTC)}
	tests := []struct {
		name string
		r    policy.Rotation
		at   time.Time
		want string
	}{
		{"before the start", weeklyABC, at(2026, 1, 5, 8, 59), ""},
		{"at the start", weeklyABC, at(2026, 1, 5, 9, 0), "a"},
		{"end of the first week", weeklyABC, at(2026, 1, 12, 8, 59), "a"},
		{"second week", weeklyABC, at(2026, 1, 12, 9, 0), "b"},
		{"mid-week", weeklyABC, at(2026, 1, 15, 3, 0), "b"},
		{"third week", weeklyABC, at(2026, 1, 20, 11, 0), "c"},
		{"wraps around", weeklyABC, at(2026, 1, 26, 9, 0), "a"},
		{"52 weeks on: shift 52, 52 mod 3 = 1", weeklyABC, at(2027, 1, 4, 9, 0), "b"},
		{"daily before handoff", daily, at(2026, 3, 28, 8, 59), "a"},
		{"daily after handoff", daily, at(2026, 3, 28, 9, 0), "b"},
		{"the DST morning: handoff at local 09:00", daily, at(2026, 3, 29, 8, 59), "b"},
		{"the DST morning after handoff", daily, at(2026, 3, 29, 9, 0), "a"},
		{"started after the handoff hour: shift 0 until the next day", lateStart, time.Date(2026, 1, 6, 8, 59, 0, 0, time.UTC), "a"},
		{"next day's handoff", lateStart, time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC), "b"},
		{"handoff defaults to the start's time", noHandoff, time.Date(2026, 1, 6, 7, 30, 0, 0, time.UTC), "b"},
		{"before the default handoff", noHandoff, time.Date(2026, 1, 6, 7, 29, 0, 0, time.UTC), "a"},
		{"invalid rotation", policy.Rotation{ID: "x"}, at(2026, 1, 5, 9, 0), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.r.OnCallAt(tc.at))
		})
	}
}
