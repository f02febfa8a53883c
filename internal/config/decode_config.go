package config

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
)

// config decodes the document root into c.
func (d *decoder) config(root *yaml.Node, c *Config) {
	f := fields{
		"catalog": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{"apps": func(n *yaml.Node, path string) {
				d.list(n, path, func(n *yaml.Node, path string) { c.Catalog.Apps = append(c.Catalog.Apps, d.app(n, path)) })
			}})
		},
		"users": func(n *yaml.Node, path string) {
			d.list(n, path, func(n *yaml.Node, path string) { c.Users = append(c.Users, d.user(n, path)) })
		},
		"oncall": func(n *yaml.Node, path string) {
			d.list(n, path, func(n *yaml.Node, path string) { c.OnCall = append(c.OnCall, d.rotation(n, path)) })
		},
		"policies": func(n *yaml.Node, path string) {
			d.list(n, path, func(n *yaml.Node, path string) { c.Policies = append(c.Policies, d.policy(n, path)) })
		},
		"integrations": func(n *yaml.Node, path string) { d.integrations(n, path, c) },
		"alerts":       func(n *yaml.Node, path string) { d.alerts(n, path, c) },
	}
	// The scalar settings: top-level keys ("database") and sections
	// ("slack.bot_token" lives in the "slack" mapping).
	sections := map[string]fields{}
	for _, s := range settings() {
		if s.set != nil {
			continue // its section decodes it (alerts)
		}
		decode := func(n *yaml.Node, path string) {
			switch {
			case s.str != nil:
				d.str(n, path, s.str(c))
			case s.num != nil:
				d.integer(n, path, s.num(c))
			default:
				d.duration(n, path, s.dur(c))
			}
		}
		section, key, nested := strings.Cut(s.Key, ".")
		if !nested {
			f[s.Key] = decode
			continue
		}
		if sections[section] == nil {
			sections[section] = fields{}
			f[section] = func(n *yaml.Node, path string) { d.mapping(n, path, sections[section]) }
		}
		// A key two levels deep ("web.oidc.issuer") lives in a
		// sub-mapping of its section.
		if sub, leaf, deeper := strings.Cut(key, "."); deeper {
			subKey := section + "." + sub
			if sections[subKey] == nil {
				sections[subKey] = fields{}
				sections[section][sub] = func(n *yaml.Node, path string) { d.mapping(n, path, sections[subKey]) }
			}
			sections[subKey][leaf] = decode
			continue
		}
		sections[section][key] = decode
	}
	// org.policy_changes is a file-only mapping (no environment variable
	// may turn the two-person rule off).
	sections["org"]["policy_changes"] = func(n *yaml.Node, path string) {
		d.mapping(n, path, fields{
			"two_person_rule": func(n *yaml.Node, path string) { d.boolean(n, path, &c.Org.PolicyChanges.TwoPersonRule) },
		})
	}
	d.mapping(root, "", f)
}

// rotation decodes an on-call rotation; start is an RFC 3339 time.
func (d *decoder) rotation(n *yaml.Node, path string) policy.Rotation {
	var r policy.Rotation
	d.mapping(n, path, fields{
		"id":       func(n *yaml.Node, path string) { d.str(n, path, &r.ID) },
		"timezone": func(n *yaml.Node, path string) { d.str(n, path, &r.Timezone) },
		"members":  func(n *yaml.Node, path string) { d.strings(n, path, &r.Members) },
		"rotation": func(n *yaml.Node, path string) { d.str(n, path, &r.Period) },
		"start":    func(n *yaml.Node, path string) { d.timestamp(n, path, &r.Start) },
		"handoff":  func(n *yaml.Node, path string) { d.str(n, path, &r.Handoff) },
	})
	return r
}

func (d *decoder) app(n *yaml.Node, path string) App {
	var a App
	d.mapping(n, path, fields{
		"id":          func(n *yaml.Node, path string) { d.str(n, path, &a.ID) },
		"name":        func(n *yaml.Node, path string) { d.str(n, path, &a.Name) },
		"description": func(n *yaml.Node, path string) { d.str(n, path, &a.Description) },
		"connector": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"type":     func(n *yaml.Node, path string) { d.str(n, path, &a.Connector.Type) },
				"settings": func(n *yaml.Node, path string) { d.stringMap(n, path, &a.Connector.Settings) },
			})
		},
		"owners":    func(n *yaml.Node, path string) { d.strings(n, path, &a.Owners) },
		"aliases":   func(n *yaml.Node, path string) { d.strings(n, path, &a.Aliases) },
		"watchlist": func(n *yaml.Node, path string) { d.boolean(n, path, &a.Watchlist) },
		"entitlements": func(n *yaml.Node, path string) {
			d.list(n, path, func(n *yaml.Node, path string) { a.Entitlements = append(a.Entitlements, d.entitlement(n, path)) })
		},
	})
	return a
}

func (d *decoder) entitlement(n *yaml.Node, path string) Entitlement {
	e := Entitlement{Requestable: true, Risk: access.RiskLow}
	d.mapping(n, path, fields{
		"key":          func(n *yaml.Node, path string) { d.str(n, path, &e.Key) },
		"name":         func(n *yaml.Node, path string) { d.str(n, path, &e.Name) },
		"description":  func(n *yaml.Node, path string) { d.str(n, path, &e.Description) },
		"max_duration": func(n *yaml.Node, path string) { d.duration(n, path, &e.MaxDuration) },
		"requestable":  func(n *yaml.Node, path string) { d.boolean(n, path, &e.Requestable) },
		"risk":         func(n *yaml.Node, path string) { d.str(n, path, (*string)(&e.Risk)) },
		"tags":         func(n *yaml.Node, path string) { d.strings(n, path, &e.Tags) },
		"owners":       func(n *yaml.Node, path string) { d.strings(n, path, &e.Owners) },
	})
	return e
}

func (d *decoder) user(n *yaml.Node, path string) User {
	var u User
	d.mapping(n, path, fields{
		"email":   func(n *yaml.Node, path string) { d.str(n, path, &u.Email) },
		"name":    func(n *yaml.Node, path string) { d.str(n, path, &u.Name) },
		"manager": func(n *yaml.Node, path string) { d.str(n, path, &u.Manager) },
		"groups":  func(n *yaml.Node, path string) { d.strings(n, path, &u.Groups) },
		"roles": func(n *yaml.Node, path string) {
			var roles []string
			d.strings(n, path, &roles)
			for _, r := range roles {
				u.Roles = append(u.Roles, access.Role(r))
			}
		},
		"slack_user_id": func(n *yaml.Node, path string) { d.str(n, path, &u.SlackUserID) },
	})
	return u
}

// policy decodes policy.Policy's fields by their yaml names, durations in
// access.ParseDuration's format.
func (d *decoder) policy(n *yaml.Node, path string) policy.Policy {
	var p policy.Policy
	d.mapping(n, path, fields{
		"id":          func(n *yaml.Node, path string) { d.str(n, path, &p.ID) },
		"description": func(n *yaml.Node, path string) { d.str(n, path, &p.Description) },
		"default":     func(n *yaml.Node, path string) { d.boolean(n, path, &p.Default) },
		"match": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"apps":         func(n *yaml.Node, path string) { d.strings(n, path, &p.Match.Apps) },
				"entitlements": func(n *yaml.Node, path string) { d.strings(n, path, &p.Match.Entitlements) },
				"risk": func(n *yaml.Node, path string) {
					var risks []string
					d.strings(n, path, &risks)
					for _, r := range risks {
						p.Match.Risk = append(p.Match.Risk, access.Risk(r))
					}
				},
				"groups":    func(n *yaml.Node, path string) { d.strings(n, path, &p.Match.Groups) },
				"tags":      func(n *yaml.Node, path string) { d.strings(n, path, &p.Match.Tags) },
				"condition": func(n *yaml.Node, path string) { d.str(n, path, &p.Match.Condition) },
			})
		},
		"steps": func(n *yaml.Node, path string) {
			d.list(n, path, func(n *yaml.Node, path string) { p.Steps = append(p.Steps, d.step(n, path)) })
		},
		"auto_approve": func(n *yaml.Node, path string) {
			d.list(n, path, func(n *yaml.Node, path string) {
				var r policy.AutoApproveRule
				d.mapping(n, path, fields{
					"name":      func(n *yaml.Node, path string) { d.str(n, path, &r.Name) },
					"condition": func(n *yaml.Node, path string) { d.str(n, path, &r.Condition) },
				})
				p.AutoApprove = append(p.AutoApprove, r)
			})
		},
		"max_duration":     func(n *yaml.Node, path string) { d.duration(n, path, &p.MaxDuration) },
		"default_duration": func(n *yaml.Node, path string) { d.duration(n, path, &p.DefaultDuration) },
		"pending_timeout":  func(n *yaml.Node, path string) { d.duration(n, path, &p.PendingTimeout) },
		"reminders": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"after": func(n *yaml.Node, path string) { d.duration(n, path, &p.Reminders.After) },
				"every": func(n *yaml.Node, path string) { d.duration(n, path, &p.Reminders.Every) },
				"max":   func(n *yaml.Node, path string) { d.integer(n, path, &p.Reminders.Max) },
			})
		},
		"extension": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"approval":    func(n *yaml.Node, path string) { d.str(n, path, &p.Extension.Approval) },
				"auto_within": func(n *yaml.Node, path string) { d.duration(n, path, &p.Extension.AutoWithin) },
			})
		},
		"reason": func(n *yaml.Node, path string) {
			d.mapping(n, path, fields{
				"required":       func(n *yaml.Node, path string) { d.boolean(n, path, &p.Reason.Required) },
				"min_length":     func(n *yaml.Node, path string) { d.integer(n, path, &p.Reason.MinLength) },
				"pattern":        func(n *yaml.Node, path string) { d.str(n, path, &p.Reason.Pattern) },
				"ticket_pattern": func(n *yaml.Node, path string) { d.str(n, path, &p.Reason.TicketPattern) },
				"hint":           func(n *yaml.Node, path string) { d.str(n, path, &p.Reason.Hint) },
			})
		},
	})
	return p
}

func (d *decoder) step(n *yaml.Node, path string) policy.StepRule {
	var s policy.StepRule
	d.mapping(n, path, fields{
		"name":              func(n *yaml.Node, path string) { d.str(n, path, &s.Name) },
		"approvers":         func(n *yaml.Node, path string) { d.approvers(n, path, &s.Approvers) },
		"required":          func(n *yaml.Node, path string) { d.integer(n, path, &s.Required) },
		"all":               func(n *yaml.Node, path string) { d.boolean(n, path, &s.All) },
		"requester_chooses": func(n *yaml.Node, path string) { d.boolean(n, path, &s.RequesterChooses) },
		"choose":            func(n *yaml.Node, path string) { d.integer(n, path, &s.Choose) },
		"escalate_after":    func(n *yaml.Node, path string) { d.duration(n, path, &s.EscalateAfter) },
		"escalate_to":       func(n *yaml.Node, path string) { d.approvers(n, path, &s.EscalateTo) },
	})
	return s
}

func (d *decoder) approvers(n *yaml.Node, path string, a *policy.ApproverRule) {
	d.mapping(n, path, fields{
		"users":              func(n *yaml.Node, path string) { d.strings(n, path, &a.Users) },
		"groups":             func(n *yaml.Node, path string) { d.strings(n, path, &a.Groups) },
		"manager":            func(n *yaml.Node, path string) { d.boolean(n, path, &a.Manager) },
		"managers_manager":   func(n *yaml.Node, path string) { d.boolean(n, path, &a.ManagersManager) },
		"app_owners":         func(n *yaml.Node, path string) { d.boolean(n, path, &a.AppOwners) },
		"entitlement_owners": func(n *yaml.Node, path string) { d.boolean(n, path, &a.EntitlementOwners) },
		"oncall":             func(n *yaml.Node, path string) { d.strings(n, path, &a.OnCall) },
	})
}
