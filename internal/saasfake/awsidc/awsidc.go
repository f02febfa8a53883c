// Package awsidc is a fake of AWS IAM Identity Center: the SSO admin API
// (X-Amz-Target SWBExternalService.*, signing name "sso") and the identity
// store API (AWSIdentityStore.*, signing name "identitystore"), both over
// the AWS JSON 1.1 protocol (POST / with Content-Type
// application/x-amz-json-1.1).
//
// What it enforces, as AWS documents it:
//   - Signature Version 4 on every request (verified independently of the
//     connector's signer), with the credential scope's service matching
//     the API, the region matching the fake's, X-Amz-Date within 15
//     minutes, and X-Amz-Security-Token for temporary credentials;
//     failures are MissingAuthenticationTokenException (403),
//     UnrecognizedClientException or InvalidSignatureException (400);
//   - AccessDeniedException for credentials without write access;
//   - JSON 1.1 errors: HTTP 400 (500 for internal errors), a
//     x-amzn-ErrorType header and {"__type": "<prefix>#<Name>", "Message"};
//   - account assignments are asynchronous: Create/DeleteAccountAssignment
//     answer Status IN_PROGRESS with a RequestId, and the matching
//     Describe...Status call answers IN_PROGRESS for the first K polls
//     (SetPollsUntilDone) before SUCCEEDED (or FAILED with a
//     FailureReason); the change is visible only once it has succeeded;
//     a second operation on an assignment with one in progress is
//     ConflictException;
//   - pagination with MaxResults (1-100) and an opaque NextToken;
//   - ThrottlingException over the configured rate limit.
package awsidc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/saasfake"
)

// Credentials are an access key the fake accepts.
type Credentials struct {
	Secret string
	// SessionToken, when set, must come as X-Amz-Security-Token.
	SessionToken string
	// Admin allows write operations.
	Admin bool
}

// User is an identity store user.
type User struct {
	UserID, UserName, DisplayName, Email string
}

// Assignment is an account assignment.
type Assignment struct {
	AccountID, PermissionSetArn, PrincipalType, PrincipalID string
}

type permissionSet struct {
	arn, name, description string
}

type request struct {
	id        string
	deletion  bool
	a         Assignment
	created   time.Time
	pollsLeft int
	status    string
	reason    string
}

// Server is the fake. Use New; safe for concurrent use.
type Server struct {
	clock   clock.Clock
	limiter *saasfake.Limiter
	region  string
	// Calls counts requests by X-Amz-Target.
	Calls saasfake.Counter

	mu            sync.Mutex
	creds         map[string]Credentials
	instanceArn   string
	identityStore string
	accounts      []string
	permSets      []*permissionSet
	users         []*User
	assignments   []Assignment
	requests      map[string]*request
	nextID        int
	polls         int
	failNext      string
}

// New returns a fake for one Identity Center instance in region, reading
// the time from c (clock.Real{} when nil).
func New(c clock.Clock, region, instanceArn, identityStoreID string) *Server {
	if c == nil {
		c = clock.Real{}
	}
	return &Server{clock: c, limiter: saasfake.NewLimiter(0, time.Second, c), region: region,
		creds: map[string]Credentials{}, instanceArn: instanceArn, identityStore: identityStoreID,
		requests: map[string]*request{}}
}

// SetRateLimit answers ThrottlingException over limit requests a window.
func (s *Server) SetRateLimit(limit int, window time.Duration) { s.limiter.Set(limit, window) }

// SetPollsUntilDone makes each assignment request report IN_PROGRESS for
// the first k Describe calls.
func (s *Server) SetPollsUntilDone(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls = k
}

// FailNext makes the next assignment request end FAILED with reason.
func (s *Server) FailNext(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = reason
}

// AddCredentials registers an access key.
func (s *Server) AddCredentials(accessKeyID string, c Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[accessKeyID] = c
}

// AddAccount registers an AWS account id.
func (s *Server) AddAccount(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts = append(s.accounts, id)
}

func (s *Server) newID(n int) string {
	s.nextID++
	return fmt.Sprintf("%0*x", n, s.nextID)
}

// AddPermissionSet creates a permission set and returns its ARN.
func (s *Server) AddPermissionSet(name, description string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ins := s.instanceArn[strings.LastIndex(s.instanceArn, "/")+1:]
	ps := &permissionSet{arn: "arn:aws:sso:::permissionSet/" + ins + "/ps-" + s.newID(16), name: name, description: description}
	s.permSets = append(s.permSets, ps)
	return ps.arn
}

// AddUser creates an identity store user and returns its id.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID(8)
	u.UserID = "9067" + id[:4] + "-" + id[4:] + "-0000-0000-000000000000"
	s.users = append(s.users, &u)
	return u.UserID
}

// HasAssignment reports whether the assignment exists (has succeeded).
func (s *Server) HasAssignment(a Assignment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.assignments, a)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	s.Calls.Inc(target)
	prefix, op, _ := strings.Cut(target, ".")
	var service, errPrefix string
	switch prefix {
	case "SWBExternalService":
		service, errPrefix = "sso", "com.amazonaws.swbexternalservice"
	case "AWSIdentityStore":
		service, errPrefix = "identitystore", "com.amazonaws.identitystore"
	default:
		writeError(w, http.StatusBadRequest, "", "UnknownOperationException", "")
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "", "UnknownOperationException", "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "SerializationException", "")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		writeError(w, http.StatusBadRequest, "", "SerializationException", "Content-Type must be application/x-amz-json-1.1")
		return
	}
	c, ok := s.authenticate(w, r, body, service)
	if !ok {
		return
	}
	if d := s.limiter.Take(); !d.Allowed {
		writeError(w, http.StatusBadRequest, errPrefix, "ThrottlingException", "Rate exceeded")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dispatch(w, errPrefix, op, body, c)
}

// authenticate checks the signature; it writes the error and returns
// ok=false when the request is not signed correctly.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte, service string) (Credentials, bool) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		writeError(w, http.StatusForbidden, "", "MissingAuthenticationTokenException", "Missing Authentication Token")
		return Credentials{}, false
	}
	a, err := parseAuth(auth)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "IncompleteSignatureException", err.Error())
		return Credentials{}, false
	}
	s.mu.Lock()
	c, known := s.creds[a.accessKey]
	s.mu.Unlock()
	if !known || c.SessionToken != r.Header.Get("X-Amz-Security-Token") {
		writeError(w, http.StatusBadRequest, "", "UnrecognizedClientException", "The security token included in the request is invalid.")
		return Credentials{}, false
	}
	if c.SessionToken != "" && !slices.Contains(a.signedHeaders, "x-amz-security-token") {
		writeError(w, http.StatusBadRequest, "", "InvalidSignatureException", "X-Amz-Security-Token must be signed.")
		return Credentials{}, false
	}
	if a.service != service || a.region != s.region {
		writeError(w, http.StatusBadRequest, "", "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to correct service and region: '%s/%s'.", s.region, service))
		return Credentials{}, false
	}
	if err := VerifySigV4(r, body, c.Secret, s.clock.Now()); err != nil {
		writeError(w, http.StatusBadRequest, "", "InvalidSignatureException", err.Error())
		return Credentials{}, false
	}
	return c, true
}

// writeError writes a JSON 1.1 error.
func writeError(w http.ResponseWriter, status int, prefix, name, msg string) {
	typ := name
	if prefix != "" {
		typ = prefix + "#" + name
	}
	w.Header().Set("x-amzn-ErrorType", name+":")
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	b, err := json.Marshal(map[string]string{"__type": typ, "Message": msg})
	if err != nil {
		return
	}
	if _, err := w.Write(b); err != nil {
		return
	}
}

func writeOK(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "InternalServerException", "encode")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(b); err != nil {
		return
	}
}

type input struct {
	InstanceArn                        string
	IdentityStoreID                    string `json:"IdentityStoreId"`
	PermissionSetArn                   string
	PrincipalID                        string `json:"PrincipalId"`
	PrincipalType                      string
	TargetID                           string `json:"TargetId"`
	TargetType                         string
	AccountID                          string `json:"AccountId"`
	AccountAssignmentCreationRequestID string `json:"AccountAssignmentCreationRequestId"`
	AccountAssignmentDeletionRequestID string `json:"AccountAssignmentDeletionRequestId"`
	UserID                             string `json:"UserId"`
	MaxResults                         *int
	NextToken                          string
	AlternateIdentifier                struct {
		UniqueAttribute struct {
			AttributePath  string
			AttributeValue string
		}
	}
	Filters []struct {
		AttributePath  string
		AttributeValue string
	}
}

func (s *Server) dispatch(w http.ResponseWriter, pfx, op string, body []byte, c Credentials) {
	var in input
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, pfx, "SerializationException", "body is not JSON")
		return
	}
	isSSO := pfx == "com.amazonaws.swbexternalservice"
	if isSSO && in.InstanceArn != s.instanceArn {
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "Could not find the instance "+in.InstanceArn)
		return
	}
	if !isSSO && in.IdentityStoreID != s.identityStore {
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "IdentityStore not found.")
		return
	}
	write := op == "CreateAccountAssignment" || op == "DeleteAccountAssignment"
	if write && !c.Admin {
		writeError(w, http.StatusBadRequest, pfx, "AccessDeniedException",
			"User: arn:aws:iam::111111111111:user/readonly is not authorized to perform: sso:"+op)
		return
	}
	switch {
	case isSSO && op == "CreateAccountAssignment":
		s.startRequest(w, pfx, in, false)
	case isSSO && op == "DeleteAccountAssignment":
		s.startRequest(w, pfx, in, true)
	case isSSO && op == "DescribeAccountAssignmentCreationStatus":
		s.describe(w, pfx, in.AccountAssignmentCreationRequestID, false)
	case isSSO && op == "DescribeAccountAssignmentDeletionStatus":
		s.describe(w, pfx, in.AccountAssignmentDeletionRequestID, true)
	case isSSO && op == "ListAccountAssignments":
		s.listAssignments(w, pfx, in)
	case isSSO && op == "ListPermissionSets":
		s.listPermissionSets(w, pfx, in)
	case isSSO && op == "DescribePermissionSet":
		s.describePermissionSet(w, pfx, in)
	case !isSSO && op == "GetUserId":
		s.getUserID(w, pfx, in)
	case !isSSO && op == "ListUsers":
		s.listUsers(w, pfx, in)
	case !isSSO && op == "DescribeUser":
		s.describeUser(w, pfx, in)
	default:
		writeError(w, http.StatusBadRequest, "", "UnknownOperationException", "")
	}
}

func (s *Server) permSet(arn string) *permissionSet {
	for _, ps := range s.permSets {
		if ps.arn == arn {
			return ps
		}
	}
	return nil
}

func (s *Server) userByID(id string) *User {
	for _, u := range s.users {
		if u.UserID == id {
			return u
		}
	}
	return nil
}

func statusJSON(r *request) map[string]any {
	m := map[string]any{
		"RequestId": r.id, "Status": r.status, "CreatedDate": float64(r.created.Unix()),
		"TargetId": r.a.AccountID, "TargetType": "AWS_ACCOUNT", "PermissionSetArn": r.a.PermissionSetArn,
		"PrincipalType": r.a.PrincipalType, "PrincipalId": r.a.PrincipalID,
	}
	if r.reason != "" {
		m["FailureReason"] = r.reason
	}
	key := "AccountAssignmentCreationStatus"
	if r.deletion {
		key = "AccountAssignmentDeletionStatus"
	}
	return map[string]any{key: m}
}

func (s *Server) startRequest(w http.ResponseWriter, pfx string, in input, deletion bool) {
	switch {
	case in.TargetType != "AWS_ACCOUNT":
		writeError(w, http.StatusBadRequest, pfx, "ValidationException", "TargetType must be AWS_ACCOUNT")
		return
	case in.PrincipalType != "USER" && in.PrincipalType != "GROUP":
		writeError(w, http.StatusBadRequest, pfx, "ValidationException", "PrincipalType must be USER or GROUP")
		return
	case !slices.Contains(s.accounts, in.TargetID):
		writeError(w, http.StatusBadRequest, pfx, "ValidationException", "TargetId is not an account of the organization")
		return
	case s.permSet(in.PermissionSetArn) == nil:
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "Could not find PermissionSet with arn "+in.PermissionSetArn)
		return
	}
	a := Assignment{AccountID: in.TargetID, PermissionSetArn: in.PermissionSetArn, PrincipalType: in.PrincipalType, PrincipalID: in.PrincipalID}
	for _, r := range s.requests {
		if r.a == a && r.status == "IN_PROGRESS" {
			writeError(w, http.StatusBadRequest, pfx, "ConflictException",
				"Operation on the account assignment is already in progress; wait for it to complete.")
			return
		}
	}
	if deletion && !slices.Contains(s.assignments, a) {
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "AccountAssignment does not exist")
		return
	}
	r := &request{id: s.newID(8) + "-1b2c-4d5e-8f90-" + s.newID(12), deletion: deletion, a: a, created: s.clock.Now(),
		pollsLeft: s.polls, status: "IN_PROGRESS"}
	if s.failNext != "" {
		r.reason, s.failNext = s.failNext, ""
	} else if in.PrincipalType == "USER" && s.userByID(in.PrincipalID) == nil {
		r.reason = "Principal " + in.PrincipalID + " does not exist in the identity store."
	}
	s.requests[r.id] = r
	writeOK(w, statusJSON(r))
}

func (s *Server) describe(w http.ResponseWriter, pfx, id string, deletion bool) {
	r := s.requests[id]
	if r == nil || r.deletion != deletion {
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "Could not find the request "+id)
		return
	}
	if r.status == "IN_PROGRESS" {
		switch {
		case r.pollsLeft > 0:
			r.pollsLeft--
		case r.reason != "":
			r.status = "FAILED"
		default:
			r.status = "SUCCEEDED"
			if deletion {
				s.assignments = slices.DeleteFunc(s.assignments, func(a Assignment) bool { return a == r.a })
			} else if !slices.Contains(s.assignments, r.a) {
				s.assignments = append(s.assignments, r.a)
			}
		}
	}
	writeOK(w, statusJSON(r))
}

// page applies MaxResults (1-100, default 100) and NextToken; it writes
// a ValidationException and returns ok=false when they are invalid.
func page(w http.ResponseWriter, pfx string, in input, total int) (start, end int, next string, ok bool) {
	n := 100
	if in.MaxResults != nil {
		n = *in.MaxResults
		if n < 1 || n > 100 {
			writeError(w, http.StatusBadRequest, pfx, "ValidationException",
				fmt.Sprintf("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100", n))
			return 0, 0, "", false
		}
	}
	if in.NextToken != "" {
		raw, err := base64.StdEncoding.DecodeString(in.NextToken)
		off, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "fake-offset:"))
		if err != nil || err2 != nil || off < 0 {
			writeError(w, http.StatusBadRequest, pfx, "ValidationException", "The NextToken is not valid.")
			return 0, 0, "", false
		}
		start = min(off, total)
	}
	end = min(start+n, total)
	if end < total {
		next = base64.StdEncoding.EncodeToString([]byte("fake-offset:" + strconv.Itoa(end)))
	}
	return start, end, next, true
}

func withNext(m map[string]any, next string) map[string]any {
	if next != "" {
		m["NextToken"] = next
	}
	return m
}

func (s *Server) listAssignments(w http.ResponseWriter, pfx string, in input) {
	if in.AccountID == "" || in.PermissionSetArn == "" {
		writeError(w, http.StatusBadRequest, pfx, "ValidationException", "AccountId and PermissionSetArn are required")
		return
	}
	if s.permSet(in.PermissionSetArn) == nil {
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "Could not find PermissionSet with arn "+in.PermissionSetArn)
		return
	}
	var all []Assignment
	for _, a := range s.assignments {
		if a.AccountID == in.AccountID && a.PermissionSetArn == in.PermissionSetArn {
			all = append(all, a)
		}
	}
	start, end, next, ok := page(w, pfx, in, len(all))
	if !ok {
		return
	}
	out := []map[string]string{}
	for _, a := range all[start:end] {
		out = append(out, map[string]string{"AccountId": a.AccountID, "PermissionSetArn": a.PermissionSetArn, "PrincipalType": a.PrincipalType, "PrincipalId": a.PrincipalID})
	}
	writeOK(w, withNext(map[string]any{"AccountAssignments": out}, next))
}

func (s *Server) listPermissionSets(w http.ResponseWriter, pfx string, in input) {
	start, end, next, ok := page(w, pfx, in, len(s.permSets))
	if !ok {
		return
	}
	out := []string{}
	for _, ps := range s.permSets[start:end] {
		out = append(out, ps.arn)
	}
	writeOK(w, withNext(map[string]any{"PermissionSets": out}, next))
}

func (s *Server) describePermissionSet(w http.ResponseWriter, pfx string, in input) {
	ps := s.permSet(in.PermissionSetArn)
	if ps == nil {
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "Could not find PermissionSet with arn "+in.PermissionSetArn)
		return
	}
	writeOK(w, map[string]any{"PermissionSet": map[string]any{"Name": ps.name, "PermissionSetArn": ps.arn, "Description": ps.description, "SessionDuration": "PT1H"}})
}

func userJSON(u *User, store string) map[string]any {
	m := map[string]any{"UserId": u.UserID, "UserName": u.UserName, "DisplayName": u.DisplayName, "IdentityStoreId": store}
	if u.Email != "" {
		m["Emails"] = []map[string]any{{"Value": u.Email, "Type": "work", "Primary": true}}
	}
	return m
}

func (s *Server) getUserID(w http.ResponseWriter, pfx string, in input) {
	ua := in.AlternateIdentifier.UniqueAttribute
	if ua.AttributePath != "userName" && ua.AttributePath != "emails.value" {
		writeError(w, http.StatusBadRequest, pfx, "ValidationException", "Invalid AttributePath "+ua.AttributePath)
		return
	}
	for _, u := range s.users {
		v := u.UserName
		if ua.AttributePath == "emails.value" {
			v = u.Email
		}
		if strings.EqualFold(v, ua.AttributeValue) {
			writeOK(w, map[string]string{"IdentityStoreId": s.identityStore, "UserId": u.UserID})
			return
		}
	}
	writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "USER not found.")
}

func (s *Server) listUsers(w http.ResponseWriter, pfx string, in input) {
	var all []*User
	for _, u := range s.users {
		if len(in.Filters) > 0 {
			f := in.Filters[0]
			if f.AttributePath != "UserName" {
				writeError(w, http.StatusBadRequest, pfx, "ValidationException", "Filtering is only supported on UserName")
				return
			}
			if !strings.EqualFold(u.UserName, f.AttributeValue) {
				continue
			}
		}
		all = append(all, u)
	}
	start, end, next, ok := page(w, pfx, in, len(all))
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, u := range all[start:end] {
		out = append(out, userJSON(u, s.identityStore))
	}
	writeOK(w, withNext(map[string]any{"Users": out}, next))
}

func (s *Server) describeUser(w http.ResponseWriter, pfx string, in input) {
	u := s.userByID(in.UserID)
	if u == nil {
		writeError(w, http.StatusBadRequest, pfx, "ResourceNotFoundException", "USER not found.")
		return
	}
	writeOK(w, userJSON(u, s.identityStore))
}
