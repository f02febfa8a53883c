package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
)

// Specificity ranks a Match: one point for each kind of selector it sets
// (apps, tags, risk, groups, condition) and two for entitlements, which
// pin the app as well (apps then adds nothing). Among the policies that
// match a request, the one with the highest specificity applies.
//
// Two policies of equal specificity that could both match one request
// are a validation error, unless a strictly more specific policy matches
// every request they share. Whether they could is decided per selector:
// apps, entitlements and risk levels overlap when their lists share a
// value or one of them is empty (an empty selector matches everything);
// tags, groups and conditions always may (an entitlement can carry both
// tags, a person be in both groups, both conditions hold). With a catalog
// (WithCatalog), listed entitlements are checked against the risk and tags
// selectors too. Evaluation refuses a tie the analysis could not see (a
// discovered entitlement with both tags) rather than pick one.
func Specificity(m Match) int {
	n := 0
	switch {
	case len(m.Entitlements) > 0:
		n += 2
	case len(m.Apps) > 0:
		n++
	}
	for _, set := range [][]string{m.Tags, m.Groups} {
		if len(set) > 0 {
			n++
		}
	}
	if len(m.Risk) > 0 {
		n++
	}
	if m.Condition != "" {
		n++
	}
	return n
}

// selector is a Match as sets; nil means any.
type selector struct {
	apps, ents, risks map[string]bool
	tags, groups      []string
	cond              string
}

func setOf[T ~string](vals []T) map[string]bool {
	if len(vals) == 0 {
		return nil
	}
	out := make(map[string]bool, len(vals))
	for _, v := range vals {
		out[string(v)] = true
	}
	return out
}

func newSelector(m Match) selector {
	s := selector{apps: setOf(m.Apps), risks: setOf(m.Risk), tags: m.Tags, groups: m.Groups, cond: m.Condition}
	if len(m.Entitlements) > 0 {
		s.ents = map[string]bool{}
		apps := map[string]bool{}
		for _, e := range m.Entitlements {
			app, _, _ := access.SplitEntitlementID(e)
			if s.apps == nil || s.apps[app] {
				s.ents[e] = true
				apps[app] = true
			}
		}
		s.apps = apps
	}
	return s
}

// region is the set of requests two selectors share.
type region struct {
	apps, ents, risks map[string]bool
	tags, groups      [2][]string
	conds             [2]string
}

func intersect(a, b map[string]bool) map[string]bool {
	switch {
	case a == nil:
		return maps.Clone(b)
	case b == nil:
		return maps.Clone(a)
	}
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

func subset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func anyShared(a, b []string) bool {
	return slices.ContainsFunc(a, func(v string) bool { return slices.Contains(b, v) })
}

// overlap returns the requests a and b both match, or false when there
// are none. catalog, when known, filters listed entitlements by risk and
// tags.
func overlap(a, b selector, catalog map[string]*access.Entitlement) (region, bool) {
	r := region{tags: [2][]string{a.tags, b.tags}, groups: [2][]string{a.groups, b.groups}, conds: [2]string{a.cond, b.cond}}
	r.risks = intersect(a.risks, b.risks)
	if r.risks != nil && len(r.risks) == 0 {
		return r, false
	}
	if a.ents != nil || b.ents != nil {
		r.ents = intersect(a.ents, b.ents)
		for e := range r.ents {
			app, _, _ := access.SplitEntitlementID(e)
			ok := (a.apps == nil || a.apps[app]) && (b.apps == nil || b.apps[app])
			if ent := catalog[e]; ent != nil && ok {
				ok = (r.risks == nil || r.risks[string(ent.Risk)]) &&
					(a.tags == nil || anyShared(a.tags, ent.Tags)) && (b.tags == nil || anyShared(b.tags, ent.Tags))
			}
			if !ok {
				delete(r.ents, e)
			}
		}
		if len(r.ents) == 0 {
			return r, false
		}
		r.apps = map[string]bool{}
		for e := range r.ents {
			app, _, _ := access.SplitEntitlementID(e)
			r.apps[app] = true
		}
		return r, true
	}
	r.apps = intersect(a.apps, b.apps)
	if r.apps != nil && len(r.apps) == 0 {
		return r, false
	}
	return r, true
}

// covers reports whether every request of r matches c.
func (c selector) covers(r region, catalog map[string]*access.Entitlement) bool {
	if c.cond != "" && c.cond != r.conds[0] && c.cond != r.conds[1] {
		return false
	}
	if c.ents != nil && (r.ents == nil || !subset(r.ents, c.ents)) {
		return false
	}
	if c.apps != nil && (r.apps == nil || !subset(r.apps, c.apps)) {
		return false
	}
	if c.risks != nil && (r.risks == nil || !subset(r.risks, c.risks)) && !risksKnown(r.ents, c.risks, catalog) {
		return false
	}
	return anyOfCovered(c.tags, r.tags) && anyOfCovered(c.groups, r.groups)
}

// risksKnown reports whether the catalog puts every entitlement of ents
// at a risk in risks.
func risksKnown(ents, risks map[string]bool, catalog map[string]*access.Entitlement) bool {
	if ents == nil {
		return false
	}
	for e := range ents {
		if ent := catalog[e]; ent == nil || !risks[string(ent.Risk)] {
			return false
		}
	}
	return true
}

// anyOfCovered reports whether "at least one of c" holds whenever "at
// least one of r[0]" and "at least one of r[1]" do.
func anyOfCovered(c []string, r [2][]string) bool {
	if c == nil {
		return true
	}
	for _, side := range r {
		if side != nil && !slices.ContainsFunc(side, func(v string) bool { return !slices.Contains(c, v) }) {
			return true
		}
	}
	return false
}

// describe names the requests of r for a message.
func (r region) describe() string {
	var parts []string
	sorted := func(m map[string]bool) string { return strings.Join(slices.Sorted(maps.Keys(m)), ", ") }
	switch {
	case r.ents != nil:
		parts = append(parts, "entitlement "+sorted(r.ents))
	case r.apps != nil:
		parts = append(parts, "app "+sorted(r.apps))
	default:
		parts = append(parts, "any app")
	}
	if r.risks != nil {
		parts = append(parts, "risk "+sorted(r.risks))
	}
	anyOf := func(what string, sides [2][]string) {
		var s []string
		for _, side := range sides {
			switch len(side) {
			case 0:
			case 1:
				s = append(s, side[0])
			default:
				s = append(s, "one of "+strings.Join(side, ", "))
			}
		}
		if len(s) > 0 {
			parts = append(parts, what+" "+strings.Join(s, " and "))
		}
	}
	anyOf("tagged", r.tags)
	anyOf("by a member of", r.groups)
	switch {
	case r.conds[0] != "" && r.conds[1] != "":
		parts = append(parts, "when both conditions hold")
	case r.conds[0] != "" || r.conds[1] != "":
		parts = append(parts, "when the condition holds")
	}
	return strings.Join(parts, ", ")
}

// checkTies reports every pair of equally specific policies that can
// match one request without a more specific policy covering it.
func checkTies(cs []*compiled, catalog map[string]*access.Entitlement, ps *problems) {
	bySpec := map[int][]*compiled{}
	for _, c := range cs {
		if !c.Default {
			bySpec[c.spec] = append(bySpec[c.spec], c)
		}
	}
	for _, spec := range slices.Sorted(maps.Keys(bySpec)) {
		group := bySpec[spec]
		if len(group) < 2 {
			continue
		}
		for _, pair := range candidatePairs(group) {
			a, b := pair[0], pair[1]
			r, ok := overlap(a.sel, b.sel, catalog)
			if !ok || coveredByMoreSpecific(cs, spec, r, catalog) {
				continue
			}
			ps.addf(fmt.Sprintf("policies[%d].match", b.index),
				"policies %s and %s are equally specific (%d) and can both match a request (%s): "+
					"make their selectors disjoint, make one more specific, or add a more specific policy for those requests",
				a.ID, b.ID, spec, r.describe())
		}
	}
}

func coveredByMoreSpecific(cs []*compiled, spec int, r region, catalog map[string]*access.Entitlement) bool {
	for _, c := range cs {
		if !c.Default && c.spec > spec && c.sel.covers(r, catalog) {
			return true
		}
	}
	return false
}

// candidatePairs returns the pairs of group (ordered by index) that share
// an app or an entitlement, or where one constrains neither: the others
// cannot overlap.
func candidatePairs(group []*compiled) [][2]*compiled {
	byKey := map[string][]*compiled{}
	var wild []*compiled
	for _, c := range group {
		switch {
		case c.sel.ents != nil:
			for e := range c.sel.ents {
				byKey["e:"+e] = append(byKey["e:"+e], c)
			}
			for a := range c.sel.apps {
				byKey["a:"+a] = append(byKey["a:"+a], c)
			}
		case c.sel.apps != nil:
			for a := range c.sel.apps {
				byKey["a:"+a] = append(byKey["a:"+a], c)
			}
		default:
			wild = append(wild, c)
		}
	}
	seen := map[[2]int]bool{}
	var out [][2]*compiled
	addPair := func(a, b *compiled) {
		if a == b {
			return
		}
		if a.index > b.index {
			a, b = b, a
		}
		k := [2]int{a.index, b.index}
		if !seen[k] {
			seen[k] = true
			out = append(out, [2]*compiled{a, b})
		}
	}
	for _, list := range byKey {
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				addPair(list[i], list[j])
			}
		}
	}
	for _, w := range wild {
		for _, c := range group {
			addPair(w, c)
		}
	}
	slices.SortFunc(out, func(x, y [2]*compiled) int {
		if x[1].index != y[1].index {
			return x[1].index - y[1].index
		}
		return x[0].index - y[0].index
	})
	return out
}
