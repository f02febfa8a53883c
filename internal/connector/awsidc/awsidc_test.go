package awsidc_test

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/awsidc"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	fakeaws "github.com/sesame-access/sesame/internal/saasfake/awsidc"
)

const (
	region      = "eu-west-1"
	instanceArn = "arn:aws:sso:::instance/ssoins-6987a2b3c4d5e6f7"
	storeID     = "d-93670a1b2c"
	accountID   = "111122223333"
	adminKey    = "AKIAADMINADMINADMIN1"
	adminSecret = "admin/secret/key/0123456789abcdefghijklm"
	readKey     = "AKIAREADONLYREADONLY"
	readSecret  = "read/secret/key/0123456789abcdefghijklmn"
	tempKey     = "ASIATEMPORARYTEMPKEY"
)

type testBundle struct {
	aws      *fakeaws.Server
	srv      *httptest.Server
	clock    *clock.Fake
	settings map[string]string
	users    map[string]string // email -> user id
	admin    string            // AdministratorAccess ARN
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f := fakeaws.New(clk, region, instanceArn, storeID)
	f.AddCredentials(adminKey, fakeaws.Credentials{Secret: adminSecret, Admin: true})
	f.AddCredentials(readKey, fakeaws.Credentials{Secret: readSecret})
	f.AddCredentials(tempKey, fakeaws.Credentials{Secret: adminSecret, SessionToken: "session-token-abc", Admin: true})
	f.AddAccount(accountID)
	f.SetPollsUntilDone(2)
	b := &testBundle{aws: f, clock: clk, users: map[string]string{}}
	b.admin = f.AddPermissionSet("AdministratorAccess", "Full access")
	f.AddPermissionSet("ReadOnly", "Look, don't touch")
	for i := range 2 {
		email := fmt.Sprintf("user%d@example.com", i)
		b.users[email] = f.AddUser(fakeaws.User{UserName: email, DisplayName: fmt.Sprint("User ", i), Email: email})
	}
	b.srv = httptest.NewServer(f)
	t.Cleanup(b.srv.Close)
	b.settings = map[string]string{
		"region": region, "instance_arn": instanceArn, "identity_store_id": storeID, "account_id": accountID,
		"access_key_id": adminKey, "secret_access_key": adminSecret,
		"sso_url": b.srv.URL, "identitystore_url": b.srv.URL, "poll_interval": "1ms", "poll_timeout": "2s",
	}
	return b
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *awsidc.Connector {
	t.Helper()
	c, err := awsidc.NewWithOptions(settings, awsidc.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
	require.NoError(t, err)
	return c
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func closedURL(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func target(i int, key string) connector.Target {
	return connector.Target{GrantID: fmt.Sprint("grt_", i), Email: fmt.Sprintf("user%d@example.com", i), AppID: "app_aws_prod", EntitlementKey: key}
}

func (b *testBundle) has(email, psArn string) bool {
	return b.aws.HasAssignment(fakeaws.Assignment{AccountID: accountID, PermissionSetArn: psArn, PrincipalType: "USER", PrincipalID: b.users[email]})
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	down := closedURL(t)
	connectortest.Run(t, connectortest.Harness{
		Factory: func(s map[string]string) (connector.Connector, error) {
			return awsidc.NewWithOptions(s, awsidc.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
		},
		Settings: b.settings,
		Target:   func(_ *testing.T, i int) connector.Target { return target(i, "AdministratorAccess") },
		Has:      func(_ *testing.T, tg connector.Target) bool { return b.has(tg.Email, b.admin) },
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: with(b.settings, "profile", "prod"), WantInError: "profile"},
			{Name: "bad region", Settings: with(b.settings, "region", "Ireland"), WantInError: "region"},
			{Name: "bad instance", Settings: with(b.settings, "instance_arn", "ssoins-1"), WantInError: "instance_arn"},
			{Name: "bad store", Settings: with(b.settings, "identity_store_id", "store"), WantInError: "identity_store_id"},
			{Name: "bad account", Settings: with(b.settings, "account_id", "1234"), WantInError: "account_id"},
			{Name: "no access key", Settings: with(b.settings, "access_key_id", ""), WantInError: "access_key_id"},
			{Name: "no secret", Settings: with(b.settings, "secret_access_key", ""), WantInError: "secret_access_key"},
			{Name: "bad sso_url", Settings: with(b.settings, "sso_url", "https://sso.example.com/v1"), WantInError: "sso_url"},
			{Name: "bad poll_interval", Settings: with(b.settings, "poll_interval", "fast"), WantInError: "poll_interval"},
		},
		DownSettings:      with(b.settings, "sso_url", down, "identitystore_url", down),
		ForbiddenSettings: with(b.settings, "access_key_id", readKey, "secret_access_key", readSecret),
	})
}

func TestWaitsForEventualConsistency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.aws.SetPollsUntilDone(3)
	c := b.open(t, b.settings)
	require.NoError(t, c.Grant(t.Context(), target(0, b.admin)), "an ARN works as a key too")
	require.True(t, b.has("user0@example.com", b.admin))
	require.Equal(t, 4, b.aws.Calls.Get("SWBExternalService.DescribeAccountAssignmentCreationStatus"), "3 IN_PROGRESS, then SUCCEEDED")

	require.NoError(t, c.Revoke(t.Context(), target(0, b.admin)))
	require.False(t, b.has("user0@example.com", b.admin))
	require.Equal(t, 4, b.aws.Calls.Get("SWBExternalService.DescribeAccountAssignmentDeletionStatus"))
}

func TestStillInProgressIsRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.aws.SetPollsUntilDone(1000)
	c := b.open(t, with(b.settings, "poll_timeout", "5ms"))
	err := c.Grant(t.Context(), target(0, "AdministratorAccess"))
	require.ErrorContains(t, err, "IN_PROGRESS")
	require.False(t, connector.IsPermanent(err))

	err = c.Grant(t.Context(), target(0, "AdministratorAccess"))
	require.False(t, connector.IsPermanent(err))
	e, ok := errors.AsType[*awsidc.APIError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "ConflictException", e.Type)
}

func TestFailedRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	b.aws.FailNext("Received a 500 status error: Internal failure")
	err := c.Grant(t.Context(), target(0, "ReadOnly"))
	require.ErrorContains(t, err, "Internal failure")
	require.False(t, connector.IsPermanent(err))

	b.aws.FailNext("Role ARN arn:aws:iam::111122223333:role/x does not exist")
	err = c.Grant(t.Context(), target(0, "ReadOnly"))
	require.True(t, connector.IsPermanent(err), "%v", err)

	require.NoError(t, c.Grant(t.Context(), target(0, "ReadOnly")))
}

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	for name, tg := range map[string]connector.Target{
		"unknown permission set name": target(0, "PowerUser"),
		"unknown permission set arn":  target(0, "arn:aws:sso:::permissionSet/ssoins-6987a2b3c4d5e6f7/ps-0000000000000000"),
		"unknown user":                {Email: "ghost@example.com", EntitlementKey: "ReadOnly"},
		"no email":                    {EntitlementKey: "ReadOnly"},
	} {
		err := c.Grant(t.Context(), tg)
		require.True(t, connector.IsPermanent(err), "%s: %v", name, err)
	}
	require.NoError(t, c.Revoke(t.Context(), target(0, "PowerUser")))
	require.NoError(t, c.Revoke(t.Context(), connector.Target{Email: "ghost@example.com", EntitlementKey: "ReadOnly"}))

	for name, s := range map[string]map[string]string{
		"wrong secret":          with(b.settings, "secret_access_key", "not-the-secret"),
		"unknown key":           with(b.settings, "access_key_id", "AKIANOBODYNOBODYNOBO"),
		"missing session token": with(b.settings, "access_key_id", tempKey),
		"wrong region":          with(b.settings, "region", "us-east-1"),
	} {
		err := b.open(t, s).Grant(t.Context(), target(1, "ReadOnly"))
		require.True(t, connector.IsPermanent(err), "%s: %v", name, err)
		require.NotContains(t, err.Error(), adminSecret)
	}
	require.NoError(t, b.open(t, with(b.settings, "access_key_id", tempKey, "session_token", "session-token-abc")).Grant(t.Context(), target(1, "ReadOnly")))

	skewed, err := awsidc.NewWithOptions(b.settings, awsidc.Options{Clock: clock.NewFake(b.clock.Now().Add(20 * time.Minute)), HTTPClient: b.srv.Client()})
	require.NoError(t, err)
	err = skewed.HealthCheck(t.Context())
	require.ErrorContains(t, err, "Signature expired")
}

func TestThrottlingIsRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	b.aws.SetRateLimit(2, time.Minute)
	require.NoError(t, c.HealthCheck(t.Context()))
	err := c.Grant(t.Context(), target(0, "ReadOnly"))
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err))
	e, ok := errors.AsType[*awsidc.APIError](err)
	require.True(t, ok)
	require.Equal(t, "ThrottlingException", e.Type)
}

func TestSyncPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, with(b.settings, "poll_interval", "1ms"))
	b.aws.SetPollsUntilDone(0)
	for i := range 230 {
		email := fmt.Sprintf("bulk%03d@example.com", i)
		b.users[email] = b.aws.AddUser(fakeaws.User{UserName: email, Email: email})
		if i%2 == 0 {
			require.NoError(t, c.Grant(t.Context(), connector.Target{Email: email, EntitlementKey: "ReadOnly"}))
		}
	}
	for i := range 120 {
		b.aws.AddPermissionSet(fmt.Sprint("Set", i), "")
	}
	accts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Len(t, accts, 232)
	require.Equal(t, connector.Account{ExternalID: b.users["user0@example.com"], Email: "user0@example.com", Name: "User 0"}, accts[0])

	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	require.Len(t, ents, 122)

	gs, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Len(t, gs, 115, "115 assignments over two pages of ListAccountAssignments")
	require.Equal(t, "ReadOnly", gs[0].EntitlementKey)
}
