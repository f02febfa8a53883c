package signin

import (
	"crypto/hmac"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
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
		{name: "Entra's xms_edov", c: claims{Email: "a@x.com", EmailDomainVerified: true}},
		{name: "Entra's xms_edov false", c: claims{Email: "a@x.com", EmailDomainVerified: false}, wantE: "has not verified"},
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

// browserURL is what a browser makes of a Location header (the WHATWG URL
// parser): leading and trailing C0 controls and spaces removed, every tab,
// CR and LF removed, and a backslash read as a slash.
func browserURL(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= 0x20 })
	s = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(s)
	return strings.ReplaceAll(s, "\\", "/")
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/requests/x?y=1":              "/requests/x?y=1",
		"/":                            "/",
		"":                             "/",
		"//evil.example":               "/",
		"/\\evil.example":              "/",
		"/\t/evil.example":             "/",
		"/\n/evil.example":             "/",
		"/\r/evil.example":             "/",
		"/\x00/evil.example":           "/",
		"/\x1f/evil.example":           "/",
		"/\x7f/evil.example":           "/",
		"/a\tb":                        "/",
		"/a\\b":                        "/",
		"https://evil.example":         "/",
		"javascript:alert(1)":          "/",
		"\t//evil.example":             "/",
		"/%09/evil.example":            "/%09/evil.example", // a literal %09 stays in the path
		"/" + strings.Repeat("a", 600): "/",
	} {
		require.Equal(t, want, LocalPath(in), "LocalPath(%q)", in)
	}
}

func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/requests/x", "//evil.com", "/\\evil.com", "https://evil.com", "/a\r\nb", "", "javascript:alert(1)",
		"/\t/evil.example", "/\x01/evil.example", "/\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := LocalPath(s)
		if p != "/" && p != s {
			t.Fatalf("LocalPath(%q) = %q: neither the input nor /", s, p)
		}
		// What a browser follows must be a path on this site.
		if b := browserURL(p); !strings.HasPrefix(b, "/") || strings.HasPrefix(b, "//") {
			t.Fatalf("LocalPath(%q) = %q, which a browser reads as %q: not a local path", s, p, b)
		}
		if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("LocalPath(%q) = %q has a control character", s, p)
		}
	})
}

// FuzzReadFlow feeds the flow cookie parser anything: it never panics, and
// accepts only what carries the key's MAC.
func FuzzReadFlow(f *testing.F) {
	o, err := NewOIDC(OIDCConfig{Issuer: "https://idp.example.com", ClientID: "c", RedirectURL: "https://s/login/callback",
		Key: []byte(strings.Repeat("k", 32)), Clock: clock.NewFake(time.Unix(1_000, 0))})
	require.NoError(f, err)
	valid := func(body string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + base64.RawURLEncoding.EncodeToString(o.mac([]byte(body)))
	}
	f.Add(valid(`{"s":"st","n":"no","e":2000}`))
	f.Add(valid(`{"s":"st","n":"no","e":10}`))
	f.Add(valid(`not json`))
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/login/callback", nil)
		r.AddCookie(&http.Cookie{Name: flowCookie, Value: v}) //nolint:gosec // G124: a request's cookie has no flags
		fl, err := o.readFlow(r)
		if err != nil {
			var rf *RefusalError
			require.ErrorAs(t, err, &rf)
			return
		}
		body, sig, ok := strings.Cut(r.Header.Get("Cookie")[len(flowCookie)+1:], ".")
		require.True(t, ok)
		b, err1 := base64.RawURLEncoding.DecodeString(body)
		s, err2 := base64.RawURLEncoding.DecodeString(sig)
		require.NoError(t, err1)
		require.NoError(t, err2)
		require.True(t, hmac.Equal(s, o.mac(b)), "accepted without the MAC")
		require.GreaterOrEqual(t, fl.Expires, int64(1_000), "accepted an expired flow")
	})
}
