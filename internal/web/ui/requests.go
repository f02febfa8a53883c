package ui

import (
	"cmp"
	"encoding/json"
	"errors"
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

func requestPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/apps.json", Handle: (*Handler).appsJSON},
		{Method: http.MethodGet, Path: "/requests", Nav: "requests", Handle: (*Handler).requests},
		{Method: http.MethodGet, Path: "/requests/new", Nav: "new", Handle: (*Handler).newRequest},
		{Method: http.MethodPost, Path: "/requests", Nav: "new", Handle: (*Handler).submitRequest},
		{Method: http.MethodPost, Path: "/requests/new", Nav: "new", Handle: (*Handler).recheckRequest},
		{Method: http.MethodGet, Path: "/requests/{id}", Nav: "requests", Handle: (*Handler).request},
		{Method: http.MethodPost, Path: "/requests/{id}/decide", Handle: (*Handler).decide},
		{Method: http.MethodPost, Path: "/requests/{id}/cancel", Handle: (*Handler).cancel},
		{Method: http.MethodPost, Path: "/requests/{id}/remind", Handle: (*Handler).remind},
		{Method: http.MethodGet, Path: "/approvals", Nav: "approvals", Handle: (*Handler).approvals},
		{Method: http.MethodPost, Path: "/approvals", Nav: "approvals", Handle: (*Handler).bulkDecide},
	}
}

// appsJSON answers the type-ahead: up to 10 apps matching q.
func (h *Handler) appsJSON(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 100 {
		q = q[:100]
	}
	apps, _, err := h.st.AppList(r.Context(), store.AppListParams{Page: store.Page{Limit: 10}, Query: q})
	if err != nil {
		return err
	}
	type item struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	out := make([]item, 0, len(apps))
	for _, a := range apps {
		out = append(out, item{ID: a.ID, Name: a.Name})
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(out)
}

type requestsView struct {
	Requests []*access.Request
	State    string
	Scope    string
	Next     string
	States   []access.RequestState
}

func (h *Handler) requests(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := store.RequestListParams{Page: store.Page{Cursor: q.Get("cursor"), Limit: 50}}
	v := requestsView{State: q.Get("state"), Scope: q.Get("scope"), States: access.RequestStates()}
	if v.State != "" {
		if !slices.Contains(v.States, access.RequestState(v.State)) {
			return access.Invalid("bad filter", access.FieldError{Field: "state", Message: "unknown state"})
		}
		p.States = []access.RequestState{access.RequestState(v.State)}
	}
	switch {
	case v.Scope == "all" && c.Privileged():
	case v.Scope == "approver":
		p.ApproverID = c.User.ID
	default:
		v.Scope = "mine"
		p.RequesterID = c.User.ID
	}
	list, next, err := h.st.RequestList(r.Context(), p)
	if err != nil {
		return err
	}
	v.Requests, v.Next = list, next
	if err := c.preloadRows(list, nil); err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "requests", v)
}

type newRequestView struct {
	Query        string
	Apps         []*access.App
	App          *access.App
	Entitlements []*access.Entitlement
	Selected     []string
	Duration     string
	Reason       string
	Approvers    []string
	Plan         *policy.Plan
	PlanErr      string
	Errors       []access.FieldError
	Message      string
}

// newRequest is the request form. Without ?app it searches apps (the
// no-JS path of the type-ahead); with ?app it shows the entitlements and
// the policy's plan for the selected ones.
func (h *Handler) newRequest(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := &newRequestView{Query: strings.TrimSpace(q.Get("q")), Selected: q["ent"], Duration: q.Get("duration"), Reason: q.Get("reason"), Approvers: q["approver"]}
	if q.Get("app") == "" {
		if v.Query != "" {
			apps, _, err := h.st.AppList(r.Context(), store.AppListParams{Page: store.Page{Limit: 20}, Query: v.Query})
			if err != nil {
				return err
			}
			v.Apps = apps
		}
		return c.Render(w, http.StatusOK, "newrequest", v)
	}
	if err := h.fillRequestForm(c, v, q.Get("app")); err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "newrequest", v)
}

// fillRequestForm loads the app, its requestable entitlements and the plan.
func (h *Handler) fillRequestForm(c *Ctx, v *newRequestView, appID string) error {
	ctx := c.R.Context()
	app, err := h.st.AppGetByID(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return access.Errorf(access.CodeNotFound, "app %s not found", appID)
	}
	if err != nil {
		return err
	}
	ents, err := h.st.EntitlementListByApp(ctx, app.ID)
	if err != nil {
		return err
	}
	v.App = app
	for _, e := range ents {
		if e.Requestable {
			v.Entitlements = append(v.Entitlements, e)
		}
	}
	if len(v.Selected) == 0 && len(v.Entitlements) > 0 {
		// Preselect the least risky entitlement: the plan shown is then
		// the mildest one, and the person opts into more.
		least := v.Entitlements[0]
		for _, e := range v.Entitlements[1:] {
			if riskRank(e.Risk) < riskRank(least.Risk) {
				least = e
			}
		}
		v.Selected = []string{least.ID}
	}
	d, _ := parseOptionalDuration(v.Duration) //nolint:errcheck // a bad duration is reported at submit; the plan uses the default
	plan, err := h.svc.Preview(ctx, c.User.ID, v.Selected, d)
	if err != nil {
		if ae, ok := errors.AsType[*access.Error](err); ok {
			v.PlanErr = ae.Error()
			return nil
		}
		return err
	}
	v.Plan = plan
	return nil
}

func parseOptionalDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	return access.ParseDuration(s)
}

// recheckRequest re-renders the form with the policy's plan for what is
// filled in (a POST, so that the CSRF token stays out of URLs).
func (h *Handler) recheckRequest(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	v := &newRequestView{Selected: f["ent"], Duration: f.Get("duration"), Reason: f.Get("reason"), Approvers: f["approver"]}
	if err := h.fillRequestForm(c, v, f.Get("app")); err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "newrequest", v)
}

func (h *Handler) submitRequest(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	v := &newRequestView{Selected: f["ent"], Duration: f.Get("duration"), Reason: f.Get("reason"), Approvers: f["approver"]}
	d, err := parseOptionalDuration(v.Duration)
	if err != nil {
		v.Errors = append(v.Errors, access.FieldError{Field: "duration", Message: err.Error()})
	}
	if len(v.Reason) > workflow.MaxReasonLength {
		v.Errors = append(v.Errors, access.FieldError{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", workflow.MaxReasonLength)})
	}
	if len(v.Errors) == 0 {
		req, err := h.svc.Submit(r.Context(), c.User.ID, workflow.SubmitParams{Entitlements: v.Selected, Duration: d, Reason: v.Reason, Approvers: v.Approvers})
		if err == nil {
			return c.Done(w, "/requests/"+req.ID, "Request "+req.ID+" submitted.")
		}
		ae, ok := errors.AsType[*access.Error](err)
		if !ok || statusFor(ae.Code) == http.StatusInternalServerError {
			return err
		}
		v.Message, v.Errors = ae.Message, ae.Fields
	}
	if err := h.fillRequestForm(c, v, f.Get("app")); err != nil {
		return err
	}
	return c.Render(w, http.StatusBadRequest, "newrequest", v)
}

// stepView is one approval step and its approvers' state.
type stepView struct {
	Index     int
	Name      string
	Required  int
	Approvals int
	Current   bool
	Approvers []approverView
}

type approverView struct {
	UserID   string
	Decision *access.Decision
	Notified bool
}

type requestView struct {
	Req        *access.Request
	Grants     []*access.Grant
	Events     []*access.Event
	Steps      []stepView
	CanDecide  bool
	DecideWhy  string
	CanCancel  bool
	CanRemind  bool
	NextRemind time.Time
}

func (h *Handler) request(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	req, grants, err := h.svc.GetRequest(ctx, c.User.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	// The timeline: the request's events and its grants' (provisioned,
	// extended, revoked...), in order.
	events, _, err := h.st.EventList(ctx, store.EventListParams{Page: store.Page{Limit: 200}, SubjectType: "request", SubjectID: req.ID})
	if err != nil {
		return err
	}
	for _, g := range grants {
		ge, _, err := h.st.EventList(ctx, store.EventListParams{Page: store.Page{Limit: 100}, SubjectType: "grant", SubjectID: g.ID})
		if err != nil {
			return err
		}
		events = append(events, ge...)
	}
	slices.SortFunc(events, func(a, b *access.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	v := requestView{Req: req, Grants: grants, Events: events}
	for i, st := range req.Steps {
		sv := stepView{Index: i + 1, Name: st.Name, Required: st.Required, Approvals: req.Approvals(i), Current: req.State == access.RequestPending && i == req.CurrentStep}
		for _, id := range st.Eligible {
			av := approverView{UserID: id, Notified: slices.Contains(st.Notified, id)}
			for j := range req.Decisions {
				if req.Decisions[j].Step == i && req.Decisions[j].ApproverID == id {
					av.Decision = &req.Decisions[j]
				}
			}
			sv.Approvers = append(sv.Approvers, av)
		}
		v.Steps = append(v.Steps, sv)
	}
	if _, err := req.CheckDecider(c.User); err == nil {
		v.CanDecide = true
	} else if req.State == access.RequestPending {
		v.DecideWhy = err.Error()
	}
	pending := req.State == access.RequestPending
	v.CanCancel = pending && (req.RequesterID == c.User.ID || c.Admin())
	v.CanRemind = pending && req.RequesterID == c.User.ID
	if !req.LastRemindedAt.IsZero() {
		v.NextRemind = req.LastRemindedAt.Add(access.ReminderInterval)
	}
	return c.Render(w, http.StatusOK, "request", v)
}

// decision reads outcome, comment and duration from a form.
func decision(f map[string][]string, id string) (workflow.DecideParams, error) {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	p := workflow.DecideParams{RequestID: id, Comment: get("comment")}
	switch get("outcome") {
	case "approve":
		p.Outcome = access.Approve
	case "reject":
		p.Outcome = access.Reject
	default:
		return p, access.Invalid("invalid decision", access.FieldError{Field: "outcome", Message: "choose approve or reject"})
	}
	d, err := parseOptionalDuration(get("duration"))
	if err != nil {
		return p, access.Invalid("invalid decision", access.FieldError{Field: "duration", Message: err.Error()})
	}
	p.Duration = d
	return p, nil
}

func (h *Handler) decide(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	p, err := decision(r.PostForm, r.PathValue("id"))
	if err != nil {
		return err
	}
	req, err := h.svc.Decide(r.Context(), c.User.ID, p)
	if err != nil {
		return err
	}
	word := "Approved"
	if p.Outcome == access.Reject {
		word = "Rejected"
	}
	return c.Done(w, "/requests/"+req.ID, fmt.Sprintf("%s. The request is %s.", word, req.State))
}

func (h *Handler) cancel(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	req, err := h.svc.Cancel(r.Context(), c.User.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.Done(w, "/requests/"+req.ID, "Request cancelled.")
}

func (h *Handler) remind(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	req, err := h.svc.Remind(r.Context(), c.User.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.Done(w, "/requests/"+req.ID, "The approvers were reminded.")
}

func (h *Handler) approvals(c *Ctx, w http.ResponseWriter, _ *http.Request) error {
	list, err := h.waitingFor(c, 200)
	if err != nil {
		return err
	}
	if err := c.preloadRows(list, nil); err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "approvals", list)
}

// bulkDecide approves or rejects every selected request, each through
// Decide (eligibility checked per request), and reports what happened.
func (h *Handler) bulkDecide(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	ids := r.PostForm["id"]
	if len(ids) == 0 {
		return access.Invalid("nothing selected", access.FieldError{Field: "id", Message: "select at least one request"})
	}
	if len(ids) > 200 {
		return access.Invalid("too many", access.FieldError{Field: "id", Message: "at most 200 requests at once"})
	}
	done, failed := 0, []string{}
	for _, id := range ids {
		p, err := decision(r.PostForm, id)
		if err != nil {
			return err
		}
		if _, err := h.svc.Decide(r.Context(), c.User.ID, p); err != nil {
			if ae, ok := errors.AsType[*access.Error](err); ok {
				failed = append(failed, id+": "+ae.Message)
				continue
			}
			return err
		}
		done++
	}
	return c.Done(w, "/approvals", bulkSummary(done, failed))
}

// bulkSummary is the flash after a bulk decision: counts, the first few
// requests not decided (with the first one's reason) and where the rest
// are, short enough for the flash cookie however many failed.
func bulkSummary(done int, failed []string) string {
	msg := fmt.Sprintf("%d decided.", done)
	if len(failed) == 0 {
		return msg
	}
	const shown = 3
	first := failed[:min(len(failed), shown)]
	for i, f := range first {
		id, reason, _ := strings.Cut(f, ": ")
		if i == 0 {
			first[i] = id + " (" + truncate(reason, 80) + ")"
		} else {
			first[i] = id
		}
	}
	msg += fmt.Sprintf(" %d not decided: %s", len(failed), strings.Join(first, ", "))
	if more := len(failed) - len(first); more > 0 {
		msg += fmt.Sprintf(" and %d more", more)
	}
	return msg + "; they are still on /approvals."
}

// riskRank orders risk levels, unknown ones last.
func riskRank(r access.Risk) int {
	switch r {
	case access.RiskLow:
		return 0
	case access.RiskMedium:
		return 1
	case access.RiskHigh:
		return 2
	}
	return 3
}
