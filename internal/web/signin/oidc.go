package signin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/sesame-access/sesame/internal/clock"
)

// flowCookie carries the state, nonce and PKCE verifier of one sign-in
// between the redirect to the provider and the callback. It is HttpOnly,
// SameSite=Lax (the callback is a top-level GET) and MACed.
const flowCookie = "sesame_oidc"

// flowTTL bounds how long a person may take at the provider.
const flowTTL = 10 * time.Minute

// SlackIssuer is "Sign in with Slack".
const SlackIssuer = "https://slack.com"

// OIDCConfig configures OIDC sign-in.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// RedirectURL is BaseURL + "/login/callback".
	RedirectURL string
	// SlackTeamID, when set, is required in the https://slack.com/team_id
	// claim.
	SlackTeamID string
	// Key MACs the flow cookie (at least 32 bytes).
	Key   []byte
	Clock clock.Clock
	// HTTPClient talks to the provider; default http.DefaultClient with a
	// 10 s timeout.
	HTTPClient *http.Client
	// Secure sets the Secure flag of the flow cookie.
	Secure bool
}

// OIDC runs the authorization code flow with one provider. The provider's
// discovery document is fetched on first use (so that Sesame starts while
// the provider is down) and kept.
type OIDC struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider
	pkce     bool
}

// NewOIDC returns an OIDC sign-in; it does not contact the provider.
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("oidc: issuer, client ID and redirect URL are required")
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("oidc: the flow key must have at least 32 bytes")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	return &OIDC{cfg: cfg}, nil
}

// Issuer is the configured issuer.
func (o *OIDC) Issuer() string { return o.cfg.Issuer }

// IsSlack reports whether this is "Sign in with Slack".
func (o *OIDC) IsSlack() bool { return strings.TrimRight(o.cfg.Issuer, "/") == SlackIssuer }

func (o *OIDC) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// discover returns the provider, fetching its discovery document once.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, o.pkce, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, false, fmt.Errorf("the identity provider %s cannot be reached: %w", o.cfg.Issuer, err)
	}
	var meta struct {
		Methods []string `json:"code_challenge_methods_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, false, fmt.Errorf("read the provider's discovery document: %w", err)
	}
	o.provider, o.pkce = p, slices.Contains(meta.Methods, "S256")
	return o.provider, o.pkce, nil
}

func (o *OIDC) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.cfg.RedirectURL, Scopes: o.cfg.Scopes}
}

// flow is the flow cookie's content.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v,omitempty"`
	Return   string `json:"r,omitempty"`
	Expires  int64  `json:"e"`
}

func (o *OIDC) mac(b []byte) []byte {
	m := hmac.New(sha256.New, o.cfg.Key)
	m.Write([]byte("sesame-oidc-flow|"))
	m.Write(b)
	return m.Sum(nil)
}

// Begin starts a sign-in: it sets the flow cookie and returns the
// provider's authorization URL. returnTo is a local path to go back to.
func (o *OIDC) Begin(ctx context.Context, w http.ResponseWriter, returnTo string) (string, error) {
	p, pkce, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	f := flow{State: random(24), Nonce: random(24), Return: LocalPath(returnTo), Expires: o.cfg.Clock.Now().Add(flowTTL).Unix()}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(f.Nonce)}
	if pkce {
		f.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(f.Verifier))
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("encode flow: %w", err)
	}
	v := base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(o.mac(b))
	//nolint:gosec // G124: Secure follows the base URL (plain http only on localhost); HttpOnly and SameSite are set
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: v, Path: "/login/", MaxAge: int(flowTTL / time.Second),
		Secure: o.cfg.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return o.oauth(p).AuthCodeURL(f.State, opts...), nil
}

// readFlow returns the flow of r's cookie, checked.
func (o *OIDC) readFlow(r *http.Request) (*flow, error) {
	c, err := r.Cookie(flowCookie)
	if err != nil {
		return nil, &RefusalError{Reason: "the sign-in expired or was started in another browser; start again"}
	}
	body, sig, ok := strings.Cut(c.Value, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(s, o.mac(b)) {
		return nil, &RefusalError{Reason: "the sign-in state was tampered with; start again"}
	}
	var f flow
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, &RefusalError{Reason: "the sign-in state is unreadable; start again"}
	}
	if o.cfg.Clock.Now().Unix() > f.Expires {
		return nil, &RefusalError{Reason: "the sign-in took too long; start again"}
	}
	return &f, nil
}

// Identity is who the provider says signed in.
type Identity struct {
	Subject string
	Email   string
	Name    string
	// Return is the local path the sign-in started from.
	Return string
}

// RefusalError is a sign-in the provider or this package refused; Reason is
// safe to show.
type RefusalError struct{ Reason string }

func (e *RefusalError) Error() string { return "sign-in refused: " + e.Reason }

// claims are the ID token claims Sesame reads.
type claims struct {
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"`
	// EmailDomainVerified is Entra ID's optional claim xms_edov: the
	// email's domain is verified by the tenant (Entra sends no
	// email_verified).
	EmailDomainVerified any    `json:"xms_edov"`
	Name                string `json:"name"`
	SlackTeam           string `json:"https://slack.com/team_id"`
}

// verified reads email_verified (or Entra's xms_edov), which some
// providers send as a string.
func (c claims) verified() bool {
	return truthy(c.EmailVerified) || truthy(c.EmailDomainVerified)
}

// truthy is a JSON true or "true".
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// Finish completes a sign-in at the callback: it checks state against
// the flow cookie, exchanges the code (with the PKCE verifier), verifies
// the ID token (signature, issuer, audience, expiry, nonce), and requires a
// verified email (and the Slack workspace). It clears the flow cookie.
// Errors a person should see are *RefusalError.
func (o *OIDC) Finish(ctx context.Context, w http.ResponseWriter, r *http.Request) (*Identity, error) {
	//nolint:gosec // G124: as in Begin
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: "/login/", MaxAge: -1, Secure: o.cfg.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	f, err := o.readFlow(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return nil, &RefusalError{Reason: "the identity provider said: " + trim(e+" "+q.Get("error_description"), 200)}
	}
	if st := q.Get("state"); st == "" || !hmac.Equal([]byte(st), []byte(f.State)) {
		return nil, &RefusalError{Reason: "the sign-in state does not match; start again"}
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		return nil, &RefusalError{Reason: "the identity provider sent no code"}
	}
	p, _, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	var opts []oauth2.AuthCodeOption
	if f.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(f.Verifier))
	}
	tok, err := o.oauth(p).Exchange(o.ctx(ctx), code, opts...)
	if err != nil {
		return nil, &RefusalError{Reason: "the identity provider refused the code: " + trim(err.Error(), 200)}
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, &RefusalError{Reason: "the identity provider sent no ID token"}
	}
	v := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Clock.Now})
	idt, err := v.Verify(o.ctx(ctx), raw)
	if err != nil {
		return nil, &RefusalError{Reason: "the ID token is not valid: " + trim(err.Error(), 200)}
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(f.Nonce)) {
		return nil, &RefusalError{Reason: "the ID token's nonce does not match this sign-in"}
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return nil, &RefusalError{Reason: "the ID token's claims are unreadable"}
	}
	if err := checkClaims(c, o.cfg.SlackTeamID); err != nil {
		return nil, err
	}
	return &Identity{Subject: idt.Subject, Email: strings.ToLower(strings.TrimSpace(c.Email)), Name: c.Name, Return: f.Return}, nil
}

// checkClaims requires a verified email and, when slackTeam is set, that
// workspace.
func checkClaims(c claims, slackTeam string) error {
	if c.Email == "" {
		return &RefusalError{Reason: "the identity provider did not share an email address (ask for the email scope)"}
	}
	if !c.verified() {
		return &RefusalError{Reason: "the identity provider has not verified the email address " + c.Email}
	}
	if slackTeam != "" && c.SlackTeam != slackTeam {
		return &RefusalError{Reason: "this Slack workspace may not sign in to Sesame"}
	}
	return nil
}

func trim(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// LocalPath returns p when it is a path on this site ("/requests/x"),
// else "/": never an absolute or scheme-relative URL (no open redirect).
// Browsers strip tabs and newlines from a URL and read a backslash as a
// slash, so "/\t/evil.example" is "//evil.example" to them: any control
// byte (below 0x20, or DEL) and any backslash is refused outright.
func LocalPath(p string) string {
	if p == "" || p[0] != '/' || len(p) > 500 {
		return "/"
	}
	for i := range len(p) {
		if b := p[i]; b < 0x20 || b == 0x7f || b == '\\' {
			return "/"
		}
	}
	if strings.HasPrefix(p, "//") {
		return "/"
	}
	return p
}
