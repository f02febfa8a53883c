package slackbot

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormUpdatesNewestWins(t *testing.T) {
	t.Parallel()
	var f formUpdates
	a1 := f.arrive("V1")
	b1 := f.arrive("V2")
	a2 := f.arrive("V1")
	require.False(t, f.current("V1", a1), "a newer change of V1 supersedes the first")
	require.True(t, f.current("V1", a2))
	require.True(t, f.current("V2", b1), "views are independent")

	f.done("V1", a1)
	require.True(t, f.current("V1", a2), "finishing an old change forgets nothing newer")
	f.done("V1", a2)
	require.False(t, f.current("V1", a2), "forgotten once the newest is handled")
	require.Len(t, f.latest, 1)
	f.done("V2", b1)
	require.Empty(t, f.latest, "nothing kept for finished views")
}
