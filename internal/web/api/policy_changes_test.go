package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/fake"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/web/api/apitest"
	"github.com/sesame-access/sesame/internal/workflow"
)

// policyBundle is the apitest fixture served by a Service whose policies
// live in the store (seeded with filePolicyJSON), with a second admin,
// ann.
type policyBundle struct {
	*testBundle
	cur *policy.Current
	ann *access.User
}

// filePolicyJSON is the seeded set; proposedJSON adds a policy for db.
const (
	filePolicyJSON = `{"id":"default","default":true,"steps":[{"name":"approval","approvers":{"users":["bob@example.com","carol@example.com"]},"requester_chooses":true}],"max_duration":"3d","default_duration":"2h"}`
	dbPolicyJSON   = `{"id":"db-read","match":{"entitlements":["db:read"]},"steps":[{"name":"bob","approvers":{"users":["bob@example.com"]}}],"auto_approve":[{"name":"always","condition":"true"}]}`
	proposedJSON   = `{"policies":[` + filePolicyJSON + `,` + dbPolicyJSON + `],"comment":"auto-approve db reads"}`
)

func setupPolicies(t *testing.T, twoPersonRule bool) *policyBundle {
	t.Helper()
	env := apitest.New(t)
	ctx := t.Context()
	now := env.Clock.Now()
	ann := &access.User{ID: "usr_ann", Email: "ann@example.com", Name: "Ann", Roles: []access.Role{access.RoleAdmin},
		Status: access.UserActive, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, env.Store.UserUpsert(ctx, ann))
	require.NoError(t, env.Store.InTx(ctx, func(q store.Queries) error {
		secret, _, err := auth.CreateToken(ctx, q, ann.ID, "test", time.Time{}, now)
		env.Tokens[ann.ID] = secret
		return err
	}))

	cur := policy.NewCurrent(0)
	conns := connector.NewRegistry()
	conns.Register(fake.TypeName, env.Backend.Factory())
	svc, err := workflow.New(workflow.Config{Store: env.Store, Clock: env.Clock, Policy: cur, Connectors: conns})
	require.NoError(t, err)
	var file policy.Policy
	require.NoError(t, json.Unmarshal([]byte(filePolicyJSON), &file))
	_, _, err = svc.SeedPolicies(ctx, []policy.Policy{file})
	require.NoError(t, err)

	// The fixture's users and tokens, served by this service.
	served := *env
	served.Service = svc
	served.Handler = api.New(api.Config{Service: svc, Store: env.Store, Clock: env.Clock, Logger: slog.New(slog.DiscardHandler),
		TwoPersonRule: twoPersonRule})
	served.Server = httptest.NewServer(served.Handler)
	t.Cleanup(served.Server.Close)
	return &policyBundle{testBundle: &testBundle{env: &served}, cur: cur, ann: ann}
}

type policySetResp struct {
	Version   int64           `json:"version"`
	Source    string          `json:"source"`
	ChangeID  string          `json:"change_id"`
	UpdatedBy userRef         `json:"updated_by"`
	Digest    string          `json:"digest"`
	Policies  []policy.Policy `json:"policies"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type policyChangeResp struct {
	ID              string            `json:"id"`
	State           string            `json:"state"`
	ProposedBy      userRef           `json:"proposed_by"`
	Comment         string            `json:"comment"`
	BaseVersion     int64             `json:"base_version"`
	DecidedBy       *userRef          `json:"decided_by"`
	DecisionComment string            `json:"decision_comment"`
	SelfApproved    bool              `json:"self_approved"`
	AppliedVersion  int64             `json:"applied_version"`
	Diff            []string          `json:"diff"`
	Before          []json.RawMessage `json:"before"`
	After           []json.RawMessage `json:"after"`
}

// simulatedPolicy is the policy alice's db:read falls under now.
func (b *policyBundle) simulatedPolicy(t *testing.T) string {
	t.Helper()
	var sim struct {
		PolicyID string `json:"policy_id"`
	}
	b.call(t, b.env.Alice, http.MethodPost, "/policies/simulate", `{"entitlements":["db:read"],"duration":"1h"}`, http.StatusOK, &sim)
	return sim.PolicyID
}

func TestPolicyChangesAPI(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t, true)
	e := b.env

	var set policySetResp
	b.call(t, e.Dave, http.MethodGet, "/policies", "", http.StatusOK, &set)
	require.Equal(t, int64(1), set.Version)
	require.Equal(t, "config", set.Source)
	require.Equal(t, "system", set.UpdatedBy.ID)
	require.True(t, strings.HasPrefix(set.Digest, "sha256:"))
	require.Len(t, set.Policies, 1)
	require.Equal(t, 72*time.Hour, set.Policies[0].MaxDuration)

	var c policyChangeResp
	resp := b.call(t, e.Carol, http.MethodPost, "/policies/changes", proposedJSON, http.StatusCreated, &c)
	require.Equal(t, "/api/v1/policies/changes/"+c.ID, resp.Header.Get("Location"))
	require.Equal(t, "proposed", c.State)
	require.Equal(t, "carol@example.com", c.ProposedBy.Email)
	require.Equal(t, "auto-approve db reads", c.Comment)
	require.Equal(t, int64(1), c.BaseVersion)
	require.Nil(t, c.DecidedBy)
	require.Equal(t, []string{"added policy db-read"}, c.Diff)
	require.Len(t, c.Before, 1)
	require.Len(t, c.After, 2)
	var sent, echoed policy.Policy
	require.NoError(t, json.Unmarshal([]byte(dbPolicyJSON), &sent))
	require.NoError(t, json.Unmarshal(c.After[1], &echoed))
	require.Equal(t, sent, echoed)

	// Proposed is not in force; the proposer cannot approve it.
	require.Equal(t, "default", b.simulatedPolicy(t))
	pr := b.problem(t, e.Carol, http.MethodPost, "/policies/changes/"+c.ID+"/approve", "", http.StatusForbidden)
	require.Equal(t, "forbidden", pr.Code)
	require.Contains(t, pr.Detail, "another admin must approve it")
	b.problem(t, e.Dave, http.MethodPost, "/policies/changes/"+c.ID+"/approve", "", http.StatusForbidden)

	var applied policyChangeResp
	b.call(t, b.ann, http.MethodPost, "/policies/changes/"+c.ID+"/approve", `{"comment":"ok"}`, http.StatusOK, &applied)
	require.Equal(t, "applied", applied.State)
	require.Equal(t, "ann@example.com", applied.DecidedBy.Email)
	require.Equal(t, "ok", applied.DecisionComment)
	require.Equal(t, int64(2), applied.AppliedVersion)
	require.False(t, applied.SelfApproved)
	require.Equal(t, "db-read", b.simulatedPolicy(t), "in force without a restart")

	b.call(t, e.Carol, http.MethodGet, "/policies", "", http.StatusOK, &set)
	require.Equal(t, int64(2), set.Version)
	require.Equal(t, "api", set.Source)
	require.Equal(t, c.ID, set.ChangeID)
	require.Equal(t, "carol@example.com", set.UpdatedBy.Email)

	var pg pageResp[map[string]json.RawMessage]
	b.call(t, e.Dave, http.MethodGet, "/policies/changes?state=applied,rejected&limit=10", "", http.StatusOK, &pg)
	require.Len(t, pg.Items, 1)
	require.Empty(t, pg.NextCursor)
	require.NotContains(t, pg.Items[0], "before", "lists leave the sets out")
	require.JSONEq(t, `"`+c.ID+`"`, string(pg.Items[0]["id"]))
	b.call(t, e.Dave, http.MethodGet, "/policies/changes?state=proposed", "", http.StatusOK, &pg)
	require.Empty(t, pg.Items)

	var got policyChangeResp
	b.call(t, e.Dave, http.MethodGet, "/policies/changes/"+c.ID, "", http.StatusOK, &got)
	require.Equal(t, applied.State, got.State)
	require.Len(t, got.Before, 1)
	require.Len(t, got.After, 2)

	// Applied is final.
	b.problem(t, e.Carol, http.MethodPost, "/policies/changes/"+c.ID+"/reject", `{"comment":"too late"}`, http.StatusConflict)

	// The audit log has it, with the sets in full.
	var events pageResp[struct {
		Action string `json:"action"`
	}]
	b.call(t, e.Dave, http.MethodGet, "/audit?action=policy.", "", http.StatusOK, &events)
	var acts []string
	for _, ev := range events.Items {
		acts = append(acts, ev.Action)
	}
	require.Equal(t, []string{"policy.change_reject_refused", "policy.changed", "policy.change_approved", "policy.change_approve_refused",
		"policy.change_approve_refused", "policy.change_proposed", "policy.seeded"}, acts)
}

func TestPolicyChangesAPIErrors(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t, true)
	e := b.env

	// Reading is for admins and auditors; changing for admins.
	b.problem(t, e.Alice, http.MethodGet, "/policies", "", http.StatusForbidden)
	b.problem(t, e.Alice, http.MethodGet, "/policies/changes", "", http.StatusForbidden)
	b.problem(t, e.Alice, http.MethodGet, "/policies/changes/pch_1", "", http.StatusForbidden)
	b.problem(t, e.Alice, http.MethodPost, "/policies/changes", proposedJSON, http.StatusForbidden)
	b.problem(t, e.Dave, http.MethodPost, "/policies/changes", proposedJSON, http.StatusForbidden)
	b.problem(t, nil, http.MethodGet, "/policies", "", http.StatusUnauthorized)

	// Invalid policies: 422 naming each problem by its path.
	bad := strings.Replace(proposedJSON, `"condition":"true"`, `"condition":"request.nope"`, 1)
	pr := b.problem(t, e.Carol, http.MethodPost, "/policies/changes", bad, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"policies[1].auto_approve[0].condition"}, fields(pr))
	pr = b.problem(t, e.Carol, http.MethodPost, "/policies/changes",
		`{"policies":[`+filePolicyJSON+`,{"id":"x","bogus":1},{"id":"y","max_duration":5}]}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"policies[1]", "policies[2]"}, fields(pr))
	require.Contains(t, pr.Errors[0].Message, "bogus")
	pr = b.problem(t, e.Carol, http.MethodPost, "/policies/changes", `{"comment":"x"}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"policies"}, fields(pr))
	pr = b.problem(t, e.Carol, http.MethodPost, "/policies/changes", `{"policies":{}}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"policies"}, fields(pr))
	pr = b.problem(t, e.Carol, http.MethodPost, "/policies/changes", `{"policies":[`+filePolicyJSON+`]}`, http.StatusUnprocessableEntity)
	require.Contains(t, pr.Errors[0].Message, "the same as the current ones")
	pr = b.problem(t, e.Carol, http.MethodPost, "/policies/changes",
		`{"policies":[`+filePolicyJSON+`],"comment":"`+strings.Repeat("x", 2001)+`"}`, http.StatusUnprocessableEntity)
	require.Equal(t, []string{"comment"}, fields(pr))
	b.problem(t, e.Carol, http.MethodPost, "/policies/changes", `{"policies":[`, http.StatusBadRequest)
	b.problem(t, e.Carol, http.MethodPost, "/policies/changes", `{"policies":[],"extra":1}`, http.StatusBadRequest)
	b.problem(t, e.Carol, http.MethodGet, "/policies/changes?state=bogus", "", http.StatusUnprocessableEntity)
	b.problem(t, e.Carol, http.MethodGet, "/policies/changes?cursor=!!", "", http.StatusUnprocessableEntity)

	// Unknown changes.
	b.problem(t, e.Carol, http.MethodGet, "/policies/changes/pch_nope", "", http.StatusNotFound)
	b.problem(t, b.ann, http.MethodPost, "/policies/changes/pch_nope/approve", "", http.StatusNotFound)
	b.problem(t, e.Carol, http.MethodPost, "/policies/changes/pch_nope/reject", "", http.StatusNotFound)
	b.problem(t, e.Carol, http.MethodPost, "/policies/changes/bad$id/reject", "", http.StatusUnprocessableEntity)
	b.problem(t, e.Carol, http.MethodDelete, "/policies/changes/pch_1", "", http.StatusMethodNotAllowed)

	// A stale change: the set moved on since it was proposed.
	var first, second policyChangeResp
	b.call(t, e.Carol, http.MethodPost, "/policies/changes", proposedJSON, http.StatusCreated, &first)
	other := strings.Replace(filePolicyJSON, `"3d"`, `"2d"`, 1)
	b.call(t, b.ann, http.MethodPost, "/policies/changes", `{"policies":[`+other+`]}`, http.StatusCreated, &second)
	require.Equal(t, []string{"changed policy default: max_duration"}, second.Diff)
	b.call(t, e.Carol, http.MethodPost, "/policies/changes/"+second.ID+"/approve", "", http.StatusOK, nil)
	pr = b.problem(t, b.ann, http.MethodPost, "/policies/changes/"+first.ID+"/approve", "", http.StatusConflict)
	require.Contains(t, pr.Detail, "propose it again")

	// The proposer withdraws it; then it cannot be approved.
	var rejected policyChangeResp
	b.call(t, e.Carol, http.MethodPost, "/policies/changes/"+first.ID+"/reject", `{"comment":"stale"}`, http.StatusOK, &rejected)
	require.Equal(t, "rejected", rejected.State)
	require.Equal(t, "stale", rejected.DecisionComment)
	b.problem(t, b.ann, http.MethodPost, "/policies/changes/"+first.ID+"/approve", "", http.StatusConflict)
	b.problem(t, e.Alice, http.MethodPost, "/policies/changes/"+second.ID+"/reject", "", http.StatusForbidden)
}

func TestPolicyChangesAPIWithoutTwoPersonRule(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t, false)
	var c policyChangeResp
	b.call(t, b.env.Carol, http.MethodPost, "/policies/changes", proposedJSON, http.StatusCreated, &c)
	require.Equal(t, "applied", c.State)
	require.True(t, c.SelfApproved)
	require.Equal(t, "carol@example.com", c.DecidedBy.Email)
	require.Equal(t, int64(2), c.AppliedVersion)
	require.Equal(t, "db-read", b.simulatedPolicy(t))
	_, v := b.cur.Engine()
	require.Equal(t, int64(2), v)
}
