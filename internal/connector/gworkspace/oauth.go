package gworkspace

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// Scopes asked for in the JWT: manage group members, read groups and
// users.
const scopes = "https://www.googleapis.com/auth/admin.directory.group.member " +
	"https://www.googleapis.com/auth/admin.directory.group.readonly " +
	"https://www.googleapis.com/auth/admin.directory.user.readonly"

const (
	jwtBearerGrant  = "urn:ietf:params:oauth:grant-type:jwt-bearer" //nolint:gosec // G101: a grant type name, not a credential
	defaultTokenURL = "https://oauth2.googleapis.com/token"         //nolint:gosec // G101: a public endpoint, not a credential
	// tokenLifetime is the longest Google accepts for an assertion.
	tokenLifetime = time.Hour
	// refreshEarly renews access tokens this long before they expire.
	refreshEarly = time.Minute
)

// serviceAccount is the part of a service account key file the connector
// needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

// parseServiceAccount reads a key file. Errors never quote the key.
func parseServiceAccount(raw string) (serviceAccount, *rsa.PrivateKey, error) {
	var sa serviceAccount
	if err := json.Unmarshal([]byte(raw), &sa); err != nil {
		return sa, nil, errors.New("setting service_account_json is not a JSON key file")
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" {
		return sa, nil, errors.New(`setting service_account_json needs "type": "service_account", client_email and private_key`)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return sa, nil, errors.New("setting service_account_json: private_key is not PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return sa, nil, errors.New("setting service_account_json: private_key is not an RSA key")
		}
		key = rk
	} else if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = k
	} else {
		return sa, nil, errors.New("setting service_account_json: private_key is not a PKCS#8 or PKCS#1 RSA key")
	}
	return sa, key, nil
}

// tokenSource yields access tokens: a static one, or ones obtained with
// the JWT bearer grant (RFC 7523) and cached until a minute before they
// expire. Safe for concurrent use.
type tokenSource struct {
	static   string
	sa       serviceAccount
	key      *rsa.PrivateKey
	subject  string
	tokenURL string
	// extraScopes are added to scopes (discovery's user.security).
	extraScopes string
	http        *http.Client
	clock       clock.Clock

	mu      sync.Mutex
	token   string
	expires time.Time
}

// Token returns a valid access token.
func (ts *tokenSource) Token(ctx context.Context) (string, error) {
	if ts.static != "" {
		return ts.static, nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.clock.Now()
	if ts.token != "" && now.Before(ts.expires.Add(-refreshEarly)) {
		return ts.token, nil
	}
	tok, ttl, err := ts.exchange(ctx, now)
	if err != nil {
		return "", err
	}
	ts.token, ts.expires = tok, now.Add(ttl)
	return tok, nil
}

// Invalidate drops a cached token the API refused. It reports whether a
// fresh token can be had (false for a static token).
func (ts *tokenSource) Invalidate(token string) bool {
	if ts.static != "" {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == token {
		ts.token = ""
	}
	return true
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// assertion builds and signs the JWT (RS256).
func (ts *tokenSource) assertion(now time.Time) (string, error) {
	hdr := map[string]string{"alg": "RS256", "typ": "JWT"}
	if ts.sa.PrivateKeyID != "" {
		hdr["kid"] = ts.sa.PrivateKeyID
	}
	claims := map[string]any{
		"iss":   ts.sa.ClientEmail,
		"sub":   ts.subject,
		"scope": strings.TrimSpace(scopes + " " + ts.extraScopes),
		"aud":   ts.tokenURL,
		"iat":   now.Unix(),
		"exp":   now.Add(tokenLifetime).Unix(),
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + b64(sig), nil
}

// exchange trades a fresh assertion for an access token. invalid_grant,
// unauthorized_client and other 4xx answers are permanent (a wrong key,
// subject or delegation); 429, 5xx and network errors are retryable.
func (ts *tokenSource) exchange(ctx context.Context, now time.Time) (string, time.Duration, error) {
	jwt, err := ts.assertion(now)
	if err != nil {
		return "", 0, connector.Permanent(fmt.Errorf("gworkspace: sign assertion: %w", err))
	}
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {jwt}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, connector.Permanent(fmt.Errorf("gworkspace: token request: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, fmt.Errorf("gworkspace: token: %w", ctx.Err())
		}
		return "", 0, fmt.Errorf("gworkspace: token: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("gworkspace: token: read answer: %w", err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(data, &body) != nil {
		body.Error = "unreadable answer"
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		err := fmt.Errorf("gworkspace: token endpoint answered %d %s: %s", resp.StatusCode, body.Error, body.Description)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return "", 0, err
		}
		return "", 0, connector.Permanent(err)
	}
	ttl := time.Duration(body.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = tokenLifetime
	}
	return body.AccessToken, ttl, nil
}
