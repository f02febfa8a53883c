package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// requestView is a request as the API renders it.
type requestView struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Requester    userRef  `json:"requester"`
	AppID        string   `json:"app_id"`
	Entitlements []string `json:"entitlements"`
	Duration     string   `json:"duration"`
	MaxDuration  string   `json:"max_duration"`
	Reason       string   `json:"reason"`
	PolicyID     string   `json:"policy_id"`
	AutoApprove  string   `json:"auto_approve_rule"`
	// ExtendsGrantID is set on an extension request.
	ExtendsGrantID string    `json:"extends_grant_id"`
	Approvers      []userRef `json:"approvers"`
	CreatedAt      time.Time `json:"created_at"`
	PendingUntil   time.Time `json:"pending_until"`
	Steps          []struct {
		Name      string    `json:"name"`
		State     string    `json:"state"`
		Required  int       `json:"required"`
		Approvals int       `json:"approvals"`
		Notified  []userRef `json:"notified"`
	} `json:"steps"`
	Decisions []struct {
		Approver  userRef   `json:"approver"`
		Outcome   string    `json:"outcome"`
		Comment   string    `json:"comment"`
		Duration  string    `json:"duration"`
		CreatedAt time.Time `json:"created_at"`
	} `json:"decisions"`
	Grants   []grantView `json:"grants"`
	Timeline []struct {
		Seq     int64     `json:"seq"`
		Time    time.Time `json:"time"`
		Actor   userRef   `json:"actor"`
		Action  string    `json:"action"`
		Subject string    `json:"subject_id"`
	} `json:"timeline"`
}

func requestCreate(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request create", "request create --entitlement ID [--duration D] [--reason TEXT] [--approver WHO]...",
		"Ask for access to one or more entitlements of one app. Without --duration the policy's default applies.",
		`sesame request create --entitlement github:write --duration 2h --reason "fix prod incident" --approver bob@example.com`,
		`sesame request create --entitlement db:read,db:write --duration 1d`)
	var ents, approvers listFlag
	f.fs.Var(&ents, "entitlement", "entitlement ID, like github:write (repeatable, or comma-separated)")
	duration := f.fs.String("duration", "", `how long, like 30m, 2h, 1d (default: the policy's)`)
	reason := f.fs.String("reason", "", "why you need access")
	f.fs.Var(&approvers, "approver", "approver email or ID to ask, where the policy lets you choose (repeatable)")
	if _, err := f.parse(args, 0, 0, ""); err != nil {
		return err
	}
	if len(ents) == 0 {
		return usagef("request create: --entitlement is required (see -h)")
	}
	c, err := f.client(e)
	if err != nil {
		return err
	}
	body := map[string]any{"entitlements": []string(ents), "reason": *reason}
	if *duration != "" {
		body["duration"] = *duration
	}
	if len(approvers) > 0 {
		body["approvers"] = []string(approvers)
	}
	var r requestView
	raw, err := c.call(ctx, http.MethodPost, "/requests", nil, body, &r)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	fmt.Fprintf(e.stdout, "Created request %s (%s).\n", r.ID, r.State)
	if r.ExtendsGrantID != "" {
		fmt.Fprintf(e.stdout, "You already hold this access: the request asks to extend grant %s (the duration counts from the approval).\n", r.ExtendsGrantID)
	}
	return printRequest(e.stdout, &r)
}

func requestList(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request list", "request list [--state S]... [--requester WHO] [--approver WHO] [--app ID] [--all]",
		"List requests, newest first. Without filters you see your own; admins and auditors see everyone's.",
		"sesame request list --state pending",
		"sesame request list --approver me --state pending",
		"sesame request list --requester alice@example.com --all --json")
	var states listFlag
	f.fs.Var(&states, "state", "request state: pending, approved, active, rejected, cancelled, timed_out, expired, failed (repeatable)")
	requester := f.fs.String("requester", "", "requester: me, an email or an ID")
	approver := f.fs.String("approver", "", "requests you (me) or someone is asked to approve")
	app := f.fs.String("app", "", "app ID")
	limit := f.fs.Int("limit", 0, "page size, 1 to 500 (default 50)")
	cursor := f.fs.String("cursor", "", "next_cursor of a previous page")
	all := f.fs.Bool("all", false, "fetch every page")
	if _, err := f.parse(args, 0, 0, ""); err != nil {
		return err
	}
	c, err := f.client(e)
	if err != nil {
		return err
	}
	q := url.Values{}
	for _, s := range states {
		q.Add("state", s)
	}
	setIf(q, "requester", *requester)
	setIf(q, "approver", *approver)
	setIf(q, "app", *app)
	setIf(q, "cursor", *cursor)
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	pg, raw, err := list[requestView](ctx, c, "/requests", q, *all)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	t := newTable(e.stdout, "ID", "STATE", "REQUESTER", "ENTITLEMENTS", "DURATION", "CREATED")
	for _, r := range pg.Items {
		t.row(r.ID, r.State, r.Requester.String(), strings.Join(r.Entitlements, ","), orDash(r.Duration), fmtTime(r.CreatedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	moreHint(e.stderr, pg.NextCursor)
	return nil
}

func setIf(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}

func requestShow(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request show", "request show REQUEST_ID", "Show a request with its steps, decisions, grants and timeline.",
		"sesame request show req_01J0...")
	pos, err := f.parse(args, 1, 1, "REQUEST_ID")
	if err != nil {
		return err
	}
	c, err := f.client(e)
	if err != nil {
		return err
	}
	var r requestView
	raw, err := c.call(ctx, http.MethodGet, "/requests/"+url.PathEscape(pos[0]), nil, nil, &r)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	return printRequest(e.stdout, &r)
}

// printRequest writes a request's details, steps, decisions, grants and
// timeline.
func printRequest(w io.Writer, r *requestView) error {
	dur := orDash(r.Duration)
	if r.MaxDuration != "" {
		dur += " (max " + r.MaxDuration + ")"
	}
	if err := kv(w, "ID", r.ID, "State", r.State, "Requester", r.Requester.String(), "App", r.AppID,
		"Entitlements", strings.Join(r.Entitlements, ", "), "Duration", dur, "Reason", orDash(r.Reason),
		"Policy", r.PolicyID, "Created", fmtTime(r.CreatedAt), "Pending until", fmtTime(r.PendingUntil)); err != nil {
		return err
	}
	if r.AutoApprove != "" {
		fmt.Fprintf(w, "Auto-approved by rule %s.\n", r.AutoApprove)
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "STEP", "NAME", "STATE", "APPROVALS", "ASKED")
		for i, s := range r.Steps {
			t.row(strconv.Itoa(i+1), s.Name, s.State, fmt.Sprintf("%d/%d", s.Approvals, s.Required), emails(s.Notified))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(r.Decisions) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "DECIDED", "BY", "OUTCOME", "DURATION", "COMMENT")
		for _, d := range r.Decisions {
			t.row(fmtTime(d.CreatedAt), d.Approver.String(), d.Outcome, orDash(d.Duration), orDash(d.Comment))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(r.Grants) > 0 {
		fmt.Fprintln(w)
		if err := printGrants(w, r.Grants); err != nil {
			return err
		}
	}
	if len(r.Timeline) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "TIME", "ACTOR", "ACTION", "SUBJECT")
		for _, ev := range r.Timeline {
			t.row(fmtTime(ev.Time), ev.Actor.String(), ev.Action, ev.Subject)
		}
		return t.flush()
	}
	return nil
}

func requestApprove(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request approve", "request approve REQUEST_ID [--comment TEXT] [--duration D]",
		"Approve a request you are asked to decide. --duration changes how long access lasts, up to the request's maximum.",
		"sesame request approve req_01J0... --comment ok --duration 1h")
	comment := f.fs.String("comment", "", "a comment for the requester")
	duration := f.fs.String("duration", "", "a new duration, like 1h")
	pos, c, err := f.setup(e, args, 1, 1, "REQUEST_ID")
	if err != nil {
		return err
	}
	body := map[string]any{"comment": *comment}
	if *duration != "" {
		body["duration"] = *duration
	}
	return requestAction(ctx, e, f, c, pos[0], "approve", body)
}

func requestReject(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request reject", "request reject REQUEST_ID [--comment TEXT]", "Reject a request you are asked to decide.",
		`sesame request reject req_01J0... --comment "use the read replica"`)
	comment := f.fs.String("comment", "", "why, for the requester")
	pos, c, err := f.setup(e, args, 1, 1, "REQUEST_ID")
	if err != nil {
		return err
	}
	return requestAction(ctx, e, f, c, pos[0], "reject", map[string]any{"comment": *comment})
}

func requestCancel(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request cancel", "request cancel REQUEST_ID", "Cancel your pending request (admins: anyone's).",
		"sesame request cancel req_01J0...")
	pos, c, err := f.setup(e, args, 1, 1, "REQUEST_ID")
	if err != nil {
		return err
	}
	return requestAction(ctx, e, f, c, pos[0], "cancel", nil)
}

func requestRemind(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request remind", "request remind REQUEST_ID",
		"Remind the approvers of your pending request (at most once every 30 minutes).",
		"sesame request remind req_01J0...")
	pos, c, err := f.setup(e, args, 1, 1, "REQUEST_ID")
	if err != nil {
		return err
	}
	return requestAction(ctx, e, f, c, pos[0], "remind", nil)
}

// requestAction runs POST /requests/{id}/<action> and reports the new
// state.
func requestAction(ctx context.Context, e *env, f *flags, c *client, id, action string, body map[string]any) error {
	var send any
	if body != nil {
		send = body
	}
	var r requestView
	raw, err := c.call(ctx, http.MethodPost, "/requests/"+url.PathEscape(id)+"/"+action, nil, send, &r)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	if action == "remind" {
		fmt.Fprintf(e.stdout, "Reminded the approvers of %s.\n", r.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "Request %s is %s (duration %s).\n", r.ID, r.State, orDash(r.Duration))
	for _, g := range r.Grants {
		fmt.Fprintf(e.stdout, "Grant %s for %s is %s.\n", g.ID, g.EntitlementID, g.State)
	}
	return nil
}

// planView is a policy plan.
type planView struct {
	PolicyID        string   `json:"policy_id"`
	Why             []string `json:"why"`
	MaxDuration     string   `json:"max_duration"`
	DefaultDuration string   `json:"default_duration"`
	ReasonRequired  bool     `json:"reason_required"`
	AutoApprove     bool     `json:"auto_approve"`
	Steps           []struct {
		Name             string `json:"name"`
		Required         int    `json:"required"`
		RequesterChooses bool   `json:"requester_chooses"`
		Choose           int    `json:"choose"`
		Eligible         []struct {
			Email  string `json:"email"`
			Name   string `json:"name"`
			Reason string `json:"reason"`
		} `json:"eligible"`
	} `json:"steps"`
}

func requestPreview(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("request preview", "request preview --entitlement ID [--duration D]",
		"Show which policy applies to a request for the entitlements, its limits, and who may approve.",
		"sesame request preview --entitlement github:write")
	var ents listFlag
	f.fs.Var(&ents, "entitlement", "entitlement ID (repeatable, or comma-separated)")
	duration := f.fs.String("duration", "", "the duration you would ask for")
	if _, err := f.parse(args, 0, 0, ""); err != nil {
		return err
	}
	if len(ents) == 0 {
		return usagef("request preview: --entitlement is required (see -h)")
	}
	c, err := f.client(e)
	if err != nil {
		return err
	}
	body := map[string]any{"entitlements": []string(ents)}
	if *duration != "" {
		body["duration"] = *duration
	}
	var p planView
	raw, err := c.call(ctx, http.MethodPost, "/requests/preview", nil, body, &p)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	reason := "optional"
	if p.ReasonRequired {
		reason = "required"
	}
	if err := kv(e.stdout, "Policy", p.PolicyID, "Max duration", orDash(p.MaxDuration),
		"Default duration", orDash(p.DefaultDuration), "Reason", reason); err != nil {
		return err
	}
	if p.AutoApprove {
		fmt.Fprintln(e.stdout, "Approved automatically.")
	}
	for i, s := range p.Steps {
		how := fmt.Sprintf("%d approval(s)", s.Required)
		if s.RequesterChooses {
			how += fmt.Sprintf("; choose at least %d with --approver", s.Choose)
		}
		fmt.Fprintf(e.stdout, "\nStep %d: %s (%s)\n", i+1, s.Name, how)
		t := newTable(e.stdout, "APPROVER", "NAME", "WHY")
		for _, a := range s.Eligible {
			t.row(a.Email, a.Name, a.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}
