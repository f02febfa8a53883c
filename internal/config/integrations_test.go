package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const integrationsSection = `integrations:
  account_sets:
    cloud-accounts: [connector:fake, app:app]
  routes:
    - name: cloud
      webhook_url: https://hooks.slack.com/services/T000/B000/SECRETSECRET
      covers: [set:cloud-accounts]
      categories: [approval_requests, decisions, grants]
    - name: gateways
      channel: C0GATEWAYS
      covers: [tag:gateway]
      categories: [grants, alerts]
slack: {mode: http, bot_token: xoxb-1, signing_secret: shh}
`

func TestIntegrationsSection(t *testing.T) {
	t.Parallel()
	c, err := Parse("sesame.yaml", []byte(minimal+integrationsSection), nil)
	require.NoError(t, err)
	require.Len(t, c.Integrations.Routes, 2)
	require.Equal(t, []string{"connector:fake", "app:app"}, c.Integrations.AccountSets["cloud-accounts"])
	specs := c.IntegrationSpecs()
	require.Equal(t, "C0GATEWAYS", specs[1].Channel)
	require.Contains(t, c.IntegrationSets(), "cloud-accounts")

	printed := c.String()
	require.NotContains(t, printed, "SECRETSECRET", "webhook URLs are secrets")
	require.Contains(t, printed, "webhook_url: '[redacted]'")
	require.Contains(t, printed, "channel: C0GATEWAYS")
	var back map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(printed), &back))
	require.Contains(t, back, "integrations")
}

func TestIntegrationsProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, section, path, msg string
	}{
		{"unknown set", `integrations: {routes: [{name: a, webhook_url: "https://hooks.slack.com/services/T/B/X", covers: [set:nope], categories: [grants]}]}`,
			"integrations.routes[0].covers", `no account set named "nope"`},
		{"not a slack webhook", `integrations: {routes: [{name: a, webhook_url: "https://evil.example.com/services/T/B/SECRETX", covers: ["*"], categories: [grants]}]}`,
			"integrations.routes[0].webhook_url", "hooks.slack.com"},
		{"loopback needs the flag", `integrations: {routes: [{name: a, webhook_url: "http://127.0.0.1:1/services/T/B/SECRETX", covers: ["*"], categories: [grants]}]}`,
			"integrations.routes[0].webhook_url", "allow_loopback_webhooks"},
		{"both destinations", `integrations: {routes: [{name: a, webhook_url: "https://hooks.slack.com/services/T/B/SECRETX", channel: C0X1, covers: ["*"], categories: [grants]}]}`,
			"integrations.routes[0].webhook_url", "not both"},
		{"not a channel ID", `integrations: {routes: [{name: a, channel: "#general", covers: ["*"], categories: [grants]}]}`,
			"integrations.routes[0].channel", "not a Slack channel ID"},
		{"bad category", `integrations: {routes: [{name: a, channel: C0X1, covers: ["*"], categories: [emails]}]}`,
			"integrations.routes[0].categories", `unknown category "emails"`},
		{"duplicate name", `integrations: {routes: [{name: a, webhook_url: "https://hooks.slack.com/services/T/B/X1", covers: ["*"], categories: [grants]}, {name: a, webhook_url: "https://hooks.slack.com/services/T/B/X2", covers: ["*"], categories: [grants]}]}`,
			"integrations.routes[1].name", "also the name"},
		{"set of sets", `integrations: {account_sets: {a: [set:b], b: ["*"]}}`, "integrations.account_sets", "another set"},
		{"unknown key", `integrations: {routez: []}`, "integrations.routez", "unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("sesame.yaml", []byte(minimal+tc.section+"\n"), nil)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			found := false
			for _, p := range ve.Problems {
				require.NotContains(t, p.Message, "SECRETX", "webhook URLs never appear in problems")
				if p.Path == tc.path && strings.Contains(p.Message, tc.msg) {
					found = true
				}
			}
			require.True(t, found, "%v", ve.Problems)
		})
	}
}

// FuzzIntegrationsSection feeds arbitrary routes and sets to the
// configuration: no panic, and a webhook URL never shows in a problem.
func FuzzIntegrationsSection(f *testing.F) {
	f.Add("set:cloud-accounts", "grants", "https://hooks.slack.com/services/T/B/SECRETX", "connector:fake")
	f.Add("*", "emails", "http://127.0.0.1/services/a/b/SECRETX", "set:x")
	f.Add("tag:", "alerts", "not a url SECRETX", "")
	f.Fuzz(func(t *testing.T, cover, category, hook, setTerm string) {
		doc := map[string]any{"integrations": map[string]any{
			"account_sets": map[string]any{"cloud-accounts": []string{setTerm}},
			"routes":       []map[string]any{{"name": "r", "webhook_url": hook, "covers": []string{cover}, "categories": []string{category}}},
		}}
		extra, err := yaml.Marshal(doc)
		require.NoError(t, err)
		c, err := Parse("fuzz.yaml", append([]byte(minimal), extra...), nil)
		if err == nil {
			require.Len(t, c.Integrations.Routes, 1)
			return
		}
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		if len(hook) >= 8 {
			require.NotContains(t, err.Error(), hook)
		}
	})
}
