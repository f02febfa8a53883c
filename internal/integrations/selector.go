package integrations

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
)

// Term kinds of a selector.
const (
	TermAll       = "*"         // every app
	TermApp       = "app"       // app:<app id>
	TermConnector = "connector" // connector:<connector type>
	TermTag       = "tag"       // tag:<entitlement tag>
	TermSet       = "set"       // set:<account set name>
	TermWatchlist = "watchlist" // apps on the watchlist
)

// MaxTerms bounds a selector (and an account set).
const MaxTerms = 100

var valueRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$`)

// Term is one parsed selector term.
type Term struct {
	Kind  string
	Value string
}

// String is the term as written.
func (t Term) String() string {
	if t.Value == "" {
		return t.Kind
	}
	return t.Kind + ":" + t.Value
}

// ParseTerm parses one term: "*", "watchlist", "app:ID", "connector:TYPE",
// "tag:TAG" or "set:NAME". Values start with a letter or digit and hold
// letters, digits and "_.:/-", at most 128 characters.
func ParseTerm(s string) (Term, error) {
	s = strings.TrimSpace(s)
	switch s {
	case TermAll, TermWatchlist:
		return Term{Kind: s}, nil
	case "":
		return Term{}, fmt.Errorf("empty selector term")
	}
	kind, value, ok := strings.Cut(s, ":")
	if !ok {
		return Term{}, fmt.Errorf("selector term %q: want *, watchlist, app:ID, connector:TYPE, tag:TAG or set:NAME", s)
	}
	switch kind {
	case TermApp, TermConnector, TermTag, TermSet:
	default:
		return Term{}, fmt.Errorf("selector term %q: unknown kind %q (app, connector, tag, set)", s, kind)
	}
	if !valueRE.MatchString(value) {
		return Term{}, fmt.Errorf("selector term %q: the value must start with a letter or digit and hold only letters, digits and _.:/- (at most 128)", s)
	}
	return Term{Kind: kind, Value: value}, nil
}

// Selector is a list of terms; it covers an app when any term does.
type Selector []Term

// ParseSelector parses terms; an empty list is an error (an integration
// must cover something: use "*" for every app). Duplicates are removed.
func ParseSelector(terms []string) (Selector, error) {
	if len(terms) == 0 {
		return nil, fmt.Errorf("no selector terms: list app:ID, connector:TYPE, tag:TAG, set:NAME, watchlist or *")
	}
	if len(terms) > MaxTerms {
		return nil, fmt.Errorf("%d selector terms: at most %d", len(terms), MaxTerms)
	}
	var out Selector
	for _, s := range terms {
		t, err := ParseTerm(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Strings returns the terms as written.
func (s Selector) Strings() []string {
	out := make([]string, len(s))
	for i, t := range s {
		out[i] = t.String()
	}
	return out
}

// Sets are named account sets: selectors without set terms.
type Sets map[string]Selector

// ParseSets parses named sets; a set may not name another set.
func ParseSets(raw map[string][]string) (Sets, error) {
	out := Sets{}
	for name, terms := range raw {
		if !valueRE.MatchString(name) {
			return nil, fmt.Errorf("account set %q: the name must start with a letter or digit and hold only letters, digits and _.:/-", name)
		}
		sel, err := ParseSelector(terms)
		if err != nil {
			return nil, fmt.Errorf("account set %q: %w", name, err)
		}
		for _, t := range sel {
			if t.Kind == TermSet {
				return nil, fmt.Errorf("account set %q: %s: a set cannot include another set", name, t)
			}
		}
		out[name] = sel
	}
	return out, nil
}

// Check reports the first set term of s that names no set of sets.
func (s Selector) Check(sets Sets) error {
	for _, t := range s {
		if t.Kind == TermSet {
			if _, ok := sets[t.Value]; !ok {
				return fmt.Errorf("%s: no account set named %q", t, t.Value)
			}
		}
	}
	return nil
}

// Subject is what a notification is about: its app and the tags of the
// entitlements involved. With no entitlements (an app-wide alert), Tags
// are the tags of every entitlement of the app.
type Subject struct {
	App  *access.App
	Tags []string
}

// Covers reports whether s covers subj, expanding set terms with sets (an
// unknown set covers nothing).
func (s Selector) Covers(subj Subject, sets Sets) bool {
	for _, t := range s {
		if t.Kind == TermSet {
			if sets[t.Value].Covers(subj, nil) {
				return true
			}
			continue
		}
		if t.covers(subj) {
			return true
		}
	}
	return false
}

func (t Term) covers(subj Subject) bool {
	switch t.Kind {
	case TermAll:
		return true
	case TermWatchlist:
		return subj.App != nil && subj.App.Watchlist
	case TermApp:
		return subj.App != nil && subj.App.ID == t.Value
	case TermConnector:
		return subj.App != nil && subj.App.ConnectorType == t.Value
	case TermTag:
		return slices.Contains(subj.Tags, t.Value)
	}
	return false
}
