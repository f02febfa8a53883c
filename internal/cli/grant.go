package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// grantView is a grant as the API renders it.
type grantView struct {
	ID            string    `json:"id"`
	RequestID     string    `json:"request_id"`
	User          userRef   `json:"user"`
	AppID         string    `json:"app_id"`
	EntitlementID string    `json:"entitlement_id"`
	State         string    `json:"state"`
	Duration      string    `json:"duration"`
	MaxDuration   string    `json:"max_duration"`
	ActivatedAt   time.Time `json:"activated_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	RevokedAt     time.Time `json:"revoked_at"`
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error"`
	RevokeReason  string    `json:"revoke_reason"`
	ManualTask    string    `json:"manual_task"`
	CreatedAt     time.Time `json:"created_at"`
}

func printGrants(w io.Writer, gs []grantView) error {
	t := newTable(w, "ID", "STATE", "USER", "ENTITLEMENT", "EXPIRES", "REQUEST")
	for _, g := range gs {
		t.row(g.ID, g.State, g.User.String(), g.EntitlementID, fmtTime(g.ExpiresAt), g.RequestID)
	}
	return t.flush()
}

func printGrant(w io.Writer, g *grantView) error {
	return kv(w, "ID", g.ID, "State", g.State, "User", g.User.String(), "Entitlement", g.EntitlementID,
		"Request", g.RequestID, "Duration", orDash(g.Duration), "Activated", fmtTime(g.ActivatedAt),
		"Expires", fmtTime(g.ExpiresAt), "Revoked", fmtTime(g.RevokedAt), "Attempts", strconv.Itoa(g.Attempts),
		"Last error", orDash(g.LastError), "Revoke reason", orDash(g.RevokeReason), "Manual task", orDash(g.ManualTask))
}

func grantList(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("grant list", "grant list [--active | --state S...] [--user WHO] [--app ID] [--request ID] [--expiring-before T] [--all]",
		"List grants, newest first. Without filters you see your own; app owners pass --app to see their app's; admins and auditors see everyone's.",
		"sesame grant list --active",
		"sesame grant list --app github --expiring-before 2025-06-03T00:00:00Z --all")
	var states listFlag
	f.fs.Var(&states, "state", "grant state: pending, provisioning, active, revoking, revoked, failed, revoke_failed (repeatable)")
	active := f.fs.Bool("active", false, "only active grants")
	user := f.fs.String("user", "", "holder: me, an email or an ID")
	app := f.fs.String("app", "", "app ID")
	request := f.fs.String("request", "", "request ID")
	before := f.fs.String("expiring-before", "", "only grants expiring before this RFC 3339 time")
	limit := f.fs.Int("limit", 0, "page size, 1 to 500 (default 50)")
	cursor := f.fs.String("cursor", "", "next_cursor of a previous page")
	all := f.fs.Bool("all", false, "fetch every page")
	_, c, err := f.setup(e, args, 0, 0, "")
	if err != nil {
		return err
	}
	q := url.Values{}
	for _, s := range states {
		q.Add("state", s)
	}
	if *active {
		q.Set("active", "true")
	}
	setIf(q, "user", *user)
	setIf(q, "app", *app)
	setIf(q, "request", *request)
	setIf(q, "expiring_before", *before)
	setIf(q, "cursor", *cursor)
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	pg, raw, err := list[grantView](ctx, c, "/grants", q, *all)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	if err := printGrants(e.stdout, pg.Items); err != nil {
		return err
	}
	moreHint(e.stderr, pg.NextCursor)
	return nil
}

func grantShow(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("grant show", "grant show GRANT_ID", "Show a grant.", "sesame grant show grt_01J0...")
	pos, c, err := f.setup(e, args, 1, 1, "GRANT_ID")
	if err != nil {
		return err
	}
	var g grantView
	raw, err := c.call(ctx, http.MethodGet, "/grants/"+url.PathEscape(pos[0]), nil, nil, &g)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	return printGrant(e.stdout, &g)
}

func grantRevoke(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("grant revoke", "grant revoke GRANT_ID [--reason TEXT]",
		"Take access away now (the holder, an owner of the app, or an admin).",
		`sesame grant revoke grt_01J0... --reason "done"`)
	reason := f.fs.String("reason", "", "why")
	pos, c, err := f.setup(e, args, 1, 1, "GRANT_ID")
	if err != nil {
		return err
	}
	return grantAction(ctx, e, f, c, pos[0], "revoke", map[string]any{"reason": *reason})
}

func grantExtend(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("grant extend", "grant extend GRANT_ID --duration D [--reason TEXT] [--approver WHO]...",
		"Get more time on an active grant: access then lasts D from now (from the approval).\n"+
			"The holder makes an extension request, approved as the policy's extension rule says;\n"+
			"an owner of the app or an admin extends at once. The grant keeps its ID and is not provisioned again.",
		`sesame grant extend grt_01J0... --duration 2h --reason "the migration runs late"`)
	duration := f.fs.String("duration", "", "how long from now, like 2h (required)")
	reason := f.fs.String("reason", "", "why you need more time (the holder's request)")
	var approvers listFlag
	f.fs.Var(&approvers, "approver", "approver email or ID to ask, where the policy lets you choose (repeatable; the holder's request)")
	pos, c, err := f.setup(e, args, 1, 1, "GRANT_ID")
	if err != nil {
		return err
	}
	if *duration == "" {
		return usagef("grant extend: --duration is required (see -h)")
	}
	body := map[string]any{"duration": *duration}
	if *reason != "" {
		body["reason"] = *reason
	}
	if len(approvers) > 0 {
		body["approvers"] = []string(approvers)
	}
	var out struct {
		grantView
		// ExtendsGrantID is set when the answer is the holder's extension request.
		ExtendsGrantID string `json:"extends_grant_id"`
	}
	raw, err := c.call(ctx, http.MethodPost, "/grants/"+url.PathEscape(pos[0])+"/extend", nil, body, &out)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	if out.ExtendsGrantID == "" {
		fmt.Fprintf(e.stdout, "Grant %s is %s until %s.\n", out.ID, out.State, fmtTime(out.ExpiresAt))
		return nil
	}
	switch out.State {
	case "extended":
		fmt.Fprintf(e.stdout, "Extension request %s was approved at once: grant %s is extended (see sesame grant show %s).\n",
			out.ID, out.ExtendsGrantID, out.ExtendsGrantID)
	default:
		fmt.Fprintf(e.stdout, "Extension request %s of grant %s is %s; you will be told when it is decided.\n",
			out.ID, out.ExtendsGrantID, out.State)
	}
	return nil
}

func grantComplete(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("grant complete", "grant complete GRANT_ID",
		"Confirm you did a manual task (granted or revoked access by hand) for a grant (an owner of the app or an admin).",
		"sesame grant complete grt_01J0...")
	pos, c, err := f.setup(e, args, 1, 1, "GRANT_ID")
	if err != nil {
		return err
	}
	return grantAction(ctx, e, f, c, pos[0], "complete", nil)
}

// grantAction runs POST /grants/{id}/<action> and reports the new state.
func grantAction(ctx context.Context, e *env, f *flags, c *client, id, action string, body map[string]any) error {
	var send any
	if body != nil {
		send = body
	}
	var g grantView
	raw, err := c.call(ctx, http.MethodPost, "/grants/"+url.PathEscape(id)+"/"+action, nil, send, &g)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	fmt.Fprintf(e.stdout, "Grant %s is %s", g.ID, g.State)
	if !g.ExpiresAt.IsZero() && g.State == "active" {
		fmt.Fprintf(e.stdout, " until %s", fmtTime(g.ExpiresAt))
	}
	fmt.Fprintln(e.stdout, ".")
	return nil
}
