package access_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func user(id string, roles ...access.Role) *access.User {
	return &access.User{ID: id, Email: id + "@example.com", Status: access.UserActive, Roles: roles}
}

// twoStep is a request by alice: step 0 needs 1 of bob/carol, step 1 needs
// 2 of dave/erin/frank.
func twoStep() *access.Request {
	return &access.Request{
		ID: "req_1", RequesterID: "alice", AppID: "github", EntitlementIDs: []string{"github:admin"},
		Duration: time.Hour, MaxDuration: 4 * time.Hour, State: access.RequestPending,
		Steps: []access.Step{
			{Name: "owners", Eligible: []string{"bob", "carol", "alice"}, Notified: []string{"bob"}, Required: 1},
			{Name: "security", Eligible: []string{"dave", "erin", "frank", "bob"}, Notified: []string{"dave", "erin"}, Required: 2},
		},
		PendingUntil: t0.Add(24 * time.Hour),
	}
}

func TestRequestDecide(t *testing.T) {
	t.Parallel()
	offboarded := user("carol")
	offboarded.Status = access.UserOffboarded
	type dec struct {
		actor *access.User
		out   access.DecisionOutcome
		d     time.Duration
	}
	tests := []struct {
		name      string
		decisions []dec
		// wantErr is the cause of the last decision's error (nil: success).
		wantErr   error
		wantCode  access.Code
		wantState access.RequestState
		wantStep  int
		wantDur   time.Duration
	}{
		{name: "first approval opens step 2", decisions: []dec{{user("bob"), access.Approve, 0}},
			wantState: access.RequestPending, wantStep: 1, wantDur: time.Hour},
		{name: "all steps approve", decisions: []dec{{user("bob"), access.Approve, 0}, {user("dave"), access.Approve, 0}, {user("erin"), access.Approve, 0}},
			wantState: access.RequestApproved, wantStep: 2, wantDur: time.Hour},
		{name: "one of two at step 2 keeps pending", decisions: []dec{{user("carol"), access.Approve, 0}, {user("frank"), access.Approve, 0}},
			wantState: access.RequestPending, wantStep: 1, wantDur: time.Hour},
		{name: "rejection at step 1", decisions: []dec{{user("bob"), access.Reject, 0}},
			wantState: access.RequestRejected, wantStep: 0, wantDur: time.Hour},
		{name: "rejection at step 2", decisions: []dec{{user("bob"), access.Approve, 0}, {user("erin"), access.Reject, 0}},
			wantState: access.RequestRejected, wantStep: 1, wantDur: time.Hour},
		{name: "changed duration within max", decisions: []dec{{user("bob"), access.Approve, 3 * time.Hour}},
			wantState: access.RequestPending, wantStep: 1, wantDur: 3 * time.Hour},
		{name: "changed duration above max", decisions: []dec{{user("bob"), access.Approve, 5 * time.Hour}},
			wantErr: access.ErrDurationTooLong, wantCode: access.CodeInvalid, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "negative duration", decisions: []dec{{user("bob"), access.Approve, -time.Hour}},
			wantCode: access.CodeInvalid, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "rejection with duration", decisions: []dec{{user("bob"), access.Reject, time.Hour}},
			wantCode: access.CodeInvalid, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "requester cannot approve even if eligible", decisions: []dec{{user("alice"), access.Approve, 0}},
			wantErr: access.ErrSelfApproval, wantCode: access.CodeForbidden, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "requester cannot reject", decisions: []dec{{user("alice"), access.Reject, 0}},
			wantErr: access.ErrSelfApproval, wantCode: access.CodeForbidden, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "ineligible user", decisions: []dec{{user("mallory"), access.Approve, 0}},
			wantErr: access.ErrNotEligible, wantCode: access.CodeForbidden, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "eligible only at a later step", decisions: []dec{{user("dave"), access.Approve, 0}},
			wantErr: access.ErrNotEligible, wantCode: access.CodeForbidden, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "offboarded user", decisions: []dec{{offboarded, access.Approve, 0}},
			wantErr: access.ErrNotEligible, wantCode: access.CodeForbidden, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "nil user", decisions: []dec{{nil, access.Approve, 0}},
			wantErr: access.ErrNotEligible, wantCode: access.CodeForbidden, wantState: access.RequestPending, wantDur: time.Hour},
		{name: "same approver twice", decisions: []dec{{user("carol"), access.Approve, 0}, {user("carol"), access.Approve, 0}},
			wantErr: access.ErrAlreadyDecided, wantCode: access.CodeConflict, wantState: access.RequestPending, wantStep: 1, wantDur: time.Hour},
		{name: "a person approves at most one step", decisions: []dec{{user("bob"), access.Approve, 0}, {user("bob"), access.Approve, 0}},
			wantErr: access.ErrAlreadyDecided, wantCode: access.CodeConflict, wantState: access.RequestPending, wantStep: 1, wantDur: time.Hour},
		{name: "decision after rejection", decisions: []dec{{user("bob"), access.Reject, 0}, {user("carol"), access.Approve, 0}},
			wantErr: access.ErrInvalidTransition, wantCode: access.CodeConflict, wantState: access.RequestRejected, wantDur: time.Hour},
		{name: "bad outcome", decisions: []dec{{user("bob"), "maybe", 0}},
			wantCode: access.CodeInvalid, wantState: access.RequestPending, wantDur: time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := twoStep()
			var err error
			for i, d := range tc.decisions {
				_, err = r.Decide(d.actor, access.Decision{ID: "dec", Outcome: d.out, Duration: d.d}, t0)
				if i < len(tc.decisions)-1 {
					require.NoError(t, err)
				}
			}
			if tc.wantErr == nil && tc.wantCode == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				if tc.wantErr != nil {
					require.ErrorIs(t, err, tc.wantErr)
				}
				require.Equal(t, tc.wantCode, access.ErrorCode(err))
			}
			require.Equal(t, tc.wantState, r.State)
			require.Equal(t, tc.wantStep, r.CurrentStep)
			require.Equal(t, tc.wantDur, r.Duration)
		})
	}
}

func TestRequestDecideOnEveryState(t *testing.T) {
	t.Parallel()
	for _, s := range access.RequestStates() {
		r := twoStep()
		r.State = s
		_, err := r.Decide(user("bob"), access.Decision{Outcome: access.Approve}, t0)
		if s == access.RequestPending {
			require.NoError(t, err, s)
			continue
		}
		require.ErrorIs(t, err, access.ErrInvalidTransition, s)
	}
}

func TestRequestCancelTimeOutRemind(t *testing.T) {
	t.Parallel()
	type op func(r *access.Request) error
	cancelBy := func(u *access.User) op { return func(r *access.Request) error { return r.Cancel(u, t0) } }
	remindBy := func(u *access.User, at time.Time) op { return func(r *access.Request) error { return r.Remind(u, at) } }
	timeOut := func(at time.Time) op { return func(r *access.Request) error { return r.TimeOut(at) } }
	tests := []struct {
		name      string
		state     access.RequestState
		ops       []op
		wantCode  access.Code
		wantState access.RequestState
	}{
		{"requester cancels", access.RequestPending, []op{cancelBy(user("alice"))}, "", access.RequestCancelled},
		{"admin cancels", access.RequestPending, []op{cancelBy(user("root", access.RoleAdmin))}, "", access.RequestCancelled},
		{"approver cannot cancel", access.RequestPending, []op{cancelBy(user("bob"))}, access.CodeForbidden, access.RequestPending},
		{"auditor cannot cancel", access.RequestPending, []op{cancelBy(user("aud", access.RoleAuditor))}, access.CodeForbidden, access.RequestPending},
		{"cannot cancel approved", access.RequestApproved, []op{cancelBy(user("alice"))}, access.CodeConflict, access.RequestApproved},
		{"cannot cancel active", access.RequestActive, []op{cancelBy(user("alice"))}, access.CodeConflict, access.RequestActive},
		{"cannot cancel twice", access.RequestPending, []op{cancelBy(user("alice")), cancelBy(user("alice"))}, access.CodeConflict, access.RequestCancelled},
		{"times out at deadline", access.RequestPending, []op{timeOut(t0.Add(24 * time.Hour))}, "", access.RequestTimedOut},
		{"no time out before deadline", access.RequestPending, []op{timeOut(t0.Add(time.Hour))}, access.CodeConflict, access.RequestPending},
		{"no time out when approved", access.RequestApproved, []op{timeOut(t0.Add(48 * time.Hour))}, access.CodeConflict, access.RequestApproved},
		{"requester reminds", access.RequestPending, []op{remindBy(user("alice"), t0)}, "", access.RequestPending},
		{"second reminder too soon", access.RequestPending, []op{remindBy(user("alice"), t0), remindBy(user("alice"), t0.Add(29*time.Minute))}, access.CodeRateLimited, access.RequestPending},
		{"second reminder after 30m", access.RequestPending, []op{remindBy(user("alice"), t0), remindBy(user("alice"), t0.Add(30*time.Minute))}, "", access.RequestPending},
		{"stranger cannot remind", access.RequestPending, []op{remindBy(user("mallory"), t0)}, access.CodeForbidden, access.RequestPending},
		{"cannot remind closed", access.RequestRejected, []op{remindBy(user("alice"), t0)}, access.CodeConflict, access.RequestRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := twoStep()
			r.State = tc.state
			var err error
			for _, o := range tc.ops {
				err = o(r)
			}
			require.Equal(t, tc.wantCode, access.ErrorCode(err), "err: %v", err)
			require.Equal(t, tc.wantState, r.State)
		})
	}
}

func TestRequestAutoApproveAndSettle(t *testing.T) {
	t.Parallel()
	r := twoStep()
	require.NoError(t, r.AutoApprove("oncall-short", t0))
	require.Equal(t, access.RequestApproved, r.State)
	require.Equal(t, "oncall-short", r.AutoApproveRule)
	require.ErrorIs(t, r.AutoApprove("again", t0), access.ErrInvalidTransition)

	tests := []struct {
		name   string
		from   access.RequestState
		grants []access.GrantState
		want   access.RequestState
	}{
		{"provisioning keeps approved", access.RequestApproved, []access.GrantState{access.GrantProvisioning}, access.RequestApproved},
		{"one active makes active", access.RequestApproved, []access.GrantState{access.GrantActive, access.GrantPending}, access.RequestActive},
		{"revoking is still active", access.RequestActive, []access.GrantState{access.GrantRevoking}, access.RequestActive},
		{"revoke failed is still active", access.RequestActive, []access.GrantState{access.GrantRevokeFailed, access.GrantRevoked}, access.RequestActive},
		{"all revoked expires", access.RequestActive, []access.GrantState{access.GrantRevoked, access.GrantRevoked}, access.RequestExpired},
		{"revoked and failed expires", access.RequestActive, []access.GrantState{access.GrantRevoked, access.GrantFailed}, access.RequestExpired},
		{"all failed fails", access.RequestApproved, []access.GrantState{access.GrantFailed}, access.RequestFailed},
		{"pending requests do not settle", access.RequestPending, []access.GrantState{access.GrantActive}, access.RequestPending},
		{"closed requests do not settle", access.RequestRejected, []access.GrantState{access.GrantActive}, access.RequestRejected},
	}
	for _, tc := range tests {
		r := twoStep()
		r.State = tc.from
		var gs []access.Grant
		for _, s := range tc.grants {
			gs = append(gs, access.Grant{State: s})
		}
		changed := r.Settle(gs, t0)
		require.Equal(t, tc.want, r.State, tc.name)
		require.Equal(t, tc.from != tc.want, changed, tc.name)
	}
}
