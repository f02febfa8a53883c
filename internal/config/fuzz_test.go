package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Parse: it must not panic, and its
// error must be nil (with a Config) or a *ValidationError with problems.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("../../examples/sesame.yaml")
	if err != nil {
		f.Fatal(err)
	}
	policies, err := os.ReadFile("../../examples/policies.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example), string(policies), string(DemoYAML()), goodConfig, minimal, secretConfig, "",
		"server: {addr: [1, 2\n", "a: &a [*a, *a]\nb: &b {<<: *b}\n", "log: {<<: [{level: debug}, {format: json}]}\n",
		"catalog: {apps: &x [*x]}\n", "---\n---\n", "\t", "users: [{email: a@b.c, manager: a@b.c}]",
		minimal + "oncall: [{id: x, members: [a@b.c], rotation: daily, start: 2026-01-05T09:00:00Z, handoff: '25:00'}]\n",
		strings.Replace(minimal, "{id: default,", "{id: default, match: {condition: 'now.hour(\"UTC\") > 3 &&'},", 1),
		strings.Replace(minimal, "app_owners: true}", "app_owners: true}, escalate_after: 1h, escalate_to: {oncall: [x]}", 1),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data, nil)
		if err == nil {
			if c == nil {
				t.Fatal("nil Config without an error")
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) == 0 {
			t.Fatalf("error is not a *ValidationError with problems: %T %v", err, err)
		}
		if c != nil {
			t.Fatal("a Config with an error")
		}
	})
}
