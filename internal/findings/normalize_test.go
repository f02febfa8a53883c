package findings

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Notion", "notion"},
		{"  Notion   Labs, Inc. ", "notion"},
		{"NOTION LABS INC", "notion"},
		{"notion.so", "notion"},
		{"https://www.notion.so/workspace", "notion"},
		{"www.Figma.com", "figma"},
		{"Ben's Tool", "bens tool"},
		{"Acme Corp", "acme"},
		{"Inc", "inc"},
		{"Google Workspace", "google workspace"},
		{"example.co.uk", "example"},
		{"my-app.com", "my app"},
		{"Zoom Video Communications", "zoom video communications"},
		{"", ""},
		{"!!!", ""},
		{"Ünïcode App GmbH", "ünïcode app"},
	} {
		require.Equal(t, tc.want, NormalizeName(tc.in), "NormalizeName(%q)", tc.in)
	}
}

func TestAppKey(t *testing.T) {
	t.Parallel()
	require.Equal(t, "notion", AppKey("Notion Labs", "notion.so"))
	require.Equal(t, "notion", AppKey("Notion Labs", ""))
	require.Equal(t, "acme tools", AppKey("Acme Tools", "::"))
	require.Equal(t, "slack", AppKey("", "https://app.slack.com"))
}

// FuzzNormalizeName checks the normaliser's contract on any input: the key
// is lowercase letters and digits in words joined by single spaces, and
// normalising a key again changes nothing.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Notion Labs, Inc.", "https://www.notion.so/x", "a.b.co.uk", "www", "x\u00a0y", "http://[::1]:80", "..", "a..com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := NormalizeName(s)
		if k == "" {
			return
		}
		require.Equal(t, strings.TrimSpace(k), k)
		require.NotContains(t, k, "  ")
		for _, r := range k {
			require.True(t, r == ' ' || unicode.IsLetter(r) || unicode.IsDigit(r), "%q in %q", r, k)
		}
		require.Equal(t, k, NormalizeName(k), "idempotent for %q", s)
	})
}
