package testservers

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SlapdPath is where Debian's slapd package installs the server.
const SlapdPath = "/usr/sbin/slapd"

// Names of the entries StartSlapd seeds. Every seeded group has Carol as
// a member, so that removing anyone else never empties a group
// (groupOfNames and groupOfUniqueNames must keep at least one member).
const (
	// GroupOfNamesCN and GroupOfNamesCN2 are groupOfNames groups (member:
	// a user's DN).
	GroupOfNamesCN  = "developers"
	GroupOfNamesCN2 = "auditors"
	// GroupOfUniqueNamesCN and GroupOfUniqueNamesCN2 are
	// groupOfUniqueNames groups (uniqueMember: a user's DN).
	GroupOfUniqueNamesCN  = "operators"
	GroupOfUniqueNamesCN2 = "reviewers"
	// PosixGroupCN and PosixGroupCN2 are posixGroup groups (memberUid: a
	// user's uid).
	PosixGroupCN  = "wheel"
	PosixGroupCN2 = "staff"
	// NoMailUID is a seeded inetOrgPerson without a mail attribute.
	NoMailUID = "svc-backup"
)

// LDAPUser is a seeded inetOrgPerson.
type LDAPUser struct {
	UID      string
	Email    string
	Name     string
	Password string
	DN       string
}

// Slapd is a running OpenLDAP server with the mdb backend, suffix
// dc=example,dc=com, and seed entries:
//
//	dc=example,dc=com
//	  ou=people: uid=alice, uid=bob, uid=carol, uid=dave (inetOrgPerson with
//	             mail <uid>@example.com, password "<uid>-password"), and
//	             uid=svc-backup (no mail)
//	  ou=groups: the groups named by the *CN constants, Carol in each
//
// Access control: the rootdn (BindDN) may do anything; any other bound user
// may read everything but userPassword and write nothing; anonymous users
// may only bind.
type Slapd struct {
	// URL is ldap://127.0.0.1:PORT; the server offers StartTLS on it.
	URL string
	// LDAPSURL is ldaps://127.0.0.1:PORT2 (TLS from the first byte).
	LDAPSURL string
	// BindDN and Password are the rootdn's.
	BindDN   string
	Password string
	// BaseDN is the suffix; PeopleDN and GroupsDN the seeded OUs.
	BaseDN   string
	PeopleDN string
	GroupsDN string
	// CAPEM is the PEM certificate of the CA that signed the server's
	// certificate (for 127.0.0.1 and localhost).
	CAPEM string
	// Users are the seeded users that have a mail attribute: Alice, Bob,
	// Carol and Dave, in that order.
	Users []LDAPUser

	proc *process
}

// StartSlapd starts slapd on two free loopback ports (ldap:// with StartTLS
// and ldaps://), waits until it answers, seeds it and returns it. It is
// stopped when the test ends. It skips the test if slapd is not installed
// (fails it when CI=true). It does not need root.
func StartSlapd(tb testing.TB) *Slapd {
	tb.Helper()
	requireBinary(tb, SlapdPath, "slapd")
	dir := tb.TempDir()
	files, err := writeTLSFiles(dir)
	if err != nil {
		tb.Fatalf("testservers: slapd TLS files: %v", err)
	}
	s := &Slapd{
		BindDN:   "cn=admin,dc=example,dc=com",
		Password: "admin-password",
		BaseDN:   "dc=example,dc=com",
		PeopleDN: "ou=people,dc=example,dc=com",
		GroupsDN: "ou=groups,dc=example,dc=com",
		CAPEM:    string(files.CAPEM),
	}
	// Another process may take a port between freePort and slapd's bind;
	// try again with new ports.
	for attempt := 1; ; attempt++ {
		err := s.start(tb, dir, files, attempt)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(s.proc.log(), "Address already in use") {
			tb.Fatalf("testservers: %v\nslapd log:\n%s", err, s.proc.log())
		}
	}
	if err := s.seed(); err != nil {
		tb.Fatalf("testservers: seed slapd: %v\nslapd log:\n%s", err, s.proc.log())
	}
	return s
}

func (s *Slapd) start(tb testing.TB, dir string, files tlsFiles, attempt int) error {
	tb.Helper()
	port, tlsPort := freePort(tb), freePort(tb)
	for tlsPort == port {
		tlsPort = freePort(tb)
	}
	s.URL = "ldap://127.0.0.1:" + itoa(port)
	s.LDAPSURL = "ldaps://127.0.0.1:" + itoa(tlsPort)
	dbDir := filepath.Join(dir, fmt.Sprint("db", attempt))
	if err := os.Mkdir(dbDir, 0o700); err != nil {
		return fmt.Errorf("create slapd database directory: %w", err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(slapdConf(dir, dbDir, files, s)), 0o600); err != nil {
		return fmt.Errorf("write slapd.conf: %w", err)
	}
	// -d none keeps slapd in the foreground and prints only errors.
	s.proc = startProcess(tb, "slapd", filepath.Join(dir, fmt.Sprint("slapd", attempt, ".log")), SlapdPath,
		"-d", "none", "-h", s.URL+"/ "+s.LDAPSURL+"/", "-f", conf)
	s.proc.stopOnCleanup(tb)
	return s.proc.waitFor(func() error {
		c, err := s.dial()
		if err != nil {
			return err
		}
		return c.Close()
	}, 15*time.Second)
}

func slapdConf(dir, dbDir string, files tlsFiles, s *Slapd) string {
	var b strings.Builder
	for _, schema := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include /etc/ldap/schema/%s.schema\n", schema)
	}
	fmt.Fprintf(&b, "pidfile %s\n", filepath.Join(dir, "slapd.pid"))
	fmt.Fprintf(&b, "argsfile %s\n", filepath.Join(dir, "slapd.args"))
	b.WriteString("modulepath /usr/lib/ldap\nmoduleload back_mdb\n")
	fmt.Fprintf(&b, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n",
		files.CAFile, files.CertFile, files.KeyFile)
	b.WriteString("database mdb\nmaxsize 67108864\n")
	fmt.Fprintf(&b, "suffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n", s.BaseDN, s.BindDN, s.Password, dbDir)
	b.WriteString("index objectClass eq\nindex uid,mail,cn eq\nindex member,uniqueMember,memberUid eq\n")
	b.WriteString(`access to attrs=userPassword
	by self write
	by anonymous auth
	by * none
access to *
	by users read
	by * none
`)
	return b.String()
}

// dial opens an LDAPS connection bound as the rootdn.
func (s *Slapd) dial() (*ldap.Conn, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(s.CAPEM))
	c, err := ldap.DialURL(s.LDAPSURL,
		ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}),
		ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(s.BindDN, s.Password); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Conn returns an LDAPS connection bound as the rootdn, for tests to look
// at or change the directory behind a connector's back. It is closed when
// the test ends.
func (s *Slapd) Conn(tb testing.TB) *ldap.Conn {
	tb.Helper()
	c, err := s.dial()
	if err != nil {
		tb.Fatalf("testservers: connect to slapd: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// User returns the seeded user with uid, or fails the test.
func (s *Slapd) User(tb testing.TB, uid string) LDAPUser {
	tb.Helper()
	for _, u := range s.Users {
		if u.UID == uid {
			return u
		}
	}
	tb.Fatalf("testservers: no seeded LDAP user %q", uid)
	return LDAPUser{}
}

// entry is one LDAP entry to add.
type entry struct {
	dn    string
	attrs map[string][]string
}

// seed adds the base entries, users and groups.
func (s *Slapd) seed() error {
	c, err := s.dial()
	if err != nil {
		return err
	}
	defer c.Close()

	entries := []entry{
		{s.BaseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}}},
		{s.PeopleDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}}},
		{s.GroupsDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}}},
	}
	s.Users = nil
	for _, uid := range []string{"alice", "bob", "carol", "dave"} {
		u := LDAPUser{
			UID:      uid,
			Email:    uid + "@example.com",
			Name:     strings.ToUpper(uid[:1]) + uid[1:] + " Example",
			Password: uid + "-password",
			DN:       "uid=" + uid + "," + s.PeopleDN,
		}
		s.Users = append(s.Users, u)
		entries = append(entries, entry{u.DN, map[string][]string{
			"objectClass":  {"inetOrgPerson"},
			"uid":          {u.UID},
			"cn":           {u.Name},
			"sn":           {"Example"},
			"displayName":  {u.Name},
			"mail":         {u.Email},
			"userPassword": {u.Password},
		}})
	}
	entries = append(entries, entry{"uid=" + NoMailUID + "," + s.PeopleDN, map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {NoMailUID}, "cn": {"Backup service"}, "sn": {"Service"},
	}})
	carol := "uid=carol," + s.PeopleDN
	for _, g := range []struct{ cn, class, attr, value, gid string }{
		{GroupOfNamesCN, "groupOfNames", "member", carol, ""},
		{GroupOfNamesCN2, "groupOfNames", "member", carol, ""},
		{GroupOfUniqueNamesCN, "groupOfUniqueNames", "uniqueMember", carol, ""},
		{GroupOfUniqueNamesCN2, "groupOfUniqueNames", "uniqueMember", carol, ""},
		{PosixGroupCN, "posixGroup", "memberUid", "carol", "1000"},
		{PosixGroupCN2, "posixGroup", "memberUid", "carol", "1001"},
	} {
		attrs := map[string][]string{
			"objectClass": {g.class},
			"cn":          {g.cn},
			"description": {"The " + g.cn + " (" + g.class + ")"},
			g.attr:        {g.value},
		}
		if g.gid != "" {
			attrs["gidNumber"] = []string{g.gid}
		}
		entries = append(entries, entry{"cn=" + g.cn + "," + s.GroupsDN, attrs})
	}

	for _, e := range entries {
		req := ldap.NewAddRequest(e.dn, nil)
		for _, name := range slices.Sorted(maps.Keys(e.attrs)) {
			req.Attribute(name, e.attrs[name])
		}
		if err := c.Add(req); err != nil {
			return fmt.Errorf("add %s: %w", e.dn, err)
		}
	}
	return nil
}
