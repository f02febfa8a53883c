package gworkspace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/connector"
)

// TypeName is the connector type in the catalog.
const TypeName = "gworkspace"

const (
	settingAccessToken = "access_token"
	settingSAJSON      = "service_account_json"
	settingSubject     = "subject"
	settingTokenURL    = "token_url"
	settingAPIURL      = "api_url"
	settingCustomer    = "customer"
	settingRole        = "member_role"
	settingTimeout     = "timeout"
	// settingDiscover turns on OAuth app discovery (discover.go).
	settingDiscover = "discover_oauth_apps"

	defaultAPIURL   = "https://admin.googleapis.com"
	defaultCustomer = "my_customer"
	defaultTimeout  = 30 * time.Second
	dirPath         = "/admin/directory/v1"
	groupsPageSize  = "200"
	usersPageSize   = "500"
)

func knownSettings() []string {
	return []string{settingAccessToken, settingSAJSON, settingSubject, settingTokenURL, settingAPIURL, settingCustomer, settingRole, settingTimeout, settingDiscover}
}

// Options are the dependencies New fills with defaults.
type Options struct {
	// Clock dates assertions and expires tokens; clock.Real{} when nil.
	Clock clock.Clock
	// HTTPClient sends requests (API and token endpoint); one with the
	// timeout setting when nil.
	HTTPClient *http.Client
}

// Connector manages Google Group memberships through the Admin SDK
// Directory API. Entitlement keys are group emails.
type Connector struct {
	c        *client
	customer string
	role     string
	// discover is the discover_oauth_apps setting (discover.go).
	discover bool
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
	clk := cmp.Or[clock.Clock](opts.Clock, clock.Real{})
	p.tokens.http, p.tokens.clock = hc, clk
	return &Connector{
		c:        &client{base: p.apiURL, tokens: p.tokens, http: hc, clock: clk},
		customer: p.customer,
		role:     p.role,
		discover: p.discover,
	}, nil
}

type parsed struct {
	apiURL   string
	tokens   *tokenSource
	customer string
	role     string
	timeout  time.Duration
	discover bool
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

func parseURL(name, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("setting %s must be an absolute http(s) URL without query or credentials", name)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func parseSettings(s map[string]string) (parsed, error) {
	p := parsed{customer: cmp.Or(s[settingCustomer], defaultCustomer), role: "MEMBER", timeout: defaultTimeout}
	for k := range s {
		if !slices.Contains(knownSettings(), k) {
			return p, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings(), ", "))
		}
	}
	var err error
	if p.apiURL, err = parseURL(settingAPIURL, cmp.Or(s[settingAPIURL], defaultAPIURL)); err != nil {
		return p, err
	}
	static, saJSON := s[settingAccessToken], s[settingSAJSON]
	switch {
	case static != "" && saJSON != "":
		return p, errors.New("settings access_token and service_account_json are exclusive: set one")
	case static != "":
		if s[settingSubject] != "" || s[settingTokenURL] != "" {
			return p, errors.New("settings subject and token_url only apply with service_account_json")
		}
		p.tokens = &tokenSource{static: static}
	case saJSON != "":
		sa, key, err := parseServiceAccount(saJSON)
		if err != nil {
			return p, err
		}
		subject := s[settingSubject]
		if subject == "" || !strings.Contains(subject, "@") {
			return p, errors.New("setting subject is required with service_account_json: the email of a Workspace admin the service account impersonates (domain-wide delegation)")
		}
		tokenURL, err := parseURL(settingTokenURL, cmp.Or(s[settingTokenURL], sa.TokenURI, defaultTokenURL))
		if err != nil {
			return p, err
		}
		p.tokens = &tokenSource{sa: sa, key: key, subject: subject, tokenURL: tokenURL}
	default:
		return p, errors.New("setting service_account_json (with subject) or access_token is required")
	}
	if v := s[settingRole]; v != "" {
		if v != "MEMBER" && v != "MANAGER" && v != "OWNER" {
			return p, errors.New("setting member_role must be MEMBER, MANAGER or OWNER")
		}
		p.role = v
	}
	if strings.ContainsAny(p.customer, "/?#&") {
		return p, errors.New("setting customer must be a customer id like C01abc23d, or my_customer")
	}
	switch s[settingDiscover] {
	case "", "false":
	case "true":
		p.discover = true
		p.tokens.extraScopes = discoveryScope
	default:
		return p, errors.New("setting discover_oauth_apps must be true or false")
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

func membersPath(groupKey string) (string, error) {
	if groupKey == "" || strings.ContainsAny(groupKey, "/?#") {
		return "", connector.Permanent(fmt.Errorf("gworkspace: entitlement %q is not a group email", groupKey))
	}
	return dirPath + "/groups/" + url.PathEscape(groupKey) + "/members", nil
}

func needEmail(t connector.Target) error {
	if t.Email == "" {
		return connector.Permanent(errors.New("gworkspace: the person has no email"))
	}
	return nil
}

// Grant inserts the person into the group with member_role. "Member
// already exists" (409) is success.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	path, err := membersPath(t.EntitlementKey)
	if err != nil {
		return err
	}
	if err := needEmail(t); err != nil {
		return err
	}
	err = c.c.do(ctx, http.MethodPost, path, map[string]string{"email": t.Email, "role": c.role}, nil)
	if e, ok := asAPIError(err); ok && e.Status == http.StatusConflict {
		return nil
	}
	return err
}

// Revoke deletes the person's membership. 404 (not a member, or no such
// group) is success.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	path, err := membersPath(t.EntitlementKey)
	if err != nil {
		return err
	}
	if err := needEmail(t); err != nil {
		return err
	}
	err = c.c.do(ctx, http.MethodDelete, path+"/"+url.PathEscape(t.Email), nil, nil)
	if e, ok := asAPIError(err); ok && e.Status == http.StatusNotFound {
		return nil
	}
	return err
}

type groupsPage struct {
	Groups []struct {
		Email       string `json:"email"`
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"groups"`
	NextPageToken string `json:"nextPageToken"`
}

func (p groupsPage) next() string { return p.NextPageToken }

type membersPage struct {
	Members []struct {
		Email string `json:"email"`
		Type  string `json:"type"`
	} `json:"members"`
	NextPageToken string `json:"nextPageToken"`
}

func (p membersPage) next() string { return p.NextPageToken }

type usersPage struct {
	Users []struct {
		ID           string `json:"id"`
		PrimaryEmail string `json:"primaryEmail"`
		Name         struct {
			FullName string `json:"fullName"`
		} `json:"name"`
	} `json:"users"`
	NextPageToken string `json:"nextPageToken"`
}

func (p usersPage) next() string { return p.NextPageToken }

func (c *Connector) groups(ctx context.Context, f func(groupsPage)) error {
	return each(ctx, c.c, dirPath+"/groups", url.Values{"customer": {c.customer}, "maxResults": {groupsPageSize}}, f)
}

// ListGrants implements connector.GrantLister: the users (not nested
// groups) directly in each group of the customer.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	var keys []string
	if err := c.groups(ctx, func(p groupsPage) {
		for _, g := range p.Groups {
			keys = append(keys, g.Email)
		}
	}); err != nil {
		return nil, err
	}
	var out []connector.GrantRecord
	for _, key := range keys {
		path, err := membersPath(key)
		if err != nil {
			return nil, err
		}
		err = each(ctx, c.c, path, url.Values{"maxResults": {groupsPageSize}}, func(p membersPage) {
			for _, m := range p.Members {
				if m.Type == "USER" {
					out = append(out, connector.GrantRecord{Account: m.Email, AccountEmail: m.Email, EntitlementKey: key})
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListAccounts implements connector.AccountLister: the customer's users.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	var out []connector.Account
	err := each(ctx, c.c, dirPath+"/users", url.Values{"customer": {c.customer}, "maxResults": {usersPageSize}}, func(p usersPage) {
		for _, u := range p.Users {
			out = append(out, connector.Account{ExternalID: u.ID, Email: u.PrimaryEmail, Name: u.Name.FullName})
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListEntitlements implements connector.EntitlementLister: the customer's
// groups, keyed by email.
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	var out []connector.Entitlement
	err := c.groups(ctx, func(p groupsPage) {
		for _, g := range p.Groups {
			out = append(out, connector.Entitlement{Key: g.Email, Name: g.Name, Description: g.Description})
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HealthCheck implements connector.HealthChecker: a token can be had and
// it can read the customer's groups.
func (c *Connector) HealthCheck(ctx context.Context) error {
	q := url.Values{"customer": {c.customer}, "maxResults": {"1"}}
	return c.c.do(ctx, http.MethodGet, dirPath+"/groups?"+q.Encode(), nil, nil)
}
