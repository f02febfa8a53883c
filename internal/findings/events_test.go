package findings

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

func TestParseEvents(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	one, err := ParseEvents([]byte(`{"source":"email-gateway","app_name":"  Notion  Labs ","account_email":" Alice@Example.com "}`), now)
	require.NoError(t, err)
	require.Equal(t, []Event{{Source: "email-gateway", AppName: "Notion Labs", AccountEmail: "alice@example.com", SeenAt: now}}, one)

	many, err := ParseEvents([]byte(`{"events":[{"source":"s","app_domain":"HTTPS://www.Figma.com","seen_at":"2026-11-21T10:00:00+02:00"},{"source":"s","app_name":"Figma"}]}`), now)
	require.NoError(t, err)
	require.Len(t, many, 2)
	require.Equal(t, "figma", many[0].Key())
	require.Equal(t, many[0].Key(), many[1].Key())
	require.Equal(t, time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), many[0].SeenAt)

	for _, tc := range []struct {
		name, body string
		fields     []string
	}{
		{"empty", ``, nil},
		{"array", `[{"source":"s","app_name":"x"}]`, nil},
		{"not json", `{"source":`, nil},
		{"unknown field", `{"source":"s","app_name":"x","admin":true}`, nil},
		{"trailing", `{"source":"s","app_name":"x"} {}`, nil},
		{"wrong type", `{"source":1,"app_name":"x"}`, nil},
		{"no events", `{"events":[]}`, []string{"events"}},
		{"no app", `{"source":"s"}`, []string{"app_name"}},
		{"bad source", `{"source":"Bad Source","app_name":"x"}`, []string{"source"}},
		{"bad email", `{"source":"s","app_name":"x","account_email":"Alice <a@x.com>"}`, []string{"account_email"}},
		{"bad domain", `{"source":"s","app_domain":"http://"}`, []string{"app_domain"}},
		{"punctuation", `{"source":"s","app_name":"!!!"}`, []string{"app_name"}},
		{"control", `{"source":"s","app_name":"a\u0007b"}`, []string{"app_name"}},
		{"future", `{"source":"s","app_name":"x","seen_at":"2027-01-01T00:00:00Z"}`, []string{"seen_at"}},
		{"every problem", `{"events":[{"source":"s","app_name":"ok"},{"source":"","account_email":"nope"}]}`,
			[]string{"events[1].source", "events[1].app_name", "events[1].account_email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseEvents([]byte(tc.body), now)
			require.Error(t, err)
			ae, ok := err.(*access.Error) //nolint:errorlint // ParseEvents returns it unwrapped
			require.True(t, ok, "%T", err)
			require.Equal(t, access.CodeInvalid, ae.Code)
			var got []string
			for _, f := range ae.Fields {
				got = append(got, f.Field)
			}
			if tc.fields != nil {
				require.Equal(t, tc.fields, got)
			}
		})
	}
	big := []byte(`{"events":[`)
	for i := range MaxEvents + 1 {
		if i > 0 {
			big = append(big, ',')
		}
		big = append(big, `{"source":"s","app_name":"x"}`...)
	}
	big = append(big, "]}"...)
	_, err = ParseEvents(big, now)
	require.ErrorContains(t, err, "too many events")
}

// FuzzParseEvents: any body either parses into valid events (each with a
// source, a non-empty key and a time) or fails with an invalid-input
// error; it never panics.
func FuzzParseEvents(f *testing.F) {
	for _, s := range []string{
		`{"source":"s","app_name":"Notion"}`,
		`{"events":[{"source":"s","app_domain":"x.com","account_email":"a@b.c"}]}`,
		`{"events":null}`, `{}`, `{"source":"s","app_name":"x","seen_at":"bad"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseEvents(body, now)
		if err != nil {
			require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
			require.Nil(t, events)
			return
		}
		require.NotEmpty(t, events)
		for _, e := range events {
			require.Regexp(t, sourcePattern, e.Source)
			require.NotEmpty(t, e.Key())
			require.False(t, e.SeenAt.IsZero())
		}
	})
}
