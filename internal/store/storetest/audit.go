package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func eventID(e *access.Event) string { return e.ID }

// verifyChain reads every event in pages of three and checks the chain.
func verifyChain(t *testing.T, b *testBundle, wantCount int64) {
	t.Helper()
	var v access.ChainVerifier
	var after int64
	for {
		events, err := b.st.EventListAfter(b.ctx, after, 3)
		require.NoError(t, err)
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			require.NoError(t, v.Next(e))
			after = e.Seq
		}
	}
	require.Equal(t, wantCount, v.Count)
}

func testAudit(t *testing.T, open Opener) {
	t.Helper()
	t.Run("AppendAssignsChain", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		prev := ""
		for n := 1; n <= 3; n++ {
			e := b.event(n)
			require.NoError(t, b.st.EventAppend(b.ctx, e))
			require.Equal(t, int64(n), e.Seq)
			require.Equal(t, prev, e.PrevHash)
			require.Equal(t, e.ComputeHash(prev), e.Hash)
			require.Equal(t, tr(b.event(n).Time), e.Time, "Time is truncated to UTC microseconds before hashing")
			prev = e.Hash
		}
		verifyChain(t, b, 3)
	})
	t.Run("RoundTripBytes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		e := b.event(1)
		require.NoError(t, b.st.EventAppend(b.ctx, e))
		bare := &access.Event{Action: "config.loaded", ActorID: access.SystemActor}
		require.NoError(t, b.st.EventAppend(b.ctx, bare))
		got, err := b.st.EventListAfter(b.ctx, 0, 10)
		require.NoError(t, err)
		// Before, After and Data compare as bytes: spacing and key order
		// survive (the fixture's JSON is not canonical).
		require.Equal(t, []*access.Event{e, bare}, got)
		require.Nil(t, got[1].Before)
		require.True(t, got[1].Time.IsZero())
		verifyChain(t, b, 2)
	})
	t.Run("ChainAcrossTransactions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n := 1; n <= 10; n++ {
			if n%2 == 0 {
				require.NoError(t, b.st.EventAppend(b.ctx, b.event(n)))
				continue
			}
			require.NoError(t, b.st.InTx(b.ctx, func(q store.Queries) error {
				return q.EventAppend(b.ctx, b.event(n))
			}))
		}
		verifyChain(t, b, 10)
	})
	t.Run("IDConflict", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		require.NoError(t, b.st.EventAppend(b.ctx, b.event(1)))
		dup := b.event(1)
		require.ErrorIs(t, b.st.EventAppend(b.ctx, dup), store.ErrConflict)
		require.Zero(t, dup.Seq, "a failed append leaves the event")
		// Events without an ID are not unique.
		require.NoError(t, b.st.EventAppend(b.ctx, b.event(2, func(e *access.Event) { e.ID = "" })))
		require.NoError(t, b.st.EventAppend(b.ctx, b.event(3, func(e *access.Event) { e.ID = "" })))
		verifyChain(t, b, 3)
	})
	t.Run("ListFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n, x := range []struct {
			actor, action, subjectType, subjectID string
		}{
			1: {"usr_a", "request.created", "request", "req_1"},
			2: {"usr_b", "request.approved", "request", "req_1"},
			3: {"system", "grant.activated", "grant", "grt_1"},
			4: {"usr_a", "requester.changed", "user", "usr_a"},
			5: {"usr_a", "request", "request", "req_2"},
			6: {"system", "request.created", "request", "req_2"},
		} {
			if n == 0 {
				continue
			}
			require.NoError(t, b.st.EventAppend(b.ctx, b.event(n, func(e *access.Event) {
				e.ActorID, e.Action, e.SubjectType, e.SubjectID = x.actor, x.action, x.subjectType, x.subjectID
			})))
		}
		// event(n).Time is now + n seconds.
		for _, tt := range []struct {
			name string
			p    store.EventListParams
			want []string
		}{
			{"all, newest first", store.EventListParams{}, []string{"evt_0006", "evt_0005", "evt_0004", "evt_0003", "evt_0002", "evt_0001"}},
			{"actor", store.EventListParams{ActorID: "usr_a"}, []string{"evt_0005", "evt_0004", "evt_0001"}},
			{"exact action", store.EventListParams{Action: "request"}, []string{"evt_0005"}},
			{"exact action 2", store.EventListParams{Action: "request.created"}, []string{"evt_0006", "evt_0001"}},
			{"action prefix", store.EventListParams{Action: "request."}, []string{"evt_0006", "evt_0002", "evt_0001"}},
			{"action prefix case", store.EventListParams{Action: "Request."}, nil},
			{"subject type", store.EventListParams{SubjectType: "grant"}, []string{"evt_0003"}},
			{"subject", store.EventListParams{SubjectType: "request", SubjectID: "req_2"}, []string{"evt_0006", "evt_0005"}},
			{"since inclusive", store.EventListParams{Since: b.at(5 * time.Second)}, []string{"evt_0006", "evt_0005"}},
			{"until exclusive", store.EventListParams{Until: b.at(2 * time.Second)}, []string{"evt_0001"}},
			{"window", store.EventListParams{Since: b.at(2 * time.Second), Until: b.at(4 * time.Second)}, []string{"evt_0003", "evt_0002"}},
			{"combined", store.EventListParams{ActorID: "system", Action: "request.", Since: b.now}, []string{"evt_0006"}},
			{"no match", store.EventListParams{ActorID: "nobody"}, nil},
		} {
			got, next, err := b.st.EventList(b.ctx, tt.p)
			require.NoError(t, err, tt.name)
			require.Empty(t, next, tt.name)
			require.Equal(t, tt.want, nilIfEmpty(ids(got, eventID)), tt.name)
		}
	})
	t.Run("ListPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		var want []string
		for n := 1; n <= 7; n++ {
			e := b.event(n)
			require.NoError(t, b.st.EventAppend(b.ctx, e))
			want = append([]string{e.ID}, want...)
		}
		for _, limit := range []int{1, 2, 7} {
			got := collectPages(t, limit, func(p store.Page) ([]*access.Event, string, error) {
				return b.st.EventList(b.ctx, store.EventListParams{Page: p})
			})
			require.Equal(t, want, ids(got, eventID), "limit %d", limit)
		}
		_, _, err := b.st.EventList(b.ctx, store.EventListParams{Page: store.Page{Cursor: "%%%"}})
		require.Equal(t, access.CodeInvalid, access.ErrorCode(err))
	})
	t.Run("ListAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, open)
		for n := 1; n <= 5; n++ {
			require.NoError(t, b.st.EventAppend(b.ctx, b.event(n)))
		}
		seqs := func(events []*access.Event) []string {
			return ids(events, func(e *access.Event) string { return strconv.FormatInt(e.Seq, 10) })
		}
		got, err := b.st.EventListAfter(b.ctx, 0, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"1", "2"}, seqs(got))
		got, err = b.st.EventListAfter(b.ctx, 3, 100)
		require.NoError(t, err)
		require.Equal(t, []string{"4", "5"}, seqs(got))
		got, err = b.st.EventListAfter(b.ctx, 5, 100)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
