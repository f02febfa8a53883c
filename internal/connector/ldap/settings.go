package ldap

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Group types: the object class of the groups Sesame manages, which also
// decides the member attribute.
const (
	GroupOfNames       = "groupOfNames"       // member: the user's DN
	GroupOfUniqueNames = "groupOfUniqueNames" // uniqueMember: the user's DN
	PosixGroup         = "posixGroup"         // memberUid: the user's uid_attribute
)

// DefaultUserFilter finds a user by email; {email} is replaced by the
// escaped email.
const DefaultUserFilter = "(&(objectClass=inetOrgPerson)(mail={email}))"

const defaultTimeout = 10 * time.Second

// knownSettings lists every setting, for the unknown-setting error.
var knownSettings = []string{ //nolint:gochecknoglobals // a constant list; Go has no const slices
	"url", "start_tls", "allow_insecure", "ca_cert", "insecure_skip_verify",
	"bind_dn", "bind_password", "base_dn", "user_filter", "group_base_dn",
	"group_type", "uid_attribute", "mail_attribute", "timeout",
}

// attrName matches an attribute description: a name or a numeric OID.
var attrName = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)$`)

// config is the parsed, validated settings.
type config struct {
	addr          string // host:port
	ldaps         bool
	startTLS      bool
	tls           *tls.Config
	bindDN        string
	bindPassword  string
	baseDN        string
	groupBaseDN   string
	userFilter    string
	groupType     string
	memberAttr    string
	uidAttr       string
	mailAttr      string
	timeout       time.Duration
	allowInsecure bool
}

// parseSettings validates settings without connecting anywhere. Its errors
// name the setting and never quote bind_password (nor the url, which might
// carry credentials).
func parseSettings(settings map[string]string) (*config, error) {
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if !slices.Contains(knownSettings, k) {
			return nil, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings, ", "))
		}
	}
	c := &config{}

	raw := settings["url"]
	if raw == "" {
		return nil, fmt.Errorf("setting url is required (ldaps://host:636 or ldap://host:389)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Hostname() == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("setting url: must be ldaps://host[:port] or ldap://host[:port], with no path, query or credentials")
	}
	c.ldaps = u.Scheme == "ldaps"
	port := u.Port()
	if port == "" {
		port = map[bool]string{true: "636", false: "389"}[c.ldaps]
	}
	c.addr = net.JoinHostPort(u.Hostname(), port)

	if c.startTLS, err = boolSetting(settings, "start_tls", !c.ldaps); err != nil {
		return nil, err
	}
	if c.ldaps && c.startTLS {
		return nil, fmt.Errorf("setting start_tls: ldaps:// is already encrypted; StartTLS applies to ldap:// only")
	}
	if c.allowInsecure, err = boolSetting(settings, "allow_insecure", false); err != nil {
		return nil, err
	}
	if !c.ldaps && !c.startTLS && !c.allowInsecure {
		return nil, fmt.Errorf("setting start_tls: ldap:// without StartTLS sends the bind password in clear; use ldaps://, start_tls=true, or (for tests only) allow_insecure=true")
	}
	skipVerify, err := boolSetting(settings, "insecure_skip_verify", false)
	if err != nil {
		return nil, err
	}
	c.tls = &tls.Config{
		ServerName:         u.Hostname(),
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: skipVerify, //nolint:gosec // an explicit, documented test-only setting
	}
	if pemText := settings["ca_cert"]; pemText != "" {
		pool, err := certPool(pemText)
		if err != nil {
			return nil, err
		}
		c.tls.RootCAs = pool
	}

	if c.bindDN, err = dnSetting(settings, "bind_dn", ""); err != nil {
		return nil, err
	}
	if c.bindPassword = settings["bind_password"]; c.bindPassword == "" {
		return nil, fmt.Errorf("setting bind_password is required")
	}
	if c.baseDN, err = dnSetting(settings, "base_dn", ""); err != nil {
		return nil, err
	}
	if c.groupBaseDN, err = dnSetting(settings, "group_base_dn", c.baseDN); err != nil {
		return nil, err
	}

	c.userFilter = cmp.Or(settings["user_filter"], DefaultUserFilter)
	if !strings.Contains(c.userFilter, "{email}") {
		return nil, fmt.Errorf("setting user_filter: must contain {email}, e.g. %s", DefaultUserFilter)
	}
	if _, err := goldap.CompileFilter(userFilter(c.userFilter, "someone@example.com")); err != nil {
		return nil, fmt.Errorf("setting user_filter: not a valid LDAP filter: %w", err)
	}

	c.groupType = cmp.Or(settings["group_type"], GroupOfNames)
	switch c.groupType {
	case GroupOfNames:
		c.memberAttr = "member"
	case GroupOfUniqueNames:
		c.memberAttr = "uniqueMember"
	case PosixGroup:
		c.memberAttr = "memberUid"
	default:
		return nil, fmt.Errorf("setting group_type: %q must be %s, %s or %s", c.groupType, GroupOfNames, GroupOfUniqueNames, PosixGroup)
	}

	for _, a := range []struct {
		key, def string
		dst      *string
	}{{"uid_attribute", "uid", &c.uidAttr}, {"mail_attribute", "mail", &c.mailAttr}} {
		*a.dst = cmp.Or(settings[a.key], a.def)
		if !attrName.MatchString(*a.dst) {
			return nil, fmt.Errorf("setting %s: %q is not an attribute name", a.key, *a.dst)
		}
	}

	c.timeout = defaultTimeout
	if v := settings["timeout"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("setting timeout: %q is not a positive duration like 10s", v)
		}
		c.timeout = d
	}
	return c, nil
}

func boolSetting(settings map[string]string, key string, def bool) (bool, error) {
	v, ok := settings[key]
	if !ok || v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("setting %s: %q is not true or false", key, v)
	}
	return b, nil
}

// dnSetting returns the DN in settings[key], or def when it is empty; an
// empty def makes the setting required.
func dnSetting(settings map[string]string, key, def string) (string, error) {
	v := settings[key]
	if v == "" {
		if def == "" {
			return "", fmt.Errorf("setting %s is required (a DN like dc=example,dc=com)", key)
		}
		return def, nil
	}
	dn, err := goldap.ParseDN(v)
	if err != nil || len(dn.RDNs) == 0 {
		return "", fmt.Errorf("setting %s: %q is not a DN like dc=example,dc=com", key, v)
	}
	return v, nil
}

func certPool(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := []byte(pemText)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("setting ca_cert: certificate %d: %w", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("setting ca_cert: no PEM CERTIFICATE block found")
	}
	return pool, nil
}

// userFilter returns filter with {email} replaced by the escaped email.
func userFilter(filter, email string) string {
	return strings.ReplaceAll(filter, "{email}", goldap.EscapeFilter(email))
}

// accountsFilter returns filter with {email} replaced by *, which matches
// every user that has the attribute: the users Sesame can map to people.
func accountsFilter(filter string) string { return strings.ReplaceAll(filter, "{email}", "*") }
