package config

import (
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
)

func validateCatalog(c *Config, r *report, o LoadOptions, users userSet) {
	// names maps every app ID and alias to the path that claimed it first,
	// since "/access <name>" must find one app.
	names := map[string]string{}
	for i, a := range c.Catalog.Apps {
		p := index("catalog.apps", i)
		switch {
		case a.ID == "":
			r.addf(p+".id", "is required")
		case !slugRE.MatchString(a.ID):
			r.addf(p+".id", "%q is not a valid id: use lowercase letters, digits and dashes, starting with a letter or digit (at most 63)", a.ID)
		case names[a.ID] != "":
			r.addf(p+".id", "app id %q is used twice (first at line %d)", a.ID, r.lineOf(names[a.ID]))
		default:
			names[a.ID] = p + ".id"
		}
	}
	for i, a := range c.Catalog.Apps {
		p := index("catalog.apps", i)
		for j, alias := range a.Aliases {
			ap := index(p+".aliases", j)
			switch {
			case !slugRE.MatchString(alias):
				r.addf(ap, "%q is not a valid alias: use lowercase letters, digits and dashes", alias)
			case names[alias] != "":
				r.addf(ap, "%q is already the id or an alias of another app (line %d)", alias, r.lineOf(names[alias]))
			default:
				names[alias] = ap
			}
		}
		validateConnector(a.Connector, r, o, p+".connector")
		ownerList(r, users, p+".owners", a.Owners)
		validateEntitlements(c, r, users, a, p)
	}
}

func validateConnector(conn Connector, r *report, o LoadOptions, path string) {
	switch {
	case conn.Type == "":
		r.addf(path+".type", "is required")
		return
	case len(o.ConnectorTypes) > 0 && !slices.Contains(o.ConnectorTypes, conn.Type):
		known := slices.Clone(o.ConnectorTypes)
		slices.Sort(known)
		r.addf(path+".type", "unknown connector type %q (known: %s)", conn.Type, strings.Join(known, ", "))
		return
	}
	for k := range conn.Settings {
		if strings.TrimSpace(k) == "" {
			r.addf(path+".settings", "setting names must not be empty")
		}
	}
	if o.ValidateConnector != nil {
		if err := o.ValidateConnector(conn.Type, conn.Settings); err != nil {
			r.addf(path+".settings", "%v", err)
		}
	}
}

func validateEntitlements(c *Config, r *report, users userSet, a App, appPath string) {
	keys := map[string]string{}
	for j, e := range a.Entitlements {
		p := index(appPath+".entitlements", j)
		switch {
		case e.Key == "":
			r.addf(p+".key", "is required")
		case !keyRE.MatchString(e.Key):
			r.addf(p+".key", "%q is not a valid key: use lowercase letters, digits and _ . : -, starting with a letter or digit (at most 63)", e.Key)
		case keys[e.Key] != "":
			r.addf(p+".key", "entitlement key %q is used twice in app %q (first at line %d)", e.Key, a.ID, r.lineOf(keys[e.Key]))
		default:
			keys[e.Key] = p + ".key"
		}
		if !access.ValidRisk(e.Risk) {
			r.addf(p+".risk", "%q is not low, medium or high", e.Risk)
		}
		durationCheck(c, r, p+".max_duration", e.MaxDuration)
		for k, tag := range e.Tags {
			if strings.TrimSpace(tag) == "" {
				r.addf(index(p+".tags", k), "must not be empty")
			}
		}
		ownerList(r, users, p+".owners", e.Owners)
	}
}
