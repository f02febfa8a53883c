package ldap

import (
	"context"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sesame-access/sesame/internal/connector"
)

// pageSize is the paged-results page size for listing searches.
const pageSize = 500

// HealthCheck implements connector.HealthChecker: it connects, binds, and
// reads base_dn and group_base_dn.
func (c *Connector) HealthCheck(ctx context.Context) error {
	s, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	for _, dn := range []string{c.cfg.baseDN, c.cfg.groupBaseDN} {
		req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
			1, 0, false, "(objectClass=*)", []string{"1.1"}, nil)
		if _, err := s.conn.Search(req); err != nil {
			return classify(fmt.Errorf("ldap: read %s: %w", dn, err))
		}
	}
	return nil
}

// ListAccounts implements connector.AccountLister: every entry under
// base_dn that user_filter matches with {email} replaced by * (for the
// default filter: every inetOrgPerson with a mail). ExternalID is the DN.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	s, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	users, err := s.listUsers()
	if err != nil {
		return nil, err
	}
	out := make([]connector.Account, 0, len(users))
	for _, u := range users {
		out = append(out, connector.Account{ExternalID: u.dn, Email: u.mail, Name: u.name})
	}
	return out, nil
}

// ListEntitlements implements connector.EntitlementLister: the groups of
// group_type under group_base_dn. A group's key is its cn, or its DN when
// several such groups share the cn.
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	s, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	groups, err := s.listGroups()
	if err != nil {
		return nil, err
	}
	out := make([]connector.Entitlement, 0, len(groups))
	for _, g := range groups {
		out = append(out, connector.Entitlement{Key: g.key, Name: g.cn, Description: g.description})
	}
	return out, nil
}

// ListGrants implements connector.GrantLister: one record per member of
// each group ListEntitlements lists. Account is the member's DN (for
// posixGroup, the DN of the user whose uid_attribute is the memberUid,
// or the bare memberUid when no such user is found); AccountEmail is the
// user's mail_attribute, empty for members user_filter does not match
// (service accounts, nested groups, placeholders).
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	s, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	users, err := s.listUsers()
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]user, len(users))
	for _, u := range users {
		if c.cfg.groupType == PosixGroup {
			if u.uid != "" {
				byKey[u.uid] = u
			}
		} else {
			byKey[normDN(u.dn)] = u
		}
	}
	groups, err := s.listGroups()
	if err != nil {
		return nil, err
	}
	var out []connector.GrantRecord
	for _, g := range groups {
		for _, m := range g.members {
			k := m
			if c.cfg.groupType != PosixGroup {
				k = normDN(m)
			}
			rec := connector.GrantRecord{Account: m, EntitlementKey: g.key}
			if u, ok := byKey[k]; ok {
				rec.Account, rec.AccountEmail = u.dn, u.mail
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// normDN is a DN's key for case-insensitive matching, or the lowercased
// text when it does not parse.
func normDN(dn string) string {
	if parsed, err := goldap.ParseDN(dn); err == nil {
		return strings.ToLower(parsed.String())
	}
	return strings.ToLower(dn)
}

func (s *session) listUsers() ([]user, error) {
	req := goldap.NewSearchRequest(s.cfg.baseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, accountsFilter(s.cfg.userFilter), s.userAttrs(), nil)
	res, err := s.conn.SearchWithPaging(req, pageSize)
	if err != nil {
		return nil, classify(fmt.Errorf("ldap: list users under %s: %w", s.cfg.baseDN, err))
	}
	out := make([]user, 0, len(res.Entries))
	for _, e := range res.Entries {
		out = append(out, s.toUser(e))
	}
	return out, nil
}

// group is a group of group_type as a listing sees it.
type group struct {
	dn, cn, key, description string
	members                  []string
}

func (s *session) listGroups() ([]group, error) {
	req := goldap.NewSearchRequest(s.cfg.groupBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass="+s.cfg.groupType+")", []string{"cn", "description", s.cfg.memberAttr}, nil)
	res, err := s.conn.SearchWithPaging(req, pageSize)
	if err != nil {
		return nil, classify(fmt.Errorf("ldap: list groups under %s: %w", s.cfg.groupBaseDN, err))
	}
	out := make([]group, 0, len(res.Entries))
	count := map[string]int{}
	for _, e := range res.Entries {
		g := group{
			dn:          e.DN,
			cn:          e.GetAttributeValue("cn"),
			description: e.GetAttributeValue("description"),
			members:     e.GetAttributeValues(s.cfg.memberAttr),
		}
		count[strings.ToLower(g.cn)]++
		out = append(out, g)
	}
	for i := range out {
		out[i].key = out[i].cn
		if out[i].cn == "" || count[strings.ToLower(out[i].cn)] > 1 {
			out[i].key = out[i].dn
		}
	}
	return out, nil
}
