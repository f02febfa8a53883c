package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sesame-access/sesame/internal/access"
)

// MaxBodyBytes bounds a request body; larger bodies are refused with 413.
const MaxBodyBytes = 64 << 10

// Input bounds.
const (
	maxIDLength          = 64
	maxEntitlementLength = 128
	maxEmailLength       = 254
	maxCursorLength      = 512
	maxQueryLength       = 100
	maxListItems         = 20
)

// badRequest is a 400 problem about the body or the query string.
func badRequest(detail string, fields ...access.FieldError) error {
	return &httpError{status: http.StatusBadRequest, code: "bad_request", detail: detail, fields: fields}
}

// readBody reads a JSON request body of at most MaxBodyBytes. An empty
// body is nil when optional, a 400 otherwise. A non-empty body must be
// declared application/json.
func readBody(w http.ResponseWriter, r *http.Request, optional bool) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large",
				detail: fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes)}
		}
		return nil, badRequest("could not read the request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil, nil
		}
		return nil, badRequest("a JSON request body is required")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, &httpError{status: http.StatusBadRequest, code: "bad_request",
			detail: "the request body must be sent with Content-Type: application/json"}
	}
	return data, nil
}

// decodeBody reads and strictly decodes the body into dst (see
// decodeJSON). An optional empty body leaves dst unchanged.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	data, err := readBody(w, r, optional)
	if err != nil || data == nil {
		return err
	}
	return decodeJSON(data, dst)
}

// decodeJSON decodes one JSON object into dst: unknown fields, a value of
// the wrong type, trailing data and anything but an object are 400
// errors naming the field where possible.
func decodeJSON(data []byte, dst any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return badRequest("the request body has data after the JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest(fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends too early")
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return badRequest("a field has the wrong type",
			access.FieldError{Field: field, Message: "must be " + jsonKind(te.Type.Kind().String()) + ", not " + te.Value})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest("the request body has an unknown field",
			access.FieldError{Field: name, Message: "is not a known field"})
	}
	return badRequest("malformed JSON: " + err.Error())
}

// jsonKind names a Go kind the way a JSON user would.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return "another type"
}

// validID reports whether s can be an identifier: 1 to maxLen characters
// among letters, digits and _ - . : (IDs, app slugs, entitlement IDs).
func validID(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == ':':
		default:
			return false
		}
	}
	return true
}

// validEmail is a light syntax check: something@something, no spaces or
// control characters, at most 254 bytes.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && len(s) <= maxEmailLength &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// pathID returns the {id} path value, or a 422 when it cannot be an ID.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !validID(id, maxIDLength) {
		return "", access.Invalid("invalid id", access.FieldError{Field: "id",
			Message: fmt.Sprintf("must be 1 to %d letters, digits or _ - . :", maxIDLength)})
	}
	return id, nil
}

// params reads and validates query parameters, collecting every problem;
// Err reports them together as one 422.
type params struct {
	v      url.Values
	fields []access.FieldError
}

// newParams checks that every parameter in r's query is among allowed.
func newParams(r *http.Request, allowed ...string) *params {
	p := &params{v: r.URL.Query()}
	keys := make([]string, 0, len(p.v))
	for k := range p.v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			p.add(k, "is not a known parameter (known: "+strings.Join(allowed, ", ")+")")
		}
	}
	return p
}

func (p *params) add(field, msg string) {
	p.fields = append(p.fields, access.FieldError{Field: field, Message: msg})
}

// one returns the single value of name ("" when absent); a repeated
// parameter is an error.
func (p *params) one(name string) string {
	vs := p.v[name]
	if len(vs) > 1 {
		p.add(name, "must be given at most once")
	}
	if len(vs) == 0 {
		return ""
	}
	return strings.TrimSpace(vs[0])
}

// list returns the values of a parameter given repeatedly or as a comma
// list, empty items dropped.
func (p *params) list(name string) []string {
	var out []string
	for _, v := range p.v[name] {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" && !slices.Contains(out, item) {
				out = append(out, item)
			}
		}
	}
	return out
}

// id returns an optional ID parameter.
func (p *params) id(name string) string {
	v := p.one(name)
	if v != "" && !validID(v, maxIDLength) {
		p.add(name, fmt.Sprintf("must be 1 to %d letters, digits or _ - . :", maxIDLength))
		return ""
	}
	return v
}

// user returns an optional user reference: "me", a user ID or an email.
func (p *params) user(name string) string {
	v := p.one(name)
	if v == "" || v == "me" {
		return v
	}
	if strings.Contains(v, "@") {
		if !validEmail(v) {
			p.add(name, "must be me, a user ID or an email address")
			return ""
		}
		return strings.ToLower(v)
	}
	if !validID(v, maxIDLength) {
		p.add(name, "must be me, a user ID or an email address")
		return ""
	}
	return v
}

// limit returns the page size: 1 to 500, default 50.
func (p *params) limit() int {
	v := p.one("limit")
	if v == "" {
		return 50
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		p.add("limit", "must be a whole number from 1 to 500")
		return 50
	}
	return n
}

// cursor returns the page cursor: the next_cursor of a previous page. The
// store rejects one it did not make.
func (p *params) cursor() string {
	v := p.one("cursor")
	if len(v) > maxCursorLength || strings.ContainsFunc(v, func(r rune) bool { return !isBase64URL(r) }) {
		p.add("cursor", "not a cursor from a previous page")
		return ""
	}
	return v
}

// isBase64URL reports whether r is in the unpadded base64url alphabet.
func isBase64URL(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// time returns an optional RFC 3339 time parameter.
func (p *params) time(name string) time.Time {
	v := p.one(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.add(name, "must be an RFC 3339 time like 2025-01-02T15:04:05Z")
		return time.Time{}
	}
	return t.UTC()
}

// bool returns an optional true/false parameter.
func (p *params) bool(name string) bool {
	v := p.one(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.add(name, "must be true or false")
	}
	return b
}

// text returns an optional free-text parameter of at most maxLen bytes.
func (p *params) text(name string, maxLen int) string {
	v := p.one(name)
	if len(v) > maxLen || strings.ContainsFunc(v, unicode.IsControl) {
		p.add(name, fmt.Sprintf("must be at most %d characters without control characters", maxLen))
		return ""
	}
	return v
}

// Err returns every problem found as one CodeInvalid error, or nil.
func (p *params) Err() error {
	if len(p.fields) == 0 {
		return nil
	}
	return access.Invalid("invalid query parameters", p.fields...)
}

// parseDurationField parses a duration given as a string ("2h", "1d"),
// reporting problems on field.
func parseDurationField(field, s string) (time.Duration, error) {
	d, err := access.ParseDuration(s)
	if err != nil {
		return 0, access.Invalid("invalid "+field, access.FieldError{Field: field, Message: err.Error()})
	}
	return d, nil
}
