package access_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/access"
)

// chain returns a valid five-event hash chain.
func chain() []*access.Event {
	const n = 5
	var out []*access.Event
	prev := ""
	for i := 1; i <= n; i++ {
		e := &access.Event{Seq: int64(i), ID: "evt", Time: t0.Add(time.Duration(i) * time.Second), ActorID: "alice",
			Action: "request.submitted", SubjectType: "request", SubjectID: "req_1", After: json.RawMessage(`{"a":1}`)}
		e.PrevHash = prev
		e.Hash = e.ComputeHash(prev)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func TestChainVerifier(t *testing.T) {
	t.Parallel()
	verify := func(es []*access.Event) error {
		var v access.ChainVerifier
		for _, e := range es {
			if err := v.Next(e); err != nil {
				return err
			}
		}
		return nil
	}
	require.NoError(t, verify(chain()))

	edited := chain()
	edited[2].ActorID = "mallory"
	require.ErrorContains(t, verify(edited), "seq 3: hash does not match")

	removed := chain()
	removed = append(removed[:2], removed[3:]...)
	require.ErrorContains(t, verify(removed), "seq 4: expected seq 3")

	reordered := chain()
	reordered[1], reordered[2] = reordered[2], reordered[1]
	require.ErrorContains(t, verify(reordered), "expected seq 2")

	// Renumbering after a removal is caught by the hash links.
	renum := chain()
	renum = append(renum[:2], renum[3:]...)
	for i, e := range renum {
		e.Seq = int64(i + 1)
	}
	var ce *access.ChainError
	err := verify(renum)
	require.ErrorAs(t, err, &ce)
	require.Equal(t, int64(3), ce.Seq)
}
