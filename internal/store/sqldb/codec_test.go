package sqldb

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

// benchSteps is a request's steps column as RequestCreate stores it.
func benchSteps(b *testing.B) string {
	b.Helper()
	at := time.Date(2025, 6, 2, 9, 30, 15, 123456000, time.UTC)
	s, err := jsonArg([]access.Step{
		{Name: "manager", Eligible: []string{"usr_p01", "usr_p02"}, Notified: []string{"usr_p01", "usr_p02"}, Required: 1, OpenedAt: at},
		{Name: "owner", Eligible: []string{"usr_p03", "usr_p04"}, Notified: []string{"usr_p03", "usr_p04"}, Required: 1, OpenedAt: at.Add(time.Minute)},
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkTimeColScan(b *testing.B) {
	var t time.Time
	b.ReportAllocs()
	for b.Loop() {
		if err := (timeCol{&t}).Scan("2025-06-02T09:30:15.123456Z"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONColStrings(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var ids []string
		if err := (jsonCol{&ids}).Scan(`["github:read","github:write"]`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONColSteps(b *testing.B) {
	src := benchSteps(b)
	b.ReportAllocs()
	for b.Loop() {
		var steps []access.Step
		if err := (jsonCol{&steps}).Scan(src); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseTimeText(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"2025-06-02T09:30:15.123456Z", "0000-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z",
		"2024-02-29T12:00:00.000001Z", "2025-02-29T12:00:00.000000Z", "2100-02-29T00:00:00.000000Z",
		"2000-02-29T00:00:00.000000Z", "2025-04-31T00:00:00.000000Z", "2025-13-01T00:00:00.000000Z",
		"2025-00-01T00:00:00.000000Z", "2025-06-00T00:00:00.000000Z", "2025-06-02T24:00:00.000000Z",
		"2025-06-02T09:60:00.000000Z", "2025-06-02T09:30:60.000000Z", "2025-06-02T09:30:15.12345Z",
		"2025-06-02T09:30:15.1234567Z", "2025-06-02 09:30:15.123456Z", "2025-06-02T09:30:15.123456+",
		"+025-06-02T09:30:15.123456Z", "2025-06-02T09:30:1a.123456Z", "", "2025-06-02T09:30:15Z",
	} {
		checkParseTimeText(t, s)
	}
}

func FuzzParseTimeText(f *testing.F) {
	f.Add("2025-06-02T09:30:15.123456Z")
	f.Add("2024-02-29T23:59:59.999999Z")
	f.Add("2025-06-31T00:00:00.000000Z")
	f.Fuzz(checkParseTimeText)
}

// checkParseTimeText: the fast path gives what time.Parse gives, and takes
// every time in the form the store writes (time.Parse takes more, such
// as a comma or a sign before the fraction).
func checkParseTimeText(t *testing.T, s string) {
	got, ok := parseTimeText(s)
	want, err := time.Parse(timeLayout, s)
	if ok {
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
		require.Equal(t, truncate(want), got, s)
	}
	if err == nil && s == want.Format(timeLayout) {
		require.True(t, ok, s)
	}
}

func TestDecodeStepsKnowsEveryField(t *testing.T) {
	t.Parallel()
	require.Equal(t, stepFields, reflect.TypeFor[access.Step]().NumField(),
		"a new field of access.Step needs a case in jsonReader.step (else every request falls back to encoding/json)")
	full := []access.Step{{Name: "mgr", Eligible: []string{"a", "b"}, Notified: []string{"b"}, Required: 2,
		OpenedAt: time.Date(2025, 6, 2, 9, 30, 15, 123456789, time.FixedZone("X", 3600)), EscalateAfter: 90 * time.Minute,
		EscalateTo: []string{"c"}, Escalated: true}, {Name: "empty", Eligible: []string{}}, {}}
	for _, v := range [][]access.Step{full, {}, nil} {
		s, err := jsonArg(v)
		require.NoError(t, err)
		checkDecodeSteps(t, s, true)
	}
}

func FuzzDecodeSteps(f *testing.F) {
	for _, s := range []string{
		`[{"name":"approval","eligible":["usr_bob","usr_carol"],"notified":["usr_bob"],"required":1,"opened_at":"2025-06-02T09:30:15.123456789+02:00"}]`,
		`[{"name":"a","eligible":null,"notified":[],"required":0,"escalate_after":3600000000000,"escalate_to":["x"],"escalated":true},{}]`,
		`[{"name":"a","name":"b","required":-0}]`, `[{"Name":"a"}]`, `[{"name":"\u00e9"}]`, `[{"required":1.5}]`,
		`[{"required":01}]`, `[{"opened_at":null}]`, `[ {"name":"a"} ]`, `null`, `[]`, `[null]`, `[{"name":"é"}]`,
		"[{\"name\":\"\xff\"}]", `[{"required":99999999999999999999}]`, `[{"escalated":false}]x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkDecodeSteps(t, s, false) })
}

// checkDecodeSteps: when decodeSteps takes s, json.Unmarshal does and
// gives the same steps; with fast, decodeSteps must take s.
func checkDecodeSteps(t *testing.T, s string, fast bool) {
	got, ok := decodeSteps(s)
	if fast {
		require.True(t, ok, s)
	}
	if !ok {
		return
	}
	var want []access.Step
	require.NoError(t, json.Unmarshal([]byte(s), &want), s)
	require.Equal(t, want, got, s)
	var scanned []access.Step
	require.NoError(t, jsonCol{&scanned}.Scan([]byte(s)))
	require.Equal(t, want, scanned, s)
}

func FuzzDecodeStrings(f *testing.F) {
	for _, s := range []string{`["github:read","github:write"]`, `[]`, `null`, `["a"`, `["a",]`, `[ "a"]`, `["\n"]`,
		`["é","\u2028"]`, "[\"\xc3\"]", `["admin","auditor"]`, `[1]`, `[null]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, ok := decodeStrings[string](s); ok {
			var want []string
			require.NoError(t, json.Unmarshal([]byte(s), &want), s)
			require.Equal(t, want, got, s)
		}
		if got, ok := decodeStrings[access.Role](s); ok {
			var want []access.Role
			require.NoError(t, json.Unmarshal([]byte(s), &want), s)
			require.Equal(t, want, got, s)
		}
	})
}
