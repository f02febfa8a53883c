package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
)

type testBundle struct {
	env *apitest.Env
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{env: apitest.New(t)}
}

// call sends a request and decodes a JSON response into out (when not nil),
// asserting the status.
func (b *testBundle) call(t *testing.T, u *access.User, method, path, body string, status int, out any) apitest.Response {
	t.Helper()
	resp := b.env.Do(t, u, method, "/api/v1"+path, body)
	require.Equal(t, status, resp.Status, "%s %s: %s", method, path, resp.Body)
	if out != nil {
		require.NoError(t, json.Unmarshal(resp.Body, out), "%s", resp.Body)
	}
	return resp
}

type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Code     string `json:"code"`
	Errors   []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (b *testBundle) problem(t *testing.T, u *access.User, method, path, body string, status int) problem {
	t.Helper()
	var p problem
	resp := b.call(t, u, method, path, body, status, &p)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	require.Equal(t, status, p.Status)
	require.Equal(t, "/api/v1"+strings.SplitN(path, "?", 2)[0], p.Instance)
	return p
}

func fields(p problem) []string {
	out := make([]string, 0, len(p.Errors))
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

type userRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type grantResp struct {
	ID            string    `json:"id"`
	RequestID     string    `json:"request_id"`
	User          userRef   `json:"user"`
	EntitlementID string    `json:"entitlement_id"`
	State         string    `json:"state"`
	Duration      string    `json:"duration"`
	ExpiresAt     time.Time `json:"expires_at"`
	RevokeReason  string    `json:"revoke_reason"`
}

type requestResp struct {
	ID              string    `json:"id"`
	State           string    `json:"state"`
	Requester       userRef   `json:"requester"`
	Entitlements    []string  `json:"entitlements"`
	Duration        string    `json:"duration"`
	DurationSeconds int64     `json:"duration_seconds"`
	Approvers       []userRef `json:"approvers"`
	Steps           []struct {
		Name     string    `json:"name"`
		State    string    `json:"state"`
		Notified []userRef `json:"notified"`
	} `json:"steps"`
	Decisions []struct {
		Approver userRef `json:"approver"`
		Outcome  string  `json:"outcome"`
		Comment  string  `json:"comment"`
		Duration string  `json:"duration"`
	} `json:"decisions"`
	Grants   []grantResp `json:"grants"`
	Timeline []struct {
		Action string  `json:"action"`
		Actor  userRef `json:"actor"`
	} `json:"timeline"`
}

type pageResp[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (b *testBundle) submit(t *testing.T, u *access.User, body string) requestResp {
	t.Helper()
	var r requestResp
	resp := b.call(t, u, http.MethodPost, "/requests", body, http.StatusCreated, &r)
	require.Equal(t, "/api/v1/requests/"+r.ID, resp.Header.Get("Location"))
	return r
}

func (b *testBundle) countRequests(t *testing.T) int {
	t.Helper()
	counts, err := b.env.Store.RequestCountByState(t.Context())
	require.NoError(t, err)
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func actions(r requestResp) []string {
	out := make([]string, 0, len(r.Timeline))
	for _, e := range r.Timeline {
		out = append(out, e.Action)
	}
	return out
}

func TestFullFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	ctx := context.WithoutCancel(t.Context())

	created := b.submit(t, e.Alice, `{"entitlements":["github:write"],"duration":"4h","reason":"fix prod incident","approvers":["bob@example.com"]}`)
	require.Equal(t, "pending", created.State)
	require.Equal(t, "4h", created.Duration)
	require.Equal(t, int64(4*3600), created.DurationSeconds)
	require.Equal(t, userRef{ID: e.Alice.ID, Email: "alice@example.com", Name: "Alice"}, created.Requester)
	require.Len(t, created.Steps, 1)
	require.Equal(t, "pending", created.Steps[0].State)
	require.Equal(t, []userRef{{ID: e.Bob.ID, Email: "bob@example.com", Name: "Bob"}}, created.Steps[0].Notified)

	// Bob sees it among the requests he is asked to approve.
	var mine pageResp[requestResp]
	b.call(t, e.Bob, http.MethodGet, "/requests?approver=me&state=pending", "", http.StatusOK, &mine)
	require.Len(t, mine.Items, 1)
	require.Equal(t, created.ID, mine.Items[0].ID)

	var approved requestResp
	b.call(t, e.Bob, http.MethodPost, "/requests/"+created.ID+"/approve", `{"comment":"ok","duration":"1h"}`, http.StatusOK, &approved)
	require.Equal(t, "approved", approved.State)
	require.Equal(t, "1h", approved.Duration)
	require.Equal(t, "approved", approved.Steps[0].State)
	require.Len(t, approved.Decisions, 1)
	require.Equal(t, "1h", approved.Decisions[0].Duration)
	require.Equal(t, "ok", approved.Decisions[0].Comment)
	require.Len(t, approved.Grants, 1)
	g := approved.Grants[0]
	require.Equal(t, "pending", g.State)

	require.NoError(t, e.Service.Provision(ctx, g.ID))
	require.True(t, e.Backend.Has("github", "alice@example.com", "write"))

	var active pageResp[grantResp]
	b.call(t, e.Alice, http.MethodGet, "/grants?active=true", "", http.StatusOK, &active)
	require.Len(t, active.Items, 1)
	require.Equal(t, g.ID, active.Items[0].ID)
	require.Equal(t, "active", active.Items[0].State)
	require.Equal(t, apitest.Start().Add(time.Hour), active.Items[0].ExpiresAt)

	// The app owner sees the grant through the app filter; erin does not.
	b.call(t, e.Frank, http.MethodGet, "/grants?app=github", "", http.StatusOK, &active)
	require.Len(t, active.Items, 1)
	b.problem(t, e.Erin, http.MethodGet, "/grants/"+g.ID, "", http.StatusNotFound)
	b.problem(t, e.Erin, http.MethodGet, "/grants?user=alice@example.com", "", http.StatusForbidden)

	var revoking grantResp
	b.call(t, e.Alice, http.MethodPost, "/grants/"+g.ID+"/revoke", `{"reason":"done"}`, http.StatusOK, &revoking)
	require.Equal(t, "revoking", revoking.State)
	require.Equal(t, "revoked by alice@example.com: done", revoking.RevokeReason)
	require.NoError(t, e.Service.Revoke(ctx, g.ID))
	require.False(t, e.Backend.Has("github", "alice@example.com", "write"))

	var revoked grantResp
	b.call(t, e.Alice, http.MethodGet, "/grants/"+g.ID, "", http.StatusOK, &revoked)
	require.Equal(t, "revoked", revoked.State)

	var final requestResp
	b.call(t, e.Alice, http.MethodGet, "/requests/"+created.ID, "", http.StatusOK, &final)
	require.Equal(t, "expired", final.State)
	require.Subset(t, actions(final), []string{"request.submitted", "request.approved", "grant.created",
		"grant.provisioned", "request.active", "grant.revoke_requested", "grant.revoked", "request.expired"})
	require.Equal(t, "request.submitted", final.Timeline[0].Action)
	require.Equal(t, e.Alice.ID, final.Timeline[0].Actor.ID)

	// An uninvolved user cannot see the request at all.
	b.problem(t, e.Erin, http.MethodGet, "/requests/"+created.ID, "", http.StatusNotFound)
}

func TestRejectWithComment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.submit(t, b.env.Alice, `{"entitlements":["db:read"],"reason":"report","approvers":["usr_carol"]}`)
	require.Equal(t, "2h", r.Duration, "the policy's default duration")

	var rejected requestResp
	b.call(t, b.env.Carol, http.MethodPost, "/requests/"+r.ID+"/reject", `{"comment":"use the replica"}`, http.StatusOK, &rejected)
	require.Equal(t, "rejected", rejected.State)
	require.Equal(t, "rejected", rejected.Steps[0].State)
	require.Len(t, rejected.Decisions, 1)
	require.Equal(t, "reject", rejected.Decisions[0].Outcome)
	require.Equal(t, "use the replica", rejected.Decisions[0].Comment)
	require.Equal(t, "carol@example.com", rejected.Decisions[0].Approver.Email)
	require.Empty(t, rejected.Grants)

	// A decided request takes no more decisions; a reject takes no duration.
	b.problem(t, b.env.Bob, http.MethodPost, "/requests/"+r.ID+"/approve", "", http.StatusConflict)
	p := b.problem(t, b.env.Bob, http.MethodPost, "/requests/"+r.ID+"/reject", `{"duration":"1h"}`, http.StatusBadRequest)
	require.Equal(t, []string{"duration"}, fields(p))
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.submit(t, b.env.Alice, `{"entitlements":["db:read"],"duration":"1h","reason":"x"}`)
	b.problem(t, b.env.Erin, http.MethodPost, "/requests/"+r.ID+"/cancel", "", http.StatusForbidden)
	var cancelled requestResp
	b.call(t, b.env.Alice, http.MethodPost, "/requests/"+r.ID+"/cancel", "{}", http.StatusOK, &cancelled)
	require.Equal(t, "cancelled", cancelled.State)
	require.Equal(t, "closed", cancelled.Steps[0].State)
	b.problem(t, b.env.Alice, http.MethodPost, "/requests/"+r.ID+"/cancel", "", http.StatusConflict)
}

func TestRemindTwiceIsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.submit(t, b.env.Alice, `{"entitlements":["db:read"],"duration":"1h","reason":"x"}`)
	b.call(t, b.env.Alice, http.MethodPost, "/requests/"+r.ID+"/remind", "", http.StatusOK, nil)
	b.env.Clock.Advance(10 * time.Minute)
	resp := b.call(t, b.env.Alice, http.MethodPost, "/requests/"+r.ID+"/remind", "", http.StatusTooManyRequests, nil)
	require.Equal(t, "1200", resp.Header.Get("Retry-After"))
	b.env.Clock.Advance(20 * time.Minute)
	b.call(t, b.env.Alice, http.MethodPost, "/requests/"+r.ID+"/remind", "", http.StatusOK, nil)
}

func TestSelfAndIneligibleApproval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	r := b.submit(t, e.Bob, `{"entitlements":["db:read"],"duration":"1h","reason":"x"}`)

	p := b.problem(t, e.Bob, http.MethodPost, "/requests/"+r.ID+"/approve", `{"comment":"lgtm"}`, http.StatusForbidden)
	require.Equal(t, "forbidden", p.Code)
	require.Contains(t, p.Detail, "your own request")
	evs, _, err := e.Store.EventList(t.Context(), store.EventListParams{Action: "request.decision_refused", SubjectID: r.ID})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, e.Bob.ID, evs[0].ActorID)

	p = b.problem(t, e.Erin, http.MethodPost, "/requests/"+r.ID+"/approve", "", http.StatusForbidden)
	require.Contains(t, p.Detail, "not an eligible approver")

	var still requestResp
	b.call(t, e.Bob, http.MethodGet, "/requests/"+r.ID, "", http.StatusOK, &still)
	require.Equal(t, "pending", still.State)
	require.Empty(t, still.Decisions)
}

func TestUnknownIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	for _, c := range []struct {
		method, path string
		u            *access.User
	}{
		{http.MethodGet, "/requests/req_nope", e.Carol},
		{http.MethodPost, "/requests/req_nope/approve", e.Bob},
		{http.MethodPost, "/requests/req_nope/reject", e.Bob},
		{http.MethodPost, "/requests/req_nope/cancel", e.Alice},
		{http.MethodPost, "/requests/req_nope/remind", e.Alice},
		{http.MethodGet, "/grants/grt_nope", e.Carol},
		{http.MethodPost, "/grants/grt_nope/revoke", e.Carol},
		{http.MethodPost, "/grants/grt_nope/complete", e.Carol},
		{http.MethodGet, "/apps/nope", e.Alice},
		{http.MethodGet, "/apps/nope/entitlements", e.Alice},
		{http.MethodDelete, "/tokens/tok_nope", e.Alice},
	} {
		p := b.problem(t, c.u, c.method, c.path, "", http.StatusNotFound)
		require.Equal(t, "not_found", p.Code, c.path)
	}
	p := b.problem(t, e.Carol, http.MethodPost, "/grants/grt_nope/extend", `{"duration":"1h"}`, http.StatusNotFound)
	require.Equal(t, "not_found", p.Code)
	p = b.problem(t, e.Carol, http.MethodGet, "/requests/"+strings.Repeat("x", 65), "", http.StatusUnprocessableEntity)
	require.Equal(t, []string{"id"}, fields(p))
	p = b.problem(t, e.Alice, http.MethodPost, "/requests", `{"entitlements":["github:nope"],"duration":"1h"}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"entitlements[0]"}, fields(p))
}

func TestBadBodiesChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	before := b.countRequests(t)
	for _, c := range []struct {
		name, body, field string
		status            int
	}{
		{"malformed", `{"entitlements":["db:read"],`, "", http.StatusBadRequest},
		{"not an object", `["db:read"]`, "", http.StatusBadRequest},
		{"null", `null`, "", http.StatusBadRequest},
		{"unknown field", `{"entitlements":["db:read"],"duration":"1h","urgent":true}`, "urgent", http.StatusBadRequest},
		{"wrong type", `{"entitlements":"db:read"}`, "entitlements", http.StatusBadRequest},
		{"integer duration", `{"entitlements":["db:read"],"duration":3600}`, "duration", http.StatusBadRequest},
		{"trailing data", `{"entitlements":["db:read"],"duration":"1h"} {}`, "", http.StatusBadRequest},
		{"empty", ``, "", http.StatusBadRequest},
		{"oversized", `{"entitlements":["db:read"],"duration":"1h","reason":"` + strings.Repeat("a", 70<<10) + `"}`, "", http.StatusRequestEntityTooLarge},
	} {
		p := b.problem(t, e.Alice, http.MethodPost, "/requests", c.body, c.status)
		if c.field != "" {
			require.Equal(t, []string{c.field}, fields(p), c.name)
		}
	}
	// A JSON body sent as another content type.
	resp := e.DoToken(t, "", http.MethodGet, "/", "")
	require.Equal(t, http.StatusNotFound, resp.Status)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Server.URL+"/api/v1/requests",
		strings.NewReader(`{"entitlements":["db:read"],"duration":"1h"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.Token(e.Alice))
	req.Header.Set("Content-Type", "text/plain")
	hr, err := e.Server.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, hr.Body.Close())
	require.Equal(t, http.StatusBadRequest, hr.StatusCode)

	require.Equal(t, before, b.countRequests(t))
}

func TestBadDurations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	before := b.countRequests(t)
	for _, d := range []string{"-1h", "99999h", "1 fortnight", "", "0s", "73h"} {
		body := fmt.Sprintf(`{"entitlements":["db:read"],"duration":%q,"reason":"x"}`, d)
		p := b.problem(t, e.Alice, http.MethodPost, "/requests", body, http.StatusUnprocessableEntity)
		require.Equal(t, []string{"duration"}, fields(p), "duration %q: %+v", d, p)
		require.Equal(t, "invalid", p.Code)
	}
	require.Equal(t, before, b.countRequests(t))

	r := b.submit(t, e.Alice, `{"entitlements":["db:read"],"duration":"1h","reason":"x","approvers":["bob@example.com"]}`)
	for _, d := range []string{"-1h", "1 fortnight", "", "73h"} {
		p := b.problem(t, e.Bob, http.MethodPost, "/requests/"+r.ID+"/approve", fmt.Sprintf(`{"duration":%q}`, d), http.StatusUnprocessableEntity)
		require.Equal(t, []string{"duration"}, fields(p), "duration %q", d)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	ctx := t.Context()
	now := e.Clock.Now()
	for i := range 120 {
		r := &access.Request{ID: ids.New("req", now.Add(time.Duration(i)*time.Millisecond)), RequesterID: e.Erin.ID, AppID: "db",
			EntitlementIDs: []string{"db:read"}, Duration: time.Hour, MaxDuration: 72 * time.Hour, Reason: "load",
			State: access.RequestCancelled, PolicyID: "default",
			Steps:     []access.Step{{Name: "approval", Eligible: []string{e.Bob.ID}, Notified: []string{e.Bob.ID}, Required: 1}},
			CreatedAt: now, UpdatedAt: now, PendingUntil: now.Add(24 * time.Hour)}
		require.NoError(t, e.Store.RequestCreate(ctx, r))
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		var pg pageResp[requestResp]
		b.call(t, e.Carol, http.MethodGet, "/requests?limit=50&requester=erin@example.com&state=cancelled&cursor="+cursor, "", http.StatusOK, &pg)
		pages++
		for _, r := range pg.Items {
			require.False(t, seen[r.ID], "duplicate %s", r.ID)
			seen[r.ID] = true
		}
		if pg.NextCursor == "" {
			require.Len(t, pg.Items, 20)
			break
		}
		require.Len(t, pg.Items, 50)
		cursor = pg.NextCursor
	}
	require.Equal(t, 3, pages)
	require.Len(t, seen, 120)

	// Erin sees her own requests without asking; others' are forbidden.
	var own pageResp[requestResp]
	b.call(t, e.Erin, http.MethodGet, "/requests?limit=500", "", http.StatusOK, &own)
	require.Len(t, own.Items, 120)
	b.call(t, e.Alice, http.MethodGet, "/requests", "", http.StatusOK, &own)
	require.Empty(t, own.Items)
	b.problem(t, e.Alice, http.MethodGet, "/requests?requester=erin@example.com", "", http.StatusForbidden)
	b.problem(t, e.Alice, http.MethodGet, "/requests?approver=usr_bob", "", http.StatusForbidden)

	for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=@@", "state=bogus", "requester=a%20b", "sort=id"} {
		p := b.problem(t, e.Carol, http.MethodGet, "/requests?"+q, "", http.StatusUnprocessableEntity)
		require.NotEmpty(t, p.Errors, q)
	}
}

func TestAuditExportAndVerify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	r := b.submit(t, e.Alice, `{"entitlements":["db:read"],"duration":"1h","reason":"x"}`)
	b.call(t, e.Bob, http.MethodPost, "/requests/"+r.ID+"/approve", "", http.StatusOK, nil)

	all, err := e.Store.EventListAfter(t.Context(), 0, 10000)
	require.NoError(t, err)
	require.Greater(t, len(all), 5)

	resp := b.call(t, e.Dave, http.MethodGet, "/audit/export?format=csv", "", http.StatusOK, nil)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Content-Disposition"), `attachment; filename="sesame-audit-`)
	rows, err := csv.NewReader(bytes.NewReader(resp.Body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, len(all)+1)
	require.Equal(t, "seq", rows[0][0])
	require.Equal(t, "1", rows[1][0])

	resp = b.call(t, e.Carol, http.MethodGet, "/audit/export?format=jsonl", "", http.StatusOK, nil)
	var events []access.Event
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	for dec.More() {
		var ev access.Event
		require.NoError(t, dec.Decode(&ev))
		events = append(events, ev)
	}
	require.Len(t, events, len(all))
	// The export is exactly what was hashed: the chain verifies offline.
	var v access.ChainVerifier
	for i := range events {
		require.NoError(t, v.Next(&events[i]))
	}

	resp = b.call(t, e.Dave, http.MethodGet, "/audit/export?format=jsonl&action=request.", "", http.StatusOK, nil)
	require.Equal(t, 2, bytes.Count(resp.Body, []byte("\n")), "%s", resp.Body) // submitted, approved

	var verify struct {
		OK    bool  `json:"ok"`
		Count int64 `json:"count"`
	}
	b.call(t, e.Dave, http.MethodGet, "/audit/verify", "", http.StatusOK, &verify)
	require.True(t, verify.OK)
	require.Equal(t, int64(len(all)), verify.Count)

	var list pageResp[struct {
		Action string  `json:"action"`
		Actor  userRef `json:"actor"`
		Hash   string  `json:"hash"`
	}]
	b.call(t, e.Dave, http.MethodGet, "/audit?actor=bob@example.com&action=request.", "", http.StatusOK, &list)
	require.Len(t, list.Items, 1)
	require.Equal(t, "request.approved", list.Items[0].Action)
	require.Equal(t, "bob@example.com", list.Items[0].Actor.Email)
	require.NotEmpty(t, list.Items[0].Hash)

	b.problem(t, e.Alice, http.MethodGet, "/audit", "", http.StatusForbidden)
	b.problem(t, e.Alice, http.MethodGet, "/audit/export", "", http.StatusForbidden)
	b.problem(t, e.Bob, http.MethodGet, "/audit/verify", "", http.StatusForbidden)
	b.problem(t, e.Dave, http.MethodGet, "/audit/export?format=xml", "", http.StatusUnprocessableEntity)
	b.problem(t, e.Dave, http.MethodGet, "/audit?since=yesterday", "", http.StatusUnprocessableEntity)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	for _, token := range []string{"", "ses_nope", "garbage", e.Token(e.Alice) + "x"} {
		resp := e.DoToken(t, token, http.MethodGet, "/api/v1/me", "")
		require.Equal(t, http.StatusUnauthorized, resp.Status, token)
		require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer"))
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	}
	// The OpenAPI document needs no token.
	resp := e.DoToken(t, "", http.MethodGet, "/api/v1/openapi.json", "")
	require.Equal(t, http.StatusOK, resp.Status)

	var me struct {
		User struct {
			Email   string   `json:"email"`
			Groups  []string `json:"groups"`
			Manager *userRef `json:"manager"`
		} `json:"user"`
		Roles []string `json:"roles"`
		Token struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"token"`
	}
	b.call(t, e.Alice, http.MethodGet, "/me", "", http.StatusOK, &me)
	require.Equal(t, "alice@example.com", me.User.Email)
	require.Equal(t, []string{"eng"}, me.User.Groups)
	require.Equal(t, "bob@example.com", me.User.Manager.Email)
	require.Empty(t, me.Roles)
	require.True(t, me.Token.Current)

	var tokens pageResp[struct {
		ID string `json:"id"`
	}]
	b.call(t, e.Alice, http.MethodGet, "/tokens", "", http.StatusOK, &tokens)
	require.Len(t, tokens.Items, 1)
	b.problem(t, e.Alice, http.MethodGet, "/tokens?user=all", "", http.StatusForbidden)
	b.call(t, e.Carol, http.MethodGet, "/tokens?user=all", "", http.StatusOK, &tokens)
	require.Len(t, tokens.Items, 6)

	// Bob cannot revoke Alice's token; Alice can, and it stops working.
	b.problem(t, e.Bob, http.MethodDelete, "/tokens/"+me.Token.ID, "", http.StatusNotFound)
	b.call(t, e.Alice, http.MethodDelete, "/tokens/"+me.Token.ID, "", http.StatusNoContent, nil)
	b.problem(t, e.Alice, http.MethodGet, "/me", "", http.StatusUnauthorized)

	// An offboarded user's token stops working.
	erin := *e.Erin
	erin.Status = access.UserOffboarded
	require.NoError(t, e.Store.UserUpsert(t.Context(), &erin))
	b.problem(t, e.Erin, http.MethodGet, "/me", "", http.StatusUnauthorized)
}

func TestRoutingProblems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	p := b.problem(t, e.Alice, http.MethodGet, "/nope", "", http.StatusNotFound)
	require.Equal(t, "not_found", p.Code)
	resp := b.call(t, e.Alice, http.MethodPut, "/requests", "", http.StatusMethodNotAllowed, nil)
	require.Equal(t, "POST, GET, HEAD", resp.Header.Get("Allow"))
	resp = b.call(t, e.Alice, http.MethodDelete, "/requests/req_x/approve", "", http.StatusMethodNotAllowed, nil)
	require.Equal(t, "POST", resp.Header.Get("Allow"))
}

func TestCatalogAndUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	var apps pageResp[struct {
		ID     string    `json:"id"`
		Owners []userRef `json:"owners"`
	}]
	b.call(t, e.Alice, http.MethodGet, "/apps", "", http.StatusOK, &apps)
	require.Len(t, apps.Items, 2)
	b.call(t, e.Alice, http.MethodGet, "/apps?q=gh", "", http.StatusOK, &apps)
	require.Len(t, apps.Items, 1)
	require.Equal(t, "frank@example.com", apps.Items[0].Owners[0].Email)

	var ents pageResp[struct {
		ID                 string `json:"id"`
		MaxDuration        string `json:"max_duration"`
		MaxDurationSeconds int64  `json:"max_duration_seconds"`
		Requestable        bool   `json:"requestable"`
	}]
	b.call(t, e.Alice, http.MethodGet, "/apps/github/entitlements", "", http.StatusOK, &ents)
	require.Len(t, ents.Items, 3)
	require.Equal(t, "github:admin", ents.Items[0].ID)
	require.False(t, ents.Items[0].Requestable)
	require.Equal(t, "8h", ents.Items[1].MaxDuration)
	require.Equal(t, int64(8*3600), ents.Items[1].MaxDurationSeconds)

	var plan struct {
		PolicyID    string `json:"policy_id"`
		MaxDuration string `json:"max_duration"`
		Steps       []struct {
			RequesterChooses bool `json:"requester_chooses"`
			Eligible         []struct {
				Email  string `json:"email"`
				Reason string `json:"reason"`
			} `json:"eligible"`
		} `json:"steps"`
	}
	b.call(t, e.Alice, http.MethodPost, "/requests/preview", `{"entitlements":["github:read"]}`, http.StatusOK, &plan)
	require.Equal(t, "default", plan.PolicyID)
	require.Equal(t, "8h", plan.MaxDuration)
	require.True(t, plan.Steps[0].RequesterChooses)
	require.Len(t, plan.Steps[0].Eligible, 2)
	require.Equal(t, "named in the policy", plan.Steps[0].Eligible[0].Reason)
	p := b.problem(t, e.Alice, http.MethodPost, "/requests/preview", `{"entitlements":["github:read"],"duration":"1 fortnight"}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"duration"}, fields(p))
	p = b.problem(t, e.Alice, http.MethodPost, "/requests/preview", `{"entitlements":[]}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"entitlements"}, fields(p))

	var users pageResp[struct {
		Email string   `json:"email"`
		Roles []string `json:"roles"`
	}]
	b.call(t, e.Dave, http.MethodGet, "/users?status=active&limit=2", "", http.StatusOK, &users)
	require.Len(t, users.Items, 2)
	require.Equal(t, "alice@example.com", users.Items[0].Email)
	require.NotEmpty(t, users.NextCursor)
	b.call(t, e.Carol, http.MethodGet, "/users?group=approvers", "", http.StatusOK, &users)
	require.Len(t, users.Items, 2)
	b.problem(t, e.Alice, http.MethodGet, "/users", "", http.StatusForbidden)
	b.problem(t, e.Carol, http.MethodGet, "/users?status=gone", "", http.StatusUnprocessableEntity)
}

func TestExtendAndComplete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e := b.env
	ctx := context.WithoutCancel(t.Context())
	r := e.Submit(t, e.Alice, time.Hour, "github:read")
	var approved requestResp
	b.call(t, e.Bob, http.MethodPost, "/requests/"+r.ID+"/approve", "", http.StatusOK, &approved)
	g := approved.Grants[0]
	require.NoError(t, e.Service.Provision(ctx, g.ID))

	// The holder asks: an extension request of the same grant, which an
	// approver approves like any request.
	b.problem(t, e.Alice, http.MethodPost, "/grants/"+g.ID+"/extend", `{"duration":"2h","colour":"red"}`, http.StatusBadRequest)
	var ask struct {
		requestResp
		ExtendsGrantID string `json:"extends_grant_id"`
	}
	b.call(t, e.Alice, http.MethodPost, "/grants/"+g.ID+"/extend", `{"duration":"2h","reason":"the migration runs late"}`, http.StatusCreated, &ask)
	require.Equal(t, g.ID, ask.ExtendsGrantID)
	require.Equal(t, "pending", ask.State)
	require.Equal(t, []string{"github:read"}, ask.Entitlements)
	b.problem(t, e.Alice, http.MethodPost, "/grants/"+g.ID+"/extend", `{"duration":"3h","reason":"the migration runs late"}`, http.StatusConflict)
	var decided requestResp
	b.call(t, e.Bob, http.MethodPost, "/requests/"+ask.ID+"/approve", "", http.StatusOK, &decided)
	require.Equal(t, "extended", decided.State)
	require.Empty(t, decided.Grants, "no new grant")
	var got grantResp
	b.call(t, e.Alice, http.MethodGet, "/grants/"+g.ID, "", http.StatusOK, &got)
	require.Equal(t, apitest.Start().Add(2*time.Hour), got.ExpiresAt)
	// Someone who neither holds nor manages the grant is refused.
	b.problem(t, e.Dave, http.MethodPost, "/grants/"+g.ID+"/extend", `{"duration":"2h"}`, http.StatusForbidden)

	// The app owner extends at once, within the max; the holder's fields are not for them.
	p := b.problem(t, e.Frank, http.MethodPost, "/grants/"+g.ID+"/extend", `{}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"duration"}, fields(p))
	p = b.problem(t, e.Frank, http.MethodPost, "/grants/"+g.ID+"/extend", `{"duration":"2h","reason":"for alice"}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"reason"}, fields(p))
	p = b.problem(t, e.Frank, http.MethodPost, "/grants/"+g.ID+"/extend", `{"duration":"9h"}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"duration"}, fields(p))
	var extended grantResp
	b.call(t, e.Frank, http.MethodPost, "/grants/"+g.ID+"/extend", `{"duration":"3h"}`, http.StatusOK, &extended)
	require.Equal(t, apitest.Start().Add(3*time.Hour), extended.ExpiresAt)

	// No manual task is waiting.
	b.problem(t, e.Frank, http.MethodPost, "/grants/"+g.ID+"/complete", "", http.StatusConflict)
}
