package config

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/sesame-access/sesame/internal/integrations"
)

// Integrations is the "integrations:" section: where notifications about
// which apps go (see package integrations and docs/integrations.md).
//
//	integrations:
//	  account_sets:
//	    cloud-accounts: [connector:awsidc, app:gcp-prod]
//	  routes:
//	    - name: cloud-grants
//	      webhook_url: https://hooks.slack.com/services/T.../B.../...
//	      covers: [set:cloud-accounts]
//	      categories: [approval_requests, decisions, grants]
//	    - name: gateways
//	      channel: C0GATEWAYS
//	      covers: [tag:gateway]
//	      categories: [grants, alerts]
type Integrations struct {
	// AccountSets are named selectors routes refer to as set:NAME.
	AccountSets map[string][]string
	// AllowLoopbackWebhooks accepts webhook URLs on loopback addresses
	// (tests, local relays). Default false.
	AllowLoopbackWebhooks bool
	// Routes are the integrations; WebhookURL is a secret.
	Routes []IntegrationRoute
}

// IntegrationRoute is one integration from the file: exactly one of
// WebhookURL and Channel.
type IntegrationRoute struct {
	Name       string
	WebhookURL string
	Channel    string
	Covers     []string
	Categories []string
}

// Spec returns the route as package integrations takes it.
func (r IntegrationRoute) Spec() integrations.Spec {
	return integrations.Spec{Name: r.Name, WebhookURL: r.WebhookURL, Channel: r.Channel, Covers: r.Covers, Categories: r.Categories}
}

// IntegrationSpecs returns the routes as package integrations takes them.
func (c *Config) IntegrationSpecs() []integrations.Spec {
	out := make([]integrations.Spec, 0, len(c.Integrations.Routes))
	for _, r := range c.Integrations.Routes {
		out = append(out, r.Spec())
	}
	return out
}

// decodeIntegrations decodes the section into c.
func (d *decoder) integrations(n *yaml.Node, path string, c *Config) {
	in := &c.Integrations
	d.mapping(n, path, fields{
		"account_sets": func(n *yaml.Node, path string) {
			n = d.resolve(n)
			if n == nil || isNull(n) {
				return
			}
			if n.Kind != yaml.MappingNode {
				d.problemf(n, path, "must be a mapping of set names to selector lists, not %s", kind(n))
				return
			}
			if in.AccountSets == nil {
				in.AccountSets = map[string][]string{}
			}
			for _, p := range d.pairs(n, path) {
				key := join(path, p.key.Value)
				d.r.index[key] = d.pos(p.key)
				var terms []string
				d.strings(p.value, key, &terms)
				in.AccountSets[p.key.Value] = terms
			}
		},
		"allow_loopback_webhooks": func(n *yaml.Node, path string) { d.boolean(n, path, &in.AllowLoopbackWebhooks) },
		"routes": func(n *yaml.Node, path string) {
			d.list(n, path, func(n *yaml.Node, path string) {
				var r IntegrationRoute
				d.mapping(n, path, fields{
					"name":        func(n *yaml.Node, path string) { d.str(n, path, &r.Name) },
					"webhook_url": func(n *yaml.Node, path string) { d.str(n, path, &r.WebhookURL) },
					"channel":     func(n *yaml.Node, path string) { d.str(n, path, &r.Channel) },
					"covers":      func(n *yaml.Node, path string) { d.strings(n, path, &r.Covers) },
					"categories":  func(n *yaml.Node, path string) { d.strings(n, path, &r.Categories) },
				})
				in.Routes = append(in.Routes, r)
			})
		},
	})
}

// validateIntegrations checks the section: sets parse, routes are valid
// (integrations.CheckSpec) with unique names, and webhook URLs are never
// quoted in messages.
func validateIntegrations(c *Config, r *report) {
	sets, err := integrations.ParseSets(c.Integrations.AccountSets)
	if err != nil {
		r.addf("integrations.account_sets", "%s", err.Error())
		sets = integrations.Sets{}
	}
	seen := map[string]int{}
	for i, route := range c.Integrations.Routes {
		prefix := fmt.Sprintf("integrations.routes[%d].", i)
		if j, dup := seen[route.Name]; dup && route.Name != "" {
			r.addf(prefix+"name", "%q is also the name of routes[%d]", route.Name, j)
		}
		seen[route.Name] = i
		// A channel route without slack.bot_token is accepted: the server
		// warns at start and shows the integration failing (no_bot).
		for _, fe := range integrations.CheckSpec(route.Spec(), prefix, sets, true, c.Integrations.AllowLoopbackWebhooks) {
			r.addf(fe.Field, "%s", integrations.Redact(fe.Message, []integrations.Spec{route.Spec()}))
		}
	}
}

// IntegrationSets returns the parsed account sets (valid after Load).
func (c *Config) IntegrationSets() integrations.Sets {
	sets, err := integrations.ParseSets(c.Integrations.AccountSets)
	if err != nil {
		return integrations.Sets{}
	}
	return sets
}

// integrationSecrets lists the webhook URLs, to scrub from messages.
func integrationSecrets(c *Config) []string {
	var out []string
	for _, r := range c.Integrations.Routes {
		if r.WebhookURL != "" {
			out = append(out, r.WebhookURL)
		}
	}
	return out
}

type printedIntegrations struct {
	AccountSets           map[string][]string `yaml:"account_sets,omitempty" json:"account_sets,omitempty"`
	AllowLoopbackWebhooks bool                `yaml:"allow_loopback_webhooks,omitempty" json:"allow_loopback_webhooks,omitempty"`
	Routes                []printedRoute      `yaml:"routes,omitempty" json:"routes,omitempty"`
}

type printedRoute struct {
	Name       string   `yaml:"name" json:"name"`
	WebhookURL string   `yaml:"webhook_url,omitempty" json:"webhook_url,omitempty"`
	Channel    string   `yaml:"channel,omitempty" json:"channel,omitempty"`
	Covers     []string `yaml:"covers" json:"covers"`
	Categories []string `yaml:"categories" json:"categories"`
}

// printIntegrations is the section with webhook URLs redacted.
func printIntegrations(in Integrations) *printedIntegrations {
	if len(in.AccountSets) == 0 && len(in.Routes) == 0 && !in.AllowLoopbackWebhooks {
		return nil
	}
	out := &printedIntegrations{AccountSets: in.AccountSets, AllowLoopbackWebhooks: in.AllowLoopbackWebhooks}
	for _, r := range in.Routes {
		out.Routes = append(out.Routes, printedRoute{Name: r.Name, WebhookURL: redact(r.WebhookURL), Channel: r.Channel,
			Covers: r.Covers, Categories: r.Categories})
	}
	return out
}
