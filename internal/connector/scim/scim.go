package scim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "scim"

const (
	settingBaseURL     = "base_url"
	settingToken       = "token"
	settingMatch       = "user_attribute"
	settingCreateUsers = "create_users"
	settingPageSize    = "page_size"
	settingTimeout     = "timeout"

	matchUserName = "userName"
	matchEmails   = "emails.value"

	defaultPageSize = 100
	defaultTimeout  = 30 * time.Second
)

func knownSettings() []string {
	return []string{settingBaseURL, settingToken, settingMatch, settingCreateUsers, settingPageSize, settingTimeout}
}

// Options are the dependencies New fills with defaults.
type Options struct {
	// Clock turns a Retry-After date into a delay; clock.Real{} when nil.
	Clock clock.Clock
	// HTTPClient sends requests; one with the timeout setting when nil.
	HTTPClient *http.Client
}

// Connector manages group memberships in a SCIM 2.0 service provider.
// Entitlement keys are SCIM group ids.
type Connector struct {
	c           *client
	match       string
	createUsers bool
	pageSize    int
}

var (
	_ connector.Connector         = (*Connector)(nil)
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
		c:           &client{base: p.base, token: settings[settingToken], http: hc, clock: cmp.Or[clock.Clock](opts.Clock, clock.Real{})},
		match:       p.match,
		createUsers: p.createUsers,
		pageSize:    p.pageSize,
	}, nil
}

type parsed struct {
	base        string
	match       string
	createUsers bool
	pageSize    int
	timeout     time.Duration
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
	p := parsed{match: matchUserName, pageSize: defaultPageSize, timeout: defaultTimeout}
	for k := range s {
		if !slices.Contains(knownSettings(), k) {
			return p, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings(), ", "))
		}
	}
	raw := s[settingBaseURL]
	if raw == "" {
		return p, errors.New("setting base_url is required (the SCIM root, like https://example.com/scim/v2)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return p, errors.New("setting base_url must be an absolute http(s) URL without query or credentials")
	}
	p.base = strings.TrimRight(u.String(), "/")
	if s[settingToken] == "" {
		return p, errors.New("setting token is required (the bearer token the service provider issued)")
	}
	if v := s[settingMatch]; v != "" {
		if v != matchUserName && v != matchEmails {
			return p, fmt.Errorf("setting user_attribute must be %q or %q", matchUserName, matchEmails)
		}
		p.match = v
	}
	if v := s[settingCreateUsers]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return p, errors.New("setting create_users must be true or false")
		}
		p.createUsers = b
	}
	if v := s[settingPageSize]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return p, errors.New("setting page_size must be a number from 1 to 1000")
		}
		p.pageSize = n
	}
	if v := s[settingTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return p, fmt.Errorf("setting timeout: %q is not a positive duration like 30s", v)
		}
		p.timeout = d
	}
	return p, nil
}

type email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

type user struct {
	ID          string  `json:"id"`
	UserName    string  `json:"userName"`
	DisplayName string  `json:"displayName"`
	Emails      []email `json:"emails"`
	Name        struct {
		Formatted string `json:"formatted"`
	} `json:"name"`
}

// email returns the primary email, else the first, else the userName when
// it looks like one.
func (u user) email() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	if strings.Contains(u.UserName, "@") {
		return u.UserName
	}
	return ""
}

type member struct {
	Value string `json:"value"`
}

type group struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Members     []member `json:"members"`
}

// findUser returns the id of t's person, matched by email on the
// configured attribute; found is false when there is none.
func (c *Connector) findUser(ctx context.Context, t connector.Target) (id string, found bool, err error) {
	if t.Email == "" {
		return "", false, connector.Permanent(errors.New("scim: the person has no email to look up"))
	}
	q := url.Values{"filter": {c.match + " eq " + filterString(t.Email)}, "startIndex": {"1"}, "count": {"2"}}
	var page listResponse[user]
	if err := c.c.do(ctx, http.MethodGet, "/Users?"+q.Encode(), nil, &page); err != nil {
		return "", false, err
	}
	switch len(page.Resources) {
	case 0:
		return "", false, nil
	case 1:
		return page.Resources[0].ID, true, nil
	default:
		return "", false, connector.Permanent(fmt.Errorf("scim: %d users match %s eq %q", page.TotalResults, c.match, t.Email))
	}
}

func (c *Connector) createUser(ctx context.Context, t connector.Target) (string, error) {
	in := map[string]any{
		"schemas":  []string{schemaUser},
		"userName": t.Email,
		"active":   true,
		"emails":   []email{{Value: t.Email, Type: "work", Primary: true}},
	}
	if t.Name != "" {
		in["displayName"] = t.Name
		in["name"] = map[string]string{"formatted": t.Name}
	}
	var u user
	if err := c.c.do(ctx, http.MethodPost, "/Users", in, &u); err != nil {
		return "", err
	}
	if u.ID == "" {
		return "", errors.New("scim: POST /Users answered without an id")
	}
	return u.ID, nil
}

func groupPath(key string) (string, error) {
	if key == "" || strings.ContainsAny(key, "/?#") {
		return "", connector.Permanent(fmt.Errorf("scim: entitlement %q is not a group id", key))
	}
	return "/Groups/" + url.PathEscape(key), nil
}

// Grant adds the person to the group: PATCH op "add" on "members". The
// person must exist in the service provider unless create_users is true.
// RFC 7644 makes adding an existing member a no-op.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	path, err := groupPath(t.EntitlementKey)
	if err != nil {
		return err
	}
	id, found, err := c.findUser(ctx, t)
	if err != nil {
		return err
	}
	if !found {
		if !c.createUsers {
			return connector.Permanent(fmt.Errorf("scim: no user with %s %q (provision the account first, or set create_users)", c.match, t.Email))
		}
		if id, err = c.createUser(ctx, t); err != nil {
			return err
		}
	}
	return c.c.do(ctx, http.MethodPatch, path, patch("add", "members", []member{{Value: id}}), nil)
}

// Revoke removes the person from the group: PATCH op "remove" with path
// members[value eq "<id>"]. An unknown person or group, and a "noTarget"
// answer (not a member), all mean there is nothing to revoke.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	path, err := groupPath(t.EntitlementKey)
	if err != nil {
		return err
	}
	id, found, err := c.findUser(ctx, t)
	if err != nil || !found {
		return err
	}
	err = c.c.do(ctx, http.MethodPatch, path, patch("remove", "members[value eq "+filterString(id)+"]", nil), nil)
	if e, ok := asAPIError(err); ok && (e.Status == http.StatusNotFound || e.ScimType == "noTarget") {
		return nil
	}
	return err
}

func patch(op, path string, value any) map[string]any {
	o := map[string]any{"op": op, "path": path}
	if value != nil {
		o["value"] = value
	}
	return map[string]any{"schemas": []string{schemaPatchOp}, "Operations": []any{o}}
}

func (c *Connector) users(ctx context.Context) ([]user, error) {
	var out []user
	err := each(ctx, c.c, "/Users", nil, c.pageSize, func(us []user) { out = append(out, us...) })
	return out, err
}

// ListGrants implements connector.GrantLister: every member of every
// group; Account is the userName and AccountEmail the primary email.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	us, err := c.users(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]user, len(us))
	for _, u := range us {
		byID[u.ID] = u
	}
	var out []connector.GrantRecord
	err = each(ctx, c.c, "/Groups", nil, c.pageSize, func(gs []group) {
		for _, g := range gs {
			for _, m := range g.Members {
				u, ok := byID[m.Value]
				if !ok {
					continue // a nested group, or a user created since the user list
				}
				out = append(out, connector.GrantRecord{Account: u.UserName, AccountEmail: u.email(), EntitlementKey: g.ID})
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListAccounts implements connector.AccountLister.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	us, err := c.users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]connector.Account, 0, len(us))
	for _, u := range us {
		out = append(out, connector.Account{ExternalID: u.ID, Email: u.email(), Name: cmp.Or(u.DisplayName, u.Name.Formatted, u.UserName)})
	}
	return out, nil
}

// ListEntitlements implements connector.EntitlementLister: every group,
// keyed by id, fetched without members.
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	var out []connector.Entitlement
	err := each(ctx, c.c, "/Groups", url.Values{"excludedAttributes": {"members"}}, c.pageSize, func(gs []group) {
		for _, g := range gs {
			out = append(out, connector.Entitlement{Key: g.ID, Name: g.DisplayName})
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HealthCheck implements connector.HealthChecker: the token can read
// groups.
func (c *Connector) HealthCheck(ctx context.Context) error {
	q := url.Values{"count": {"1"}, "excludedAttributes": {"members"}}
	return c.c.do(ctx, http.MethodGet, "/Groups?"+q.Encode(), nil, nil)
}
