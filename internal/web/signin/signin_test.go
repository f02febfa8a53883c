package signin_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/store/sqlite"
	"github.com/sesame-access/sesame/internal/web/signin"
)

type testBundle struct {
	st    store.Store
	clock *clock.Fake
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{st: sqlite.OpenTest(t), clock: clock.NewFake(time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC))}
}

// cookie returns the cookie called name that w set.
func cookie(t *testing.T, w *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cookie %s", name)
	return nil
}

func TestSessions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		base   string
		secure bool
	}{{"https://sesame.example.com", true}, {"http://localhost:8080", false}} {
		t.Run(tt.base, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ss := signin.NewSessions(b.st, b.clock, tt.base, time.Hour)
			w := httptest.NewRecorder()
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			sess, err := ss.Start(t.Context(), w, "usr_a", "oidc")
			require.NoError(t, err)
			c := cookie(t, w, signin.CookieName)
			require.Equal(t, tt.secure, c.Secure)
			require.True(t, c.HttpOnly)
			require.Equal(t, http.SameSiteLaxMode, c.SameSite)
			require.Equal(t, "/", c.Path)
			require.Equal(t, 3600, c.MaxAge)
			require.GreaterOrEqual(t, len(c.Value), 40, "32 random bytes")

			// The store keeps the hash only.
			_, err = b.st.WebSessionGet(t.Context(), c.Value, b.clock.Now())
			require.ErrorIs(t, err, store.ErrNotFound)
			stored, err := b.st.WebSessionGet(t.Context(), signin.Hash(c.Value), b.clock.Now())
			require.NoError(t, err)
			require.Equal(t, "usr_a", stored.UserID)

			r.AddCookie(c)
			got, err := ss.Load(r)
			require.NoError(t, err)
			require.Equal(t, sess.Hash, got.Hash)

			// CSRF tokens belong to one session.
			tok := got.CSRFToken()
			require.True(t, got.CheckCSRF(tok))
			require.False(t, got.CheckCSRF(""))
			require.False(t, got.CheckCSRF(tok[:len(tok)-1]+"x"))
			other, err := ss.Start(t.Context(), httptest.NewRecorder(), "usr_a", "oidc")
			require.NoError(t, err)
			require.False(t, other.CheckCSRF(tok), "another session's token is refused")

			// Expiry, then sign-out.
			b.clock.Advance(time.Hour)
			_, err = ss.Load(r)
			require.ErrorIs(t, err, signin.ErrNoSession)
			b.clock.Advance(-time.Minute)
			w = httptest.NewRecorder()
			require.NoError(t, ss.End(w, r))
			require.Equal(t, -1, cookie(t, w, signin.CookieName).MaxAge)
			_, err = ss.Load(r)
			require.ErrorIs(t, err, signin.ErrNoSession)

			for _, v := range []string{"", "nope", strings.Repeat("x", 200)} {
				r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
				r.AddCookie(&http.Cookie{Name: signin.CookieName, Value: v}) //nolint:gosec // G124: a request's cookie has no flags
				_, err := ss.Load(r)
				require.ErrorIs(t, err, signin.ErrNoSession, v)
			}
		})
	}
}

func TestLoginLinks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	tok, err := signin.IssueLink(ctx, b.st, "usr_a", "bootstrap", b.clock.Now(), signin.LinkTTL)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tok, "sln_"))
	l, err := signin.RedeemLink(ctx, b.st, tok, b.clock.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, "usr_a", l.UserID)
	_, err = signin.RedeemLink(ctx, b.st, tok, b.clock.Now().Add(2*time.Minute))
	require.ErrorIs(t, err, signin.ErrBadLink, "single use")

	expired, err := signin.IssueLink(ctx, b.st, "usr_a", "bootstrap", b.clock.Now(), signin.LinkTTL)
	require.NoError(t, err)
	_, err = signin.RedeemLink(ctx, b.st, expired, b.clock.Now().Add(signin.LinkTTL))
	require.ErrorIs(t, err, signin.ErrBadLink, "expired after 15 minutes")

	for _, bad := range []string{"", "sln_", "sln_short", tok + "x", strings.Repeat("a", 500)} {
		_, err := signin.RedeemLink(ctx, b.st, bad, b.clock.Now())
		require.ErrorIs(t, err, signin.ErrBadLink, bad)
	}
}

// oidcBundle is an OIDC sign-in against a mockoidc provider.
type oidcBundle struct {
	m *mockoidc.MockOIDC
	o *signin.OIDC
}

func setupOIDC(t *testing.T) *oidcBundle {
	t.Helper()
	m, err := mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Shutdown()) })
	o, err := signin.NewOIDC(signin.OIDCConfig{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		Scopes: []string{"email", "profile"}, RedirectURL: "https://sesame.example.com/login/callback",
		Key: []byte(strings.Repeat("k", 32)), Clock: clock.Real{}, Secure: true})
	require.NoError(t, err)
	return &oidcBundle{m: m, o: o}
}

// begin starts a sign-in and returns the flow cookie and the provider's
// redirect back (its code and state), without following it.
func (b *oidcBundle) begin(t *testing.T, u *mockoidc.MockUser) (*http.Cookie, url.Values, url.Values) {
	t.Helper()
	b.m.QueueUser(u)
	w := httptest.NewRecorder()
	authURL, err := b.o.Begin(t.Context(), w, "/requests/x")
	require.NoError(t, err)
	c := cookie(t, w, "sesame_oidc")
	require.True(t, c.HttpOnly)
	require.True(t, c.Secure)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	au, err := url.Parse(authURL)
	require.NoError(t, err)
	q := au.Query()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, authURL, nil)
	require.NoError(t, err)
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return c, q, back.Query()
}

func (b *oidcBundle) finish(t *testing.T, c *http.Cookie, query url.Values) (*signin.Identity, error) {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/login/callback?"+query.Encode(), nil)
	if c != nil {
		r.AddCookie(c)
	}
	return b.o.Finish(t.Context(), httptest.NewRecorder(), r)
}

func TestOIDC(t *testing.T) {
	t.Parallel()
	t.Run("sign-in with PKCE, state and nonce", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		c, auth, back := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "Alice@Example.com", EmailVerified: true})
		require.Equal(t, "S256", auth.Get("code_challenge_method"), "the provider advertises S256")
		require.NotEmpty(t, auth.Get("code_challenge"))
		require.NotEmpty(t, auth.Get("nonce"))
		require.NotEmpty(t, auth.Get("state"))
		require.Equal(t, "openid email profile", auth.Get("scope"))
		require.NotContains(t, c.Value, auth.Get("code_challenge"))
		id, err := b.finish(t, c, back)
		require.NoError(t, err)
		require.Equal(t, &signin.Identity{Subject: "s1", Email: "alice@example.com", Return: "/requests/x"}, id)
	})
	refused := func(t *testing.T, err error, want string) {
		t.Helper()
		var rf *signin.RefusalError
		require.ErrorAs(t, err, &rf)
		require.Contains(t, rf.Reason, want)
	}
	t.Run("state mismatch", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		c, _, back := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "a@example.com", EmailVerified: true})
		back.Set("state", "forged")
		_, err := b.finish(t, c, back)
		refused(t, err, "state does not match")
	})
	t.Run("no flow cookie (another browser)", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		_, _, back := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "a@example.com", EmailVerified: true})
		_, err := b.finish(t, nil, back)
		refused(t, err, "started in another browser")
	})
	t.Run("tampered flow cookie", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		c, _, back := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "a@example.com", EmailVerified: true})
		c.Value = "x" + c.Value[1:]
		_, err := b.finish(t, c, back)
		refused(t, err, "tampered")
	})
	t.Run("cookie of another sign-in", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		c1, _, _ := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "a@example.com", EmailVerified: true})
		_, _, back2 := b.begin(t, &mockoidc.MockUser{Subject: "s2", Email: "b@example.com", EmailVerified: true})
		_, err := b.finish(t, c1, back2)
		refused(t, err, "state does not match")
	})
	t.Run("unverified email", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		c, _, back := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "a@example.com", EmailVerified: false})
		_, err := b.finish(t, c, back)
		refused(t, err, "has not verified")
	})
	t.Run("code used twice", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		c, _, back := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "a@example.com", EmailVerified: true})
		_, err := b.finish(t, c, back)
		require.NoError(t, err)
		_, err = b.finish(t, c, back)
		refused(t, err, "refused the code")
	})
	t.Run("provider error", func(t *testing.T) {
		t.Parallel()
		b := setupOIDC(t)
		c, _, back := b.begin(t, &mockoidc.MockUser{Subject: "s1", Email: "a@example.com", EmailVerified: true})
		back.Set("error", "access_denied")
		_, err := b.finish(t, c, back)
		refused(t, err, "access_denied")
	})
}
