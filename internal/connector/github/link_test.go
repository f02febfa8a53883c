package github

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNextLink(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]string{
		"": "",
		`<https://api.github.com/organizations/1/members?page=2>; rel="next", <https://api.github.com/organizations/1/members?page=5>; rel="last"`: "https://api.github.com/organizations/1/members?page=2",
		`<https://x/?page=1>; rel="prev", <https://x/?page=3>; rel="next"`:                                                                         "https://x/?page=3",
		`<https://x/?page=1>; rel="first"`:                "",
		`<https://x/?page=3>; rel=next`:                   "https://x/?page=3",
		`<https://x/?page=3>; title="a"; REL="prev next"`: "https://x/?page=3",
		`garbage, <>; rel="next"`:                         "",
	} {
		require.Equal(t, want, nextLink(h), h)
	}
}

func FuzzNextLink(f *testing.F) {
	f.Add(`<https://api.github.com/x?page=2>; rel="next"`)
	f.Add(`;;,<;rel=next>`)
	f.Fuzz(func(t *testing.T, h string) {
		got := nextLink(h)
		if got != "" && (!strings.Contains(h, got) || !strings.Contains(strings.ToLower(h), "next")) {
			t.Fatalf("next link %q is not from a rel=next part of %q", got, h)
		}
	})
}
