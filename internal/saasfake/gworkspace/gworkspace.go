// Package gworkspace is a fake of the Google Workspace Admin SDK
// Directory API (groups, group members, users) and of Google's OAuth 2.0
// token endpoint for service accounts (the JWT bearer grant of RFC 7523
// with domain-wide delegation).
//
// What it enforces, as Google documents it:
//   - "Authorization: Bearer <access token>"; 401 "Invalid Credentials"
//     (reason authError, status UNAUTHENTICATED) otherwise, and once a
//     token has expired (tokens from /token live 3600 s);
//   - tokens of non-admins get 403 "Not Authorized to access this
//     resource/api" (reason forbidden);
//   - error bodies {"error": {"code", "message", "errors": [{"message",
//     "domain", "reason"}], "status"}}; unknown groups and members are 404
//     "Resource Not Found: groupKey" / "memberKey" (reason notFound);
//   - inserting a member twice is 409 "Member already exists." (reason
//     duplicate); deleting a non-member is 404;
//   - pagination with maxResults (groups and members: 1-200, default 200;
//     users: 1-500, default 100; out of range is 400 reason invalid) and an
//     opaque pageToken/nextPageToken; groups and users need customer or
//     domain (400 otherwise);
//   - tokens.list (GET users/{userKey}/tokens, tokens.go): OAuth grants
//     with clientId, displayText, scopes, userKey, anonymous, nativeApp;
//     not paged; needs the admin.directory.user.security scope;
//   - rate limits: over the limit, 403 with reason userRateLimitExceeded
//     (or rateLimitExceeded), or 429 rateLimitExceeded with status
//     RESOURCE_EXHAUSTED, as configured;
//   - POST /token: grant_type urn:ietf:params:oauth:grant-type:jwt-bearer,
//     an RS256 assertion signed by a registered service account key (kid
//     must match when present), aud equal to the token URL, iat/exp within
//     an hour and not expired, a scope, and a sub that is a known admin;
//     service accounts without domain-wide delegation get 401
//     unauthorized_client. Errors are {"error", "error_description"}.
package gworkspace

import (
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/saasfake"
)

// Access is what an access token may do.
type Access struct {
	// Admin lets the token read and change the directory.
	Admin bool
	// Expires is when the token stops working; zero means never.
	Expires time.Time
	// Scopes are the scopes granted (tokens from /token); nil means
	// every scope (static tokens).
	Scopes []string
}

// ServiceAccount is a registered service account key.
type ServiceAccount struct {
	Email, KeyID string
	Key          *rsa.PublicKey
	// Delegated is true when the account has domain-wide delegation.
	Delegated bool
}

type member struct {
	email, role, id, typ string
}

type group struct {
	id, email, name, description string
	members                      []*member
}

type user struct {
	id, email, name string
	admin           bool
}

// Server is the fake. Use New; safe for concurrent use.
type Server struct {
	clock   clock.Clock
	limiter *saasfake.Limiter
	mux     *http.ServeMux
	// Calls counts requests by "METHOD pattern".
	Calls saasfake.Counter

	mu       sync.Mutex
	tokens   map[string]Access
	accounts map[string]ServiceAccount // by email
	groups   []*group
	users    []*user
	nextID   int
	limitHow string // "403-user", "403", "429"
	issued   int
	grants   map[string][]OAuthGrant // by user id (tokens.go)
}

// New returns an empty fake reading the time from c (clock.Real{} when
// nil), with no rate limit.
func New(c clock.Clock) *Server {
	if c == nil {
		c = clock.Real{}
	}
	s := &Server{clock: c, limiter: saasfake.NewLimiter(0, time.Minute, c),
		tokens: map[string]Access{}, accounts: map[string]ServiceAccount{}, limitHow: "403-user"}
	s.routes()
	return s
}

// SetRateLimit limits requests to the Directory API; how is "403-user"
// (403 userRateLimitExceeded), "403" (403 rateLimitExceeded) or "429".
func (s *Server) SetRateLimit(limit int, window time.Duration, how string) {
	s.limiter.Set(limit, window)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitHow = how
}

// AddAccessToken registers a static access token.
func (s *Server) AddAccessToken(token string, a Access) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = a
}

// AddServiceAccount registers a service account key for /token.
func (s *Server) AddServiceAccount(sa ServiceAccount) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[sa.Email] = sa
}

// TokensIssued returns how many access tokens /token has issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

func (s *Server) newID() string {
	s.nextID++
	return fmt.Sprintf("%021d", s.nextID)
}

// AddUser adds a user; admin users may be impersonated by delegated
// service accounts and their tokens may change groups.
func (s *Server) AddUser(email, name string, admin bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, &user{id: s.newID(), email: strings.ToLower(email), name: name, admin: admin})
}

// AddGroup adds a group.
func (s *Server) AddGroup(email, name, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = append(s.groups, &group{id: s.newID(), email: strings.ToLower(email), name: name, description: description})
}

// AddGroupMember puts a group inside another (type GROUP).
func (s *Server) AddGroupMember(groupEmail, memberGroupEmail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, inner := s.group(groupEmail), s.group(memberGroupEmail)
	g.members = append(g.members, &member{email: inner.email, role: "MEMBER", id: inner.id, typ: "GROUP"})
}

// Role returns email's role in a group ("" when not a member).
func (s *Server) Role(groupEmail, email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.group(groupEmail); g != nil {
		for _, m := range g.members {
			if strings.EqualFold(m.email, email) {
				return m.role
			}
		}
	}
	return ""
}

// group finds a group by email or id.
func (s *Server) group(key string) *group {
	for _, g := range s.groups {
		if strings.EqualFold(g.email, key) || g.id == key {
			return g
		}
	}
	return nil
}

func (s *Server) user(key string) *user {
	for _, u := range s.users {
		if strings.EqualFold(u.email, key) || u.id == key {
			return u
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

const dir = "/admin/directory/v1"

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /token", s.token)
	h := func(pattern string, f http.HandlerFunc) { s.mux.Handle(pattern, s.wrap(pattern, f)) }
	h("GET "+dir+"/groups", s.listGroups)
	h("GET "+dir+"/groups/{groupKey}", s.getGroup)
	h("GET "+dir+"/groups/{groupKey}/members", s.listMembers)
	h("POST "+dir+"/groups/{groupKey}/members", s.insertMember)
	h("DELETE "+dir+"/groups/{groupKey}/members/{memberKey}", s.deleteMember)
	h("GET "+dir+"/users", s.listUsers)
	h("GET "+dir+"/users/{userKey}/tokens", s.listTokens)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "notFound", "")
	})
}

// writeError writes Google's JSON error format.
func writeError(w http.ResponseWriter, code int, msg, reason, status string) {
	e := map[string]any{
		"code":    code,
		"message": msg,
		"errors":  []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
	}
	if status != "" {
		e["status"] = status
	}
	saasfake.WriteJSON(w, code, map[string]any{"error": e})
}

func (s *Server) wrap(pattern string, f http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Calls.Inc(pattern)
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		a, known := s.tokens[raw]
		how := s.limitHow
		s.mu.Unlock()
		if !ok || !known || (!a.Expires.IsZero() && !s.clock.Now().Before(a.Expires)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "authError", "UNAUTHENTICATED")
			return
		}
		if d := s.limiter.Take(); !d.Allowed {
			switch how {
			case "429":
				writeError(w, http.StatusTooManyRequests, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'admin.googleapis.com'.", "rateLimitExceeded", "RESOURCE_EXHAUSTED")
			case "403":
				writeError(w, http.StatusForbidden, "Rate Limit Exceeded", "rateLimitExceeded", "PERMISSION_DENIED")
			default:
				writeError(w, http.StatusForbidden, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.", "userRateLimitExceeded", "PERMISSION_DENIED")
			}
			return
		}
		if !a.Admin {
			writeError(w, http.StatusForbidden, "Not Authorized to access this resource/api", "forbidden", "PERMISSION_DENIED")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		f(w, r)
	})
}

// paging reads maxResults (1..maxN, default def) and pageToken; it writes
// 400 and returns ok=false when they are invalid.
func paging(w http.ResponseWriter, r *http.Request, def, maxN, total int) (start, end int, next string, ok bool) {
	q := r.URL.Query()
	n := def
	if v := q.Get("maxResults"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		if err != nil || n < 1 || n > maxN {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid value '%s'. Values must be within the range: [1, %d]", v, maxN), "invalid", "INVALID_ARGUMENT")
			return 0, 0, "", false
		}
	}
	if t := q.Get("pageToken"); t != "" {
		raw, err := base64.RawURLEncoding.DecodeString(t)
		off, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "off:"))
		if err != nil || err2 != nil || off < 0 {
			writeError(w, http.StatusBadRequest, "Invalid page token", "invalid", "INVALID_ARGUMENT")
			return 0, 0, "", false
		}
		start = min(off, total)
	}
	end = min(start+n, total)
	if end < total {
		next = base64.RawURLEncoding.EncodeToString([]byte("off:" + strconv.Itoa(end)))
	}
	return start, end, next, true
}

func needCustomer(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if q.Get("customer") == "" && q.Get("domain") == "" {
		writeError(w, http.StatusBadRequest, "Bad Request", "badRequest", "INVALID_ARGUMENT")
		return false
	}
	return true
}

func groupJSON(g *group) map[string]any {
	return map[string]any{"kind": "admin#directory#group", "id": g.id, "email": g.email, "name": g.name,
		"description": g.description, "directMembersCount": strconv.Itoa(len(g.members))}
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	if !needCustomer(w, r) {
		return
	}
	start, end, next, ok := paging(w, r, 200, 200, len(s.groups))
	if !ok {
		return
	}
	out := map[string]any{"kind": "admin#directory#groups"}
	var gs []map[string]any
	for _, g := range s.groups[start:end] {
		gs = append(gs, groupJSON(g))
	}
	if len(gs) > 0 {
		out["groups"] = gs // Google omits empty lists
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	saasfake.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) findGroup(w http.ResponseWriter, r *http.Request) *group {
	g := s.group(r.PathValue("groupKey"))
	if g == nil {
		writeError(w, http.StatusNotFound, "Resource Not Found: groupKey", "notFound", "")
	}
	return g
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	if g := s.findGroup(w, r); g != nil {
		saasfake.WriteJSON(w, http.StatusOK, groupJSON(g))
	}
}

func memberJSON(m *member) map[string]any {
	return map[string]any{"kind": "admin#directory#member", "id": m.id, "email": m.email, "role": m.role, "type": m.typ, "status": "ACTIVE"}
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	g := s.findGroup(w, r)
	if g == nil {
		return
	}
	start, end, next, ok := paging(w, r, 200, 200, len(g.members))
	if !ok {
		return
	}
	out := map[string]any{"kind": "admin#directory#members"}
	var ms []map[string]any
	for _, m := range g.members[start:end] {
		ms = append(ms, memberJSON(m))
	}
	if len(ms) > 0 {
		out["members"] = ms
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	saasfake.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) insertMember(w http.ResponseWriter, r *http.Request) {
	g := s.findGroup(w, r)
	if g == nil {
		return
	}
	var in struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := decodeJSON(r, &in); err != nil || in.Email == "" {
		writeError(w, http.StatusBadRequest, "Missing required field: member", "required", "INVALID_ARGUMENT")
		return
	}
	role := in.Role
	if role == "" {
		role = "MEMBER"
	}
	if !slices.Contains([]string{"MEMBER", "MANAGER", "OWNER"}, role) {
		writeError(w, http.StatusBadRequest, "Invalid role", "invalid", "INVALID_ARGUMENT")
		return
	}
	u := s.user(in.Email)
	if u == nil {
		writeError(w, http.StatusNotFound, "Resource Not Found: memberKey", "notFound", "")
		return
	}
	for _, m := range g.members {
		if m.email == u.email {
			writeError(w, http.StatusConflict, "Member already exists.", "duplicate", "")
			return
		}
	}
	m := &member{email: u.email, role: role, id: u.id, typ: "USER"}
	g.members = append(g.members, m)
	saasfake.WriteJSON(w, http.StatusOK, memberJSON(m))
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) {
	g := s.findGroup(w, r)
	if g == nil {
		return
	}
	key := r.PathValue("memberKey")
	i := slices.IndexFunc(g.members, func(m *member) bool { return strings.EqualFold(m.email, key) || m.id == key })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Resource Not Found: memberKey", "notFound", "")
		return
	}
	g.members = slices.Delete(g.members, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if !needCustomer(w, r) {
		return
	}
	start, end, next, ok := paging(w, r, 100, 500, len(s.users))
	if !ok {
		return
	}
	out := map[string]any{"kind": "admin#directory#users"}
	var us []map[string]any
	for _, u := range s.users[start:end] {
		us = append(us, map[string]any{"kind": "admin#directory#user", "id": u.id, "primaryEmail": u.email,
			"name": map[string]any{"fullName": u.name}, "isAdmin": u.admin, "suspended": false})
	}
	if len(us) > 0 {
		out["users"] = us
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	saasfake.WriteJSON(w, http.StatusOK, out)
}

// ExpireAccessTokens makes every token issued by /token stop working, as
// if revoked; static tokens (no expiry) stay.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, a := range s.tokens {
		if !a.Expires.IsZero() {
			delete(s.tokens, k)
		}
	}
}
