package github

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "github"

const (
	settingToken       = "token"
	settingOrg         = "org"
	settingAPIURL      = "api_url"
	settingLoginMap    = "login_map"
	settingLoginSuffix = "login_suffix"
	settingTimeout     = "timeout"

	defaultAPIURL  = "https://api.github.com"
	defaultTimeout = 30 * time.Second
)

func knownSettings() []string {
	return []string{settingToken, settingOrg, settingAPIURL, settingLoginMap, settingLoginSuffix, settingTimeout}
}

// validLogin is GitHub's username rule (alphanumerics and single hyphens,
// at most 39 characters), with underscores allowed for Enterprise Managed
// Users' "_shortcode" suffix.
var validLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,98}[A-Za-z0-9])?$`)

// validSuffix is what login_suffix may hold.
var validSuffix = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Options are the dependencies New fills with defaults.
type Options struct {
	// Clock turns x-ratelimit-reset into a delay; clock.Real{} when nil.
	Clock clock.Clock
	// HTTPClient sends requests; one with the timeout setting when nil.
	HTTPClient *http.Client
}

// Connector manages organization roles and team memberships in one
// GitHub organization.
type Connector struct {
	c        *client
	org      string
	loginMap map[string]string
	suffix   string
}

var (
	_ connector.Connector         = (*Connector)(nil)
	_ connector.AccountMapper     = (*Connector)(nil)
	_ connector.GrantLister       = (*Connector)(nil)
	_ connector.AccountLister     = (*Connector)(nil)
	_ connector.EntitlementLister = (*Connector)(nil)
	_ connector.HealthChecker     = (*Connector)(nil)
)

// New is the connector.Factory. See the package documentation for the
// settings.
func New(settings map[string]string) (connector.Connector, error) {
	return NewWithOptions(settings, Options{})
}

// NewWithOptions is New with injected dependencies.
func NewWithOptions(settings map[string]string, opts Options) (*Connector, error) {
	p, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: p.timeout}
	}
	return &Connector{
		c:        &client{base: p.base, token: settings[settingToken], http: hc, clock: cmp.Or[clock.Clock](opts.Clock, clock.Real{})},
		org:      settings[settingOrg],
		loginMap: p.loginMap,
		suffix:   settings[settingLoginSuffix],
	}, nil
}

type parsed struct {
	base     *url.URL
	loginMap map[string]string
	timeout  time.Duration
}

// ValidateSettings checks settings without connecting anywhere.
func ValidateSettings(settings map[string]string) error {
	_, err := parseSettings(settings)
	return err
}

// ValidateSettings implements connector.SettingsValidator.
func (c *Connector) ValidateSettings(settings map[string]string) error {
	return ValidateSettings(settings)
}

func parseSettings(s map[string]string) (parsed, error) {
	var p parsed
	for k := range s {
		if !slices.Contains(knownSettings(), k) {
			return p, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings(), ", "))
		}
	}
	if s[settingToken] == "" {
		return p, errors.New("setting token is required (a fine-grained or classic token of an organization owner)")
	}
	org := s[settingOrg]
	if org == "" || !validLogin.MatchString(org) {
		return p, errors.New("setting org is required and must be an organization login")
	}
	u, err := url.Parse(cmp.Or(s[settingAPIURL], defaultAPIURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return p, errors.New("setting api_url must be an absolute http(s) URL without query or credentials (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server)")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	p.base = u
	if sfx := s[settingLoginSuffix]; sfx != "" && !validSuffix.MatchString(sfx) {
		return p, errors.New("setting login_suffix may only hold letters, digits, '-' and '_'")
	}
	p.loginMap = map[string]string{}
	for pair := range strings.FieldsFuncSeq(s[settingLoginMap], func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		email, login, ok := strings.Cut(strings.TrimSpace(pair), "=")
		email, login = strings.TrimSpace(email), strings.TrimSpace(login)
		if !ok || !strings.Contains(email, "@") || !validLogin.MatchString(login) {
			return p, fmt.Errorf("setting login_map: %q is not email=login", strings.TrimSpace(pair))
		}
		p.loginMap[strings.ToLower(email)] = login
	}
	p.timeout = defaultTimeout
	if v := s[settingTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return p, fmt.Errorf("setting timeout: %q is not a positive duration like 30s", v)
		}
		p.timeout = d
	}
	return p, nil
}

// AccountFor returns the GitHub login of t's person: login_map's entry for
// the email, else the email's local part with every character GitHub does
// not allow turned into '-', plus login_suffix. Empty when t has no email.
func (c *Connector) AccountFor(t connector.Target) string {
	email := strings.ToLower(strings.TrimSpace(t.Email))
	if l, ok := c.loginMap[email]; ok {
		return l
	}
	local, _, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return ""
	}
	b := []byte(local)
	for i, ch := range b {
		if (ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') && ch != '-' {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-") + c.suffix
}

// entitlement is a parsed entitlement key.
type entitlement struct {
	team string // "" for an organization role
	role string // org: member|admin; team: member|maintainer
}

// parseEntitlement reads "member", "admin", "team:<slug>" and
// "team:<slug>:maintainer".
func parseEntitlement(key string) (entitlement, error) {
	switch key {
	case "member", "admin":
		return entitlement{role: key}, nil
	}
	rest, ok := strings.CutPrefix(key, "team:")
	if ok {
		slug, role, hasRole := strings.Cut(rest, ":")
		if slug != "" && !strings.Contains(slug, "/") && (!hasRole || role == "maintainer") {
			return entitlement{team: slug, role: cmp.Or(role, "member")}, nil
		}
	}
	return entitlement{}, connector.Permanent(fmt.Errorf(`github: unknown entitlement %q (want "member", "admin", "team:<slug>" or "team:<slug>:maintainer")`, key))
}

func (e entitlement) key() string {
	if e.team == "" {
		return e.role
	}
	if e.role == "maintainer" {
		return "team:" + e.team + ":maintainer"
	}
	return "team:" + e.team
}

type membership struct {
	Role  string `json:"role"`
	State string `json:"state"`
}

func (c *Connector) orgMembershipPath(login string) string {
	return "/orgs/" + url.PathEscape(c.org) + "/memberships/" + url.PathEscape(login)
}

func (c *Connector) teamMembershipPath(slug, login string) string {
	return "/orgs/" + url.PathEscape(c.org) + "/teams/" + url.PathEscape(slug) + "/memberships/" + url.PathEscape(login)
}

// current returns the membership at path; found is false when GitHub
// answers 404.
func (c *Connector) current(ctx context.Context, path string) (m membership, found bool, err error) {
	_, err = c.c.do(ctx, http.MethodGet, c.c.url(path), nil, &m)
	if hasStatus(err, http.StatusNotFound) {
		return m, false, nil
	}
	return m, err == nil, err
}

func (c *Connector) login(t connector.Target) (string, error) {
	l := c.AccountFor(t)
	if l == "" {
		return "", connector.Permanent(fmt.Errorf("github: no GitHub login for %q (set login_map)", t.Email))
	}
	return l, nil
}

// Grant gives t's login the entitlement. Someone outside the organization
// gets an invitation and the access once they accept it. Granting "member"
// or a team membership never demotes an admin or a maintainer.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	e, err := parseEntitlement(t.EntitlementKey)
	if err != nil {
		return err
	}
	login, err := c.login(t)
	if err != nil {
		return err
	}
	path := c.orgMembershipPath(login)
	if e.team != "" {
		path = c.teamMembershipPath(e.team, login)
	}
	if e.role == "member" {
		// PUT role=member would demote an admin or a maintainer.
		_, found, err := c.current(ctx, path)
		if err != nil || found {
			return err
		}
	}
	_, err = c.c.do(ctx, http.MethodPut, c.c.url(path), map[string]string{"role": e.role}, nil)
	return err
}

// Revoke takes the entitlement away: "admin" and "team:<slug>:maintainer"
// demote to member (the person stays in the organization or team);
// "member" removes the person from the organization (and so from every
// team); "team:<slug>" removes them from the team.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	e, err := parseEntitlement(t.EntitlementKey)
	if err != nil {
		return err
	}
	login, err := c.login(t)
	if err != nil {
		return err
	}
	path := c.orgMembershipPath(login)
	if e.team != "" {
		path = c.teamMembershipPath(e.team, login)
	}
	if e.role == "member" {
		_, err := c.c.do(ctx, http.MethodDelete, c.c.url(path), nil, nil)
		if hasStatus(err, http.StatusNotFound) {
			return nil
		}
		return err
	}
	m, found, err := c.current(ctx, path)
	if err != nil || !found || m.Role != e.role {
		return err
	}
	demoted := "member"
	_, err = c.c.do(ctx, http.MethodPut, c.c.url(path), map[string]string{"role": demoted}, nil)
	return err
}

type user struct {
	Login string `json:"login"`
}

type team struct {
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (c *Connector) orgPath(rest string) string { return "/orgs/" + url.PathEscape(c.org) + rest }

func (c *Connector) teams(ctx context.Context) ([]team, error) {
	var out []team
	err := each(ctx, c.c, c.orgPath("/teams"), func(ts []team) { out = append(out, ts...) })
	return out, err
}

// ListGrants implements connector.GrantLister. Accounts are logins;
// GitHub does not reveal members' emails, so AccountEmail is empty.
// Pending invitations are not listed.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	var out []connector.GrantRecord
	add := func(key string) func([]user) {
		return func(us []user) {
			for _, u := range us {
				out = append(out, connector.GrantRecord{Account: u.Login, EntitlementKey: key})
			}
		}
	}
	if err := each(ctx, c.c, c.orgPath("/members?role=all"), add("member")); err != nil {
		return nil, err
	}
	if err := each(ctx, c.c, c.orgPath("/members?role=admin"), add("admin")); err != nil {
		return nil, err
	}
	ts, err := c.teams(ctx)
	if err != nil {
		return nil, err
	}
	for _, tm := range ts {
		base := c.orgPath("/teams/" + url.PathEscape(tm.Slug) + "/members")
		if err := each(ctx, c.c, base+"?role=all", add(entitlement{team: tm.Slug, role: "member"}.key())); err != nil {
			return nil, err
		}
		if err := each(ctx, c.c, base+"?role=maintainer", add(entitlement{team: tm.Slug, role: "maintainer"}.key())); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListAccounts implements connector.AccountLister: the organization's
// members, by login.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	var out []connector.Account
	err := each(ctx, c.c, c.orgPath("/members"), func(us []user) {
		for _, u := range us {
			out = append(out, connector.Account{ExternalID: u.Login, Name: u.Login})
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListEntitlements implements connector.EntitlementLister: the two
// organization roles and, per team, membership and maintainership.
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	out := []connector.Entitlement{
		{Key: "member", Name: "Member of " + c.org, Description: "Membership of the GitHub organization"},
		{Key: "admin", Name: "Owner of " + c.org, Description: "Organization owner (admin role)"},
	}
	ts, err := c.teams(ctx)
	if err != nil {
		return nil, err
	}
	for _, tm := range ts {
		out = append(out,
			connector.Entitlement{Key: entitlement{team: tm.Slug, role: "member"}.key(), Name: "Team " + tm.Name, Description: tm.Description},
			connector.Entitlement{Key: entitlement{team: tm.Slug, role: "maintainer"}.key(), Name: "Maintainer of team " + tm.Name, Description: tm.Description},
		)
	}
	return out, nil
}

// HealthCheck implements connector.HealthChecker: the token works and
// can see the organization.
func (c *Connector) HealthCheck(ctx context.Context) error {
	_, err := c.c.do(ctx, http.MethodGet, c.c.url(c.orgPath("")), nil, nil)
	return err
}
