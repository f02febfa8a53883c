package gworkspace

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/saasfake"
)

// SecurityScope is the scope tokens.list needs.
const SecurityScope = "https://www.googleapis.com/auth/admin.directory.user.security"

// OAuthGrant is a token a user issued to a third-party app (what
// tokens.list returns): ClientID is the OAuth client, DisplayText the
// app's name as the user saw it.
type OAuthGrant struct {
	ClientID, DisplayText string
	Scopes                []string
	Anonymous, NativeApp  bool
}

// AddOAuthGrant records that the user with email granted g (a second
// grant of the same client replaces the first, as Google keeps one token
// per client and user).
func (s *Server) AddOAuthGrant(email string, g OAuthGrant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(email)
	if u == nil {
		panic("gworkspace fake: AddOAuthGrant for an unknown user " + email)
	}
	if s.grants == nil {
		s.grants = map[string][]OAuthGrant{}
	}
	list := slices.DeleteFunc(s.grants[u.id], func(x OAuthGrant) bool { return x.ClientID == g.ClientID })
	s.grants[u.id] = append(list, g)
}

func etag(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

// listTokens is tokens.list: GET /admin/directory/v1/users/{userKey}/tokens
// (userKey: primary email or id). It needs the user.security scope (403
// "Request had insufficient authentication scopes." otherwise, for tokens
// that carry scopes); an unknown user is 404 reason notFound. It is not
// paged: every token is in items, which is absent when there are none.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if a := s.tokens[raw]; a.Scopes != nil && !slices.Contains(a.Scopes, SecurityScope) {
		writeError(w, http.StatusForbidden, "Request had insufficient authentication scopes.", "insufficientPermissions", "PERMISSION_DENIED")
		return
	}
	key := r.PathValue("userKey")
	u := s.user(key)
	if u == nil {
		writeError(w, http.StatusNotFound, "Resource Not Found: userKey", "notFound", "NOT_FOUND")
		return
	}
	var items []map[string]any
	for _, g := range s.grants[u.id] {
		items = append(items, map[string]any{
			"kind": "admin#directory#token", "etag": etag(u.id, g.ClientID), "clientId": g.ClientID,
			"displayText": g.DisplayText, "anonymous": g.Anonymous, "nativeApp": g.NativeApp,
			"userKey": u.id, "scopes": g.Scopes,
		})
	}
	out := map[string]any{"kind": "admin#directory#tokenList", "etag": etag(u.id)}
	if len(items) > 0 {
		out["items"] = items
	}
	saasfake.WriteJSON(w, http.StatusOK, out)
}
