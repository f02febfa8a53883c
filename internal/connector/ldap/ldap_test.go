package ldap_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"strconv"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/connectortest"
	"github.com/sesame-access/sesame/internal/connector/ldap"
	"github.com/sesame-access/sesame/internal/testservers"
)

// groupCase is one group_type and the seeded groups of that type.
type groupCase struct {
	groupType  string
	memberAttr string
	cn, cn2    string
}

var groupCases = []groupCase{
	{ldap.GroupOfNames, "member", testservers.GroupOfNamesCN, testservers.GroupOfNamesCN2},
	{ldap.GroupOfUniqueNames, "uniqueMember", testservers.GroupOfUniqueNamesCN, testservers.GroupOfUniqueNamesCN2},
	{ldap.PosixGroup, "memberUid", testservers.PosixGroupCN, testservers.PosixGroupCN2},
}

type testBundle struct {
	srv *testservers.Slapd
	gc  groupCase
}

func setup(t *testing.T, gc groupCase) *testBundle {
	t.Helper()
	return &testBundle{srv: testservers.StartSlapd(t), gc: gc}
}

// settings are valid settings over StartTLS (or LDAPS), as the rootdn.
func (b *testBundle) settings(ldaps bool) map[string]string {
	s := map[string]string{
		"url":           b.srv.URL,
		"ca_cert":       b.srv.CAPEM,
		"bind_dn":       b.srv.BindDN,
		"bind_password": b.srv.Password,
		"base_dn":       b.srv.BaseDN,
		"group_base_dn": b.srv.GroupsDN,
		"group_type":    b.gc.groupType,
	}
	if ldaps {
		s["url"] = b.srv.LDAPSURL
	}
	return s
}

func (b *testBundle) open(t *testing.T, settings map[string]string) *ldap.Connector {
	t.Helper()
	c, err := ldap.New(settings)
	require.NoError(t, err)
	return c.(*ldap.Connector)
}

func with(settings map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(settings))
	maps.Copy(out, settings)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// target is user uid asking for the seeded group of b's type; byDN names
// the group by its DN instead of its cn.
func (b *testBundle) target(t *testing.T, uid string, byDN bool) connector.Target {
	t.Helper()
	u := b.srv.User(t, uid)
	key := b.gc.cn
	if byDN {
		key = "cn=" + b.gc.cn + "," + b.srv.GroupsDN
	}
	return connector.Target{GrantID: "grt_" + uid, Email: u.Email, Name: u.Name, AppID: "ldap", EntitlementKey: key}
}

// has asks slapd, as the rootdn, whether the group holds the user.
func (b *testBundle) has(t *testing.T, uid, groupCN string) bool {
	t.Helper()
	u := b.srv.User(t, uid)
	value := u.DN
	if b.gc.groupType == ldap.PosixGroup {
		value = u.UID
	}
	res, err := b.srv.Conn(t).Search(goldap.NewSearchRequest("cn="+groupCN+","+b.srv.GroupsDN, goldap.ScopeBaseObject,
		goldap.NeverDerefAliases, 0, 0, false, "("+b.gc.memberAttr+"="+goldap.EscapeFilter(value)+")", []string{"cn"}, nil))
	require.NoError(t, err)
	return len(res.Entries) == 1
}

func closedPort(t *testing.T) int {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, gc := range groupCases {
		for _, ldaps := range []bool{false, true} {
			name := gc.groupType + "/starttls"
			if ldaps {
				name = gc.groupType + "/ldaps"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, gc)
				settings := b.settings(ldaps)
				alice := b.srv.User(t, "alice")
				connectortest.Run(t, connectortest.Harness{
					Factory:  ldap.New,
					Settings: settings,
					Target: func(t *testing.T, i int) connector.Target {
						t.Helper()
						// The second target names the group by DN.
						return b.target(t, []string{"alice", "bob"}[i], i == 1)
					},
					Has: func(t *testing.T, tg connector.Target) bool {
						t.Helper()
						return b.has(t, strings.TrimPrefix(tg.GrantID, "grt_"), gc.cn)
					},
					BadSettings: []connectortest.BadSettings{
						{Name: "no url", Settings: with(settings, "url", ""), WantInError: "url"},
						{Name: "http url", Settings: with(settings, "url", "http://127.0.0.1:80"), WantInError: "url"},
						{Name: "plaintext", Settings: with(settings, "url", b.srv.URL, "start_tls", "false"), WantInError: "start_tls"},
						{Name: "starttls on ldaps", Settings: with(settings, "url", b.srv.LDAPSURL, "start_tls", "true"), WantInError: "start_tls"},
						{Name: "bad bool", Settings: with(settings, "insecure_skip_verify", "maybe"), WantInError: "insecure_skip_verify"},
						{Name: "bad ca", Settings: with(settings, "ca_cert", "not pem"), WantInError: "ca_cert"},
						{Name: "no bind dn", Settings: with(settings, "bind_dn", ""), WantInError: "bind_dn"},
						{Name: "no password", Settings: with(settings, "bind_password", ""), WantInError: "bind_password"},
						{Name: "bad base dn", Settings: with(settings, "base_dn", "example.com"), WantInError: "base_dn"},
						{Name: "filter without email", Settings: with(settings, "user_filter", "(mail=x)"), WantInError: "user_filter"},
						{Name: "broken filter", Settings: with(settings, "user_filter", "(mail={email}"), WantInError: "user_filter"},
						{Name: "group type", Settings: with(settings, "group_type", "team"), WantInError: "group_type"},
						{Name: "uid attribute", Settings: with(settings, "uid_attribute", "u id"), WantInError: "uid_attribute"},
						{Name: "timeout", Settings: with(settings, "timeout", "-1s"), WantInError: "timeout"},
						{Name: "unknown", Settings: with(settings, "colour", "red"), WantInError: "colour"},
					},
					DownSettings:      with(settings, "url", "ldap://127.0.0.1:"+strconv.Itoa(closedPort(t)), "timeout", "2s"),
					ForbiddenSettings: with(settings, "bind_dn", alice.DN, "bind_password", alice.Password),
				})
			})
		}
	}
}

func TestGrantRevokeEachGroupType(t *testing.T) {
	t.Parallel()
	for _, gc := range groupCases {
		t.Run(gc.groupType, func(t *testing.T) {
			t.Parallel()
			b := setup(t, gc)
			c := b.open(t, b.settings(true))
			ctx := t.Context()
			dave := b.target(t, "dave", false)
			dave.EntitlementKey = gc.cn2

			require.NoError(t, c.Grant(ctx, dave))
			require.True(t, b.has(t, "dave", gc.cn2))
			require.False(t, b.has(t, "dave", gc.cn), "only the named group changes")
			require.True(t, b.has(t, "carol", gc.cn2), "other members stay")

			grants, err := c.ListGrants(ctx)
			require.NoError(t, err)
			daveUser := b.srv.User(t, "dave")
			require.Contains(t, grants, connector.GrantRecord{Account: daveUser.DN, AccountEmail: daveUser.Email, EntitlementKey: gc.cn2})
			carol := b.srv.User(t, "carol")
			require.Contains(t, grants, connector.GrantRecord{Account: carol.DN, AccountEmail: carol.Email, EntitlementKey: gc.cn})

			require.NoError(t, c.Revoke(ctx, dave))
			require.False(t, b.has(t, "dave", gc.cn2))
			require.True(t, b.has(t, "carol", gc.cn2))

			ents, err := c.ListEntitlements(ctx)
			require.NoError(t, err)
			keys := make([]string, 0, len(ents))
			for _, e := range ents {
				keys = append(keys, e.Key)
			}
			require.ElementsMatch(t, []string{gc.cn, gc.cn2}, keys, "only groups of the configured type")
		})
	}
}

func TestListAccountsAndAccountFor(t *testing.T) {
	t.Parallel()
	b := setup(t, groupCases[0])
	c := b.open(t, b.settings(false))
	accounts, err := c.ListAccounts(t.Context())
	require.NoError(t, err)
	require.Len(t, accounts, len(b.srv.Users), "users without mail are not listed")
	for _, u := range b.srv.Users {
		require.Contains(t, accounts, connector.Account{ExternalID: u.DN, Email: u.Email, Name: u.Name})
	}

	alice := b.srv.User(t, "alice")
	require.Equal(t, alice.DN, c.AccountFor(connector.Target{Email: alice.Email}))
	require.Empty(t, c.AccountFor(connector.Target{Email: "nobody@example.com"}))
	require.NoError(t, c.HealthCheck(t.Context()))
}

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, groupCases[0])
	settings := b.settings(false)
	c := b.open(t, settings)
	ctx := t.Context()
	alice := b.target(t, "alice", false)

	t.Run("unknown user", func(t *testing.T) {
		t.Parallel()
		tg := alice
		tg.Email = "nobody@example.com"
		for _, op := range []func(context.Context, connector.Target) error{c.Grant, c.Revoke} {
			err := op(ctx, tg)
			require.ErrorIs(t, err, ldap.ErrNoAccount)
			require.True(t, connector.IsPermanent(err))
		}
	})
	t.Run("email is escaped, not a wildcard", func(t *testing.T) {
		t.Parallel()
		tg := alice
		tg.Email = "*"
		err := c.Grant(ctx, tg)
		require.ErrorIs(t, err, ldap.ErrNoAccount)
	})
	t.Run("unknown group", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{"nope", "cn=nope," + b.srv.GroupsDN, testservers.PosixGroupCN} {
			tg := alice
			tg.EntitlementKey = key
			err := c.Grant(ctx, tg)
			require.ErrorIs(t, err, ldap.ErrNoGroup, key)
			require.True(t, connector.IsPermanent(err))
		}
	})
	t.Run("wrong password names no secret", func(t *testing.T) {
		t.Parallel()
		const secret = "Wr0ng-S3cret-Passw0rd"
		bad := b.open(t, with(settings, "bind_password", secret))
		err := bad.Grant(ctx, alice)
		require.Error(t, err)
		require.True(t, connector.IsPermanent(err), "invalid credentials: %v", err)
		require.NotContains(t, err.Error(), secret)
		require.Error(t, bad.HealthCheck(ctx))
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		for _, url := range []string{b.srv.URL, b.srv.LDAPSURL} {
			untrusted := b.open(t, with(settings, "url", url, "ca_cert", ""))
			err := untrusted.Grant(ctx, alice)
			require.Error(t, err)
			require.True(t, connector.IsPermanent(err), "%s: %v", url, err)
		}
	})
	t.Run("last member", func(t *testing.T) {
		t.Parallel()
		bob := b.srv.User(t, "bob")
		add := goldap.NewAddRequest("cn=solo,"+b.srv.GroupsDN, nil)
		add.Attribute("objectClass", []string{"groupOfNames"})
		add.Attribute("cn", []string{"solo"})
		add.Attribute("member", []string{bob.DN})
		require.NoError(t, b.srv.Conn(t).Add(add))
		err := c.Revoke(ctx, connector.Target{Email: bob.Email, EntitlementKey: "solo"})
		require.True(t, connector.IsPermanent(err))
		require.ErrorContains(t, err, "at least one member")
	})
}

func TestAmbiguousGroupCN(t *testing.T) {
	t.Parallel()
	b := setup(t, groupCases[0])
	conn := b.srv.Conn(t)
	sub := "ou=sub," + b.srv.GroupsDN
	ou := goldap.NewAddRequest(sub, nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	ou.Attribute("ou", []string{"sub"})
	require.NoError(t, conn.Add(ou))
	dup := goldap.NewAddRequest("cn="+testservers.GroupOfNamesCN+","+sub, nil)
	dup.Attribute("objectClass", []string{"groupOfNames"})
	dup.Attribute("cn", []string{testservers.GroupOfNamesCN})
	dup.Attribute("member", []string{b.srv.User(t, "carol").DN})
	require.NoError(t, conn.Add(dup))

	c := b.open(t, b.settings(true))
	err := c.Grant(t.Context(), b.target(t, "alice", false))
	require.True(t, connector.IsPermanent(err))
	require.ErrorContains(t, err, "use the group's DN")

	require.NoError(t, c.Grant(t.Context(), b.target(t, "alice", true)), "the DN names one group")
	require.True(t, b.has(t, "alice", testservers.GroupOfNamesCN))

	ents, err := c.ListEntitlements(t.Context())
	require.NoError(t, err)
	var keys []string
	for _, e := range ents {
		keys = append(keys, e.Key)
	}
	require.Contains(t, keys, "cn="+testservers.GroupOfNamesCN+","+b.srv.GroupsDN)
	require.Contains(t, keys, "cn="+testservers.GroupOfNamesCN+","+sub)
	require.Contains(t, keys, testservers.GroupOfNamesCN2)
}

func TestInsecureOptions(t *testing.T) {
	t.Parallel()
	b := setup(t, groupCases[0])
	settings := b.settings(false)

	plain := b.open(t, with(settings, "start_tls", "false", "allow_insecure", "true"))
	require.NoError(t, plain.Grant(t.Context(), b.target(t, "alice", false)), "allow_insecure permits plaintext")
	require.True(t, b.has(t, "alice", testservers.GroupOfNamesCN))

	skip := b.open(t, with(settings, "url", b.srv.LDAPSURL, "ca_cert", "", "insecure_skip_verify", "true"))
	require.NoError(t, skip.Revoke(t.Context(), b.target(t, "alice", false)))
	require.False(t, b.has(t, "alice", testservers.GroupOfNamesCN))
}

func TestCancelledContextIsRetryable(t *testing.T) {
	t.Parallel()
	b := setup(t, groupCases[0])
	c := b.open(t, b.settings(false))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := c.Grant(ctx, b.target(t, "alice", false))
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err))
	require.True(t, errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "canceled"), "%v", err)
}
