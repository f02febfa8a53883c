package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func requestID(r *access.Request) string { return r.ID }

// seedRequests stores six requests that the filter cases tell apart:
//
//	req_0001 pending   usr_a github  notified: step 0 usr_x
//	req_0002 approved  usr_a aws     notified: step 1 usr_x (step 0 usr_y)
//	req_0003 rejected  usr_b github  notified: step 0 usr_y; usr_x only eligible
//	req_0004 pending   usr_b aws     no steps
//	req_0005 active    usr_a github  notified: step 0 usr_x, usr_y
//	req_0006 pending   usr_c github  notified: step 0 usr_z
func seedRequests(t *testing.T, b *testBundle) {
	t.Helper()
	step := func(eligible, notified []string) access.Step {
		return access.Step{Name: "s", Eligible: eligible, Notified: notified, Required: 1}
	}
	for n, r := range []struct {
		state     access.RequestState
		requester string
		app       string
		steps     []access.Step
	}{
		1: {access.RequestPending, "usr_a", "github", []access.Step{step([]string{"usr_x"}, []string{"usr_x"})}},
		2: {access.RequestApproved, "usr_a", "aws", []access.Step{step(nil, []string{"usr_y"}), step(nil, []string{"usr_x"})}},
		3: {access.RequestRejected, "usr_b", "github", []access.Step{step([]string{"usr_x", "usr_y"}, []string{"usr_y"})}},
		4: {access.RequestPending, "usr_b", "aws", nil},
		5: {access.RequestActive, "usr_a", "github", []access.Step{step(nil, []string{"usr_x", "usr_y"})}},
		6: {access.RequestPending, "usr_c", "github", []access.Step{step(nil, []string{"usr_z"})}},
	} {
		if n == 0 {
			continue
		}
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(n, func(req *access.Request) {
			req.State, req.RequesterID, req.AppID, req.Steps = r.state, r.requester, r.app, r.steps
		})))
	}
}

func testRequestLists(t *testing.T, open Opener) {
	t.Helper()
	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		seedRequests(t, b)
		for _, tt := range []struct {
			name string
			p    store.RequestListParams
			want []string
		}{
			{"all, newest first", store.RequestListParams{}, []string{"req_0006", "req_0005", "req_0004", "req_0003", "req_0002", "req_0001"}},
			{"one state", store.RequestListParams{States: []access.RequestState{access.RequestPending}}, []string{"req_0006", "req_0004", "req_0001"}},
			{"states", store.RequestListParams{States: []access.RequestState{access.RequestApproved, access.RequestRejected}}, []string{"req_0003", "req_0002"}},
			{"requester", store.RequestListParams{RequesterID: "usr_a"}, []string{"req_0005", "req_0002", "req_0001"}},
			{"approver at any step", store.RequestListParams{ApproverID: "usr_x"}, []string{"req_0005", "req_0002", "req_0001"}},
			{"approver y", store.RequestListParams{ApproverID: "usr_y"}, []string{"req_0005", "req_0003", "req_0002"}},
			{"app", store.RequestListParams{AppID: "aws"}, []string{"req_0004", "req_0002"}},
			{"approver and state", store.RequestListParams{ApproverID: "usr_x", States: []access.RequestState{access.RequestPending, access.RequestActive}}, []string{"req_0005", "req_0001"}},
			{"requester and app", store.RequestListParams{RequesterID: "usr_b", AppID: "github"}, []string{"req_0003"}},
			{"no match", store.RequestListParams{RequesterID: "usr_c", AppID: "aws"}, nil},
			{"unknown approver", store.RequestListParams{ApproverID: "usr_none"}, nil},
		} {
			got, next, err := b.st.RequestList(b.ctx, tt.p)
			require.NoError(t, err, tt.name)
			require.Empty(t, next, tt.name)
			require.Equal(t, tt.want, nilIfEmpty(ids(got, requestID)), tt.name)
		}
	})
	t.Run("ListReturnsWholeRequests", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1)
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		r2 := b.request(2, func(r *access.Request) { r.Decisions = nil })
		require.NoError(t, b.st.RequestCreate(b.ctx, r2))
		got, _, err := b.st.RequestList(b.ctx, store.RequestListParams{})
		require.NoError(t, err)
		require.Equal(t, []*access.Request{wantRequest(r2), wantRequest(r)}, got)
	})
	t.Run("ApproverFollowsUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		seedRequests(t, b)
		r, err := b.st.RequestGetByID(b.ctx, "req_0006", false)
		require.NoError(t, err)
		r.Steps[0].Notified = []string{"usr_x"}
		require.NoError(t, b.st.RequestUpdate(b.ctx, r))
		for approver, want := range map[string][]string{
			"usr_x": {"req_0006", "req_0005", "req_0002", "req_0001"},
			"usr_z": nil,
		} {
			got, _, err := b.st.RequestList(b.ctx, store.RequestListParams{ApproverID: approver})
			require.NoError(t, err)
			require.Equal(t, want, nilIfEmpty(ids(got, requestID)), approver)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var want []string
		for n := 9; n >= 1; n-- {
			want = append(want, b.request(n).ID)
		}
		for _, n := range []int{5, 1, 9, 3, 7, 2, 8, 4, 6} {
			require.NoError(t, b.st.RequestCreate(b.ctx, b.request(n)))
		}
		for _, limit := range []int{1, 2, 4, 9, 10} {
			got := collectPages(t, limit, func(p store.Page) ([]*access.Request, string, error) {
				return b.st.RequestList(b.ctx, store.RequestListParams{Page: p})
			})
			require.Equal(t, want, ids(got, requestID), "limit %d", limit)
			require.Len(t, got[len(got)-1].Decisions, 1, "decisions are loaded on every page")
		}
		got := collectPages(t, 2, func(p store.Page) ([]*access.Request, string, error) {
			return b.st.RequestList(b.ctx, store.RequestListParams{Page: p, ApproverID: "usr_0004"})
		})
		require.Equal(t, want, ids(got, requestID))
	})
	t.Run("TimedOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, r := range []struct {
			state access.RequestState
			until time.Time
		}{
			1: {access.RequestPending, b.at(-time.Minute)},
			2: {access.RequestPending, b.now.Add(-time.Nanosecond * 500)}, // same microsecond as now: due
			3: {access.RequestPending, b.at(time.Second)},
			4: {access.RequestApproved, b.at(-time.Hour)},
			5: {access.RequestPending, b.at(-time.Hour)},
			6: {access.RequestPending, time.Time{}},
			7: {access.RequestPending, b.at(-2 * time.Minute)},
		} {
			if n == 0 {
				continue
			}
			require.NoError(t, b.st.RequestCreate(b.ctx, b.request(n, func(req *access.Request) {
				req.State, req.PendingUntil = r.state, r.until
			})))
		}
		got, err := b.st.RequestListTimedOut(b.ctx, b.now, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"req_0005", "req_0007", "req_0001", "req_0002"}, ids(got, requestID))
		require.Len(t, got[0].Decisions, 1)

		got, err = b.st.RequestListTimedOut(b.ctx, b.now, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"req_0005", "req_0007"}, ids(got, requestID))

		got, err = b.st.RequestListTimedOut(b.ctx, b.at(-3*time.Hour), 10)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
