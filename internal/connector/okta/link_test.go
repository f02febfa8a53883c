package okta

import (
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
	f.Fuzz(func(_ *testing.T, h string) {
		_ = nextLink([]string{h, h})
	})
}
