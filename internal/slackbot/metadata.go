package slackbot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// Modal kinds, stored in private_metadata and used as callback_id.
const (
	kindRequest = "request"
	kindDecide  = "decide"
	kindExtend  = "extend"
	kindNotice  = "notice"
)

// meta is a view's private_metadata: which form it is and what it is about.
// It comes back from Slack with every interaction. It is validated on every
// use and never trusted for authorization: the workflow checks what the
// user may do, and U must be the user who sends the interaction.
type meta struct {
	V int    `json:"v"`
	K string `json:"k"`
	// U is the Slack user the view was opened for.
	U string `json:"u"`
	// App is the chosen app (request form).
	App string `json:"app,omitempty"`
	// Ent are entitlements to preselect (a prefilled request).
	Ent []string `json:"ent,omitempty"`
	// Req is the request decided (decide form).
	Req string `json:"req,omitempty"`
	// Out is the outcome chosen: approve or reject (decide form).
	Out string `json:"out,omitempty"`
	// Grt is the grant extended (extend form).
	Grt string `json:"grt,omitempty"`
	// Ch and TS locate the message the form was opened from.
	Ch string `json:"ch,omitempty"`
	TS string `json:"ts,omitempty"`
}

const metaVersion = 1

// maxPrivateMetadata is Slack's limit on private_metadata.
const maxPrivateMetadata = 3000

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$`)
	slackIDPattern = regexp.MustCompile(`^[UWBCDG][A-Z0-9]{1,30}$`)
	tsPattern      = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,9}$`)
)

// ErrBadMetadata is returned for private_metadata that does not parse or
// fails validation (a crafted or corrupted payload).
var ErrBadMetadata = errors.New("invalid private_metadata")

// encodeMeta serializes m. It cannot fail for the values the bot builds.
func encodeMeta(m meta) string {
	m.V = metaVersion
	b, err := json.Marshal(m)
	if err != nil {
		return "" // unreachable: meta has only strings and ints
	}
	return string(b)
}

// decodeMeta parses and validates private_metadata.
func decodeMeta(s string) (meta, error) {
	var m meta
	if len(s) == 0 || len(s) > maxPrivateMetadata {
		return m, fmt.Errorf("%w: empty or longer than %d", ErrBadMetadata, maxPrivateMetadata)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return meta{}, fmt.Errorf("%w: %w", ErrBadMetadata, err)
	}
	if dec.More() {
		return meta{}, fmt.Errorf("%w: trailing data", ErrBadMetadata)
	}
	if err := m.validate(); err != nil {
		return meta{}, err
	}
	return m, nil
}

func (m meta) validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrBadMetadata, what) }
	if m.V != metaVersion {
		return bad("unknown version")
	}
	if !slices.Contains([]string{kindRequest, kindDecide, kindExtend, kindNotice}, m.K) {
		return bad("unknown kind")
	}
	if !slackIDPattern.MatchString(m.U) {
		return bad("user")
	}
	for _, id := range append([]string{m.App, m.Req, m.Grt}, m.Ent...) {
		if id != "" && !idPattern.MatchString(id) {
			return bad("id")
		}
	}
	if len(m.Ent) > 20 {
		return bad("too many entitlements")
	}
	if m.Out != "" && m.Out != "approve" && m.Out != "reject" {
		return bad("outcome")
	}
	if m.Ch != "" && !slackIDPattern.MatchString(m.Ch) {
		return bad("channel")
	}
	if m.TS != "" && !tsPattern.MatchString(m.TS) {
		return bad("ts")
	}
	switch m.K {
	case kindDecide:
		if m.Req == "" || m.Out == "" {
			return bad("decide form without request or outcome")
		}
	case kindExtend:
		if m.Grt == "" {
			return bad("extend form without grant")
		}
	}
	return nil
}
