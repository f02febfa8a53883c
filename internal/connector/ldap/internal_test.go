package ldap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"network", goldap.NewError(goldap.ErrorNetwork, errors.New("connection closed")), false},
		{"busy", goldap.NewError(goldap.LDAPResultBusy, errors.New("busy")), false},
		{"unavailable", goldap.NewError(goldap.LDAPResultUnavailable, errors.New("down")), false},
		{"time limit", goldap.NewError(goldap.LDAPResultTimeLimitExceeded, errors.New("slow")), false},
		{"other", goldap.NewError(goldap.LDAPResultOther, errors.New("?")), false},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"context", context.DeadlineExceeded, false},
		{"invalid credentials", goldap.NewError(goldap.LDAPResultInvalidCredentials, errors.New("")), true},
		{"insufficient access", goldap.NewError(goldap.LDAPResultInsufficientAccessRights, errors.New("")), true},
		{"no such object", goldap.NewError(goldap.LDAPResultNoSuchObject, errors.New("")), true},
		{"wrapped", fmt.Errorf("ldap: add: %w", goldap.NewError(goldap.LDAPResultInsufficientAccessRights, errors.New(""))), true},
		{"starttls certificate", goldap.NewError(goldap.ErrorNetwork,
			errors.New("TLS handshake failed (tls: failed to verify certificate: x509: certificate signed by unknown authority)")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := classify(tc.err)
			require.Equal(t, tc.permanent, connector.IsPermanent(err), "%v", err)
			require.ErrorIs(t, err, tc.err)
		})
	}
	require.NoError(t, classify(nil))
}

func TestIsDN(t *testing.T) {
	t.Parallel()
	require.True(t, isDN("cn=admins,ou=groups,dc=example,dc=com"))
	require.False(t, isDN("admins"))
	require.False(t, isDN("cn=admins"), "a single RDN is taken as a cn")
	require.False(t, isDN("team, platform"))
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := parseSettings(map[string]string{
		"url": "ldap://ldap.example.com", "bind_dn": "cn=sesame,dc=example,dc=com", "bind_password": "x",
		"base_dn": "dc=example,dc=com",
	})
	require.NoError(t, err)
	require.Equal(t, "ldap.example.com:389", cfg.addr)
	require.True(t, cfg.startTLS, "StartTLS is the default for ldap://")
	require.Equal(t, "ldap.example.com", cfg.tls.ServerName)
	require.Equal(t, "dc=example,dc=com", cfg.groupBaseDN, "group_base_dn defaults to base_dn")
	require.Equal(t, GroupOfNames, cfg.groupType)
	require.Equal(t, "member", cfg.memberAttr)
	require.Equal(t, "uid", cfg.uidAttr)
	require.Equal(t, DefaultUserFilter, cfg.userFilter)
	require.Equal(t, defaultTimeout, cfg.timeout)

	cfg, err = parseSettings(map[string]string{
		"url": "ldaps://ldap.example.com", "bind_dn": "cn=sesame,dc=example,dc=com", "bind_password": "x",
		"base_dn": "dc=example,dc=com",
	})
	require.NoError(t, err)
	require.Equal(t, "ldap.example.com:636", cfg.addr)
	require.False(t, cfg.startTLS)
}

func TestSettingsErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-secret"
	for _, settings := range []map[string]string{
		{"url": "ldaps://sesame:" + secret + "@ldap.example.com", "bind_dn": "cn=x,dc=y", "bind_password": secret, "base_dn": "dc=y"},
		{"url": "ldaps://ldap.example.com", "bind_dn": "cn=x,dc=y", "bind_password": secret, "base_dn": "dc=y", "group_type": "x"},
	} {
		_, err := parseSettings(settings)
		require.Error(t, err)
		require.NotContains(t, err.Error(), secret[len("hunter2"):], "bind_password or a url password leaked")
	}
}

// FuzzUserFilter checks that any email, once escaped into the default
// filter, compiles and matches that exact email: no wildcard or filter
// injection.
func FuzzUserFilter(f *testing.F) {
	for _, s := range []string{"alice@example.com", "*", "a)(uid=*", `\2a`, "\x00", "é@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, email string) {
		filter := userFilter(DefaultUserFilter, email)
		packet, err := goldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("filter %q for %q does not compile: %v", filter, email, err)
		}
		back, err := goldap.DecompileFilter(packet)
		if err != nil {
			t.Fatalf("decompile %q: %v", filter, err)
		}
		if back != filter {
			t.Fatalf("filter %q round-trips as %q", filter, back)
		}
	})
}

// FuzzParseSettings checks that settings parsing never panics.
func FuzzParseSettings(f *testing.F) {
	f.Add("ldaps://ldap.example.com:636", "cn=x,dc=y", "dc=y", "(mail={email})", "groupOfNames", "true")
	f.Fuzz(func(_ *testing.T, url, bindDN, baseDN, filter, groupType, startTLS string) {
		_, _ = parseSettings(map[string]string{ //nolint:errcheck // only panics matter here
			"url": url, "bind_dn": bindDN, "bind_password": "x", "base_dn": baseDN,
			"user_filter": filter, "group_type": groupType, "start_tls": startTLS,
		})
	})
}
