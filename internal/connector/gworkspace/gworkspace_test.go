package gworkspace_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/gworkspace"
	fakegws "github.com/sesame-access/sesame/internal/saasfake/gworkspace"
)

const (
	saEmail     = "sesame@acme-project.iam.gserviceaccount.com"
	adminEmail  = "admin@acme.example"
	readerToken = "ya29.static-reader-token"
)

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaKey2 *rsa.PrivateKey
)

func keys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err == nil {
			rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err != nil {
			panic(err)
		}
	})
	return rsaKey, rsaKey2
}

func saJSON(t *testing.T, key *rsa.PrivateKey, email, kid string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "acme-project", "private_key_id": kid,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "1234567890", "token_uri": "https://oauth2.googleapis.com/token",
	})
	require.NoError(t, err)
	return string(b)
}

type testBundle struct {
	gws      *fakegws.Server
	srv      *httptest.Server
	clock    *clock.Fake
	settings map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	key, _ := keys(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	g := fakegws.New(clk)
	g.AddServiceAccount(fakegws.ServiceAccount{Email: saEmail, KeyID: "kid-1", Key: &key.PublicKey, Delegated: true})
	g.AddAccessToken(readerToken, fakegws.Access{})
	g.AddUser(adminEmail, "The Admin", true)
	for i := range 2 {
		g.AddUser(fmt.Sprintf("user%d@acme.example", i), fmt.Sprintf("User %d", i), false)
	}
	g.AddGroup("eng@acme.example", "Engineering", "All engineers")
	g.AddGroup("oncall@acme.example", "On call", "")
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return &testBundle{gws: g, srv: srv, clock: clk, settings: map[string]string{
		"service_account_json": saJSON(t, key, saEmail, "kid-1"),
		"subject":              adminEmail,
		"token_url":            srv.URL + "/token",
		"api_url":              srv.URL,
	}}
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *gworkspace.Connector {
	t.Helper()
	c, err := gworkspace.NewWithOptions(settings, gworkspace.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
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

func target(email, group string) connector.Target {
	return connector.Target{GrantID: "grt_" + email, Email: email, AppID: "app_google", EntitlementKey: group}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	down := closedURL(t)
	connectortest.Run(t, connectortest.Harness{
		Factory: func(s map[string]string) (connector.Connector, error) {
			return gworkspace.NewWithOptions(s, gworkspace.Options{Clock: b.clock, HTTPClient: b.srv.Client()})
		},
		Settings: b.settings,
		Target: func(_ *testing.T, i int) connector.Target {
			return target(fmt.Sprintf("user%d@acme.example", i), "eng@acme.example")
		},
		Has: func(_ *testing.T, tg connector.Target) bool { return b.gws.Role(tg.EntitlementKey, tg.Email) != "" },
		BadSettings: []connectortest.BadSettings{
			{Name: "unknown key", Settings: with(b.settings, "domain", "acme.example"), WantInError: "domain"},
			{Name: "no credentials", Settings: map[string]string{"api_url": b.srv.URL}, WantInError: "service_account_json"},
			{Name: "both credentials", Settings: with(b.settings, "access_token", "x"), WantInError: "access_token"},
			{Name: "no subject", Settings: with(b.settings, "subject", ""), WantInError: "subject"},
			{Name: "not JSON", Settings: with(b.settings, "service_account_json", "{"), WantInError: "service_account_json"},
			{Name: "not a service account", Settings: with(b.settings, "service_account_json", `{"type":"authorized_user"}`), WantInError: "service_account_json"},
			{Name: "bad key", Settings: with(b.settings, "service_account_json", `{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`), WantInError: "private_key"},
			{Name: "subject with static token", Settings: map[string]string{"access_token": "t", "subject": adminEmail}, WantInError: "subject"},
			{Name: "bad role", Settings: with(b.settings, "member_role", "ADMIN"), WantInError: "member_role"},
			{Name: "bad api_url", Settings: with(b.settings, "api_url", "admin.googleapis.com"), WantInError: "api_url"},
			{Name: "bad token_url", Settings: with(b.settings, "token_url", "::"), WantInError: "token_url"},
			{Name: "bad timeout", Settings: with(b.settings, "timeout", "0s"), WantInError: "timeout"},
		},
		DownSettings:      with(b.settings, "api_url", down, "token_url", down+"/token"),
		ForbiddenSettings: map[string]string{"access_token": readerToken, "api_url": b.srv.URL},
	})
}

func TestTokensAreCachedAndRenewed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	for range 3 {
		require.NoError(t, c.Grant(t.Context(), target("user0@acme.example", "eng@acme.example")))
	}
	require.Equal(t, 1, b.gws.TokensIssued())

	b.clock.Advance(59 * time.Minute) // within a minute of expiry: renewed early
	require.NoError(t, c.HealthCheck(t.Context()))
	require.Equal(t, 2, b.gws.TokensIssued())
	require.NoError(t, c.Revoke(t.Context(), target("user0@acme.example", "eng@acme.example")))
	require.Equal(t, 2, b.gws.TokensIssued())
}

func TestRefusedTokenIsRenewedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	require.NoError(t, c.HealthCheck(t.Context()))
	b.gws.ExpireAccessTokens()
	require.NoError(t, c.HealthCheck(t.Context()))
	require.Equal(t, 2, b.gws.TokensIssued())
}

func TestTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, other := keys(t)
	b.gws.AddServiceAccount(fakegws.ServiceAccount{Email: "nodelegation@acme-project.iam.gserviceaccount.com", Key: &other.PublicKey})
	for name, s := range map[string]map[string]string{
		"wrong key":         with(b.settings, "service_account_json", saJSON(t, other, saEmail, "kid-1")),
		"wrong kid":         with(b.settings, "service_account_json", saJSON(t, rsaKey, saEmail, "kid-2")),
		"unknown subject":   with(b.settings, "subject", "nobody@acme.example"),
		"no delegation":     with(b.settings, "service_account_json", saJSON(t, other, "nodelegation@acme-project.iam.gserviceaccount.com", "")),
		"subject not admin": with(b.settings, "subject", "user0@acme.example"),
		"unknown static":    {"access_token": "ya29.unknown", "api_url": b.srv.URL},
	} {
		err := b.open(t, s).Grant(t.Context(), target("user1@acme.example", "eng@acme.example"))
		require.Error(t, err, name)
		require.True(t, connector.IsPermanent(err), "%s: %v", name, err)
		require.NotContains(t, err.Error(), "PRIVATE KEY", name)
		require.NotContains(t, err.Error(), "ya29", name)
	}
}

func TestRateLimitsAreRetryable(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"403-user", "403", "429"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c := b.open(t, b.settings)
			b.gws.SetRateLimit(1, time.Minute, how)
			require.NoError(t, c.HealthCheck(t.Context()))
			err := c.Grant(t.Context(), target("user0@acme.example", "eng@acme.example"))
			require.Error(t, err)
			require.False(t, connector.IsPermanent(err), "%v", err)
			require.Contains(t, err.Error(), "RateLimitExceeded"[1:])
		})
	}
}

func TestUnknownGroupOrUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	for name, tg := range map[string]connector.Target{
		"unknown group": target("user0@acme.example", "nope@acme.example"),
		"unknown user":  target("ghost@acme.example", "eng@acme.example"),
		"bad key":       target("user0@acme.example", "a/b"),
		"no email":      target("", "eng@acme.example"),
	} {
		err := c.Grant(t.Context(), tg)
		require.True(t, connector.IsPermanent(err), "%s: %v", name, err)
	}
	require.NoError(t, c.Revoke(t.Context(), target("user0@acme.example", "nope@acme.example")), "404 on delete is success")
}

func TestMemberRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, with(b.settings, "member_role", "MANAGER"))
	require.NoError(t, c.Grant(t.Context(), target("user1@acme.example", "oncall@acme.example")))
	require.Equal(t, "MANAGER", b.gws.Role("oncall@acme.example", "user1@acme.example"))
}

func TestSyncPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.open(t, b.settings)
	for i := range 420 {
		email := fmt.Sprintf("bulk%03d@acme.example", i)
		b.gws.AddUser(email, "", false)
		if i%2 == 0 {
			require.NoError(t, c.Grant(t.Context(), target(email, "eng@acme.example")))
		}
	}
	for i := range 210 {
		b.gws.AddGroup(fmt.Sprintf("g%03d@acme.example", i), "", "")
	}
	b.gws.AddGroupMember("eng@acme.example", "oncall@acme.example")

	accts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Len(t, accts, 423)
	require.Equal(t, 1, b.gws.Calls.Get("GET /admin/directory/v1/users"), "one page of 500")

	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	require.Len(t, ents, 212)
	require.Equal(t, connector.Entitlement{Key: "eng@acme.example", Name: "Engineering", Description: "All engineers"}, ents[0])

	gs, err := c.ListGrants(t.Context())
	require.NoError(t, err)
	require.Len(t, gs, 210, "nested groups are not accounts")
	for _, g := range gs {
		require.True(t, strings.HasPrefix(g.Account, "bulk"))
	}
}
