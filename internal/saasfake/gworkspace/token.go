package gworkspace

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/saasfake"
)

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer" //nolint:gosec // G101: a grant type name, not a credential

func decodeJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	saasfake.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

type claims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// token implements POST /token for the JWT bearer grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.Calls.Inc("POST /token")
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != jwtBearer {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
		return
	}
	var hdr struct {
		Alg, Typ, Kid string
	}
	var c claims
	if decodeSegment(parts[0], &hdr) != nil || decodeSegment(parts[1], &c) != nil || hdr.Alg != "RS256" {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT header or claims.")
		return
	}
	s.mu.Lock()
	sa, known := s.accounts[c.Iss]
	s.mu.Unlock()
	if !known || (hdr.Kid != "" && hdr.Kid != sa.KeyID) {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || rsa.VerifyPKCS1v15(sa.Key, crypto.SHA256, sum[:], sig) != nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	now := s.clock.Now()
	aud := (&url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}).String()
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	switch {
	case c.Aud != aud:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: aud must be "+aud)
		return
	case exp.Sub(iat) > time.Hour || !now.Before(exp) || iat.After(now.Add(5*time.Minute)):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	case c.Scope == "":
		tokenError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	admin := false
	if c.Sub != "" {
		u := s.user(c.Sub)
		if u == nil {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid email or User ID")
			return
		}
		if !sa.Delegated {
			tokenError(w, http.StatusUnauthorized, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
			return
		}
		admin = u.admin && strings.Contains(c.Scope, "https://www.googleapis.com/auth/admin.directory.")
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tokenError(w, http.StatusInternalServerError, "internal_failure", "rng")
		return
	}
	tok := "ya29.fake-" + hex.EncodeToString(b)
	s.tokens[tok] = Access{Admin: admin, Expires: now.Add(time.Hour), Scopes: strings.Fields(c.Scope)}
	s.issued++
	saasfake.WriteJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("bad JSON segment")
	}
	return nil
}
