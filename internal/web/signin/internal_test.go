package signin

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		c     claims
		team  string
		wantE string
	}{
		{name: "verified", c: claims{Email: "a@x.com", EmailVerified: true}},
		{name: "verified as a string (some providers)", c: claims{Email: "a@x.com", EmailVerified: "true"}},
		{name: "no email", c: claims{EmailVerified: true}, wantE: "did not share an email"},
		{name: "unverified", c: claims{Email: "a@x.com", EmailVerified: false}, wantE: "has not verified"},
		{name: "claim missing", c: claims{Email: "a@x.com"}, wantE: "has not verified"},
		{name: "string false", c: claims{Email: "a@x.com", EmailVerified: "false"}, wantE: "has not verified"},
		{name: "slack team matches", c: claims{Email: "a@x.com", EmailVerified: true, SlackTeam: "T123"}, team: "T123"},
		{name: "other slack team", c: claims{Email: "a@x.com", EmailVerified: true, SlackTeam: "T999"}, team: "T123", wantE: "workspace may not sign in"},
		{name: "no team claim", c: claims{Email: "a@x.com", EmailVerified: true}, team: "T123", wantE: "workspace may not sign in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkClaims(tt.c, tt.team)
			if tt.wantE == "" {
				require.NoError(t, err)
				return
			}
			var rf *RefusalError
			require.ErrorAs(t, err, &rf)
			require.Contains(t, rf.Reason, tt.wantE)
		})
	}
}

func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/requests/x", "//evil.com", "/\\evil.com", "https://evil.com", "/a\r\nb", "", "javascript:alert(1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := LocalPath(s)
		if p != "/" && p != s {
			t.Fatalf("LocalPath(%q) = %q: neither the input nor /", s, p)
		}
		if len(p) > 1 && (p[0] != '/' || p[1] == '/' || p[1] == '\\') {
			t.Fatalf("LocalPath(%q) = %q is not a local path", s, p)
		}
	})
}
