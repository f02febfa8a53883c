// Package github is a fake of the parts of the GitHub REST API (version
// 2022-11-28) that Sesame's github connector uses: organization
// memberships, teams and team memberships.
//
// What it enforces, as GitHub documents it:
//   - a User-Agent header (403 without one) and a token in Authorization
//     ("Bearer <t>" or "token <t>"; 401 "Requires authentication" or "Bad
//     credentials" otherwise);
//   - write access only for tokens of organization owners (403 otherwise);
//   - error bodies {"message", "documentation_url", "status"};
//   - pagination with per_page (default 30, at most 100) and page, and Link
//     headers with rel="next", "prev", "first" and "last". Like GitHub, the
//     links of organization member lists point at
//     /organizations/{id}/members and those of team member lists at
//     /organizations/{id}/team/{team id}/members, so clients must follow
//     links rather than rebuild URLs;
//   - x-ratelimit-limit, -remaining, -used, -reset and -resource on every
//     authenticated answer; over the primary limit, 403 (or 429) with
//     x-ratelimit-remaining: 0; over the secondary limit, 403 (or 429) with
//     retry-after;
//   - idempotent PUT of memberships; adding someone who is not in the
//     organization creates a pending invitation (state "pending") unless
//     AutoAccept is set; pending members are not listed.
package github

import (
	"encoding/json"
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

const docsURL = "https://docs.github.com/rest"

// Token is what the fake knows about one access token.
type Token struct {
	// Login is the token's user.
	Login string
	// Owner lets the token change memberships in every organization.
	Owner bool
}

type membership struct {
	role  string // org: admin|member; team: member|maintainer
	state string // active|pending
}

type team struct {
	id          int64
	slug, name  string
	description string
	members     map[string]*membership
}

type org struct {
	id      int64
	login   string
	members map[string]*membership
	teams   map[string]*team
}

// Server is the fake API. Use New; safe for concurrent use.
type Server struct {
	clock     clock.Clock
	primary   *saasfake.Limiter
	secondary *saasfake.Limiter
	mux       *http.ServeMux
	// Calls counts requests by "METHOD pattern".
	Calls saasfake.Counter

	mu            sync.Mutex
	tokens        map[string]Token
	users         map[string]int64 // lower-case login -> id
	orgs          map[string]*org  // lower-case login -> org
	nextID        int64
	autoAccept    bool
	primaryCode   int
	secondaryCode int
}

// New returns an empty fake reading the time from c (clock.Real{} when
// nil). The primary limit is 5000 requests an hour, as for a personal
// access token; there is no secondary limit until SetSecondaryLimit.
func New(c clock.Clock) *Server {
	if c == nil {
		c = clock.Real{}
	}
	s := &Server{
		clock:         c,
		primary:       saasfake.NewLimiter(5000, time.Hour, c),
		secondary:     saasfake.NewLimiter(0, time.Minute, c),
		tokens:        map[string]Token{},
		users:         map[string]int64{},
		orgs:          map[string]*org{},
		nextID:        1000,
		primaryCode:   http.StatusForbidden,
		secondaryCode: http.StatusForbidden,
	}
	s.routes()
	return s
}

// AddToken registers a token.
func (s *Server) AddToken(token string, t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = t
}

// AddUser registers GitHub users by login.
func (s *Server) AddUser(logins ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range logins {
		s.nextID++
		s.users[strings.ToLower(l)] = s.nextID
	}
}

// AddOrg creates an organization.
func (s *Server) AddOrg(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.orgs[strings.ToLower(login)] = &org{id: s.nextID, login: login, members: map[string]*membership{}, teams: map[string]*team{}}
}

// AddMember makes login an active member of orgLogin with role (admin or
// member).
func (s *Server) AddMember(orgLogin, login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgs[strings.ToLower(orgLogin)].members[strings.ToLower(login)] = &membership{role: role, state: "active"}
}

// AddTeam creates a team in orgLogin.
func (s *Server) AddTeam(orgLogin, slug, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.orgs[strings.ToLower(orgLogin)].teams[slug] = &team{id: s.nextID, slug: slug, name: name, members: map[string]*membership{}}
}

// SetAutoAccept makes invitations to the organization accepted at once.
func (s *Server) SetAutoAccept(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoAccept = v
}

// SetPrimaryLimit sets the primary rate limit and the status used when it
// is exceeded (403 or 429; GitHub documents both).
func (s *Server) SetPrimaryLimit(limit int, window time.Duration, status int) {
	s.primary.Set(limit, window)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.primaryCode = status
}

// SetSecondaryLimit sets a secondary rate limit (0 disables it) and the
// status used when it is exceeded (403 or 429).
func (s *Server) SetSecondaryLimit(limit int, window time.Duration, status int) {
	s.secondary.Set(limit, window)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondaryCode = status
}

// OrgRole returns login's role and state in orgLogin ("", "" when none).
func (s *Server) OrgRole(orgLogin, login string) (role, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.orgs[strings.ToLower(orgLogin)].members[strings.ToLower(login)]; m != nil {
		return m.role, m.state
	}
	return "", ""
}

// TeamRole returns login's role and state in a team ("", "" when none).
func (s *Server) TeamRole(orgLogin, slug, login string) (role, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.orgs[strings.ToLower(orgLogin)].teams[slug].members[strings.ToLower(login)]; m != nil {
		return m.role, m.state
	}
	return "", ""
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request, tok Token)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	h := func(pattern string, f handler) { s.mux.Handle(pattern, s.wrap(pattern, f)) }
	h("GET /orgs/{org}", s.getOrg)
	h("GET /orgs/{org}/members", s.listOrgMembers)
	h("GET /organizations/{org_id}/members", s.listOrgMembers)
	h("GET /orgs/{org}/memberships/{username}", s.getOrgMembership)
	h("PUT /orgs/{org}/memberships/{username}", s.putOrgMembership)
	h("DELETE /orgs/{org}/memberships/{username}", s.deleteOrgMembership)
	h("GET /orgs/{org}/teams", s.listTeams)
	h("GET /organizations/{org_id}/teams", s.listTeams)
	h("GET /orgs/{org}/teams/{team_slug}/members", s.listTeamMembers)
	h("GET /organizations/{org_id}/team/{team_id}/members", s.listTeamMembers)
	h("GET /orgs/{org}/teams/{team_slug}/memberships/{username}", s.getTeamMembership)
	h("PUT /orgs/{org}/teams/{team_slug}/memberships/{username}", s.putTeamMembership)
	h("DELETE /orgs/{org}/teams/{team_slug}/memberships/{username}", s.deleteTeamMembership)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeError(w, http.StatusNotFound, "Not Found") })
}

func writeError(w http.ResponseWriter, status int, msg string) {
	saasfake.WriteJSON(w, status, map[string]string{"message": msg, "documentation_url": docsURL, "status": strconv.Itoa(status)})
}

// wrap checks the User-Agent, the token and the rate limits, in GitHub's
// order, then runs f with the store locked.
func (s *Server) wrap(pattern string, f handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Calls.Inc(pattern)
		if r.Header.Get("User-Agent") == "" {
			writeError(w, http.StatusForbidden, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.")
			return
		}
		auth := r.Header.Get("Authorization")
		if auth == "" {
			writeError(w, http.StatusUnauthorized, "Requires authentication")
			return
		}
		raw, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			raw, ok = strings.CutPrefix(auth, "token ")
		}
		s.mu.Lock()
		tok, known := s.tokens[raw]
		primaryCode, secondaryCode := s.primaryCode, s.secondaryCode
		s.mu.Unlock()
		if !ok || !known {
			writeError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		d := s.primary.Take()
		h := w.Header()
		h.Set("x-ratelimit-limit", strconv.Itoa(d.Limit))
		h.Set("x-ratelimit-remaining", strconv.Itoa(d.Remaining))
		h.Set("x-ratelimit-used", strconv.Itoa(d.Used))
		h.Set("x-ratelimit-reset", strconv.FormatInt(d.Reset.Unix(), 10))
		h.Set("x-ratelimit-resource", "core")
		if !d.Allowed {
			writeError(w, primaryCode, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE.")
			return
		}
		if d2 := s.secondary.Take(); !d2.Allowed {
			h.Set("retry-after", strconv.Itoa(int(d2.RetryAfter/time.Second)))
			writeError(w, secondaryCode, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE.")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		f(w, r, tok)
	})
}

// findOrg resolves {org} or {org_id}; writes 404 and returns nil if absent.
func (s *Server) findOrg(w http.ResponseWriter, r *http.Request) *org {
	if id := r.PathValue("org_id"); id != "" {
		for _, o := range s.orgs {
			if strconv.FormatInt(o.id, 10) == id {
				return o
			}
		}
	} else if o := s.orgs[strings.ToLower(r.PathValue("org"))]; o != nil {
		return o
	}
	writeError(w, http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) findTeam(w http.ResponseWriter, r *http.Request, o *org) *team {
	if id := r.PathValue("team_id"); id != "" {
		for _, t := range o.teams {
			if strconv.FormatInt(t.id, 10) == id {
				return t
			}
		}
	} else if t := o.teams[r.PathValue("team_slug")]; t != nil {
		return t
	}
	writeError(w, http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) userJSON(login string) map[string]any {
	return map[string]any{"login": login, "id": s.users[login], "type": "User", "site_admin": false}
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request, _ Token) {
	if o := s.findOrg(w, r); o != nil {
		saasfake.WriteJSON(w, http.StatusOK, map[string]any{"login": o.login, "id": o.id})
	}
}

// paginate writes the page of items asked for, with GitHub's Link header
// built on linkPath.
func paginate[T any](w http.ResponseWriter, r *http.Request, linkPath string, items []T) {
	q := r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage < 1 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max((len(items)+perPage-1)/perPage, 1)
	start := min((page-1)*perPage, len(items))
	end := min(start+perPage, len(items))

	link := func(p int, rel string) string {
		v := url.Values{}
		maps.Copy(v, q)
		v.Set("per_page", strconv.Itoa(perPage))
		v.Set("page", strconv.Itoa(p))
		return fmt.Sprintf(`<http://%s%s?%s>; rel=%q`, r.Host, linkPath, v.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	saasfake.WriteJSON(w, http.StatusOK, append([]T{}, items[start:end]...))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *Server) listOrgMembers(w http.ResponseWriter, r *http.Request, _ Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	role := r.URL.Query().Get("role")
	if role != "" && role != "all" && role != "admin" && role != "member" {
		writeRoleInvalid(w)
		return
	}
	var out []map[string]any
	for _, login := range sortedKeys(o.members) {
		m := o.members[login]
		if m.state == "active" && (role == "" || role == "all" || role == m.role) {
			out = append(out, s.userJSON(login))
		}
	}
	paginate(w, r, fmt.Sprintf("/organizations/%d/members", o.id), out)
}

func writeRoleInvalid(w http.ResponseWriter) {
	saasfake.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []map[string]string{{"resource": "Membership", "field": "role", "code": "invalid"}},
		"documentation_url": docsURL, "status": "422",
	})
}

func (s *Server) orgMembershipJSON(o *org, login string, m *membership) map[string]any {
	return map[string]any{
		"url":          fmt.Sprintf("/orgs/%s/memberships/%s", o.login, login),
		"state":        m.state,
		"role":         m.role,
		"organization": map[string]any{"login": o.login, "id": o.id},
		"user":         s.userJSON(login),
	}
}

func (s *Server) getOrgMembership(w http.ResponseWriter, r *http.Request, _ Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	login := strings.ToLower(r.PathValue("username"))
	m := o.members[login]
	if m == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	saasfake.WriteJSON(w, http.StatusOK, s.orgMembershipJSON(o, login, m))
}

func decodeRole(r *http.Request, def string) (string, bool) {
	var body struct {
		Role string `json:"role"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return "", false
		}
	}
	if body.Role == "" {
		body.Role = def
	}
	return body.Role, true
}

func (s *Server) putOrgMembership(w http.ResponseWriter, r *http.Request, tok Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	if !tok.Owner {
		writeError(w, http.StatusForbidden, "You must be an admin to add or update an organization membership.")
		return
	}
	login := strings.ToLower(r.PathValue("username"))
	if _, ok := s.users[login]; !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	role, ok := decodeRole(r, "member")
	if !ok {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if role != "admin" && role != "member" {
		writeRoleInvalid(w)
		return
	}
	m := o.members[login]
	if m == nil {
		m = &membership{state: "pending"}
		if s.autoAccept {
			m.state = "active"
		}
		o.members[login] = m
	}
	m.role = role
	saasfake.WriteJSON(w, http.StatusOK, s.orgMembershipJSON(o, login, m))
}

func (s *Server) deleteOrgMembership(w http.ResponseWriter, r *http.Request, tok Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	if !tok.Owner {
		writeError(w, http.StatusForbidden, "You must be an admin to remove an organization membership.")
		return
	}
	login := strings.ToLower(r.PathValue("username"))
	if o.members[login] == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	delete(o.members, login)
	for _, t := range o.teams {
		delete(t.members, login)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request, _ Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	var out []map[string]any
	for _, slug := range sortedKeys(o.teams) {
		t := o.teams[slug]
		out = append(out, map[string]any{"id": t.id, "slug": t.slug, "name": t.name, "description": t.description, "privacy": "closed"})
	}
	paginate(w, r, fmt.Sprintf("/organizations/%d/teams", o.id), out)
}

func (s *Server) listTeamMembers(w http.ResponseWriter, r *http.Request, _ Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	t := s.findTeam(w, r, o)
	if t == nil {
		return
	}
	role := r.URL.Query().Get("role")
	if role != "" && role != "all" && role != "member" && role != "maintainer" {
		writeRoleInvalid(w)
		return
	}
	var out []map[string]any
	for _, login := range sortedKeys(t.members) {
		m := t.members[login]
		if m.state == "active" && (role == "" || role == "all" || role == m.role) {
			out = append(out, s.userJSON(login))
		}
	}
	paginate(w, r, fmt.Sprintf("/organizations/%d/team/%d/members", o.id, t.id), out)
}

func teamMembershipJSON(o *org, t *team, login string, m *membership) map[string]any {
	return map[string]any{"url": fmt.Sprintf("/orgs/%s/teams/%s/memberships/%s", o.login, t.slug, login), "role": m.role, "state": m.state}
}

func (s *Server) getTeamMembership(w http.ResponseWriter, r *http.Request, _ Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	t := s.findTeam(w, r, o)
	if t == nil {
		return
	}
	login := strings.ToLower(r.PathValue("username"))
	m := t.members[login]
	if m == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	saasfake.WriteJSON(w, http.StatusOK, teamMembershipJSON(o, t, login, m))
}

func (s *Server) putTeamMembership(w http.ResponseWriter, r *http.Request, tok Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	t := s.findTeam(w, r, o)
	if t == nil {
		return
	}
	if !tok.Owner {
		writeError(w, http.StatusForbidden, "You must be a team maintainer or an organization owner to add team members.")
		return
	}
	login := strings.ToLower(r.PathValue("username"))
	if _, ok := s.users[login]; !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	role, ok := decodeRole(r, "member")
	if !ok {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if role != "member" && role != "maintainer" {
		writeRoleInvalid(w)
		return
	}
	state := "active"
	if om := o.members[login]; om == nil || om.state != "active" {
		// Not in the organization: GitHub invites them; the team
		// membership stays pending until they accept.
		if om == nil && !s.autoAccept {
			o.members[login] = &membership{role: "member", state: "pending"}
		} else if om == nil {
			o.members[login] = &membership{role: "member", state: "active"}
		}
		state = o.members[login].state
	}
	m := t.members[login]
	if m == nil {
		m = &membership{state: state}
		t.members[login] = m
	}
	m.role = role
	saasfake.WriteJSON(w, http.StatusOK, teamMembershipJSON(o, t, login, m))
}

func (s *Server) deleteTeamMembership(w http.ResponseWriter, r *http.Request, tok Token) {
	o := s.findOrg(w, r)
	if o == nil {
		return
	}
	t := s.findTeam(w, r, o)
	if t == nil {
		return
	}
	if !tok.Owner {
		writeError(w, http.StatusForbidden, "You must be a team maintainer or an organization owner to remove team members.")
		return
	}
	login := strings.ToLower(r.PathValue("username"))
	if t.members[login] == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	delete(t.members, login)
	w.WriteHeader(http.StatusNoContent)
}
