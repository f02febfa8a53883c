// Package okta is a fake of the parts of the Okta Management API that
// Sesame's okta connector uses: users (get by id or login, list), groups
// (get, list with a type filter), group members (list, add, remove), and
// apps with their assigned users (list; apps.go).
//
// What it enforces, as Okta documents it:
//   - "Authorization: SSWS <token>" (401 E0000011 otherwise); tokens
//     without admin rights may read but not change memberships (403
//     E0000006);
//   - error bodies {errorCode, errorSummary, errorLink, errorId,
//     errorCauses}; unknown users and groups are 404 E0000007;
//   - cursor pagination: limit (users: default and max 200; groups:
//     default and max 10000; group members: default and max 1000; apps:
//     default 20, max 200; app users: default 50, max 500; larger
//     values are capped), an opaque after cursor, and one Link header per
//     relation: rel="self" and, when there is more, rel="next";
//   - X-Rate-Limit-Limit, -Remaining and -Reset (epoch seconds) on every
//     answer; over the limit, 429 E0000047;
//   - adding a member twice and removing a non-member both answer 204.
package okta

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/saasfake"
)

// Token is what the fake knows about one API token.
type Token struct {
	// Admin lets the token change group memberships.
	Admin bool
}

// User is an Okta user.
type User struct {
	ID, Login, Email, FirstName, LastName string
	// Status is ACTIVE unless set.
	Status string
}

type group struct {
	id, name, description, typ string
	members                    map[string]bool // user id
}

// Server is the fake API. Use New; safe for concurrent use.
type Server struct {
	clock   clock.Clock
	limiter *saasfake.Limiter
	mux     *http.ServeMux
	// Calls counts requests by "METHOD pattern".
	Calls saasfake.Counter

	mu     sync.Mutex
	tokens map[string]Token
	users  []*User // in creation order, which is Okta's list order
	groups []*group
	apps   []*app // apps.go
	nextID int
	errID  int
}

// New returns an empty fake reading the time from c (clock.Real{} when
// nil), limited to 600 requests a minute.
func New(c clock.Clock) *Server {
	if c == nil {
		c = clock.Real{}
	}
	s := &Server{clock: c, limiter: saasfake.NewLimiter(600, time.Minute, c), tokens: map[string]Token{}}
	s.routes()
	return s
}

// SetRateLimit changes the limit (0 disables it).
func (s *Server) SetRateLimit(limit int, window time.Duration) { s.limiter.Set(limit, window) }

// AddToken registers an API token.
func (s *Server) AddToken(token string, t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = t
}

func (s *Server) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s%017d", prefix, s.nextID)
}

// AddUser creates a user and returns its id. Login defaults to Email.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.ID = s.newID("00u")
	if u.Login == "" {
		u.Login = u.Email
	}
	if u.Status == "" {
		u.Status = "ACTIVE"
	}
	s.users = append(s.users, &u)
	return u.ID
}

// AddGroup creates a group of type typ (OKTA_GROUP, APP_GROUP or
// BUILT_IN) and returns its id.
func (s *Server) AddGroup(name, description, typ string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &group{id: s.newID("00g"), name: name, description: description, typ: typ, members: map[string]bool{}}
	s.groups = append(s.groups, g)
	return g.id
}

// IsMember reports whether user id is in group id.
func (s *Server) IsMember(groupID, userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.group(groupID)
	return g != nil && g.members[userID]
}

func (s *Server) group(id string) *group {
	for _, g := range s.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

// user finds a user by id or login (case-insensitive).
func (s *Server) user(idOrLogin string) *User {
	for _, u := range s.users {
		if u.ID == idOrLogin || strings.EqualFold(u.Login, idOrLogin) {
			return u
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request, tok Token)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	h := func(pattern string, f handler) { s.mux.Handle(pattern, s.wrap(pattern, f)) }
	h("GET /api/v1/users", s.listUsers)
	h("GET /api/v1/users/{id}", s.getUser)
	h("GET /api/v1/groups", s.listGroups)
	h("GET /api/v1/groups/{groupId}", s.getGroup)
	h("GET /api/v1/groups/{groupId}/users", s.listMembers)
	h("PUT /api/v1/groups/{groupId}/users/{userId}", s.addMember)
	h("DELETE /api/v1/groups/{groupId}/users/{userId}", s.removeMember)
	h("GET /api/v1/apps", s.listApps)
	h("GET /api/v1/apps/{appId}/users", s.listAppUsers)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.writeError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
	})
}

// writeError writes Okta's error body; call with s.mu held.
func (s *Server) writeError(w http.ResponseWriter, status int, code, summary string) {
	s.errID++
	saasfake.WriteJSON(w, status, map[string]any{
		"errorCode": code, "errorSummary": summary, "errorLink": code,
		"errorId": fmt.Sprintf("oae%019d", s.errID), "errorCauses": []any{},
	})
}

func (s *Server) wrap(pattern string, f handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Calls.Inc(pattern)
		d := s.limiter.Take()
		s.mu.Lock()
		defer s.mu.Unlock()
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "SSWS ")
		tok, known := s.tokens[raw]
		if !ok || !known {
			s.writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
			return
		}
		h := w.Header()
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(d.Limit))
		h.Set("X-Rate-Limit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt(d.Reset.Unix(), 10))
		if !d.Allowed {
			s.writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
			return
		}
		f(w, r, tok)
	})
}

func (s *Server) userJSON(u *User) map[string]any {
	return map[string]any{
		"id": u.ID, "status": u.Status,
		"profile": map[string]any{"login": u.Login, "email": u.Email, "firstName": u.FirstName, "lastName": u.LastName},
		"_links":  map[string]any{"self": map[string]string{"href": "/api/v1/users/" + u.ID}},
	}
}

func groupJSON(g *group) map[string]any {
	return map[string]any{"id": g.id, "type": g.typ, "profile": map[string]any{"name": g.name, "description": g.description}}
}

// page writes the items after the cursor, at most limit of them, with
// Okta's Link headers; the cursor is an opaque encoding of the last id.
func page(w http.ResponseWriter, r *http.Request, items []map[string]any, def, maxLimit int) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 {
		limit = def
	}
	limit = min(limit, maxLimit)
	start := 0
	if a := q.Get("after"); a != "" {
		raw, err := base64.RawURLEncoding.DecodeString(a)
		if err == nil {
			if i := slices.IndexFunc(items, func(m map[string]any) bool { return m["id"] == string(raw) }); i >= 0 {
				start = i + 1
			}
		}
	}
	end := min(start+limit, len(items))
	self := *r.URL
	self.Scheme, self.Host = "http", r.Host
	w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="self"`, self.String()))
	if end < len(items) {
		next := self
		nq := url.Values{}
		maps.Copy(nq, q)
		nq.Set("limit", strconv.Itoa(limit))
		lastID, _ := items[end-1]["id"].(string)
		nq.Set("after", base64.RawURLEncoding.EncodeToString([]byte(lastID)))
		next.RawQuery = nq.Encode()
		w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
	}
	saasfake.WriteJSON(w, http.StatusOK, append([]map[string]any{}, items[start:end]...))
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ Token) {
	var out []map[string]any
	for _, u := range s.users {
		if u.Status != "DEPROVISIONED" {
			out = append(out, s.userJSON(u))
		}
	}
	page(w, r, out, 200, 200)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ Token) {
	id := r.PathValue("id")
	u := s.user(id)
	if u == nil {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (User)")
		return
	}
	saasfake.WriteJSON(w, http.StatusOK, s.userJSON(u))
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, _ Token) {
	typ := ""
	if f := r.URL.Query().Get("filter"); f != "" {
		v, ok := strings.CutPrefix(f, "type eq ")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			s.writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.")
			return
		}
		typ = v[1 : len(v)-1]
	}
	var out []map[string]any
	for _, g := range s.groups {
		if typ == "" || g.typ == typ {
			out = append(out, groupJSON(g))
		}
	}
	page(w, r, out, 10000, 10000)
}

func (s *Server) findGroup(w http.ResponseWriter, r *http.Request) *group {
	id := r.PathValue("groupId")
	g := s.group(id)
	if g == nil {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (UserGroup)")
	}
	return g
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, _ Token) {
	if g := s.findGroup(w, r); g != nil {
		saasfake.WriteJSON(w, http.StatusOK, groupJSON(g))
	}
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, _ Token) {
	g := s.findGroup(w, r)
	if g == nil {
		return
	}
	var out []map[string]any
	for _, u := range s.users {
		if g.members[u.ID] {
			out = append(out, s.userJSON(u))
		}
	}
	page(w, r, out, 1000, 1000)
}

// member checks permission, group and user (by id only, as Okta's
// membership operations take a user id).
func (s *Server) member(w http.ResponseWriter, r *http.Request, tok Token) (*group, *User) {
	if !tok.Admin {
		s.writeError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
		return nil, nil
	}
	g := s.findGroup(w, r)
	if g == nil {
		return nil, nil
	}
	id := r.PathValue("userId")
	var u *User
	for _, cand := range s.users {
		if cand.ID == id {
			u = cand
		}
	}
	if u == nil {
		s.writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (User)")
		return nil, nil
	}
	return g, u
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, tok Token) {
	g, u := s.member(w, r, tok)
	if g == nil {
		return
	}
	if g.typ != "OKTA_GROUP" {
		s.writeError(w, http.StatusBadRequest, "E0000001", "API validation failed: group membership can only be changed for groups of type OKTA_GROUP")
		return
	}
	g.members[u.ID] = true
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, tok Token) {
	g, u := s.member(w, r, tok)
	if g == nil {
		return
	}
	delete(g.members, u.ID)
	w.WriteHeader(http.StatusNoContent)
}
