package sqldb

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
)

// The decoders in this file read the JSON columns that every list reads
// (a request's entitlements and steps, a user's groups and roles) in the
// compact form json.Marshal writes them, several times faster than
// encoding/json. Each returns ok false on anything else (whitespace,
// escapes, an unknown or differently cased key, a number with a fraction,
// an unexpected null, malformed input), and jsonCol then decodes with
// encoding/json: what ok true returns is what json.Unmarshal returns for
// the same input (FuzzDecodeSteps and FuzzDecodeStrings check it).

// jsonReader reads s from i on.
type jsonReader struct {
	s string
	i int
}

// eat consumes c if it is next.
func (r *jsonReader) eat(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

// lit consumes lit if it is next.
func (r *jsonReader) lit(lit string) bool {
	if strings.HasPrefix(r.s[r.i:], lit) {
		r.i += len(lit)
		return true
	}
	return false
}

// str reads a string without escapes, which is then a substring of s.
func (r *jsonReader) str() (string, bool) {
	if !r.eat('"') {
		return "", false
	}
	start, ascii := r.i, true
	for ; r.i < len(r.s); r.i++ {
		switch c := r.s[r.i]; {
		case c == '"':
			v := r.s[start:r.i]
			r.i++
			// encoding/json replaces invalid UTF-8 with U+FFFD.
			return v, ascii || utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// int reads an integer of bits bits.
func (r *jsonReader) int(bits int) (int64, bool) {
	start := r.i
	r.eat('-')
	digits := r.i
	for r.i < len(r.s) && '0' <= r.s[r.i] && r.s[r.i] <= '9' {
		r.i++
	}
	if r.i == digits || (r.s[digits] == '0' && r.i-digits > 1) {
		return 0, false
	}
	n, err := strconv.ParseInt(r.s[start:r.i], 10, bits)
	return n, err == nil
}

// bool reads true or false.
func (r *jsonReader) bool() (v, ok bool) {
	switch {
	case r.lit("true"):
		return true, true
	case r.lit("false"):
		return false, true
	}
	return false, false
}

// time reads a time as time.Time's UnmarshalJSON does.
func (r *jsonReader) time() (time.Time, bool) {
	s, ok := r.str()
	if !ok {
		return time.Time{}, false
	}
	var t time.Time
	return t, t.UnmarshalText([]byte(s)) == nil
}

// strs reads an array of strings, or null (nil). An empty array is an
// empty, non-nil slice, as with encoding/json.
func strs[S ~string](r *jsonReader) ([]S, bool) {
	if r.lit("null") {
		return nil, true
	}
	if !r.eat('[') {
		return nil, false
	}
	out := make([]S, 0, 1+strings.Count(r.s[r.i:min(len(r.s), r.i+256)], ","))
	if r.eat(']') {
		return out, true
	}
	for {
		v, ok := r.str()
		if !ok {
			return nil, false
		}
		out = append(out, S(v))
		if r.eat(']') {
			return out, true
		}
		if !r.eat(',') {
			return nil, false
		}
	}
}

// decodeStrings decodes a JSON array of strings (or null).
func decodeStrings[S ~string](s string) ([]S, bool) {
	r := &jsonReader{s: s}
	v, ok := strs[S](r)
	return v, ok && r.i == len(s)
}

// decodeSteps decodes a request's steps column.
func decodeSteps(s string) ([]access.Step, bool) {
	r := &jsonReader{s: s}
	if r.lit("null") {
		return nil, r.i == len(s)
	}
	if !r.eat('[') {
		return nil, false
	}
	out := make([]access.Step, 0, 2)
	if r.eat(']') {
		return out, r.i == len(s)
	}
	for {
		out = append(out, access.Step{})
		if !r.step(&out[len(out)-1]) {
			return nil, false
		}
		if r.eat(']') {
			return out, r.i == len(s)
		}
		if !r.eat(',') {
			return nil, false
		}
	}
}

// stepFields is how many fields of access.Step step decodes.
const stepFields = 8

// step reads one access.Step object into st.
func (r *jsonReader) step(st *access.Step) bool {
	if !r.eat('{') {
		return false
	}
	if r.eat('}') {
		return true
	}
	for {
		key, ok := r.str()
		if !ok || !r.eat(':') {
			return false
		}
		var n int64
		switch key {
		case "name":
			st.Name, ok = r.str()
		case "eligible":
			st.Eligible, ok = strs[string](r)
		case "notified":
			st.Notified, ok = strs[string](r)
		case "required":
			n, ok = r.int(strconv.IntSize)
			st.Required = int(n)
		case "opened_at":
			st.OpenedAt, ok = r.time()
		case "escalate_after":
			n, ok = r.int(64)
			st.EscalateAfter = time.Duration(n)
		case "escalate_to":
			st.EscalateTo, ok = strs[string](r)
		case "escalated":
			st.Escalated, ok = r.bool()
		default:
			return false
		}
		if !ok {
			return false
		}
		if r.eat('}') {
			return true
		}
		if !r.eat(',') {
			return false
		}
	}
}
