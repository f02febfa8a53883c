package awsidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
)

// TestVerifierAWSTestSuite anchors the verifier to the get-vanilla and
// post-x-www-form-urlencoded vectors of the AWS Signature Version 4 test
// suite.
func TestVerifierAWSTestSuite(t *testing.T) {
	t.Parallel()
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	const cred = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	for _, tc := range []struct {
		method, body, ctype, auth string
	}{
		{http.MethodGet, "", "", cred + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{http.MethodPost, "Param1=value1", "application/x-www-form-urlencoded", cred + "SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	} {
		req := httptest.NewRequestWithContext(t.Context(), tc.method, "https://example.amazonaws.com/", strings.NewReader(tc.body))
		req.Host = "example.amazonaws.com"
		req.Header.Set("X-Amz-Date", "20150830T123600Z")
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		req.Header.Set("Authorization", tc.auth)
		require.NoError(t, VerifySigV4(req, []byte(tc.body), secret, now))
		require.Error(t, VerifySigV4(req, []byte(tc.body+"x"), secret, now), "tampered body")
		require.Error(t, VerifySigV4(req, []byte(tc.body), secret+"x", now), "wrong secret")
		require.ErrorContains(t, VerifySigV4(req, []byte(tc.body), secret, now.Add(16*time.Minute)), "expired")
	}
}

type rig struct {
	f   *Server
	srv *httptest.Server
	clk *clock.Fake
}

const (
	inst  = "arn:aws:sso:::instance/ssoins-0000000000000001"
	store = "d-0000000001"
	acct  = "123456789012"
)

func newRig(t *testing.T) *rig {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := New(clk, "us-east-1", inst, store)
	f.AddCredentials("AKIDADMIN", Credentials{Secret: "s3cr3t", Admin: true})
	f.AddCredentials("AKIDREAD", Credentials{Secret: "r3ad"})
	f.AddAccount(acct)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &rig{f: f, srv: srv, clk: clk}
}

// call signs with the verifier's own algorithm (host, x-amz-date,
// content-type, x-amz-target) and returns the status and decoded body.
func (r *rig) call(t *testing.T, key, secret, service, target string, in any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(in)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.srv.URL+"/", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	amz := r.clk.Now().Format("20060102T150405Z")
	req.Header.Set("X-Amz-Date", amz)
	a := authHeader{accessKey: key, date: amz[:8], region: "us-east-1", service: service,
		signedHeaders: []string{"content-type", "host", "x-amz-date", "x-amz-target"}}
	req.Host = req.URL.Host
	sig := expectedSignature(req, a, amz, secret, body)
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		key, a.date, service, strings.Join(a.signedHeaders, ";"), sig))
	resp, err := r.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	return resp.StatusCode, out
}

func (r *rig) sso(t *testing.T, op string, in map[string]any) (int, map[string]any) {
	t.Helper()
	in["InstanceArn"] = inst
	return r.call(t, "AKIDADMIN", "s3cr3t", "sso", "SWBExternalService."+op, in)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.srv.URL+"/", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "SWBExternalService.ListPermissionSets")
	resp, err := r.srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "MissingAuthenticationTokenException:", resp.Header.Get("x-amzn-ErrorType"))

	code, out := r.call(t, "AKIDADMIN", "wrong", "sso", "SWBExternalService.ListPermissionSets", map[string]any{"InstanceArn": inst})
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "InvalidSignatureException", out["__type"])
	_, out = r.call(t, "AKIDNOPE", "s3cr3t", "sso", "SWBExternalService.ListPermissionSets", map[string]any{"InstanceArn": inst})
	require.Equal(t, "UnrecognizedClientException", out["__type"])
	_, out = r.call(t, "AKIDADMIN", "s3cr3t", "identitystore", "SWBExternalService.ListPermissionSets", map[string]any{"InstanceArn": inst})
	require.Equal(t, "InvalidSignatureException", out["__type"], "the scope must name the API's signing name")
}

func TestAssignmentsAreEventuallyConsistent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ps := r.f.AddPermissionSet("Admin", "")
	uid := r.f.AddUser(User{UserName: "ada@example.com", Email: "ada@example.com"})
	r.f.SetPollsUntilDone(2)
	a := map[string]any{"TargetId": acct, "TargetType": "AWS_ACCOUNT", "PermissionSetArn": ps, "PrincipalType": "USER", "PrincipalId": uid}

	code, out := r.call(t, "AKIDREAD", "r3ad", "sso", "SWBExternalService.CreateAccountAssignment", map[string]any{"InstanceArn": inst, "TargetId": acct})
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "com.amazonaws.swbexternalservice#AccessDeniedException", out["__type"])

	code, out = r.sso(t, "CreateAccountAssignment", a)
	require.Equal(t, http.StatusOK, code)
	st, _ := out["AccountAssignmentCreationStatus"].(map[string]any)
	require.Equal(t, "IN_PROGRESS", st["Status"])
	id := st["RequestId"]

	_, out = r.sso(t, "CreateAccountAssignment", map[string]any{"TargetId": acct, "TargetType": "AWS_ACCOUNT", "PermissionSetArn": ps, "PrincipalType": "USER", "PrincipalId": uid})
	require.Equal(t, "com.amazonaws.swbexternalservice#ConflictException", out["__type"])

	for _, want := range []string{"IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED", "SUCCEEDED"} {
		require.False(t, want == "IN_PROGRESS" && r.f.HasAssignment(Assignment{acct, ps, "USER", uid}), "not visible before it succeeds")
		_, out = r.sso(t, "DescribeAccountAssignmentCreationStatus", map[string]any{"AccountAssignmentCreationRequestId": id})
		st, _ = out["AccountAssignmentCreationStatus"].(map[string]any)
		require.Equal(t, want, st["Status"])
	}
	require.True(t, r.f.HasAssignment(Assignment{acct, ps, "USER", uid}))

	_, out = r.sso(t, "ListAccountAssignments", map[string]any{"AccountId": acct, "PermissionSetArn": ps, "MaxResults": 101})
	require.Equal(t, "com.amazonaws.swbexternalservice#ValidationException", out["__type"])
	_, out = r.sso(t, "ListAccountAssignments", map[string]any{"AccountId": acct, "PermissionSetArn": ps})
	require.Len(t, out["AccountAssignments"], 1)
}

func TestIdentityStoreAndThrottling(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for i := range 3 {
		r.f.AddUser(User{UserName: fmt.Sprintf("u%d@example.com", i)})
	}
	ids := func(op string, in map[string]any) map[string]any {
		in["IdentityStoreId"] = store
		_, out := r.call(t, "AKIDREAD", "r3ad", "identitystore", "AWSIdentityStore."+op, in)
		return out
	}
	out := ids("GetUserId", map[string]any{"AlternateIdentifier": map[string]any{"UniqueAttribute": map[string]string{"AttributePath": "userName", "AttributeValue": "U1@example.com"}}})
	require.NotEmpty(t, out["UserId"])
	out = ids("GetUserId", map[string]any{"AlternateIdentifier": map[string]any{"UniqueAttribute": map[string]string{"AttributePath": "userName", "AttributeValue": "nobody"}}})
	require.Equal(t, "com.amazonaws.identitystore#ResourceNotFoundException", out["__type"])
	out = ids("ListUsers", map[string]any{"MaxResults": 2})
	require.Len(t, out["Users"], 2)
	out = ids("ListUsers", map[string]any{"MaxResults": 2, "NextToken": out["NextToken"]})
	require.Len(t, out["Users"], 1)
	require.NotContains(t, out, "NextToken")
	out = ids("ListUsers", map[string]any{"Filters": []map[string]string{{"AttributePath": "UserName", "AttributeValue": "u2@example.com"}}})
	require.Len(t, out["Users"], 1)

	r.f.SetRateLimit(1, time.Second)
	ids("ListUsers", map[string]any{})
	out = ids("ListUsers", map[string]any{})
	require.Equal(t, "com.amazonaws.identitystore#ThrottlingException", out["__type"])
}
