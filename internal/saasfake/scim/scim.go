// Package scim is a fake SCIM 2.0 service provider (RFC 7643, RFC 7644)
// with the resources and operations Sesame's outbound scim connector
// uses: /Users (list with filter, get, create), /Groups (list, get,
// PATCH of members) and /ServiceProviderConfig.
//
// What it enforces, as the RFCs say:
//   - a bearer token (401 otherwise); read-only tokens may not write (403);
//   - error bodies with schema urn:ietf:params:scim:api:messages:2.0:Error,
//     "status" as a string, "scimType" where the RFC defines one
//     (invalidFilter, uniqueness, noTarget, invalidSyntax, invalidValue);
//   - filters: attrPath eq "value" on userName (case-insensitive, as
//     userName is not caseExact), emails.value, emails[value eq "..."],
//     displayName and externalId; anything else is 400 invalidFilter;
//   - pagination: 1-based startIndex (values below 1 are 1), count capped
//     at the advertised filter.maxResults, ListResponse with totalResults,
//     startIndex and itemsPerPage;
//   - PATCH with the PatchOp schema; "op" is case-insensitive; adding an
//     existing member is a no-op; removing with a value filter that
//     matches nothing is 400 noTarget (RFC 7644 section 3.5.2.2); answers
//     204, or 200 with the resource when ReturnResourceOnPatch is set;
//   - 429 with Retry-After over the configured rate limit (not in RFC 7644,
//     but what SCIM servers do).
package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/saasfake"
)

// Schema URNs.
const (
	SchemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// Token is what the fake knows about one bearer token.
type Token struct {
	// Write lets the token create users and change groups.
	Write bool
}

// User is a SCIM user.
type User struct {
	ID, UserName, DisplayName, Email, ExternalID string
	Active                                       bool
}

type group struct {
	id, displayName string
	members         []string // user ids, in insertion order
}

// Server is the fake service provider. Use New; safe for concurrent use.
type Server struct {
	clock   clock.Clock
	limiter *saasfake.Limiter
	mux     *http.ServeMux
	// Calls counts requests by "METHOD pattern".
	Calls saasfake.Counter

	mu            sync.Mutex
	tokens        map[string]Token
	users         []*User
	groups        []*group
	nextID        int
	maxResults    int
	returnOnPatch bool
}

// New returns an empty fake reading the time from c (clock.Real{} when
// nil), with filter.maxResults 100 and no rate limit.
func New(c clock.Clock) *Server {
	if c == nil {
		c = clock.Real{}
	}
	s := &Server{clock: c, limiter: saasfake.NewLimiter(0, time.Minute, c), tokens: map[string]Token{}, maxResults: 100}
	s.routes()
	return s
}

// SetRateLimit answers 429 with Retry-After over limit requests a window.
func (s *Server) SetRateLimit(limit int, window time.Duration) { s.limiter.Set(limit, window) }

// SetMaxResults changes the page size cap (filter.maxResults).
func (s *Server) SetMaxResults(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxResults = n
}

// SetReturnResourceOnPatch makes PATCH answer 200 with the group instead
// of 204.
func (s *Server) SetReturnResourceOnPatch(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.returnOnPatch = v
}

// AddToken registers a bearer token.
func (s *Server) AddToken(token string, t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = t
}

func (s *Server) newID() string {
	s.nextID++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.nextID, s.nextID)
}

// AddUser creates a user and returns its id.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.ID = s.newID()
	s.users = append(s.users, &u)
	return u.ID
}

// AddGroup creates a group and returns its id.
func (s *Server) AddGroup(displayName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &group{id: s.newID(), displayName: displayName}
	s.groups = append(s.groups, g)
	return g.id
}

// UserID returns the id of the user with userName (case-insensitive), or "".
func (s *Server) UserID(userName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if strings.EqualFold(u.UserName, userName) {
			return u.ID
		}
	}
	return ""
}

// IsMember reports whether the user with userName is in group id.
func (s *Server) IsMember(groupID, userName string) bool {
	uid := s.UserID(userName)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.group(groupID)
	return uid != "" && g != nil && slices.Contains(g.members, uid)
}

func (s *Server) group(id string) *group {
	for _, g := range s.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

func (s *Server) userByID(id string) *User {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	h := func(pattern string, write bool, f handler) { s.mux.Handle(pattern, s.wrap(pattern, write, f)) }
	h("GET /ServiceProviderConfig", false, s.serviceProviderConfig)
	h("GET /Users", false, s.listUsers)
	h("GET /Users/{id}", false, s.getUser)
	h("POST /Users", true, s.createUser)
	h("GET /Groups", false, s.listGroups)
	h("GET /Groups/{id}", false, s.getGroup)
	h("PATCH /Groups/{id}", true, s.patchGroup)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
}

// writeError writes a SCIM error; status is a string, as RFC 7644
// section 3.12 defines it.
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	body := map[string]any{"schemas": []string{SchemaError}, "status": strconv.Itoa(status), "detail": detail}
	if scimType != "" {
		body["scimType"] = scimType
	}
	writeSCIM(w, status, body)
}

func writeSCIM(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return
	}
}

func (s *Server) wrap(pattern string, write bool, f handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Calls.Inc(pattern)
		if d := s.limiter.Take(); !d.Allowed {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter/time.Second)))
			writeError(w, http.StatusTooManyRequests, "", "too many requests")
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		defer s.mu.Unlock()
		tok, known := s.tokens[raw]
		if !ok || !known {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
			writeError(w, http.StatusUnauthorized, "", "authentication required")
			return
		}
		if write && !tok.Write {
			writeError(w, http.StatusForbidden, "", "the token may not modify resources")
			return
		}
		if write {
			ct := r.Header.Get("Content-Type")
			if !strings.HasPrefix(ct, "application/scim+json") && !strings.HasPrefix(ct, "application/json") {
				writeError(w, http.StatusBadRequest, "invalidSyntax", "Content-Type must be application/scim+json")
				return
			}
		}
		f(w, r)
	})
}

func (s *Server) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) {
	writeSCIM(w, http.StatusOK, map[string]any{
		"schemas":        []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"patch":          map[string]any{"supported": true},
		"bulk":           map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":         map[string]any{"supported": true, "maxResults": s.maxResults},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": false},
		"etag":           map[string]any{"supported": false},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "Authentication scheme using the OAuth Bearer Token Standard",
		}},
	})
}

func (s *Server) userJSON(u *User) map[string]any {
	m := map[string]any{
		"schemas": []string{SchemaUser}, "id": u.ID, "userName": u.UserName, "active": u.Active,
		"meta": map[string]any{"resourceType": "User", "location": "/Users/" + u.ID},
	}
	if u.DisplayName != "" {
		m["displayName"] = u.DisplayName
		m["name"] = map[string]any{"formatted": u.DisplayName}
	}
	if u.Email != "" {
		m["emails"] = []map[string]any{{"value": u.Email, "type": "work", "primary": true}}
	}
	if u.ExternalID != "" {
		m["externalId"] = u.ExternalID
	}
	return m
}

func (s *Server) groupJSON(g *group, withMembers bool) map[string]any {
	m := map[string]any{
		"schemas": []string{SchemaGroup}, "id": g.id, "displayName": g.displayName,
		"meta": map[string]any{"resourceType": "Group", "location": "/Groups/" + g.id},
	}
	if withMembers {
		members := []map[string]any{}
		for _, id := range g.members {
			mm := map[string]any{"value": id, "$ref": "/Users/" + id, "type": "User"}
			if u := s.userByID(id); u != nil {
				mm["display"] = u.DisplayName
			}
			members = append(members, mm)
		}
		m["members"] = members
	}
	return m
}

// filterRE matches `attrPath eq "value"` and `attr[sub eq "value"]`.
var filterRE = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9.]*)(?:\[\s*([A-Za-z]+)\s+(?i:eq)\s+("(?:[^"\\]|\\.)*")\s*\])?(?:\s+(?i:eq)\s+("(?:[^"\\]|\\.)*"))?\s*$`)

// parseFilter returns the attribute path (lower-case, sub-attributes
// joined with '.') and the compared value.
func parseFilter(f string) (path, value string, ok bool) {
	m := filterRE.FindStringSubmatch(f)
	if m == nil {
		return "", "", false
	}
	lit := m[4]
	path = strings.ToLower(m[1])
	if m[2] != "" {
		if m[4] != "" {
			return "", "", false
		}
		path += "." + strings.ToLower(m[2])
		lit = m[3]
	}
	if lit == "" {
		return "", "", false
	}
	if err := json.Unmarshal([]byte(lit), &value); err != nil {
		return "", "", false
	}
	return path, value, true
}

// window reads startIndex and count as RFC 7644 section 3.4.2.4 says.
func (s *Server) window(r *http.Request, total int) (start, end, startIndex int) {
	q := r.URL.Query()
	startIndex, err := strconv.Atoi(q.Get("startIndex"))
	if err != nil || startIndex < 1 {
		startIndex = 1
	}
	count, err := strconv.Atoi(q.Get("count"))
	if err != nil {
		count = s.maxResults
	}
	count = max(min(count, s.maxResults), 0)
	start = min(startIndex-1, total)
	end = min(start+count, total)
	return start, end, startIndex
}

func listResponse(items []map[string]any, total, startIndex int) map[string]any {
	return map[string]any{
		"schemas": []string{SchemaListResponse}, "totalResults": total,
		"startIndex": startIndex, "itemsPerPage": len(items), "Resources": items,
	}
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	match := func(*User) bool { return true }
	if f := r.URL.Query().Get("filter"); f != "" {
		path, v, ok := parseFilter(f)
		switch {
		case !ok:
			writeError(w, http.StatusBadRequest, "invalidFilter", "unsupported filter: "+f)
			return
		case path == "username":
			match = func(u *User) bool { return strings.EqualFold(u.UserName, v) }
		case path == "emails.value":
			match = func(u *User) bool { return strings.EqualFold(u.Email, v) }
		case path == "externalid":
			match = func(u *User) bool { return u.ExternalID == v }
		default:
			writeError(w, http.StatusBadRequest, "invalidFilter", "unsupported attribute in filter: "+path)
			return
		}
	}
	var all []*User
	for _, u := range s.users {
		if match(u) {
			all = append(all, u)
		}
	}
	start, end, si := s.window(r, len(all))
	items := []map[string]any{}
	for _, u := range all[start:end] {
		items = append(items, s.userJSON(u))
	}
	writeSCIM(w, http.StatusOK, listResponse(items, len(all), si))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u := s.userByID(r.PathValue("id"))
	if u == nil {
		writeError(w, http.StatusNotFound, "", "Resource "+r.PathValue("id")+" not found")
		return
	}
	writeSCIM(w, http.StatusOK, s.userJSON(u))
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Schemas     []string `json:"schemas"`
		UserName    string   `json:"userName"`
		DisplayName string   `json:"displayName"`
		ExternalID  string   `json:"externalId"`
		Active      *bool    `json:"active"`
		Emails      []struct {
			Value   string `json:"value"`
			Primary bool   `json:"primary"`
		} `json:"emails"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalidSyntax", "body is not a JSON object")
		return
	}
	if !slices.Contains(in.Schemas, SchemaUser) {
		writeError(w, http.StatusBadRequest, "invalidSyntax", "schemas must include "+SchemaUser)
		return
	}
	if in.UserName == "" {
		writeError(w, http.StatusBadRequest, "invalidValue", "userName is required")
		return
	}
	for _, u := range s.users {
		if strings.EqualFold(u.UserName, in.UserName) {
			writeError(w, http.StatusConflict, "uniqueness", "userName is already taken")
			return
		}
	}
	u := &User{ID: s.newID(), UserName: in.UserName, DisplayName: in.DisplayName, ExternalID: in.ExternalID, Active: in.Active == nil || *in.Active}
	for _, e := range in.Emails {
		if u.Email == "" || e.Primary {
			u.Email = e.Value
		}
	}
	s.users = append(s.users, u)
	w.Header().Set("Location", "/Users/"+u.ID)
	writeSCIM(w, http.StatusCreated, s.userJSON(u))
}

func withMembers(r *http.Request) bool {
	q := r.URL.Query()
	for a := range strings.SplitSeq(q.Get("excludedAttributes"), ",") {
		if strings.EqualFold(strings.TrimSpace(a), "members") {
			return false
		}
	}
	return true
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	match := func(*group) bool { return true }
	if f := r.URL.Query().Get("filter"); f != "" {
		path, v, ok := parseFilter(f)
		if !ok || path != "displayname" {
			writeError(w, http.StatusBadRequest, "invalidFilter", "unsupported filter: "+f)
			return
		}
		match = func(g *group) bool { return g.displayName == v }
	}
	var all []*group
	for _, g := range s.groups {
		if match(g) {
			all = append(all, g)
		}
	}
	start, end, si := s.window(r, len(all))
	items := []map[string]any{}
	for _, g := range all[start:end] {
		items = append(items, s.groupJSON(g, withMembers(r)))
	}
	writeSCIM(w, http.StatusOK, listResponse(items, len(all), si))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	g := s.group(r.PathValue("id"))
	if g == nil {
		writeError(w, http.StatusNotFound, "", "Resource "+r.PathValue("id")+" not found")
		return
	}
	writeSCIM(w, http.StatusOK, s.groupJSON(g, withMembers(r)))
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// memberPathRE matches members[value eq "id"].
var memberPathRE = regexp.MustCompile(`^members\[\s*value\s+(?i:eq)\s+("(?:[^"\\]|\\.)*")\s*\]$`)

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) {
	g := s.group(r.PathValue("id"))
	if g == nil {
		writeError(w, http.StatusNotFound, "", "Resource "+r.PathValue("id")+" not found")
		return
	}
	var in struct {
		Schemas    []string  `json:"schemas"`
		Operations []patchOp `json:"Operations"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !slices.Contains(in.Schemas, SchemaPatchOp) || len(in.Operations) == 0 {
		writeError(w, http.StatusBadRequest, "invalidSyntax", "body must be a PatchOp with Operations")
		return
	}
	// Apply to a copy: a PATCH is atomic.
	members := slices.Clone(g.members)
	for _, op := range in.Operations {
		var status int
		var scimType, detail string
		members, status, scimType, detail = s.applyOp(members, op)
		if status != 0 {
			writeError(w, status, scimType, detail)
			return
		}
	}
	g.members = members
	if s.returnOnPatch {
		writeSCIM(w, http.StatusOK, s.groupJSON(g, true))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// applyOp applies one operation to members; a non-zero status is an error.
func (s *Server) applyOp(members []string, op patchOp) (out []string, status int, scimType, detail string) {
	var values []struct {
		Value string `json:"value"`
	}
	switch strings.ToLower(op.Op) {
	case "add":
		if op.Path != "members" {
			return members, http.StatusBadRequest, "invalidPath", "only the members path is supported"
		}
		if err := json.Unmarshal(op.Value, &values); err != nil || len(values) == 0 {
			return members, http.StatusBadRequest, "invalidValue", "add members needs a list of {value}"
		}
		for _, v := range values {
			if s.userByID(v.Value) == nil {
				return members, http.StatusBadRequest, "invalidValue", "no user " + v.Value
			}
			if !slices.Contains(members, v.Value) {
				members = append(members, v.Value)
			}
		}
		return members, 0, "", ""
	case "remove":
		if m := memberPathRE.FindStringSubmatch(op.Path); m != nil {
			var id string
			if err := json.Unmarshal([]byte(m[1]), &id); err != nil {
				return members, http.StatusBadRequest, "invalidPath", "bad filter value"
			}
			i := slices.Index(members, id)
			if i < 0 {
				return members, http.StatusBadRequest, "noTarget", "no member matches " + op.Path
			}
			return slices.Delete(members, i, i+1), 0, "", ""
		}
		if op.Path == "members" && len(op.Value) > 0 {
			if err := json.Unmarshal(op.Value, &values); err != nil {
				return members, http.StatusBadRequest, "invalidValue", "remove members needs a list of {value}"
			}
			for _, v := range values {
				members = slices.DeleteFunc(members, func(id string) bool { return id == v.Value })
			}
			return members, 0, "", ""
		}
		return members, http.StatusBadRequest, "noTarget", "remove needs a members path"
	default:
		return members, http.StatusBadRequest, "invalidSyntax", "unsupported op " + strconv.Quote(op.Op)
	}
}
