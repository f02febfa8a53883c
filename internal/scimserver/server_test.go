package scimserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/scimserver"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/postgres"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/workflow"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

type testBundle struct {
	st    store.Store
	svc   *workflow.Service
	srv   *httptest.Server
	token string
	// vars are substituted for {{name}} in request paths and bodies.
	vars map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, sqlite.OpenTest(t))
}

func setupWith(t *testing.T, st store.Store, configEmails ...string) *testBundle {
	t.Helper()
	clk := clock.NewFake(t0)
	engine, err := policy.New([]policy.Policy{{ID: "default", Default: true, MaxDuration: 8 * time.Hour,
		Steps: []policy.StepRule{{Name: "Owners", Approvers: policy.ApproverRule{AppOwners: true}}}}}, 12*time.Hour)
	require.NoError(t, err)
	reg := connector.NewRegistry()
	reg.Register(fake.TypeName, fake.NewBackend().Factory())
	svc, err := workflow.New(workflow.Config{Store: st, Clock: clk, Policy: engine, Connectors: reg})
	require.NoError(t, err)
	s, err := scimserver.New(scimserver.Config{Store: st, Clock: clk, Offboarder: svc, BaseURL: "https://sesame.example.com",
		ConfigEmails: configEmails})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	token, _, err := scimserver.CreateClient(t.Context(), st, "okta", "cli", t0)
	require.NoError(t, err)
	return &testBundle{st: st, svc: svc, srv: srv, token: token, vars: map[string]string{}}
}

// do sends one request with the client's token and decodes the answer.
func (b *testBundle) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	return b.doAs(t, b.token, method, path, body)
}

func (b *testBundle) doAs(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	for k, v := range b.vars {
		path = strings.ReplaceAll(path, "{{"+k+"}}", url.PathEscape(v))
		path = strings.ReplaceAll(path, url.QueryEscape("{{"+k+"}}"), url.QueryEscape(v))
		body = strings.ReplaceAll(body, "{{"+k+"}}", v)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
		require.Equal(t, "application/scim+json", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out
}

// step is one request of a replayed provisioning conversation.
type step struct {
	name   string
	method string
	path   string
	body   string
	status int
	// save stores the response's id as vars[save].
	save  string
	check func(t *testing.T, b *testBundle, resp map[string]any)
}

func (b *testBundle) replay(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		code, resp := b.do(t, s.method, s.path, s.body)
		require.Equal(t, s.status, code, "%s: %s %s -> %v", s.name, s.method, s.path, resp)
		if s.save != "" {
			id, _ := resp["id"].(string)
			require.NotEmpty(t, id, s.name)
			b.vars[s.save] = id
		}
		if s.check != nil {
			s.check(t, b, resp)
		}
	}
}

func (b *testBundle) user(t *testing.T, id string) *access.User {
	t.Helper()
	u, err := b.st.UserGetByID(t.Context(), b.vars[id])
	require.NoError(t, err)
	return u
}

func total(t *testing.T, resp map[string]any) int {
	t.Helper()
	require.Equal(t, []any{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, resp["schemas"])
	return int(resp["totalResults"].(float64))
}

func scimType(resp map[string]any) string {
	s, _ := resp["scimType"].(string)
	return s
}

// TestOktaProvisioning replays the requests of Okta's SCIM 2.0 reference
// ("Okta and SCIM Version 2.0"): the user lookup before create, create
// with a password (never kept), the full PUT profile update, deactivation
// and reactivation by a path-less replace, and group push with member
// add, rename and member removal by a value filter.
func TestOktaProvisioning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.replay(t, []step{
		{name: "lookup before create", method: "GET", path: "/scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
			status: 200, check: func(t *testing.T, _ *testBundle, r map[string]any) {
				require.Equal(t, 0, total(t, r))
				require.Equal(t, []any{}, r["Resources"])
			}},
		{name: "create", method: "POST", path: "/scim/v2/Users", status: 201, save: "user", body: `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName": "test.user@okta.local",
			"name": {"givenName": "Test", "familyName": "User"},
			"emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
			"displayName": "Test User",
			"locale": "en-US",
			"externalId": "00ujl29u0le5T6Aj10h7",
			"groups": [],
			"password": "1mz050nq",
			"active": true}`,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.NotContains(t, r, "password")
				require.Equal(t, true, r["active"])
				require.Equal(t, "00ujl29u0le5T6Aj10h7", r["externalId"])
				require.Equal(t, "User", r["meta"].(map[string]any)["resourceType"])
				require.Equal(t, "https://sesame.example.com/scim/v2/Users/"+b.vars["user"], r["meta"].(map[string]any)["location"])
				u := b.user(t, "user")
				require.Equal(t, "test.user@okta.local", u.Email)
				require.Equal(t, "Test User", u.Name)
				require.Equal(t, access.UserActive, u.Status)
				// Fields SCIM does not own, set by Slack linking and the config.
				u.SlackUserID, u.Roles, u.Groups = "U0123", []access.Role{access.RoleAuditor}, []string{"from-config"}
				require.NoError(t, b.st.UserUpsert(t.Context(), u))
			}},
		{name: "the same userName again", method: "POST", path: "/scim/v2/Users", status: 409,
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"TEST.USER@okta.local","emails":[{"value":"other@okta.local"}]}`,
			check: func(t *testing.T, _ *testBundle, r map[string]any) {
				require.Equal(t, "uniqueness", scimType(r))
				require.Equal(t, "409", r["status"])
			}},
		{name: "lookup finds it", method: "GET", path: "/scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
			status: 200, check: func(t *testing.T, _ *testBundle, r map[string]any) { require.Equal(t, 1, total(t, r)) }},
		{name: "get", method: "GET", path: "/scim/v2/Users/{{user}}", status: 200},
		{name: "profile update by PUT", method: "PUT", path: "/scim/v2/Users/{{user}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
			"id": "{{user}}",
			"userName": "test.user@okta.local",
			"name": {"givenName": "Another", "familyName": "User"},
			"emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
			"displayName": "Another User",
			"locale": "en-US",
			"groups": [],
			"active": true,
			"meta": {"resourceType": "User"}}`,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, "00ujl29u0le5T6Aj10h7", r["externalId"], "PUT without externalId keeps it")
				u := b.user(t, "user")
				require.Equal(t, "Another User", u.Name)
				require.Equal(t, "U0123", u.SlackUserID, "SCIM updates merge: the Slack link stays")
				require.Equal(t, []access.Role{access.RoleAuditor}, u.Roles)
				require.Equal(t, []string{"from-config"}, u.Groups)
			}},
		{name: "deactivate", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200,
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, false, r["active"])
				require.Equal(t, access.UserOffboarded, b.user(t, "user").Status)
			}},
		{name: "reactivate", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200,
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, access.UserActive, b.user(t, "user").Status)
			}},
		{name: "push group", method: "POST", path: "/scim/v2/Groups", status: 201, save: "group",
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`},
		{name: "add member", method: "PATCH", path: "/scim/v2/Groups/{{group}}", status: 204, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "add", "path": "members", "value": [{"value": "{{user}}", "display": "test.user@okta.local"}]}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.ElementsMatch(t, []string{"from-config", "Test SCIMv2"}, b.user(t, "user").Groups)
			}},
		{name: "the user lists its group", method: "GET", path: "/scim/v2/Users/{{user}}", status: 200,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				gs := r["groups"].([]any)
				require.Len(t, gs, 1)
				require.Equal(t, b.vars["group"], gs[0].(map[string]any)["value"])
			}},
		{name: "rename by path-less replace", method: "PATCH", path: "/scim/v2/Groups/{{group}}", status: 204, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "replace", "value": {"id": "{{group}}", "displayName": "Test SCIMv2 renamed"}}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.ElementsMatch(t, []string{"from-config", "Test SCIMv2 renamed"}, b.user(t, "user").Groups)
			}},
		{name: "get group with members", method: "GET", path: "/scim/v2/Groups/{{group}}", status: 200,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, "Test SCIMv2 renamed", r["displayName"])
				require.Len(t, r["members"], 1)
			}},
		{name: "remove member by value filter", method: "PATCH", path: "/scim/v2/Groups/{{group}}", status: 204, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "remove", "path": "members[value eq \"{{user}}\"]"}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, []string{"from-config"}, b.user(t, "user").Groups)
			}},
		{name: "PUT group with members", method: "PUT", path: "/scim/v2/Groups/{{group}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "{{group}}",
			"displayName": "Test SCIMv2", "members": [{"value": "{{user}}", "display": "test.user@okta.local"}]}`,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Len(t, r["members"], 1)
				require.ElementsMatch(t, []string{"from-config", "Test SCIMv2"}, b.user(t, "user").Groups)
			}},
		{name: "delete group", method: "DELETE", path: "/scim/v2/Groups/{{group}}", status: 204,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, []string{"from-config"}, b.user(t, "user").Groups)
			}},
		{name: "deleted group is gone", method: "GET", path: "/scim/v2/Groups/{{group}}", status: 404},
	})
	// Every change was audited as the client.
	events, _, err := b.st.EventList(t.Context(), store.EventListParams{Action: "scim."})
	require.NoError(t, err)
	require.NotEmpty(t, events)
	for _, e := range events {
		if e.Action == "scim.client.created" {
			continue
		}
		require.True(t, strings.HasPrefix(e.ActorID, "scc_"), e.Action)
	}
}

// TestEntraProvisioning replays the requests of Microsoft's "Tutorial:
// Develop and plan provisioning for a SCIM endpoint": capitalised op
// names, the enterprise extension's manager, "False" as a string, a work
// email added by a value-filter path, members added and removed by value
// lists, group lookups without members.
func TestEntraProvisioning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.replay(t, []step{
		{name: "lookup", method: "GET", path: "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"`),
			status: 200, check: func(t *testing.T, _ *testBundle, r map[string]any) { require.Equal(t, 0, total(t, r)) }},
		{name: "create", method: "POST", path: "/scim/v2/Users", status: 201, save: "user", body: `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
			"userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
			"active": true,
			"emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
			"meta": {"resourceType": "User"},
			"name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
			"roles": []}`,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.NotContains(t, r["schemas"], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
				u := b.user(t, "user")
				require.Equal(t, "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com", u.Email)
				require.Equal(t, "givenName familyName", u.Name)
			}},
		{name: "lookup by externalId", method: "GET", path: "/scim/v2/Users?filter=" + url.QueryEscape(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`),
			status: 200, check: func(t *testing.T, _ *testBundle, r map[string]any) { require.Equal(t, 1, total(t, r)) }},
		{name: "lookup by work email", method: "GET", path: "/scim/v2/Users?filter=" + url.QueryEscape(`emails[type eq "work"].value eq "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"`),
			status: 200, check: func(t *testing.T, _ *testBundle, r map[string]any) { require.Equal(t, 1, total(t, r)) }},
		{name: "a filter that matches nobody", method: "GET", path: "/scim/v2/Users?filter=" + url.QueryEscape(`emails[type eq "home"].value eq "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"`),
			status: 200, check: func(t *testing.T, _ *testBundle, r map[string]any) { require.Equal(t, 0, total(t, r)) }},
		{name: "manager", method: "POST", path: "/scim/v2/Users", status: 201, save: "manager", body: `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "m-1", "userName": "boss@testuser.com", "active": true,
			"emails": [{"primary": true, "type": "work", "value": "boss@testuser.com"}], "displayName": "The Boss"}`},
		{name: "update attributes", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [
				{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
				{"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
				{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "{{manager}}"}]}`,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				u := b.user(t, "user")
				require.Equal(t, "updatedemail@microsoft.com", u.Email)
				require.Equal(t, b.vars["manager"], u.ManagerID)
				ext := r["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
				require.Equal(t, map[string]any{"value": b.vars["manager"]}, ext["manager"])
				require.Equal(t, "updatedFamilyName", r["name"].(map[string]any)["familyName"])
			}},
		{name: "manager as a list on a bare path", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "m-1"}]}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, b.vars["manager"], b.user(t, "user").ManagerID, "resolved by externalId")
			}},
		{name: "remove manager", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) { require.Empty(t, b.user(t, "user").ManagerID) }},
		{name: "path-less replace with attribute paths", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "replace", "value": {"name.givenName": "Ann", "displayName": "Ann Updated", "emails[type eq \"work\"].value": "ann@microsoft.com"}}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				u := b.user(t, "user")
				require.Equal(t, "Ann Updated", u.Name)
				require.Equal(t, "ann@microsoft.com", u.Email)
			}},
		{name: "group create", method: "POST", path: "/scim/v2/Groups", status: 201, save: "group", body: `{
			"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName",
			"meta": {"resourceType": "Group"},
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"]}`},
		{name: "group lookup without members", method: "GET", path: "/scim/v2/Groups?excludedAttributes=members&filter=" + url.QueryEscape(`displayName eq "displayName"`),
			status: 200, check: func(t *testing.T, _ *testBundle, r map[string]any) {
				require.Equal(t, 1, total(t, r))
				require.NotContains(t, r["Resources"].([]any)[0], "members")
			}},
		{name: "add members", method: "PATCH", path: "/scim/v2/Groups/{{group}}", status: 204, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"name": "addMember", "op": "Add", "path": "members", "value": [{"$ref": null, "value": "{{user}}"}, {"$ref": null, "value": "{{manager}}"}]}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Contains(t, b.user(t, "user").Groups, "displayName")
				require.Contains(t, b.user(t, "manager").Groups, "displayName")
			}},
		{name: "membership check", method: "GET", path: "/scim/v2/Groups?excludedAttributes=members&filter=" + url.QueryEscape(`id eq "{{group}}" and members[value eq "{{user}}"]`),
			status: 200, check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, 1, total(t, r))
				require.NotContains(t, r["Resources"].([]any)[0], "members")
			}},
		{name: "remove a member by value list", method: "PATCH", path: "/scim/v2/Groups/{{group}}", status: 204, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"name": "removeMember", "op": "Remove", "path": "members", "value": [{"$ref": null, "value": "{{user}}"}]}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.NotContains(t, b.user(t, "user").Groups, "displayName")
				require.Contains(t, b.user(t, "manager").Groups, "displayName")
			}},
		{name: "rename", method: "PATCH", path: "/scim/v2/Groups/{{group}}", status: 204, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, []string{"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}, b.user(t, "manager").Groups)
			}},
		{name: "disable with a string boolean", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}`,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, false, r["active"])
				require.Equal(t, access.UserOffboarded, b.user(t, "user").Status)
			}},
		{name: "disabled again: nothing more", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200, body: `{
			"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}`},
		{name: "hard delete", method: "DELETE", path: "/scim/v2/Users/{{manager}}", status: 204,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				u := b.user(t, "manager")
				require.Equal(t, access.UserOffboarded, u.Status, "the Sesame user stays, offboarded")
				require.Empty(t, u.Groups)
			}},
		{name: "deleted user is gone", method: "GET", path: "/scim/v2/Users/{{manager}}", status: 404},
	})
	events, _, err := b.st.EventList(t.Context(), store.EventListParams{Action: "user.offboarded"})
	require.NoError(t, err)
	require.Len(t, events, 2, "one offboarding per person, however many deactivations")
}

func TestErrorsAndPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		code, _ := b.do(t, "POST", "/scim/v2/Users", `{"userName":"u`+string(rune('a'+i))+`@example.com"}`)
		require.Equal(t, 201, code)
	}
	code, r := b.do(t, "GET", "/scim/v2/Users?startIndex=2&count=2", "")
	require.Equal(t, 200, code)
	require.Equal(t, 5, total(t, r))
	require.Equal(t, float64(2), r["itemsPerPage"])
	require.Equal(t, float64(2), r["startIndex"])
	code, r = b.do(t, "GET", "/scim/v2/Users?count=0", "")
	require.Equal(t, 200, code)
	require.Equal(t, 5, total(t, r))
	require.Empty(t, r["Resources"])
	code, r = b.do(t, "GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName sw "u"`)+"&startIndex=5&count=10", "")
	require.Equal(t, 200, code)
	require.Equal(t, 5, total(t, r), "an evaluated filter pages too")
	require.Len(t, r["Resources"], 1)

	cases := []struct {
		name, method, path, body string
		status                   int
		scimType                 string
	}{
		{"bad filter", "GET", "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq`), "", 400, "invalidFilter"},
		{"bad op", "PATCH", "/scim/v2/Users/none", `{"Operations":[{"op":"move","path":"x"}]}`, 400, "invalidSyntax"},
		{"unknown user", "PATCH", "/scim/v2/Users/none", `{"Operations":[{"op":"replace","path":"active","value":false}]}`, 404, ""},
		{"no userName", "POST", "/scim/v2/Users", `{"emails":[{"value":"x@example.com"}]}`, 400, "invalidValue"},
		{"no email", "POST", "/scim/v2/Users", `{"userName":"nomail"}`, 400, "invalidValue"},
		{"bad active", "POST", "/scim/v2/Users", `{"userName":"z@example.com","active":"maybe"}`, 400, "invalidValue"},
		{"not json", "POST", "/scim/v2/Users", `{`, 400, "invalidSyntax"},
		{"unknown member", "POST", "/scim/v2/Groups", `{"displayName":"g","members":[{"value":"usr_nobody"}]}`, 400, "invalidValue"},
		{"bad path", "PATCH", "/scim/v2/Groups/x", `{"Operations":[{"op":"add","path":"members[","value":[]}]}`, 404, ""},
		{"sort", "GET", "/scim/v2/Users?sortBy=userName", "", 400, "invalidValue"},
		{"bulk", "POST", "/scim/v2/Bulk", `{}`, 404, ""},
	}
	for _, c := range cases {
		code, r := b.do(t, c.method, c.path, c.body)
		require.Equal(t, c.status, code, "%s: %v", c.name, r)
		require.Equal(t, c.scimType, scimType(r), c.name)
		require.Equal(t, []any{"urn:ietf:params:scim:api:messages:2.0:Error"}, r["schemas"], c.name)
	}

	code, r = b.doAs(t, "sesame_scim_wrong", "GET", "/scim/v2/Users", "")
	require.Equal(t, 401, code)
	require.Equal(t, "401", r["status"])
	list, err := b.st.ScimClientList(t.Context())
	require.NoError(t, err)
	_, err = scimserver.RevokeClient(t.Context(), b.st, list[0].ID, "cli", t0)
	require.NoError(t, err)
	code, _ = b.do(t, "GET", "/scim/v2/Users", "")
	require.Equal(t, 401, code, "a revoked client is refused at once")
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, r := b.do(t, "GET", "/scim/v2/ServiceProviderConfig", "")
	require.Equal(t, 200, code)
	require.Equal(t, map[string]any{"supported": true}, r["patch"])
	require.Equal(t, false, r["bulk"].(map[string]any)["supported"])
	code, r = b.do(t, "GET", "/scim/v2/ResourceTypes", "")
	require.Equal(t, 200, code)
	require.Equal(t, 2, total(t, r))
	code, r = b.do(t, "GET", "/scim/v2/Schemas", "")
	require.Equal(t, 200, code)
	require.Equal(t, 3, total(t, r))
	code, _ = b.do(t, "GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "")
	require.Equal(t, 200, code)
}

// TestConcurrentGroupPatches: an identity provider's parallel PATCHes of
// one group (and of one user) all land, on both databases.
func TestConcurrentGroupPatches(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) store.Store{
		"sqlite":   func(t *testing.T) store.Store { return sqlite.OpenTest(t) },
		"postgres": func(t *testing.T) store.Store { return postgres.OpenTest(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, open(t))
			const n = 12
			users := make([]string, n)
			for i := range n {
				code, r := b.do(t, "POST", "/scim/v2/Users", fmt.Sprintf(`{"userName":"u%d@example.com"}`, i))
				require.Equal(t, 201, code, r)
				users[i] = r["id"].(string)
			}
			code, g := b.do(t, "POST", "/scim/v2/Groups", `{"displayName":"eng"}`)
			require.Equal(t, 201, code, g)
			gid := g["id"].(string)
			var wg sync.WaitGroup
			codes := make([]int, n)
			for i := range n {
				wg.Go(func() {
					codes[i], _ = b.do(t, "PATCH", "/scim/v2/Groups/"+gid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+users[i]+`"}]}]}`)
				})
			}
			wg.Wait()
			for i, c := range codes {
				require.Equal(t, 204, c, "patch %d", i)
			}
			code, g = b.do(t, "GET", "/scim/v2/Groups/"+gid, "")
			require.Equal(t, 200, code)
			require.Len(t, g["members"], n, "no membership lost")
			for _, id := range users {
				u, err := b.st.UserGetByID(t.Context(), id)
				require.NoError(t, err)
				require.Equal(t, []string{"eng"}, u.Groups)
			}
			// Two groups may not share a name, however they race.
			for i := range 4 {
				wg.Go(func() {
					codes[i], _ = b.do(t, "POST", "/scim/v2/Groups", `{"displayName":"ops"}`)
				})
			}
			wg.Wait()
			created := 0
			for _, c := range codes[:4] {
				require.Contains(t, []int{201, 409}, c)
				if c == 201 {
					created++
				}
			}
			require.Equal(t, 1, created)
		})
	}
}

// TestAdminOffboardingStands: a person an admin offboarded stays
// offboarded when the provider pushes them as active; the provider's own
// deactivation followed by reactivation brings them back.
func TestAdminOffboardingStands(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.replay(t, []step{{name: "create", method: "POST", path: "/scim/v2/Users", status: 201, save: "user",
		body: `{"userName":"p@example.com","active":true}`}})
	require.NoError(t, b.st.UserUpsert(t.Context(), &access.User{ID: "usr_admin", Email: "admin@example.com", Status: access.UserActive,
		Roles: []access.Role{access.RoleAdmin}}))
	_, err := b.svc.Offboard(t.Context(), "usr_admin", b.vars["user"], "fired")
	require.NoError(t, err)
	b.replay(t, []step{
		{name: "profile update", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200,
			body: `{"Operations":[{"op":"replace","value":{"displayName":"P","active":true}}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, access.UserOffboarded, b.user(t, "user").Status)
			}},
		{name: "deactivate", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200,
			body: `{"Operations":[{"op":"replace","path":"active","value":false}]}`},
		{name: "reactivate", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200,
			body: `{"Operations":[{"op":"replace","path":"active","value":true}]}`,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, access.UserActive, b.user(t, "user").Status)
			}},
	})
}

// events returns the events with action, newest first.
func (b *testBundle) events(t *testing.T, action, subject string) []*access.Event {
	t.Helper()
	evs, _, err := b.st.EventList(t.Context(), store.EventListParams{Action: action, SubjectType: "user", SubjectID: subject})
	require.NoError(t, err)
	return evs
}

// TestEmailChangeOfPrivilegedUserRefused: a SCIM push cannot move the
// email of an admin, an auditor or a person of the config file (dashboard
// sign-in matches by email); the refusal is a security event. Other
// people's email changes are accepted and audited.
func TestEmailChangeOfPrivilegedUserRefused(t *testing.T) {
	t.Parallel()
	b := setupWith(t, sqlite.OpenTest(t), "Admin@example.com", "plain-cfg@example.com")
	ctx := t.Context()
	require.NoError(t, b.st.UserUpsert(ctx, &access.User{ID: "usr_admin", Email: "admin@example.com", Name: "Admin",
		Status: access.UserActive, Roles: []access.Role{access.RoleAdmin}}))
	require.NoError(t, b.st.UserUpsert(ctx, &access.User{ID: "usr_cfg", Email: "plain-cfg@example.com", Status: access.UserActive}))
	require.NoError(t, b.st.UserUpsert(ctx, &access.User{ID: "usr_aud", Email: "aud@example.com", Status: access.UserActive,
		Roles: []access.Role{access.RoleAuditor}}))
	for _, c := range []struct{ name, email string }{
		{"admin", "admin@example.com"}, {"cfg", "plain-cfg@example.com"}, {"aud", "aud@example.com"},
	} {
		b.replay(t, []step{{name: "adopt " + c.name, method: "POST", path: "/scim/v2/Users", status: 201, save: c.name,
			body: `{"userName":"` + c.email + `","emails":[{"value":"` + c.email + `","primary":true}]}`}})
	}
	require.Equal(t, "usr_admin", b.vars["admin"])
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[primary eq true].value","value":"attacker@evil.example"}]}`
	for _, who := range []string{"admin", "cfg", "aud"} {
		before := b.user(t, who)
		code, r := b.do(t, "PATCH", "/scim/v2/Users/{{"+who+"}}", patch)
		require.Equal(t, 400, code, "%s: %v", who, r)
		require.Equal(t, "mutability", scimType(r))
		require.Contains(t, r["detail"], "cannot be changed over SCIM")
		require.Equal(t, before.Email, b.user(t, who).Email, who)
		evs := b.events(t, "scim.email_change_refused", b.vars[who])
		require.Len(t, evs, 1, who)
		require.True(t, strings.HasPrefix(evs[0].ActorID, "scc_"))
		var data map[string]any
		require.NoError(t, json.Unmarshal(evs[0].Data, &data))
		require.Equal(t, before.Email, data["old"])
		require.Equal(t, "attacker@evil.example", data["new"])
		require.Empty(t, b.events(t, "user.email_changed", b.vars[who]))
	}
	// A PUT with another email is refused the same way.
	code, r := b.do(t, "PUT", "/scim/v2/Users/{{admin}}", `{"userName":"admin@example.com","emails":[{"value":"x@evil.example","primary":true}]}`)
	require.Equal(t, 400, code, r)
	require.Equal(t, "admin@example.com", b.user(t, "admin").Email)
	require.Len(t, b.events(t, "scim.email_change_refused", "usr_admin"), 2)
	// The same email in another case is no change; other updates pass.
	code, r = b.do(t, "PATCH", "/scim/v2/Users/{{admin}}", `{"Operations":[{"op":"replace","path":"emails[primary eq true].value","value":"ADMIN@example.com"},
		{"op":"replace","path":"displayName","value":"The Admin"}]}`)
	require.Equal(t, 200, code, r)
	require.Equal(t, "The Admin", b.user(t, "admin").Name)
	require.Equal(t, "admin@example.com", b.user(t, "admin").Email)

	// Anyone else's email may change, audited with the old and new.
	b.replay(t, []step{
		{name: "create", method: "POST", path: "/scim/v2/Users", status: 201, save: "p",
			body: `{"userName":"p@example.com","emails":[{"value":"p@example.com","primary":true}]}`},
		{name: "change email", method: "PATCH", path: "/scim/v2/Users/{{p}}", status: 200,
			body: `{"Operations":[{"op":"replace","path":"emails[primary eq true].value","value":"p2@example.com"}]}`},
	})
	require.Equal(t, "p2@example.com", b.user(t, "p").Email)
	evs := b.events(t, "user.email_changed", b.vars["p"])
	require.Len(t, evs, 1)
	var data map[string]any
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	require.Equal(t, "p@example.com", data["old"])
	require.Equal(t, "p2@example.com", data["new"])
}

// TestRecreateAfterDeleteReactivates: a user the provider deleted and
// creates again is active again; a person an admin offboarded stays
// offboarded and the answer says active:false.
func TestRecreateAfterDeleteReactivates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"userName":"p@example.com","emails":[{"value":"p@example.com","primary":true}],"active":true}`
	b.replay(t, []step{
		{name: "create", method: "POST", path: "/scim/v2/Users", status: 201, save: "user", body: body},
		{name: "delete", method: "DELETE", path: "/scim/v2/Users/{{user}}", status: 204,
			check: func(t *testing.T, b *testBundle, _ map[string]any) {
				require.Equal(t, access.UserOffboarded, b.user(t, "user").Status)
			}},
		{name: "create again", method: "POST", path: "/scim/v2/Users", status: 201, save: "again", body: body,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, b.vars["user"], b.vars["again"], "the same person")
				require.Equal(t, true, r["active"])
				require.Equal(t, access.UserActive, b.user(t, "user").Status)
				require.Len(t, b.events(t, "user.reactivated", b.vars["user"]), 1)
			}},
		{name: "deactivate", method: "PATCH", path: "/scim/v2/Users/{{user}}", status: 200,
			body: `{"Operations":[{"op":"replace","path":"active","value":false}]}`},
		{name: "delete after deactivation", method: "DELETE", path: "/scim/v2/Users/{{user}}", status: 204},
		{name: "create a third time", method: "POST", path: "/scim/v2/Users", status: 201, body: body,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, true, r["active"])
				require.Equal(t, access.UserActive, b.user(t, "user").Status)
			}},
	})

	// An admin's offboarding stands through the provider's delete and
	// re-create, and SCIM says so.
	require.NoError(t, b.st.UserUpsert(t.Context(), &access.User{ID: "usr_admin", Email: "admin@example.com", Status: access.UserActive,
		Roles: []access.Role{access.RoleAdmin}}))
	_, err := b.svc.Offboard(t.Context(), "usr_admin", b.vars["user"], "fired")
	require.NoError(t, err)
	b.replay(t, []step{
		{name: "get after admin offboarding", method: "GET", path: "/scim/v2/Users/{{user}}", status: 200,
			check: func(t *testing.T, _ *testBundle, r map[string]any) { require.Equal(t, false, r["active"]) }},
		{name: "delete", method: "DELETE", path: "/scim/v2/Users/{{user}}", status: 204},
		{name: "create after admin offboarding", method: "POST", path: "/scim/v2/Users", status: 201, body: body,
			check: func(t *testing.T, b *testBundle, r map[string]any) {
				require.Equal(t, false, r["active"], "never reported active while offboarded")
				require.Equal(t, access.UserOffboarded, b.user(t, "user").Status)
			}},
	})
}
