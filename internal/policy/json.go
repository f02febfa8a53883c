package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// Policies travel as JSON in the API and in the store with the YAML file's
// keys and its duration format ("30m", "8h", "1d"), so that one document
// can move between the two. Decoding is strict: unknown keys and numbers
// for durations are errors.

// jsonDuration is a time.Duration written as access.FormatDuration text.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(access.FormatDuration(time.Duration(d)))
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is text like \"8h\", not %s", b)
	}
	v, err := access.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

// strict decodes b into v, refusing unknown keys.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// MarshalJSON writes p with durations as text.
func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	return json.Marshal(struct {
		plain
		MaxDuration     jsonDuration `json:"max_duration,omitempty"`
		DefaultDuration jsonDuration `json:"default_duration,omitempty"`
		PendingTimeout  jsonDuration `json:"pending_timeout,omitempty"`
	}{plain(p), jsonDuration(p.MaxDuration), jsonDuration(p.DefaultDuration), jsonDuration(p.PendingTimeout)})
}

// UnmarshalJSON reads what MarshalJSON writes; unknown keys are errors.
func (p *Policy) UnmarshalJSON(b []byte) error {
	type plain Policy
	v := struct {
		*plain
		MaxDuration     jsonDuration `json:"max_duration,omitempty"`
		DefaultDuration jsonDuration `json:"default_duration,omitempty"`
		PendingTimeout  jsonDuration `json:"pending_timeout,omitempty"`
	}{plain: (*plain)(p)}
	if err := strict(b, &v); err != nil {
		return err
	}
	p.MaxDuration, p.DefaultDuration, p.PendingTimeout = time.Duration(v.MaxDuration), time.Duration(v.DefaultDuration), time.Duration(v.PendingTimeout)
	return nil
}

// MarshalJSON writes s with escalate_after as text.
func (s StepRule) MarshalJSON() ([]byte, error) {
	type plain StepRule
	return json.Marshal(struct {
		plain
		EscalateAfter jsonDuration `json:"escalate_after,omitempty"`
	}{plain(s), jsonDuration(s.EscalateAfter)})
}

// UnmarshalJSON reads what MarshalJSON writes; unknown keys are errors.
func (s *StepRule) UnmarshalJSON(b []byte) error {
	type plain StepRule
	v := struct {
		*plain
		EscalateAfter jsonDuration `json:"escalate_after,omitempty"`
	}{plain: (*plain)(s)}
	if err := strict(b, &v); err != nil {
		return err
	}
	s.EscalateAfter = time.Duration(v.EscalateAfter)
	return nil
}

// MarshalJSON writes r with durations as text.
func (r Reminders) MarshalJSON() ([]byte, error) {
	type plain Reminders
	return json.Marshal(struct {
		plain
		After jsonDuration `json:"after,omitempty"`
		Every jsonDuration `json:"every,omitempty"`
	}{plain(r), jsonDuration(r.After), jsonDuration(r.Every)})
}

// UnmarshalJSON reads what MarshalJSON writes; unknown keys are errors.
func (r *Reminders) UnmarshalJSON(b []byte) error {
	type plain Reminders
	v := struct {
		*plain
		After jsonDuration `json:"after,omitempty"`
		Every jsonDuration `json:"every,omitempty"`
	}{plain: (*plain)(r)}
	if err := strict(b, &v); err != nil {
		return err
	}
	r.After, r.Every = time.Duration(v.After), time.Duration(v.Every)
	return nil
}

// UnmarshalJSON refuses unknown keys.
func (m *Match) UnmarshalJSON(b []byte) error {
	type plain Match
	return strict(b, (*plain)(m))
}

// UnmarshalJSON refuses unknown keys.
func (a *ApproverRule) UnmarshalJSON(b []byte) error {
	type plain ApproverRule
	return strict(b, (*plain)(a))
}

// UnmarshalJSON refuses unknown keys.
func (r *ReasonRule) UnmarshalJSON(b []byte) error {
	type plain ReasonRule
	return strict(b, (*plain)(r))
}

// UnmarshalJSON refuses unknown keys.
func (r *AutoApproveRule) UnmarshalJSON(b []byte) error {
	type plain AutoApproveRule
	return strict(b, (*plain)(r))
}

// MarshalJSON writes r with auto_within as text.
func (r ExtensionRule) MarshalJSON() ([]byte, error) {
	type plain ExtensionRule
	return json.Marshal(struct {
		plain
		AutoWithin jsonDuration `json:"auto_within,omitempty"`
	}{plain(r), jsonDuration(r.AutoWithin)})
}

// UnmarshalJSON reads what MarshalJSON writes; unknown keys are errors.
func (r *ExtensionRule) UnmarshalJSON(b []byte) error {
	type plain ExtensionRule
	v := struct {
		*plain
		AutoWithin jsonDuration `json:"auto_within,omitempty"`
	}{plain: (*plain)(r)}
	if err := strict(b, &v); err != nil {
		return err
	}
	r.AutoWithin = time.Duration(v.AutoWithin)
	return nil
}
