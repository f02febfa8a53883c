package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "ldap"

// ErrNoAccount means no directory entry matches the person's email.
var ErrNoAccount = errors.New("no LDAP account with this email")

// ErrNoGroup means the entitlement names no group of the configured type.
var ErrNoGroup = errors.New("no such LDAP group")

// Connector adds people to and removes them from LDAP groups.
type Connector struct {
	cfg *config
}

var (
	_ connector.Connector         = (*Connector)(nil)
	_ connector.AccountMapper     = (*Connector)(nil)
	_ connector.AccountLister     = (*Connector)(nil)
	_ connector.EntitlementLister = (*Connector)(nil)
	_ connector.GrantLister       = (*Connector)(nil)
	_ connector.HealthChecker     = (*Connector)(nil)
	_ connector.SettingsValidator = (*Connector)(nil)
)

// New is the connector.Factory. It validates settings (see the package
// documentation) and does not connect.
func New(settings map[string]string) (connector.Connector, error) {
	cfg, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	return &Connector{cfg: cfg}, nil
}

// ValidateSettings implements connector.SettingsValidator.
func (*Connector) ValidateSettings(settings map[string]string) error {
	_, err := parseSettings(settings)
	return err
}

// Grant adds the user whose entry matches t.Email to the group named by
// t.EntitlementKey. Adding a member already present succeeds. No matching
// user (ErrNoAccount), no such group (ErrNoGroup), bad credentials and
// missing write access are permanent errors.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	return c.change(ctx, t, true)
}

// Revoke removes the user from the group; removing a member that is not
// there succeeds. A user or group that cannot be found is a permanent
// error rather than a success: Sesame cannot confirm the access is gone
// (the entry may have been renamed), so a person should look.
// groupOfNames and groupOfUniqueNames must keep one member: removing the
// last one is refused by the server, a permanent error.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	return c.change(ctx, t, false)
}

func (c *Connector) change(ctx context.Context, t connector.Target, add bool) error {
	s, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	u, err := s.findUser(t.Email)
	if err != nil {
		return err
	}
	groupDN, err := s.findGroup(t.EntitlementKey)
	if err != nil {
		return err
	}
	value, err := s.memberValue(u)
	if err != nil {
		return err
	}
	req := goldap.NewModifyRequest(groupDN, nil)
	if add {
		req.Add(c.cfg.memberAttr, []string{value})
		err = s.conn.Modify(req)
		if goldap.IsErrorWithCode(err, goldap.LDAPResultAttributeOrValueExists) {
			return nil // already a member
		}
		if err != nil {
			return classify(fmt.Errorf("ldap: add %s to %s: %w", value, groupDN, err))
		}
		return nil
	}
	req.Delete(c.cfg.memberAttr, []string{value})
	err = s.conn.Modify(req)
	switch {
	case err == nil, goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchAttribute):
		return nil // not (or no longer) a member
	case goldap.IsErrorWithCode(err, goldap.LDAPResultObjectClassViolation):
		return connector.Permanent(fmt.Errorf("ldap: remove %s from %s: a %s must keep at least one %s; add a placeholder member: %w",
			value, groupDN, c.cfg.groupType, c.cfg.memberAttr, err))
	default:
		return classify(fmt.Errorf("ldap: remove %s from %s: %w", value, groupDN, err))
	}
}

// AccountFor implements connector.AccountMapper: the DN of the entry that
// user_filter finds for t.Email. The DN cannot be derived from the email,
// so this asks the directory (bounded by the timeout setting); as the
// interface has no error, it returns "" when the lookup fails.
func (c *Connector) AccountFor(t connector.Target) string {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	s, err := c.open(ctx)
	if err != nil {
		return ""
	}
	defer s.close()
	u, err := s.findUser(t.Email)
	if err != nil {
		return ""
	}
	return u.dn
}

// user is a directory entry that user_filter matches.
type user struct {
	dn, uid, mail, name string
}

func (s *session) userAttrs() []string {
	return []string{s.cfg.uidAttr, s.cfg.mailAttr, "cn", "displayName"}
}

func (s *session) toUser(e *goldap.Entry) user {
	name := e.GetAttributeValue("displayName")
	if name == "" {
		name = e.GetAttributeValue("cn")
	}
	return user{dn: e.DN, uid: e.GetAttributeValue(s.cfg.uidAttr), mail: e.GetAttributeValue(s.cfg.mailAttr), name: name}
}

// findUser returns the one entry under base_dn that user_filter matches
// for email. None (ErrNoAccount) or several are permanent errors.
func (s *session) findUser(email string) (user, error) {
	if email == "" {
		return user{}, connector.Permanent(fmt.Errorf("ldap: the target has no email: %w", ErrNoAccount))
	}
	req := goldap.NewSearchRequest(s.cfg.baseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, 0, false, userFilter(s.cfg.userFilter, email), s.userAttrs(), nil)
	res, err := s.conn.Search(req)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1) {
		return user{}, connector.Permanent(fmt.Errorf("ldap: several entries under %s match %s; make user_filter match one", s.cfg.baseDN, email))
	}
	if err != nil {
		return user{}, classify(fmt.Errorf("ldap: find %s under %s: %w", email, s.cfg.baseDN, err))
	}
	if len(res.Entries) == 0 {
		return user{}, connector.Permanent(fmt.Errorf("ldap: find %s under %s: %w", email, s.cfg.baseDN, ErrNoAccount))
	}
	return s.toUser(res.Entries[0]), nil
}

// memberValue is what the group's member attribute holds for u.
func (s *session) memberValue(u user) (string, error) {
	if s.cfg.groupType != PosixGroup {
		return u.dn, nil
	}
	if u.uid == "" {
		return "", connector.Permanent(fmt.Errorf("ldap: %s has no %s, which a posixGroup's memberUid needs", u.dn, s.cfg.uidAttr))
	}
	return u.uid, nil
}

// isDN reports whether an entitlement key is a group's DN (it parses as a
// DN of two or more RDNs) rather than its cn.
func isDN(key string) bool {
	dn, err := goldap.ParseDN(key)
	return err == nil && len(dn.RDNs) >= 2 && strings.Contains(key, "=")
}

// findGroup returns the DN of the group an entitlement key names: a full
// DN, or a cn looked up under group_base_dn. The group must be of
// group_type. Not found (ErrNoGroup) and ambiguous cns are permanent.
func (s *session) findGroup(key string) (string, error) {
	if key == "" {
		return "", connector.Permanent(fmt.Errorf("ldap: empty entitlement key: %w", ErrNoGroup))
	}
	classFilter := "(objectClass=" + s.cfg.groupType + ")"
	var req *goldap.SearchRequest
	if isDN(key) {
		req = goldap.NewSearchRequest(key, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
			0, 0, false, classFilter, []string{"cn"}, nil)
	} else {
		req = goldap.NewSearchRequest(s.cfg.groupBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
			2, 0, false, "(&"+classFilter+"(cn="+goldap.EscapeFilter(key)+"))", []string{"cn"}, nil)
	}
	res, err := s.conn.Search(req)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1) {
		return "", connector.Permanent(fmt.Errorf("ldap: several %s groups under %s have cn %q; use the group's DN as the entitlement key",
			s.cfg.groupType, s.cfg.groupBaseDN, key))
	}
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) || (err == nil && len(res.Entries) == 0) {
		return "", connector.Permanent(fmt.Errorf("ldap: %s group %q under %s: %w", s.cfg.groupType, key, s.cfg.groupBaseDN, ErrNoGroup))
	}
	if err != nil {
		return "", classify(fmt.Errorf("ldap: find group %q: %w", key, err))
	}
	return res.Entries[0].DN, nil
}
