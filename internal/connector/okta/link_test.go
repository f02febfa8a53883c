package okta

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNextLink(t *testing.T) {
	t.Parallel()
	require.Empty(t, nextLink(nil))
	require.Equal(t, "https://acme.okta.com/api/v1/users?after=00u2&limit=200", nextLink([]string{
		`<https://acme.okta.com/api/v1/users?limit=200>; rel="self"`,
		`<https://acme.okta.com/api/v1/users?after=00u2&limit=200>; rel="next"`,
	}))
	require.Equal(t, "https://x/?after=b", nextLink([]string{`<https://x/?after=a>; rel="self", <https://x/?after=b>; rel="next"`}))
	require.Empty(t, nextLink([]string{`<https://x/>; rel="self"`}))
}

func FuzzNextLink(f *testing.F) {
	f.Add(`<https://acme.okta.com/api/v1/users?after=00u2&limit=200>; rel="next"`)
	f.Add(`;rel=next,<`)
	f.Fuzz(func(t *testing.T, h string) {
		got := nextLink([]string{h, h})
		if got != nextLink([]string{h}) {
			t.Fatalf("a repeated header changed the next link: %q", h)
		}
		if got != "" && (!strings.Contains(h, got) || !strings.Contains(strings.ToLower(h), "next")) {
			t.Fatalf("next link %q is not from a rel=next part of %q", got, h)
		}
	})
}
