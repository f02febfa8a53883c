package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// submitBody is the body of POST /requests. Duration is a string ("2h",
// "1d12h"); absent (or null) takes the policy's default duration.
type submitBody struct {
	Entitlements []string `json:"entitlements"`
	Duration     *string  `json:"duration"`
	Reason       string   `json:"reason"`
	Approvers    []string `json:"approvers"`
}

// previewBody is the body of POST /requests/preview.
type previewBody struct {
	Entitlements []string `json:"entitlements"`
	Duration     *string  `json:"duration"`
}

// decideBody is the body of approve (both fields) and reject (comment).
type decideBody struct {
	Comment  string  `json:"comment"`
	Duration *string `json:"duration"`
}

// rejectBody is the body of POST /requests/{id}/reject.
type rejectBody struct {
	Comment string `json:"comment"`
}

// emptyBody is the optional body of actions that take no input.
type emptyBody struct{}

// parseSubmit decodes and validates a POST /requests body. It returns a
// 400 for a body that is not the expected JSON, and a 422 naming every
// invalid field otherwise. On success every entitlement and approver is
// well-formed, the duration is zero or valid, and the reason fits.
func parseSubmit(data []byte) (workflow.SubmitParams, error) {
	var b submitBody
	if err := decodeJSON(data, &b); err != nil {
		return workflow.SubmitParams{}, err
	}
	fields := checkEntitlements(b.Entitlements)
	var d time.Duration
	if b.Duration != nil {
		var err error
		if d, err = access.ParseDuration(*b.Duration); err != nil {
			fields = append(fields, access.FieldError{Field: "duration", Message: err.Error()})
		}
	}
	if len(b.Reason) > workflow.MaxReasonLength {
		fields = append(fields, access.FieldError{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", workflow.MaxReasonLength)})
	}
	if len(b.Approvers) > maxListItems {
		fields = append(fields, access.FieldError{Field: "approvers", Message: fmt.Sprintf("at most %d approvers", maxListItems)})
	} else {
		for i, a := range b.Approvers {
			if !validEmail(a) && !validID(a, maxIDLength) {
				fields = append(fields, access.FieldError{Field: fmt.Sprintf("approvers[%d]", i), Message: "must be a user ID or an email address"})
			}
		}
	}
	if len(fields) > 0 {
		return workflow.SubmitParams{}, access.Invalid("invalid request", fields...)
	}
	return workflow.SubmitParams{Entitlements: b.Entitlements, Duration: d, Reason: b.Reason, Approvers: b.Approvers}, nil
}

// checkEntitlements checks the syntax of a list of entitlement IDs.
func checkEntitlements(ents []string) []access.FieldError {
	switch {
	case len(ents) == 0:
		return []access.FieldError{{Field: "entitlements", Message: "name at least one entitlement"}}
	case len(ents) > maxListItems:
		return []access.FieldError{{Field: "entitlements", Message: fmt.Sprintf("at most %d entitlements per request", maxListItems)}}
	}
	var fields []access.FieldError
	for i, e := range ents {
		if _, _, ok := access.SplitEntitlementID(e); !ok || !validID(e, maxEntitlementLength) {
			fields = append(fields, access.FieldError{Field: fmt.Sprintf("entitlements[%d]", i),
				Message: "must be an entitlement ID like github:write"})
		}
	}
	return fields
}

// createRequest: POST /requests → 201 with the request and a Location.
func (h *handler) createRequest(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := newParams(r).Err(); err != nil {
		return err
	}
	data, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	sp, err := parseSubmit(data)
	if err != nil {
		return err
	}
	req, err := h.svc.Submit(r.Context(), p.User.ID, sp)
	if err != nil {
		return fmt.Errorf("submit request: %w", err)
	}
	w.Header().Set("Location", h.url("/requests/"+req.ID))
	return h.respondRequest(w, r, p, req.ID, http.StatusCreated)
}

// previewRequest: POST /requests/preview → the policy plan.
func (h *handler) previewRequest(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b previewBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	fields := checkEntitlements(b.Entitlements)
	var d time.Duration
	if b.Duration != nil {
		var err error
		if d, err = access.ParseDuration(*b.Duration); err != nil {
			fields = append(fields, access.FieldError{Field: "duration", Message: err.Error()})
		}
	}
	if len(fields) > 0 {
		return access.Invalid("invalid preview", fields...)
	}
	plan, err := h.svc.Preview(r.Context(), p.User.ID, b.Entitlements, d)
	if err != nil {
		return fmt.Errorf("preview request: %w", err)
	}
	return h.writeJSON(w, r, http.StatusOK, renderPlan(plan))
}

// listRequests: GET /requests?state=&requester=&approver=&app=&cursor=&limit=
// Users who are neither admins nor auditors see the requests they made,
// or, with approver=me, the requests they are asked to decide.
func (h *handler) listRequests(w http.ResponseWriter, r *http.Request, p *principal) error {
	ps := newParams(r, "state", "requester", "approver", "app", "cursor", "limit")
	var states []access.RequestState
	for _, s := range ps.list("state") {
		if !slices.Contains(access.RequestStates(), access.RequestState(s)) {
			ps.add("state", fmt.Sprintf("%q is not a request state (%s)", s, joinStates(access.RequestStates())))
			continue
		}
		states = append(states, access.RequestState(s))
	}
	requester, approver := ps.user("requester"), ps.user("approver")
	appID := ps.id("app")
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	requesterID, found1, err := h.resolveUser(ctx, p, requester)
	if err != nil {
		return err
	}
	approverID, found2, err := h.resolveUser(ctx, p, approver)
	if err != nil {
		return err
	}
	if !p.privileged() {
		switch {
		case approver != "" && approverID != p.User.ID:
			return forbidden("you may only list requests you made or are asked to approve (approver=me)")
		case approver == "" && requester != "" && requesterID != p.User.ID:
			return forbidden("you may only list your own requests, or those you are asked to approve (approver=me)")
		case approver == "":
			requesterID, found1 = p.User.ID, true
		}
	}
	out := page[requestJSON]{Items: []requestJSON{}}
	if !found1 || !found2 {
		return h.writeJSON(w, r, http.StatusOK, out)
	}
	reqs, next, err := h.st.RequestList(ctx, store.RequestListParams{Page: pg, States: states,
		RequesterID: requesterID, ApproverID: approverID, AppID: appID})
	if err != nil {
		return fmt.Errorf("list requests: %w", err)
	}
	us := newUsers(h.st)
	if err := us.load(ctx, userIDs(reqs, func(req *access.Request) []string {
		return append([]string{req.RequesterID}, req.Approvers()...)
	})...); err != nil {
		return err
	}
	out.NextCursor = next
	for _, req := range reqs {
		out.Items = append(out.Items, renderRequest(req, us))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

func joinStates[S ~string](states []S) string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// getRequest: GET /requests/{id} with steps, decisions, grants and the
// timeline. Requests the caller may not see are not found.
func (h *handler) getRequest(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	return h.respondRequest(w, r, p, id, http.StatusOK)
}

// respondRequest renders request id as the caller may see it.
func (h *handler) respondRequest(w http.ResponseWriter, r *http.Request, p *principal, id string, status int) error {
	req, grants, err := h.svc.GetRequest(r.Context(), p.User.ID, id)
	if err != nil {
		return fmt.Errorf("get request: %w", err)
	}
	detail, err := h.requestDetail(r.Context(), req, grants)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, status, detail)
}

// approveRequest: POST /requests/{id}/approve {comment, duration}.
func (h *handler) approveRequest(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b decideBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	var d time.Duration
	if b.Duration != nil {
		if d, err = parseDurationField("duration", *b.Duration); err != nil {
			return err
		}
	}
	return h.decide(w, r, p, workflow.DecideParams{RequestID: id, Outcome: access.Approve, Comment: b.Comment, Duration: d})
}

// rejectRequest: POST /requests/{id}/reject {comment}.
func (h *handler) rejectRequest(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b rejectBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	return h.decide(w, r, p, workflow.DecideParams{RequestID: id, Outcome: access.Reject, Comment: b.Comment})
}

func (h *handler) decide(w http.ResponseWriter, r *http.Request, p *principal, dp workflow.DecideParams) error {
	if _, err := h.svc.Decide(r.Context(), p.User.ID, dp); err != nil {
		return fmt.Errorf("decide request: %w", err)
	}
	return h.respondRequest(w, r, p, dp.RequestID, http.StatusOK)
}

// cancelRequest: POST /requests/{id}/cancel (no body, or {}).
func (h *handler) cancelRequest(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if err := decodeBody(w, r, &emptyBody{}, true); err != nil {
		return err
	}
	if _, err := h.svc.Cancel(r.Context(), p.User.ID, id); err != nil {
		return fmt.Errorf("cancel request: %w", err)
	}
	return h.respondRequest(w, r, p, id, http.StatusOK)
}

// remindRequest: POST /requests/{id}/remind (no body, or {}). Too soon
// after the last reminder is a 429 with Retry-After.
func (h *handler) remindRequest(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if err := decodeBody(w, r, &emptyBody{}, true); err != nil {
		return err
	}
	if _, err := h.svc.Remind(r.Context(), p.User.ID, id); err != nil {
		if access.ErrorCode(err) == access.CodeRateLimited {
			return h.withRetryAfter(r.Context(), id, err)
		}
		return fmt.Errorf("remind request: %w", err)
	}
	return h.respondRequest(w, r, p, id, http.StatusOK)
}

// withRetryAfter attaches when the next reminder of request id is allowed.
func (h *handler) withRetryAfter(ctx context.Context, id string, cause error) error {
	req, err := h.st.RequestGetByID(ctx, id, false)
	if err != nil {
		return cause
	}
	after := req.LastRemindedAt.Add(access.ReminderInterval).Sub(h.clock.Now())
	return &retryAfterError{err: cause, after: max(after, time.Second)}
}

// requestJSON is a request as listed.
type requestJSON struct {
	ID                 string    `json:"id"`
	State              string    `json:"state"`
	Requester          userRef   `json:"requester"`
	AppID              string    `json:"app_id"`
	Entitlements       []string  `json:"entitlements"`
	Duration           string    `json:"duration"`
	DurationSeconds    int64     `json:"duration_seconds"`
	MaxDuration        string    `json:"max_duration,omitempty"`
	MaxDurationSeconds int64     `json:"max_duration_seconds"`
	Reason             string    `json:"reason"`
	PolicyID           string    `json:"policy_id"`
	CurrentStep        int       `json:"current_step"`
	AutoApproveRule    string    `json:"auto_approve_rule,omitempty"`
	ExtendsGrantID     string    `json:"extends_grant_id,omitempty"`
	Approvers          []userRef `json:"approvers"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	PendingUntil       time.Time `json:"pending_until"`
	LastRemindedAt     time.Time `json:"last_reminded_at,omitzero"`
	RemindCount        int       `json:"remind_count"`
}

// requestDetailJSON is one request with everything about it.
type requestDetailJSON struct {
	requestJSON
	Steps     []stepJSON     `json:"steps"`
	Decisions []decisionJSON `json:"decisions"`
	Grants    []grantJSON    `json:"grants"`
	Timeline  []eventJSON    `json:"timeline"`
	// TimelineTruncated is true when older events were left out.
	TimelineTruncated bool `json:"timeline_truncated,omitempty"`
}

// Step states in stepJSON.State.
const (
	stepApproved     = "approved"
	stepRejected     = "rejected"
	stepPending      = "pending"       // deciding now
	stepWaiting      = "waiting"       // after the current step
	stepClosed       = "closed"        // never reached: the request ended
	stepAutoApproved = "auto_approved" // a rule approved the request
)

type stepJSON struct {
	Index     int       `json:"index"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Required  int       `json:"required"`
	Approvals int       `json:"approvals"`
	Eligible  []userRef `json:"eligible"`
	Notified  []userRef `json:"notified"`
}

type decisionJSON struct {
	ID              string    `json:"id"`
	Step            int       `json:"step"`
	Approver        userRef   `json:"approver"`
	Outcome         string    `json:"outcome"`
	Comment         string    `json:"comment"`
	Duration        string    `json:"duration,omitempty"`
	DurationSeconds int64     `json:"duration_seconds"`
	CreatedAt       time.Time `json:"created_at"`
}

func renderRequest(req *access.Request, us *users) requestJSON {
	return requestJSON{ID: req.ID, State: string(req.State), Requester: us.ref(req.RequesterID), AppID: req.AppID,
		Entitlements: nonNil(req.EntitlementIDs), Duration: durationText(req.Duration), DurationSeconds: int64(req.Duration.Seconds()),
		MaxDuration: durationText(req.MaxDuration), MaxDurationSeconds: int64(req.MaxDuration.Seconds()),
		Reason: req.Reason, PolicyID: req.PolicyID, CurrentStep: req.CurrentStep, AutoApproveRule: req.AutoApproveRule,
		ExtendsGrantID: req.ExtendsGrantID, Approvers: us.refs(req.Approvers()), CreatedAt: utc(req.CreatedAt), UpdatedAt: utc(req.UpdatedAt),
		PendingUntil: utc(req.PendingUntil), LastRemindedAt: utc(req.LastRemindedAt), RemindCount: req.RemindCount}
}

// stepState says where step i of req stands.
func stepState(req *access.Request, i int) string {
	if slices.ContainsFunc(req.Decisions, func(d access.Decision) bool { return d.Step == i && d.Outcome == access.Reject }) {
		return stepRejected
	}
	if req.AutoApproveRule != "" && len(req.Decisions) == 0 {
		return stepAutoApproved
	}
	if i < req.CurrentStep || req.Approvals(i) >= req.Steps[i].Required {
		return stepApproved
	}
	if req.State == access.RequestPending {
		if i == req.CurrentStep {
			return stepPending
		}
		return stepWaiting
	}
	return stepClosed
}

// requestDetail renders req with its grants and timeline.
func (h *handler) requestDetail(ctx context.Context, req *access.Request, grants []*access.Grant) (requestDetailJSON, error) {
	timeline, truncated, err := h.timeline(ctx, req, grants)
	if err != nil {
		return requestDetailJSON{}, err
	}
	us := newUsers(h.st)
	load := []string{req.RequesterID}
	for _, st := range req.Steps {
		load = append(load, st.Eligible...)
		load = append(load, st.Notified...)
	}
	for _, d := range req.Decisions {
		load = append(load, d.ApproverID)
	}
	for _, g := range grants {
		load = append(load, g.UserID)
	}
	for _, e := range timeline {
		load = append(load, e.ActorID)
	}
	if err := us.load(ctx, load...); err != nil {
		return requestDetailJSON{}, err
	}
	out := requestDetailJSON{requestJSON: renderRequest(req, us), Steps: []stepJSON{}, Decisions: []decisionJSON{},
		Grants: []grantJSON{}, Timeline: []eventJSON{}, TimelineTruncated: truncated}
	for i, st := range req.Steps {
		out.Steps = append(out.Steps, stepJSON{Index: i, Name: st.Name, State: stepState(req, i), Required: st.Required,
			Approvals: req.Approvals(i), Eligible: us.refs(st.Eligible), Notified: us.refs(st.Notified)})
	}
	for _, d := range req.Decisions {
		out.Decisions = append(out.Decisions, decisionJSON{ID: d.ID, Step: d.Step, Approver: us.ref(d.ApproverID),
			Outcome: string(d.Outcome), Comment: d.Comment, Duration: durationText(d.Duration),
			DurationSeconds: int64(d.Duration.Seconds()), CreatedAt: utc(d.CreatedAt)})
	}
	for _, g := range grants {
		out.Grants = append(out.Grants, renderGrant(g, us))
	}
	for _, e := range timeline {
		out.Timeline = append(out.Timeline, renderEvent(e, us, false))
	}
	return out, nil
}

// maxTimeline bounds the events shown per subject of a request.
const maxTimeline = 500

// timeline returns the audit events of req and of its grants, oldest
// first. truncated is true when a subject had more than maxTimeline.
func (h *handler) timeline(ctx context.Context, req *access.Request, grants []*access.Grant) ([]*access.Event, bool, error) {
	type subject struct{ typ, id string }
	subjects := []subject{{"request", req.ID}}
	for _, g := range grants {
		subjects = append(subjects, subject{"grant", g.ID})
	}
	var out []*access.Event
	truncated := false
	for _, s := range subjects {
		evs, next, err := h.st.EventList(ctx, store.EventListParams{Page: store.Page{Limit: maxTimeline},
			SubjectType: s.typ, SubjectID: s.id})
		if err != nil {
			return nil, false, fmt.Errorf("load timeline: %w", err)
		}
		out = append(out, evs...)
		truncated = truncated || next != ""
	}
	slices.SortFunc(out, func(a, b *access.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, truncated, nil
}

// planJSON is a policy plan: what a request for the entitlements would
// need. MaxDuration is omitted (seconds 0) when nothing limits it.
type planJSON struct {
	PolicyID               string         `json:"policy_id"`
	Why                    []string       `json:"why"`
	MaxDuration            string         `json:"max_duration,omitempty"`
	MaxDurationSeconds     int64          `json:"max_duration_seconds"`
	DefaultDuration        string         `json:"default_duration,omitempty"`
	DefaultDurationSeconds int64          `json:"default_duration_seconds"`
	PendingTimeout         string         `json:"pending_timeout"`
	PendingTimeoutSeconds  int64          `json:"pending_timeout_seconds"`
	ReasonRequired         bool           `json:"reason_required"`
	ReasonMinLength        int            `json:"reason_min_length"`
	AutoApprove            bool           `json:"auto_approve"`
	AutoApproveRule        string         `json:"auto_approve_rule,omitempty"`
	Steps                  []planStepJSON `json:"steps"`
}

type planStepJSON struct {
	Name             string         `json:"name"`
	Required         int            `json:"required"`
	RequesterChooses bool           `json:"requester_chooses"`
	Choose           int            `json:"choose"`
	Eligible         []approverJSON `json:"eligible"`
}

// approverJSON is an eligible approver and why they are eligible.
type approverJSON struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func renderPlan(plan *policy.Plan) planJSON {
	out := planJSON{PolicyID: plan.PolicyID, Why: nonNil(plan.Why),
		MaxDuration: durationText(plan.MaxDuration), MaxDurationSeconds: int64(plan.MaxDuration.Seconds()),
		DefaultDuration: durationText(plan.DefaultDuration), DefaultDurationSeconds: int64(plan.DefaultDuration.Seconds()),
		PendingTimeout: durationText(plan.PendingTimeout), PendingTimeoutSeconds: int64(plan.PendingTimeout.Seconds()),
		ReasonRequired: plan.Reason.Required, ReasonMinLength: plan.Reason.MinLength,
		AutoApprove: plan.AutoApproveRule != "", AutoApproveRule: plan.AutoApproveRule, Steps: []planStepJSON{}}
	for _, s := range plan.Steps {
		ps := planStepJSON{Name: s.Name, Required: s.Required, RequesterChooses: s.RequesterChooses, Choose: s.Choose,
			Eligible: []approverJSON{}}
		for _, a := range s.Eligible {
			ps.Eligible = append(ps.Eligible, approverJSON{ID: a.UserID, Email: a.Email, Name: a.Name, Reason: a.Reason})
		}
		out.Steps = append(out.Steps, ps)
	}
	return out
}
