package testservers_test

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/testservers"
)

func TestStartSlapd(t *testing.T) {
	t.Parallel()
	s := testservers.StartSlapd(t)
	c := s.Conn(t)

	res, err := c.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=inetOrgPerson)(mail=*))", []string{"mail"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, len(s.Users))

	for _, class := range []string{"groupOfNames", "groupOfUniqueNames", "posixGroup"} {
		res, err := c.Search(ldap.NewSearchRequest(s.GroupsDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass="+class+")", []string{"cn"}, nil))
		require.NoError(t, err)
		require.Len(t, res.Entries, 2, class)
	}

	t.Run("users read but do not write", func(t *testing.T) {
		t.Parallel()
		alice := s.User(t, "alice")
		uc, err := ldap.DialURL(s.URL)
		require.NoError(t, err)
		defer uc.Close()
		require.NoError(t, uc.StartTLS(tlsConfig(t, s.CAPEM)))
		require.NoError(t, uc.Bind(alice.DN, alice.Password))
		_, err = uc.Search(ldap.NewSearchRequest(s.GroupsDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(cn="+testservers.GroupOfNamesCN+")", []string{"member"}, nil))
		require.NoError(t, err)
		mod := ldap.NewModifyRequest("cn="+testservers.GroupOfNamesCN+","+s.GroupsDN, nil)
		mod.Add("member", []string{alice.DN})
		err = uc.Modify(mod)
		require.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights), "got %v", err)
	})
}
