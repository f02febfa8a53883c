package config

import (
	_ "embed"
	"strings"
)

// demoYAML is the demo catalog, users and policies: used when a
// configuration names no apps, so that a bare `sesame serve` shows
// something to request. Its apps use connectors that need no credentials.
//
//go:embed demo.yaml
var demoYAML []byte

// demoFile names the demo in problems.
const demoFile = "demo.yaml"

// DemoYAML returns the embedded demo's text (for `sesame config demo`).
func DemoYAML() []byte { return append([]byte(nil), demoYAML...) }

// useDemo replaces c's catalog, users and policies with the demo's. Users
// or policies written without apps are problems: they would be ignored.
func useDemo(c *Config, r *report) {
	if len(c.Users) > 0 {
		r.addf("users", "users are configured but catalog.apps is empty: with no apps Sesame runs the demo catalog with its own users and policies; add your apps under catalog.apps or remove users")
	}
	if len(c.Policies) > 0 {
		r.addf("policies", "policies are configured but catalog.apps is empty: with no apps Sesame runs the demo catalog with its own users and policies; add your apps under catalog.apps or remove policies")
	}
	if len(c.OnCall) > 0 {
		r.addf("oncall", "on-call rotations are configured but catalog.apps is empty: with no apps Sesame runs the demo catalog with its own users and policies; add your apps under catalog.apps or remove oncall")
	}
	for p := range r.index {
		for _, s := range []string{"catalog", "users", "oncall", "policies"} {
			if p == s || strings.HasPrefix(p, s+".") || strings.HasPrefix(p, s+"[") {
				delete(r.index, p)
			}
		}
	}
	demo := &Config{}
	if root := parseYAML(r, demoFile, demoYAML); root != nil {
		d := &decoder{r: r, file: demoFile}
		d.config(root, demo)
	}
	c.Catalog, c.Users, c.OnCall, c.Policies, c.Demo = demo.Catalog, demo.Users, demo.OnCall, demo.Policies, true
}
