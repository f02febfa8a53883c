package findings

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
)

// Limits of the ingestion API.
const (
	// MaxEvents is how many events one ingestion call may carry.
	MaxEvents = 1000
	// MaxEventsBody bounds an ingestion body in bytes.
	MaxEventsBody = 1 << 20
	maxAppName    = 200
	maxDomain     = 253
	maxEmail      = 254
)

// Event is one sighting from a discovery source: an app, and optionally
// an account in it. Source names the source ("email-gateway"); AppName or
// AppDomain (or both) name the app; SeenAt is when it was seen (zero:
// when it arrives).
type Event struct {
	Source       string    `json:"source"`
	AppName      string    `json:"app_name,omitempty"`
	AppDomain    string    `json:"app_domain,omitempty"`
	AccountEmail string    `json:"account_email,omitempty"`
	AccountName  string    `json:"account_name,omitempty"`
	SeenAt       time.Time `json:"seen_at,omitzero"`
}

// Key is the event's app key (see AppKey).
func (e Event) Key() string { return AppKey(e.AppName, e.AppDomain) }

// sourcePattern is what a source name may look like.
var sourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// batch is the body of POST /discovery/events.
type batch struct {
	Events []Event `json:"events"`
}

// ParseEvents reads an ingestion body: either one event object or
// {"events": [...]} with 1 to MaxEvents events. Unknown fields, trailing
// data, and invalid events are errors; a *access.Error of code invalid
// lists every problem as a field ("events[3].app_name"). Emails are
// lowercased, names and domains trimmed; a SeenAt later than now is
// refused (more than a minute ahead), and a zero one becomes now.
func ParseEvents(body []byte, now time.Time) ([]Event, error) {
	if len(body) > MaxEventsBody {
		return nil, access.Invalid(fmt.Sprintf("the body is over %d bytes", MaxEventsBody))
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, access.Invalid("the body must be a JSON object: one event, or {\"events\": [...]}")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return nil, access.Invalid("the body is not valid JSON: " + jsonText(err))
	}
	var events []Event
	prefix := ""
	if _, ok := probe["events"]; ok {
		var b batch
		if err := strictDecode(trimmed, &b); err != nil {
			return nil, err
		}
		events, prefix = b.Events, "events"
	} else {
		var e Event
		if err := strictDecode(trimmed, &e); err != nil {
			return nil, err
		}
		events = []Event{e}
	}
	switch {
	case len(events) == 0:
		return nil, access.Invalid("no events", access.FieldError{Field: "events", Message: "must hold at least one event"})
	case len(events) > MaxEvents:
		return nil, access.Invalid(fmt.Sprintf("too many events: %d (at most %d per call)", len(events), MaxEvents),
			access.FieldError{Field: "events", Message: fmt.Sprintf("at most %d", MaxEvents)})
	}
	var fields []access.FieldError
	for i := range events {
		name := ""
		if prefix != "" {
			name = fmt.Sprintf("%s[%d].", prefix, i)
		}
		fields = append(fields, cleanEvent(&events[i], name, now)...)
	}
	if len(fields) > 0 {
		return nil, access.Invalid(fmt.Sprintf("%d invalid field(s); nothing was stored", len(fields)), fields...)
	}
	return events, nil
}

// cleanEvent normalises e in place and returns its problems, field names
// prefixed with prefix.
func cleanEvent(e *Event, prefix string, now time.Time) []access.FieldError {
	var fs []access.FieldError
	bad := func(field, msg string) { fs = append(fs, access.FieldError{Field: prefix + field, Message: msg}) }
	e.Source = strings.TrimSpace(e.Source)
	e.AppName = strings.Join(strings.Fields(e.AppName), " ")
	e.AppDomain = strings.ToLower(strings.TrimSpace(e.AppDomain))
	e.AccountEmail = strings.ToLower(strings.TrimSpace(e.AccountEmail))
	e.AccountName = strings.Join(strings.Fields(e.AccountName), " ")
	if !sourcePattern.MatchString(e.Source) {
		bad("source", "required: 1 to 64 of a-z, 0-9, '_', '.', '-', starting with a letter or digit")
	}
	for _, f := range []struct {
		field, v string
		max      int
	}{{"app_name", e.AppName, maxAppName}, {"app_domain", e.AppDomain, maxDomain}, {"account_name", e.AccountName, maxAppName}} {
		switch {
		case !utf8.ValidString(f.v):
			bad(f.field, "must be valid UTF-8")
		case len(f.v) > f.max:
			bad(f.field, fmt.Sprintf("at most %d bytes", f.max))
		case strings.ContainsFunc(f.v, isControl):
			bad(f.field, "must not contain control characters")
		}
	}
	switch {
	case e.AppName == "" && e.AppDomain == "":
		bad("app_name", "app_name or app_domain is required")
	case e.AppDomain != "" && NormalizeDomain(e.AppDomain) == "":
		bad("app_domain", "not a domain or URL")
	case e.Key() == "":
		bad("app_name", "must contain a letter or digit")
	}
	if e.AccountEmail != "" {
		a, err := mail.ParseAddress(e.AccountEmail)
		if err != nil || a.Address != e.AccountEmail || len(e.AccountEmail) > maxEmail || a.Name != "" {
			bad("account_email", "not an email address (name@example.com)")
		}
	}
	switch {
	case e.SeenAt.IsZero():
		e.SeenAt = now
	case e.SeenAt.After(now.Add(time.Minute)):
		bad("seen_at", "is in the future")
	}
	e.SeenAt = e.SeenAt.UTC()
	return fs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// strictDecode decodes data into dst refusing unknown fields and trailing
// data, with errors as field errors.
func strictDecode(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return access.Invalid("invalid event JSON: " + jsonText(err))
	}
	if dec.More() {
		return access.Invalid("invalid event JSON: data after the object")
	}
	return nil
}

// jsonText describes a JSON error without echoing large input.
func jsonText(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("%s must be %s", cmp.Or(te.Field, "the value"), te.Type.String())
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
