package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func testRequests(t *testing.T, open Opener) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1)
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		require.Equal(t, 3, r.Version, "create keeps the version")
		got, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, wantRequest(r), got)
	})
	t.Run("RoundTripEmpty", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := &access.Request{ID: "req_0001", State: access.RequestPending}
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		got, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, r, got)

		r.Steps, r.EntitlementIDs = []access.Step{}, []string{}
		require.NoError(t, b.st.RequestUpdate(b.ctx, r))
		got, err = b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, r, got, "empty lists stay empty, not nil")
	})
	t.Run("ExtendsGrant", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1, func(r *access.Request) { r.ExtendsGrantID = "grt_0042"; r.Decisions = nil })
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		got, err := b.st.RequestGetByID(b.ctx, r.ID, true)
		require.NoError(t, err)
		require.Equal(t, "grt_0042", got.ExtendsGrantID)
		require.True(t, got.IsExtension())

		got.State = access.RequestExtended
		require.NoError(t, b.st.RequestUpdate(b.ctx, got))
		again, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, access.RequestExtended, again.State)
		require.Equal(t, "grt_0042", again.ExtendsGrantID, "an update keeps the extended grant")

		got.ExtendsGrantID = ""
		require.NoError(t, b.st.RequestUpdate(b.ctx, got))
		again, err = b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Empty(t, again.ExtendsGrantID, "an update writes the column")

		list, _, err := b.st.RequestList(b.ctx, store.RequestListParams{States: []access.RequestState{access.RequestExtended}})
		require.NoError(t, err)
		require.Equal(t, []string{r.ID}, ids(list, func(r *access.Request) string { return r.ID }))
	})
	t.Run("CreateConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(1)))
		dup := b.request(1, func(r *access.Request) { r.Reason = "again"; r.Decisions = nil })
		require.ErrorIs(t, b.st.RequestCreate(b.ctx, dup), store.ErrConflict)
		got, err := b.st.RequestGetByID(b.ctx, dup.ID, false)
		require.NoError(t, err)
		require.Equal(t, "incident #42", got.Reason)
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		_, err := b.st.RequestGetByID(b.ctx, "req_404", false)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = b.st.RequestGetByID(b.ctx, "req_404", true)
		require.ErrorIs(t, err, store.ErrNotFound)
		r := b.request(404)
		require.ErrorIs(t, b.st.RequestUpdate(b.ctx, r), store.ErrNotFound)
		require.Equal(t, 3, r.Version)
	})
	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1)
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		requester, app, created := r.RequesterID, r.AppID, r.CreatedAt
		// RequesterID, AppID and CreatedAt are fixed at creation: changed
		// here, they are not saved.
		r.RequesterID, r.AppID, r.EntitlementIDs = "usr_0009", "aws", []string{"aws:read"}
		r.Duration, r.MaxDuration, r.Reason = time.Minute, time.Hour, "changed"
		r.State, r.PolicyID, r.CurrentStep = access.RequestApproved, "pol_other", 2
		r.Steps = []access.Step{{Name: "only", Eligible: []string{"usr_0007"}, Notified: []string{"usr_0007"}, Required: 1}}
		r.AutoApproveRule = "low risk"
		r.CreatedAt, r.UpdatedAt = b.at(-2*time.Hour), b.at(time.Minute)
		r.PendingUntil, r.LastRemindedAt, r.RemindCount = time.Time{}, time.Time{}, 0
		r.Decisions = append(r.Decisions, decision(r, "usr_0007", 0, b.at(time.Minute)))
		require.NoError(t, b.st.RequestUpdate(b.ctx, r))
		require.Equal(t, 4, r.Version)

		got, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		r.RequesterID, r.AppID, r.CreatedAt = requester, app, created
		require.Equal(t, wantRequest(r), got)

		// Saving again stores no decision twice.
		require.NoError(t, b.st.RequestUpdate(b.ctx, got))
		require.Equal(t, 5, got.Version)
		again, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
	t.Run("ListOpen", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		states := []access.RequestState{access.RequestPending, access.RequestApproved, access.RequestActive,
			access.RequestRejected, access.RequestExpired, access.RequestCancelled}
		for i, st := range states {
			require.NoError(t, b.st.RequestCreate(b.ctx, b.request(i+1, func(r *access.Request) { r.State = st })))
		}
		// Another app's and another requester's open requests are not theirs.
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(10, func(r *access.Request) { r.AppID = "aws" })))
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(11, func(r *access.Request) { r.RequesterID = "usr_0009" })))
		got, err := b.st.RequestListOpen(b.ctx, "usr_0001", "github")
		require.NoError(t, err)
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
			require.Len(t, r.Decisions, 1, "with their decisions")
		}
		require.Equal(t, []string{"req_0003", "req_0002", "req_0001"}, ids, "open ones, newest first")

		// A request that closes leaves the list.
		r := got[0]
		r.State = access.RequestExpired
		require.NoError(t, b.st.RequestUpdate(b.ctx, r))
		got, err = b.st.RequestListOpen(b.ctx, "usr_0001", "github")
		require.NoError(t, err)
		require.Len(t, got, 2)
		none, err := b.st.RequestListOpen(b.ctx, "usr_0404", "github")
		require.NoError(t, err)
		require.Empty(t, none)
	})
	t.Run("StaleUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.RequestCreate(b.ctx, b.request(1)))
		first, err := b.st.RequestGetByID(b.ctx, "req_0001", false)
		require.NoError(t, err)
		second, err := b.st.RequestGetByID(b.ctx, "req_0001", false)
		require.NoError(t, err)

		first.Reason = "first"
		require.NoError(t, b.st.RequestUpdate(b.ctx, first))
		second.Reason = "second"
		second.Decisions = append(second.Decisions, decision(second, "usr_0004", 1, b.now))
		require.ErrorIs(t, b.st.RequestUpdate(b.ctx, second), store.ErrConflict)
		require.Equal(t, 3, second.Version, "a failed update leaves the version")

		got, err := b.st.RequestGetByID(b.ctx, "req_0001", false)
		require.NoError(t, err)
		require.Equal(t, first, got)
	})
	t.Run("DuplicateDecision", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1)
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		before, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)

		// usr_0002 decided already (fixture); a second decision by them,
		// under a new ID, is a conflict and nothing of the update is kept.
		r.State = access.RequestRejected
		again := r.Decisions[0]
		again.ID, again.Outcome, again.Step = "dec_again", access.Reject, 1
		r.Decisions = append(r.Decisions, again)
		require.ErrorIs(t, b.st.RequestUpdate(b.ctx, r), store.ErrConflict)
		require.Equal(t, 3, r.Version)

		got, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, before, got)

		// Inside a transaction too.
		err = b.st.InTx(b.ctx, func(q store.Queries) error {
			cur, err := q.RequestGetByID(b.ctx, r.ID, true)
			if err != nil {
				return err
			}
			cur.Decisions = append(cur.Decisions, again)
			return q.RequestUpdate(b.ctx, cur)
		})
		require.ErrorIs(t, err, store.ErrConflict)
	})
	t.Run("DecisionOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1, func(r *access.Request) { r.Decisions = nil })
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		late := decision(r, "usr_0002", 0, b.at(2*time.Second))
		tieB := decision(r, "usr_0005", 1, b.at(time.Second))
		tieA := decision(r, "usr_0004", 1, b.at(time.Second))
		r.Decisions = []access.Decision{late, tieB, tieA}
		require.NoError(t, b.st.RequestUpdate(b.ctx, r))
		got, err := b.st.RequestGetByID(b.ctx, r.ID, false)
		require.NoError(t, err)
		require.Equal(t, []string{tieA.ID, tieB.ID, late.ID},
			ids(got.Decisions, func(d access.Decision) string { return d.ID }), "by time, then ID")
	})
	t.Run("GetWithLock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1)
		require.NoError(t, b.st.RequestCreate(b.ctx, r))
		err := b.st.InTx(b.ctx, func(q store.Queries) error {
			got, err := q.RequestGetByID(b.ctx, r.ID, true)
			if err != nil {
				return err
			}
			require.Equal(t, wantRequest(r), got)
			return nil
		})
		require.NoError(t, err)
		got, err := b.st.RequestGetByID(b.ctx, r.ID, true)
		require.NoError(t, err, "lock outside a transaction is harmless")
		require.Equal(t, wantRequest(r), got)
	})
	t.Run("CountByState", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		counts, err := b.st.RequestCountByState(b.ctx)
		require.NoError(t, err)
		require.Empty(t, counts)
		for n, s := range []access.RequestState{access.RequestPending, access.RequestPending, access.RequestActive, access.RequestRejected, access.RequestPending} {
			require.NoError(t, b.st.RequestCreate(b.ctx, b.request(n, func(r *access.Request) { r.State = s })))
		}
		counts, err = b.st.RequestCountByState(b.ctx)
		require.NoError(t, err)
		require.Equal(t, map[access.RequestState]int{access.RequestPending: 3, access.RequestActive: 1, access.RequestRejected: 1}, counts)
	})
	t.Run("DecisionWithoutID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		r := b.request(1)
		r.Decisions[0].ID = ""
		err := b.st.RequestCreate(b.ctx, r)
		require.Error(t, err)
		require.NotErrorIs(t, err, store.ErrConflict)
		_, err = b.st.RequestGetByID(b.ctx, r.ID, false)
		require.ErrorIs(t, err, store.ErrNotFound, "nothing of the request is kept")
	})
}
