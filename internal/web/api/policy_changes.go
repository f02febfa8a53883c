package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
)

// maxCommentLength bounds a policy change's comments (characters).
const maxCommentLength = 2000

// policySetJSON is GET /policies: the set in force.
type policySetJSON struct {
	Version int64  `json:"version"`
	Source  string `json:"source"`
	// ChangeID is the policy change that made this version (source api).
	ChangeID  string          `json:"change_id,omitempty"`
	UpdatedBy userRef         `json:"updated_by"`
	UpdatedAt time.Time       `json:"updated_at"`
	Digest    string          `json:"digest"`
	Policies  []policy.Policy `json:"policies"`
}

// policyChangeJSON is a policy change in lists.
type policyChangeJSON struct {
	ID              string    `json:"id"`
	State           string    `json:"state"`
	ProposedBy      userRef   `json:"proposed_by"`
	ProposedAt      time.Time `json:"proposed_at"`
	Comment         string    `json:"comment"`
	BaseVersion     int64     `json:"base_version"`
	DecidedBy       *userRef  `json:"decided_by,omitempty"`
	DecidedAt       time.Time `json:"decided_at,omitzero"`
	DecisionComment string    `json:"decision_comment,omitempty"`
	SelfApproved    bool      `json:"self_approved"`
	AppliedAt       time.Time `json:"applied_at,omitzero"`
	AppliedVersion  int64     `json:"applied_version,omitempty"`
	// Diff has one line per policy added, removed or changed.
	Diff []string `json:"diff"`
}

// policyChangeDetailJSON is one policy change with both sets in full.
type policyChangeDetailJSON struct {
	policyChangeJSON
	Before []policy.Policy `json:"before"`
	After  []policy.Policy `json:"after"`
}

func renderPolicyChange(c *policy.Change, us *users) policyChangeJSON {
	out := policyChangeJSON{ID: c.ID, State: string(c.State), ProposedBy: us.ref(c.ProposedBy), ProposedAt: utc(c.ProposedAt),
		Comment: c.Comment, BaseVersion: c.BaseVersion, DecidedAt: utc(c.DecidedAt), DecisionComment: c.DecisionComment,
		SelfApproved: c.SelfApproved, AppliedAt: utc(c.AppliedAt), AppliedVersion: c.AppliedVersion,
		Diff: policy.Diff(c.Before, c.After)}
	if c.DecidedBy != "" {
		ref := us.ref(c.DecidedBy)
		out.DecidedBy = &ref
	}
	if out.Diff == nil {
		out.Diff = []string{}
	}
	return out
}

func orEmpty(ps []policy.Policy) []policy.Policy {
	if ps == nil {
		return []policy.Policy{}
	}
	return ps
}

// writePolicyChange answers with c in full.
func (h *handler) writePolicyChange(w http.ResponseWriter, r *http.Request, status int, c *policy.Change) error {
	us := newUsers(h.st)
	if err := us.load(r.Context(), c.ProposedBy, c.DecidedBy); err != nil {
		return err
	}
	return h.writeJSON(w, r, status, policyChangeDetailJSON{policyChangeJSON: renderPolicyChange(c, us),
		Before: orEmpty(c.Before), After: orEmpty(c.After)})
}

// requirePolicyReader lets admins and auditors read policies and changes.
func requirePolicyReader(p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may read the approval policies and their changes")
	}
	return nil
}

// getPolicies: GET /policies returns the policy set in force and its
// version (admins and auditors).
func (h *handler) getPolicies(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if err := requirePolicyReader(p); err != nil {
		return err
	}
	set, err := h.svc.ActivePolicies(r.Context())
	if err != nil {
		return fmt.Errorf("active policies: %w", err)
	}
	us := newUsers(h.st)
	if err := us.load(r.Context(), set.UpdatedBy); err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, policySetJSON{Version: set.Version, Source: set.Source, ChangeID: set.ChangeID,
		UpdatedBy: us.ref(set.UpdatedBy), UpdatedAt: utc(set.UpdatedAt), Digest: set.Digest, Policies: orEmpty(set.Policies)})
}

// policyChangeStates are the states a list may filter on.
func policyChangeStates() []policy.ChangeState {
	return []policy.ChangeState{policy.ChangeProposed, policy.ChangeApproved, policy.ChangeRejected, policy.ChangeApplied}
}

// listPolicyChanges: GET /policies/changes?state=&cursor=&limit= lists
// changes newest first, without their sets (admins and auditors).
func (h *handler) listPolicyChanges(w http.ResponseWriter, r *http.Request, p *principal) error {
	ps := newParams(r, "state", "cursor", "limit")
	var states []string
	known := policyChangeStates()
	for _, s := range ps.list("state") {
		if !slices.Contains(known, policy.ChangeState(s)) {
			ps.add("state", fmt.Sprintf("%q is not a policy change state (%s)", s, joinStates(known)))
			continue
		}
		states = append(states, s)
	}
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	if err := requirePolicyReader(p); err != nil {
		return err
	}
	changes, next, err := h.svc.ListPolicyChanges(r.Context(), store.PolicyChangeListParams{Page: pg, States: states})
	if err != nil {
		return fmt.Errorf("list policy changes: %w", err)
	}
	us := newUsers(h.st)
	if err := us.load(r.Context(), userIDs(changes, func(c *policy.Change) []string { return []string{c.ProposedBy, c.DecidedBy} })...); err != nil {
		return err
	}
	out := page[policyChangeJSON]{Items: make([]policyChangeJSON, 0, len(changes)), NextCursor: next}
	for _, c := range changes {
		out.Items = append(out.Items, renderPolicyChange(c, us))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// getPolicyChange: GET /policies/changes/{id} returns a change with the
// set before and after in full and a diff (admins and auditors).
func (h *handler) getPolicyChange(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if err := requirePolicyReader(p); err != nil {
		return err
	}
	c, err := h.svc.GetPolicyChange(r.Context(), id)
	if err != nil {
		return fmt.Errorf("get policy change: %w", err)
	}
	return h.writePolicyChange(w, r, http.StatusOK, c)
}

// proposeBody is POST /policies/changes's body. Policies stay raw so that
// each one's decoding problem is reported at its index.
type proposeBody struct {
	Policies json.RawMessage `json:"policies"`
	Comment  string          `json:"comment"`
}

// decodePolicies reads the policies of a proposal: a JSON array of
// policies in the file's format (docs/policies.md), strictly.
func decodePolicies(raw json.RawMessage) ([]policy.Policy, []access.FieldError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, []access.FieldError{{Field: "policies", Message: "is required: the whole new set of policies"}}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, []access.FieldError{{Field: "policies", Message: "must be an array of policies"}}
	}
	out := make([]policy.Policy, len(items))
	var fields []access.FieldError
	for i, item := range items {
		if err := json.Unmarshal(item, &out[i]); err != nil {
			fields = append(fields, access.FieldError{Field: fmt.Sprintf("policies[%d]", i), Message: err.Error()})
		}
	}
	return out, fields
}

// checkComment bounds a comment field.
func checkComment(field, s string) []access.FieldError {
	if utf8.RuneCountInString(s) > maxCommentLength {
		return []access.FieldError{{Field: field, Message: fmt.Sprintf("must be at most %d characters", maxCommentLength)}}
	}
	return nil
}

// proposePolicyChange: POST /policies/changes {policies, comment}
// proposes a whole new policy set (admins). 201 with the change: proposed
// when the two-person rule is on, applied (in force at once) when off.
// Invalid policies are a 422 with one error per problem, its field the
// problem's path ("policies[1].match.condition").
func (h *handler) proposePolicyChange(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b proposeBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	policies, fields := decodePolicies(b.Policies)
	fields = append(fields, checkComment("comment", b.Comment)...)
	if len(fields) > 0 {
		return access.Invalid("invalid policies", fields...)
	}
	c, err := h.svc.ProposePolicyChange(r.Context(), p.User.ID, policies, b.Comment, h.twoPersonRule)
	if err != nil {
		return fmt.Errorf("propose policy change: %w", err)
	}
	w.Header().Set("Location", h.url("/policies/changes/"+c.ID))
	return h.writePolicyChange(w, r, http.StatusCreated, c)
}

// decisionBody is the optional body of approve and reject.
type decisionBody struct {
	Comment string `json:"comment"`
}

// readDecision reads the {id} and the optional {comment} body.
func readDecision(w http.ResponseWriter, r *http.Request) (string, string, error) {
	id, err := pathID(r)
	if err != nil {
		return "", "", err
	}
	if err := newParams(r).Err(); err != nil {
		return "", "", err
	}
	var b decisionBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return "", "", err
	}
	if fields := checkComment("comment", b.Comment); len(fields) > 0 {
		return "", "", access.Invalid("invalid decision", fields...)
	}
	return id, b.Comment, nil
}

// approvePolicyChange: POST /policies/changes/{id}/approve {comment}
// approves a proposed change as a second admin and applies it: 403 for
// its proposer, 409 when the policies changed since it was proposed (or it
// is no longer proposed).
func (h *handler) approvePolicyChange(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, comment, err := readDecision(w, r)
	if err != nil {
		return err
	}
	c, err := h.svc.ApprovePolicyChange(r.Context(), p.User.ID, id, comment)
	if err != nil {
		return fmt.Errorf("approve policy change: %w", err)
	}
	return h.writePolicyChange(w, r, http.StatusOK, c)
}

// rejectPolicyChange: POST /policies/changes/{id}/reject {comment}
// rejects a proposed change (admins; the proposer withdraws their own).
func (h *handler) rejectPolicyChange(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, comment, err := readDecision(w, r)
	if err != nil {
		return err
	}
	c, err := h.svc.RejectPolicyChange(r.Context(), p.User.ID, id, comment)
	if err != nil {
		return fmt.Errorf("reject policy change: %w", err)
	}
	return h.writePolicyChange(w, r, http.StatusOK, c)
}
