package scimserver

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/sesame-access/sesame/internal/store"
)

// maxFilterLength bounds a filter expression.
const maxFilterLength = 4096

// subAfterValuePath finds `attr[valFilter].sub op value`, which Entra sends
// but RFC 7644's grammar (and the parser) does not accept; it is rewritten
// to the equivalent `attr[(valFilter) and sub op value]`.
var subAfterValuePath = regexp.MustCompile(`([A-Za-z][\w:.\-]*)\[([^\[\]]*)\]\.([A-Za-z][\w\-]*)\s+(?i:(eq|ne|co|sw|ew|gt|lt|ge|le)\s+("(?:[^"\\]|\\.)*"|[^\s()]+)|(pr))`)

// orWord finds an "or" outside quotes (roughly: as a word).
var orWord = regexp.MustCompile(`(?i)\sor\s`)

// parseFilter parses a SCIM filter; errors are invalidFilter.
func parseFilter(s string) (filter.Expression, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil //nolint:nilnil // no filter: every resource matches
	}
	if len(s) > maxFilterLength {
		return nil, errInvalidFilter(fmt.Sprintf("the filter is longer than %d characters", maxFilterLength))
	}
	rewritten := subAfterValuePath.ReplaceAllStringFunc(s, func(m string) string {
		g := subAfterValuePath.FindStringSubmatch(m)
		inner := g[2]
		if orWord.MatchString(inner) {
			// The parser takes no parentheses inside brackets: such a
			// filter stays unsupported (invalidFilter).
			return m
		}
		if g[6] != "" {
			return fmt.Sprintf("%s[%s and %s pr]", g[1], inner, g[3])
		}
		return fmt.Sprintf("%s[%s and %s %s %s]", g[1], inner, g[3], strings.ToLower(g[4]), g[5])
	})
	e, err := parseFilterSafe(rewritten)
	if err != nil {
		return nil, errInvalidFilter(fmt.Sprintf("filter %q: %v", s, err))
	}
	return e, nil
}

// parseFilterSafe guards against the parser panicking on odd input.
func parseFilterSafe(s string) (e filter.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("unparsable: %v", r)
		}
	}()
	return filter.ParseFilter([]byte(s))
}

// eval reports whether d matches expr.
func eval(d doc, expr filter.Expression) bool {
	switch e := expr.(type) {
	case nil:
		return true
	case *filter.LogicalExpression:
		if e.Operator == filter.OR {
			return eval(d, e.Left) || eval(d, e.Right)
		}
		return eval(d, e.Left) && eval(d, e.Right)
	case *filter.NotExpression:
		return !eval(d, e.Expression)
	case *filter.ValuePath:
		for _, it := range resolveList(d, e.AttributePath) {
			if o := asDoc(it); o != nil && eval(o, e.ValueFilter) {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		vals := resolve(d, e.AttributePath)
		if e.Operator == filter.PR {
			return slices.ContainsFunc(vals, present)
		}
		exact := caseExact(e.AttributePath)
		for _, v := range vals {
			if compare(v, e.Operator, e.CompareValue, exact) {
				return true
			}
		}
		return e.Operator == filter.NE && len(vals) == 0
	}
	return false
}

// container returns the object an attribute path's URI names in d.
func container(d doc, p filter.AttributePath) doc {
	if uri := p.URI(); uri != "" && !isCoreURN(uri) {
		return d.obj(uri)
	}
	return d
}

// resolveList returns the items of a (multi-valued) attribute.
func resolveList(d doc, p filter.AttributePath) []any {
	c := container(d, p)
	if c == nil {
		return nil
	}
	return c.list(p.AttributeName)
}

// resolve returns the values a path names: for a multi-valued attribute,
// each item's sub-attribute (or "value" when none is given).
func resolve(d doc, p filter.AttributePath) []any {
	c := container(d, p)
	if c == nil {
		return nil
	}
	v, ok := c.get(p.AttributeName)
	if !ok {
		return nil
	}
	sub := p.SubAttributeName()
	items, isList := v.([]any)
	if !isList {
		if sub == "" {
			return []any{v}
		}
		o := asDoc(v)
		if o == nil {
			return nil
		}
		sv, ok := o.get(sub)
		if !ok {
			return nil
		}
		return []any{sv}
	}
	if sub == "" {
		sub = "value"
	}
	var out []any
	for _, it := range items {
		if o := asDoc(it); o != nil {
			if sv, ok := o.get(sub); ok {
				out = append(out, sv)
			}
		} else {
			out = append(out, it)
		}
	}
	return out
}

// caseExact reports whether string comparison on p is case-sensitive:
// ids, externalId and member values are; names and emails are not.
func caseExact(p filter.AttributePath) bool {
	name := strings.ToLower(p.AttributeName)
	sub := strings.ToLower(p.SubAttributeName())
	switch {
	case name == "id" || name == "externalid":
		return true
	case (name == "members" || name == "groups" || name == "manager") && (sub == "" || sub == "value"):
		return true
	case name == "value":
		return true
	}
	return false
}

func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// compare applies op to a stored value and a filter's value.
func compare(v any, op filter.CompareOperator, want any, exact bool) bool {
	switch w := want.(type) {
	case bool:
		b, ok := boolValue(v)
		if !ok {
			return false
		}
		switch op { //nolint:exhaustive // the other operators do not apply to this type
		case filter.EQ:
			return b == w
		case filter.NE:
			return b != w
		}
		return false
	case nil:
		switch op { //nolint:exhaustive // the other operators do not apply to this type
		case filter.EQ:
			return !present(v)
		case filter.NE:
			return present(v)
		}
		return false
	case string:
		s, ok := v.(string)
		if !ok {
			b, isBool := v.(bool)
			if !isBool {
				return false
			}
			s = fmt.Sprint(b)
		}
		a, b := s, w
		if !exact {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		switch op { //nolint:exhaustive // the other operators do not apply to this type
		case filter.EQ:
			return a == b
		case filter.NE:
			return a != b
		case filter.CO:
			return strings.Contains(a, b)
		case filter.SW:
			return strings.HasPrefix(a, b)
		case filter.EW:
			return strings.HasSuffix(a, b)
		case filter.GT:
			return a > b
		case filter.GE:
			return a >= b
		case filter.LT:
			return a < b
		case filter.LE:
			return a <= b
		}
	case int, float64:
		f, ok := toFloat(v)
		wf, _ := toFloat(w)
		if !ok {
			return false
		}
		switch op { //nolint:exhaustive // the other operators do not apply to this type
		case filter.EQ:
			return f == wf
		case filter.NE:
			return f != wf
		case filter.GT:
			return f > wf
		case filter.GE:
			return f >= wf
		case filter.LT:
			return f < wf
		case filter.LE:
			return f <= wf
		}
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// pushdown returns the store filters that narrow expr's candidates: the
// equality tests on indexed attributes in its top-level "and" chain. The
// whole filter is still evaluated on every candidate.
func pushdown(expr filter.Expression, groups bool) store.DirectoryListParams {
	var p store.DirectoryListParams
	var walk func(e filter.Expression)
	walk = func(e filter.Expression) {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			if x.Operator == filter.AND {
				walk(x.Left)
				walk(x.Right)
			}
		case *filter.ValuePath:
			name := strings.ToLower(x.AttributePath.AttributeName)
			if name == "members" && groups {
				if v, ok := eqValue(x.ValueFilter, "value"); ok {
					p.Member = v
				}
			}
			if name == "emails" && !groups {
				if v, ok := eqValue(x.ValueFilter, "value"); ok {
					p.Email = v
				}
			}
		case *filter.AttributeExpression:
			if x.Operator != filter.EQ || x.AttributePath.URI() != "" && !isCoreURN(x.AttributePath.URI()) {
				return
			}
			s, ok := x.CompareValue.(string)
			if !ok {
				return
			}
			name := strings.ToLower(x.AttributePath.AttributeName)
			sub := strings.ToLower(x.AttributePath.SubAttributeName())
			switch {
			case name == "id" && sub == "":
				p.IDs = []string{s}
			case name == "externalid" && sub == "":
				p.ExternalID = s
			case name == "username" && sub == "" && !groups:
				p.UserName = s
			case name == "displayname" && sub == "" && groups:
				p.DisplayName = s
			case name == "emails" && (sub == "" || sub == "value") && !groups:
				p.Email = s
			case name == "members" && (sub == "" || sub == "value") && groups:
				p.Member = s
			}
		}
	}
	walk(expr)
	return p
}

// eqValue finds "attr eq string" in an and-chain.
func eqValue(e filter.Expression, attr string) (string, bool) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if x.Operator == filter.EQ && strings.EqualFold(x.AttributePath.AttributeName, attr) && x.AttributePath.SubAttribute == nil {
			s, ok := x.CompareValue.(string)
			return s, ok
		}
	case *filter.LogicalExpression:
		if x.Operator == filter.AND {
			if v, ok := eqValue(x.Left, attr); ok {
				return v, true
			}
			return eqValue(x.Right, attr)
		}
	}
	return "", false
}

// narrowed reports whether p filters anything.
func narrowed(p store.DirectoryListParams) bool {
	return len(p.IDs) > 0 || p.UserName != "" || p.ExternalID != "" || p.Email != "" || p.DisplayName != "" || p.Member != ""
}

// filter0 is a parsed filter (an alias for readability).
type filter0 = filter.Expression

// isExact reports whether e is one "eq" test on id, externalId or
// userName with a string: what the store matches exactly as eval does.
func isExact(e filter.Expression) bool {
	x, ok := e.(*filter.AttributeExpression)
	if !ok || x.Operator != filter.EQ || x.AttributePath.SubAttribute != nil {
		return false
	}
	if uri := x.AttributePath.URI(); uri != "" && !isCoreURN(uri) {
		return false
	}
	if _, isStr := x.CompareValue.(string); !isStr {
		return false
	}
	switch strings.ToLower(x.AttributePath.AttributeName) {
	case "id", "externalid", "username":
		return true
	}
	return false
}
