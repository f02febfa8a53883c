package config

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sesame-access/sesame/internal/access"
)

// maxVisits bounds the work of decoding one document, so that aliases
// expanding into each other (a "billion laughs" file) end with a problem
// instead of eating the machine.
const maxVisits = 200_000

// decoder walks a yaml.Node tree into a Config, recording every problem
// with its position and every key's position in the report's index.
// Unknown keys, wrong kinds and unreadable values are problems; decoding
// goes on after each one.
type decoder struct {
	r       *report
	file    string
	visits  int
	tooMany bool
	// merging holds the mappings whose "<<" entries are being expanded,
	// to catch a mapping merged into itself.
	merging map[*yaml.Node]bool
}

// fields maps the known keys of a mapping to their decoders.
type fields map[string]func(n *yaml.Node, path string)

func (d *decoder) pos(n *yaml.Node) pos { return pos{file: d.file, line: n.Line, col: n.Column} }

// problem records that the value at path could not be decoded.
func (d *decoder) problemf(n *yaml.Node, path, format string, args ...any) {
	d.r.atf(d.pos(n), path, format, args...)
	if path != "" {
		d.r.unreadable[path] = true
	}
}

// resolve follows aliases and counts the visit; it returns nil when the
// node is absent or the document is too large to finish.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || d.tooMany {
		return nil
	}
	d.visits++
	if d.visits > maxVisits {
		d.tooMany = true
		d.r.atf(pos{file: d.file}, "", "the document is too large once its aliases are expanded")
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// kind names a node's kind for messages.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return "a string"
	case yaml.DocumentNode, yaml.AliasNode:
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// pair is one key and value of a mapping.
type pair struct{ key, value *yaml.Node }

// pairs returns the entries of a mapping: its own first, then those merged
// in with "<<" that it does not override. Keys written twice are problems.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	if d.merging[n] {
		d.r.atf(d.pos(n), path, "<< merges a mapping into itself")
		return nil
	}
	if d.merging == nil {
		d.merging = map[*yaml.Node]bool{}
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	var own, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(v, path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.r.atf(d.pos(k), path, "keys must be strings, not %s", kind(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.problemf(k, join(path, k.Value), "written twice (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, pair{k, v})
	}
	for _, p := range merged {
		if _, dup := seen[p.key.Value]; !dup {
			seen[p.key.Value] = p.key.Line
			own = append(own, p)
		}
	}
	return own
}

// mergeSources returns the entries merged in by "<<": a mapping, or a list
// of mappings where earlier ones win.
func (d *decoder) mergeSources(v *yaml.Node, path string) []pair {
	v = d.resolve(v)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.MappingNode {
		return d.pairs(v, path)
	}
	if v.Kind == yaml.SequenceNode {
		var out []pair
		for _, item := range v.Content {
			item = d.resolve(item)
			if item == nil {
				continue
			}
			if item.Kind != yaml.MappingNode {
				d.r.atf(d.pos(item), path, "<< merges mappings, not %s", kind(item))
				continue
			}
			out = append(out, d.pairs(item, path)...)
		}
		return out
	}
	d.r.atf(d.pos(v), path, "<< merges mappings, not %s", kind(v))
	return nil
}

// mapping decodes a mapping with known keys; null is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, f fields) {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problemf(n, path, "must be a mapping, not %s", kind(n))
		return
	}
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		fn, ok := f[key]
		if !ok {
			d.problemf(p.key, join(path, key), "unknown key%s", suggest(key, f))
			continue
		}
		d.r.index[join(path, key)] = d.pos(p.key)
		fn(p.value, join(path, key))
	}
}

// list decodes each item of a sequence; null is an empty list.
func (d *decoder) list(n *yaml.Node, path string, item func(n *yaml.Node, path string)) {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.problemf(n, path, "must be a list, not %s", kind(n))
		return
	}
	for i, c := range n.Content {
		p := index(path, i)
		d.r.index[p] = d.pos(c)
		item(c, p)
	}
}

// scalar returns the node when it is a non-null scalar, recording a
// problem when it is a mapping or a list.
func (d *decoder) scalar(n *yaml.Node, path, want string) *yaml.Node {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		d.problemf(n, path, "must be %s, not %s", want, kind(n))
		return nil
	}
	return n
}

// str decodes any scalar as its text; null leaves dst alone.
func (d *decoder) str(n *yaml.Node, path string, dst *string) {
	if n = d.scalar(n, path, "a string"); n != nil {
		*dst = n.Value
	}
}

func (d *decoder) boolean(n *yaml.Node, path string, dst *bool) {
	if n = d.scalar(n, path, "true or false"); n == nil {
		return
	}
	if n.ShortTag() != "!!bool" {
		d.problemf(n, path, "must be true or false, not %q", n.Value)
		return
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.problemf(n, path, "must be true or false, not %q", n.Value)
		return
	}
	*dst = b
}

func (d *decoder) integer(n *yaml.Node, path string, dst *int) {
	if n = d.scalar(n, path, "a whole number"); n == nil {
		return
	}
	var i int
	if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		d.problemf(n, path, "must be a whole number, not %q", n.Value)
		return
	}
	*dst = i
}

// duration reads access.ParseDuration's format ("30m", "8h", "1d", "1w").
func (d *decoder) duration(n *yaml.Node, path string, dst *time.Duration) {
	if n = d.scalar(n, path, "a duration like 8h"); n == nil {
		return
	}
	v, err := access.ParseDuration(n.Value)
	if err != nil {
		d.problemf(n, path, "%v", err)
		return
	}
	*dst = v
}

// timestamp reads an RFC 3339 time ("2026-01-05T09:00:00Z"), kept in UTC.
func (d *decoder) timestamp(n *yaml.Node, path string, dst *time.Time) {
	if n = d.scalar(n, path, "a time like 2026-01-05T09:00:00Z"); n == nil {
		return
	}
	t, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		d.problemf(n, path, "%q is not a time like 2026-01-05T09:00:00Z (RFC 3339, with a zone)", n.Value)
		return
	}
	*dst = t.UTC()
}

func (d *decoder) strings(n *yaml.Node, path string, dst *[]string) {
	d.list(n, path, func(n *yaml.Node, path string) {
		var s string
		if n := d.scalar(n, path, "a string"); n != nil {
			s = n.Value
		}
		*dst = append(*dst, s)
	})
}

// stringMap decodes a mapping of scalars. Values are never quoted in
// messages: they may be secrets.
func (d *decoder) stringMap(n *yaml.Node, path string, dst *map[string]string) {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problemf(n, path, "must be a mapping of names to strings, not %s", kind(n))
		return
	}
	if *dst == nil {
		*dst = map[string]string{}
	}
	for _, p := range d.pairs(n, path) {
		key := join(path, p.key.Value)
		d.r.index[key] = d.pos(p.key)
		v := d.resolve(p.value)
		switch {
		case v == nil:
		case isNull(v):
			(*dst)[p.key.Value] = ""
		case v.Kind != yaml.ScalarNode:
			d.problemf(v, key, "must be a string, not %s", kind(v))
		default:
			(*dst)[p.key.Value] = v.Value
		}
	}
}

// suggest completes an "unknown key" message with the closest known key,
// or the list of known keys.
func suggest(key string, f fields) string {
	known := make([]string, 0, len(f))
	for k := range f {
		known = append(known, k)
	}
	slices.Sort(known)
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return " (did you mean " + strconv.Quote(best) + "?)"
	}
	return " (known keys: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance between short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
