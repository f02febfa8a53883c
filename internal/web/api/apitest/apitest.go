// Package apitest builds a running API over a real SQLite store with a
// small fixed catalog, for the tests of the API and of its clients (the
// CLI).
//
// The fixture: alice (group eng, manager bob) requests; bob and carol are
// the approvers the default policy names (the requester chooses one);
// carol is an admin, dave an auditor, erin an ordinary user who approves
// nothing, frank the owner of the github app. Apps: github (entitlements
// github:read max 8h, github:write max 24h, github:admin not requestable)
// and db (db:read, db:admin), both on the fake connector. The policy allows
// at most 72h and defaults to 2h. Every user has an API token.
package apitest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/workflow"
)

// Start is the fake clock's initial time.
func Start() time.Time { return time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC) }

// Env is a running API and what it runs on.
type Env struct {
	Store   store.Store
	Service *workflow.Service
	Clock   *clock.Fake
	Backend *fake.Backend
	Handler http.Handler
	Server  *httptest.Server

	Alice, Bob, Carol, Dave, Erin, Frank *access.User
	// Tokens maps user IDs to API token secrets.
	Tokens map[string]string
}

// New builds an Env in t.TempDir(); everything is closed when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	ctx := t.Context()
	st := sqlite.OpenTest(t)
	clk := clock.NewFake(Start())
	pol, err := policy.New([]policy.Policy{{
		ID:      "default",
		Default: true,
		Steps: []policy.StepRule{{
			Name:             "approval",
			Approvers:        policy.ApproverRule{Users: []string{"bob@example.com", "carol@example.com"}},
			RequesterChooses: true,
		}},
		MaxDuration:     72 * time.Hour,
		DefaultDuration: 2 * time.Hour,
	}}, 0)
	if err != nil {
		t.Fatalf("apitest: policy: %v", err)
	}
	backend := fake.NewBackend()
	conns := connector.NewRegistry()
	conns.Register(fake.TypeName, backend.Factory())
	svc, err := workflow.New(workflow.Config{Store: st, Clock: clk, Policy: pol, Connectors: conns,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("apitest: workflow: %v", err)
	}
	e := &Env{Store: st, Service: svc, Clock: clk, Backend: backend, Tokens: map[string]string{}}
	now := clk.Now()
	mk := func(id, name string, roles []access.Role, groups []string, manager string) *access.User {
		u := &access.User{ID: id, Email: name + "@example.com", Name: strings.ToUpper(name[:1]) + name[1:],
			Roles: roles, Groups: groups, ManagerID: manager, Status: access.UserActive, CreatedAt: now, UpdatedAt: now}
		if err := st.UserUpsert(ctx, u); err != nil {
			t.Fatalf("apitest: user %s: %v", id, err)
		}
		return u
	}
	e.Bob = mk("usr_bob", "bob", nil, []string{"approvers"}, "")
	e.Alice = mk("usr_alice", "alice", nil, []string{"eng"}, e.Bob.ID)
	e.Carol = mk("usr_carol", "carol", []access.Role{access.RoleAdmin}, []string{"approvers"}, "")
	e.Dave = mk("usr_dave", "dave", []access.Role{access.RoleAuditor}, nil, "")
	e.Erin = mk("usr_erin", "erin", nil, []string{"eng"}, "")
	e.Frank = mk("usr_frank", "frank", nil, []string{"eng"}, "")

	apps := []*access.App{
		{ID: "github", Name: "GitHub", Description: "the GitHub org", ConnectorType: fake.TypeName,
			Owners: []string{e.Frank.ID}, Aliases: []string{"gh"}, Source: access.SourceConfig},
		{ID: "db", Name: "Production DB", ConnectorType: fake.TypeName, Source: access.SourceConfig},
	}
	ents := []*access.Entitlement{
		{AppID: "github", Key: "read", Name: "Read", MaxDuration: 8 * time.Hour, Requestable: true, Risk: access.RiskLow},
		{AppID: "github", Key: "write", Name: "Write", MaxDuration: 24 * time.Hour, Requestable: true, Risk: access.RiskMedium},
		{AppID: "github", Key: "admin", Name: "Admin", Requestable: false, Risk: access.RiskHigh},
		{AppID: "db", Key: "read", Name: "Read", Requestable: true, Risk: access.RiskLow},
		{AppID: "db", Key: "admin", Name: "Admin", Requestable: true, Risk: access.RiskHigh},
	}
	for _, a := range apps {
		a.CreatedAt, a.UpdatedAt = now, now
		if err := st.AppUpsert(ctx, a); err != nil {
			t.Fatalf("apitest: app %s: %v", a.ID, err)
		}
	}
	for _, en := range ents {
		en.ID = access.EntitlementID(en.AppID, en.Key)
		en.CreatedAt, en.UpdatedAt = now, now
		if err := st.EntitlementUpsert(ctx, en); err != nil {
			t.Fatalf("apitest: entitlement %s: %v", en.ID, err)
		}
	}
	for _, u := range []*access.User{e.Alice, e.Bob, e.Carol, e.Dave, e.Erin, e.Frank} {
		err := st.InTx(ctx, func(q store.Queries) error {
			secret, _, err := auth.CreateToken(ctx, q, u.ID, "test", time.Time{}, now)
			e.Tokens[u.ID] = secret
			return err
		})
		if err != nil {
			t.Fatalf("apitest: token for %s: %v", u.ID, err)
		}
	}
	e.Handler = api.New(api.Config{Service: svc, Store: st, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	e.Server = httptest.NewServer(e.Handler)
	t.Cleanup(e.Server.Close)
	return e
}

// Token returns u's API token secret.
func (e *Env) Token(u *access.User) string { return e.Tokens[u.ID] }

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends method path (under the server root, e.g. "/api/v1/me") as u
// (nil: no token) with a JSON body ("" for none).
func (e *Env) Do(t testing.TB, u *access.User, method, path, body string) Response {
	t.Helper()
	token := ""
	if u != nil {
		token = e.Token(u)
	}
	return e.DoToken(t, token, method, path, body)
}

// DoToken is Do with an explicit bearer token ("" for none).
func (e *Env) DoToken(t testing.TB, token, method, path, body string) Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.Server.URL+path, rd)
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("apitest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apitest: read %s %s: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Submit files a request through the service, failing t on error.
func (e *Env) Submit(t testing.TB, u *access.User, d time.Duration, entitlements ...string) *access.Request {
	t.Helper()
	r, err := e.Service.Submit(context.WithoutCancel(t.Context()), u.ID, workflow.SubmitParams{
		Entitlements: entitlements, Duration: d, Reason: "testing", Approvers: []string{e.Bob.Email}})
	if err != nil {
		t.Fatalf("apitest: submit: %v", err)
	}
	return r
}
