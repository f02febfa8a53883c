package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	// The rotation and condition time zones load from the embedded
	// database when the host has none (a scratch container).
	_ "time/tzdata"
)

// Rotation is an on-call schedule from the config file: its members take
// turns, one shift each, in the order listed.
//
// Shift 0 starts at Start. Every following shift starts at Handoff (local
// time in Timezone) every day (daily) or every seventh day (weekly) counted
// from Start's local date; shift k belongs to Members[k mod len(Members)].
// Nobody is on call before Start. Who is on call at an instant is computed
// from these fields alone (OnCallAt), so every replica agrees.
type Rotation struct {
	// ID is a slug, referred to by approvers.oncall and the CEL oncall list.
	ID string `json:"id" yaml:"id"`
	// Timezone is an IANA name ("Europe/Paris"); default UTC.
	Timezone string `json:"timezone,omitempty" yaml:"timezone"`
	// Members are emails, in shift order.
	Members []string `json:"members" yaml:"members"`
	// Period is "daily" or "weekly" (YAML key rotation).
	Period string `json:"rotation" yaml:"rotation"`
	// Start is when shift 0 begins (RFC 3339 in the file).
	Start time.Time `json:"start" yaml:"start"`
	// Handoff is the local time of day shifts change, "HH:MM" (24 h);
	// default Start's local time of day.
	Handoff string `json:"handoff,omitempty" yaml:"handoff"`
}

// Rotation periods.
const (
	RotationDaily  = "daily"
	RotationWeekly = "weekly"
)

var (
	slugRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	handoffRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// rotation is a validated Rotation, ready to answer who is on call.
type rotation struct {
	Rotation
	loc     *time.Location
	days    int // shift length in days
	handoff int // minutes after local midnight
}

// compileRotations validates rs and reports problems at "oncall[i]...".
// An invalid rotation maps to nil: references to it are not problems of
// their own.
func compileRotations(rs []Rotation, add func(path, format string, args ...any)) map[string]*rotation {
	out := make(map[string]*rotation, len(rs))
	for i, r := range rs {
		p := fmt.Sprintf("oncall[%d]", i)
		ok := true
		bad := func(path, format string, args ...any) {
			add(p+path, format, args...)
			ok = false
		}
		switch {
		case !slugRE.MatchString(r.ID):
			bad(".id", "%q is not an id: lowercase letters, digits and dashes", r.ID)
		case hasKey(out, r.ID):
			bad(".id", "%q is used twice", r.ID)
		}
		loc := time.UTC
		if r.Timezone != "" {
			l, err := loadZone(r.Timezone)
			if err != nil {
				bad(".timezone", "%q is not a time zone name like Europe/Paris", r.Timezone)
			} else {
				loc = l
			}
		}
		if len(r.Members) == 0 {
			bad(".members", "at least one member is required")
		}
		for j, m := range r.Members {
			if strings.TrimSpace(m) == "" {
				bad(fmt.Sprintf(".members[%d]", j), "must be an email")
			}
		}
		days := 0
		switch r.Period {
		case RotationDaily:
			days = 1
		case RotationWeekly:
			days = 7
		default:
			bad(".rotation", "%q is not daily or weekly", r.Period)
		}
		if r.Start.IsZero() {
			bad(".start", "is required: when the first shift starts, like 2026-01-05T09:00:00Z")
		}
		local := r.Start.In(loc)
		handoff := local.Hour()*60 + local.Minute()
		if r.Handoff != "" {
			m := handoffRE.FindStringSubmatch(r.Handoff)
			if m == nil {
				bad(".handoff", "%q is not a time of day like 09:00", r.Handoff)
			} else {
				h, _ := strconv.Atoi(m[1])      //nolint:errcheck // two digits, matched above
				minute, _ := strconv.Atoi(m[2]) //nolint:errcheck // two digits, matched above
				handoff = h*60 + minute
			}
		}
		if ok {
			out[r.ID] = &rotation{Rotation: r, loc: loc, days: days, handoff: handoff}
		} else if !hasKey(out, r.ID) {
			out[r.ID] = nil
		}
	}
	return out
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// loadZone loads an IANA zone; "UTC" and "" are UTC. "Local" is refused:
// it would make evaluation depend on the host.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if name == "Local" || strings.ContainsAny(name, "\x00\n") {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
}

// civilDay numbers the local date of t (days since 1970-01-01).
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// shift returns the index of the shift under way at now, or false before
// Start.
func (r *rotation) shift(now time.Time) (int64, bool) {
	if now.Before(r.Start) {
		return 0, false
	}
	local := now.In(r.loc)
	y, m, d := local.Date()
	days := civilDay(local) - civilDay(r.Start.In(r.loc))
	if now.Before(time.Date(y, m, d, r.handoff/60, r.handoff%60, 0, 0, r.loc)) {
		days-- // today's handoff has not happened yet
	}
	k := days / int64(r.days)
	if days < 0 {
		k = 0 // still in shift 0, which began at Start
	}
	return k, true
}

// onCall returns the member on call at now, or "" before Start.
func (r *rotation) onCall(now time.Time) string {
	k, ok := r.shift(now)
	if !ok {
		return ""
	}
	return r.Members[k%int64(len(r.Members))]
}

// OnCallAt returns the email of the member of r on call at now, or ""
// when nobody is (before Start, or r is invalid).
func (r Rotation) OnCallAt(now time.Time) string {
	var problems int
	rs := compileRotations([]Rotation{r}, func(string, string, ...any) { problems++ })
	if problems > 0 || rs[r.ID] == nil {
		return ""
	}
	return rs[r.ID].onCall(now)
}
