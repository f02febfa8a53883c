package okta

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
const TypeName = "okta"

const (
	settingBaseURL  = "base_url"
	settingToken    = "api_token"
	settingTimeout  = "timeout"
	defaultTimeout  = 30 * time.Second
	groupsPageSize  = "1000"
	membersPageSize = "1000"
	usersPageSize   = "200"
)

func knownSettings() []string { return []string{settingBaseURL, settingToken, settingTimeout} }

// Options are the dependencies New fills with defaults.
type Options struct {
	// Clock turns X-Rate-Limit-Reset into a delay; clock.Real{} when nil.
	Clock clock.Clock
	// HTTPClient sends requests; one with the timeout setting when nil.
	HTTPClient *http.Client
}

// Connector manages memberships of Okta groups. Entitlement keys are
// group ids ("00g1a2b3c4d5e6f7g8h9").
type Connector struct {
	c *client
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
	base, timeout, err := parseSettings(settings)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	return &Connector{c: &client{base: base, token: settings[settingToken], http: hc, clock: cmp.Or[clock.Clock](opts.Clock, clock.Real{})}}, nil
}

// ValidateSettings checks settings without connecting anywhere.
func ValidateSettings(settings map[string]string) error {
	_, _, err := parseSettings(settings)
	return err
}

// ValidateSettings implements connector.SettingsValidator.
func (c *Connector) ValidateSettings(settings map[string]string) error {
	return ValidateSettings(settings)
}

func parseSettings(s map[string]string) (*url.URL, time.Duration, error) {
	for k := range s {
		if !slices.Contains(knownSettings(), k) {
			return nil, 0, fmt.Errorf("unknown setting %q (known: %s)", k, strings.Join(knownSettings(), ", "))
		}
	}
	raw := s[settingBaseURL]
	if raw == "" {
		return nil, 0, errors.New("setting base_url is required (your Okta org URL, like https://acme.okta.com)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.User != nil ||
		strings.Trim(u.Path, "/") != "" {
		return nil, 0, errors.New("setting base_url must be the org URL alone, like https://acme.okta.com")
	}
	u.Path = ""
	if strings.Contains(strings.ToLower(u.Host), "-admin.") {
		return nil, 0, errors.New("setting base_url must be the org URL, not the admin console URL (drop -admin)")
	}
	if s[settingToken] == "" {
		return nil, 0, errors.New("setting api_token is required (an Okta API token, sent as SSWS)")
	}
	timeout := defaultTimeout
	if v := s[settingTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, 0, fmt.Errorf("setting timeout: %q is not a positive duration like 30s", v)
		}
		timeout = d
	}
	return u, timeout, nil
}

type user struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Profile struct {
		Login     string `json:"login"`
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
	} `json:"profile"`
}

type group struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Profile struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"profile"`
}

// userID looks t's person up by login (their email); found is false when
// Okta has no such user.
func (c *Connector) userID(ctx context.Context, t connector.Target) (id string, found bool, err error) {
	if t.Email == "" {
		return "", false, connector.Permanent(errors.New("okta: the person has no email to look up"))
	}
	var u user
	_, err = c.c.do(ctx, http.MethodGet, c.c.url("/api/v1/users/"+url.PathEscape(t.Email)), &u)
	if hasStatus(err, http.StatusNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return u.ID, true, nil
}

func validGroupID(key string) error {
	if key == "" || strings.ContainsAny(key, "/?#% ") {
		return connector.Permanent(fmt.Errorf("okta: entitlement %q is not a group id", key))
	}
	return nil
}

func memberPath(groupID, userID string) string {
	return "/api/v1/groups/" + url.PathEscape(groupID) + "/users/" + url.PathEscape(userID)
}

// Grant adds the person (found by login = email) to the group named by
// the entitlement key. Okta's PUT is idempotent.
func (c *Connector) Grant(ctx context.Context, t connector.Target) error {
	if err := validGroupID(t.EntitlementKey); err != nil {
		return err
	}
	id, found, err := c.userID(ctx, t)
	if err != nil {
		return err
	}
	if !found {
		return connector.Permanent(fmt.Errorf("okta: no user with login %q", t.Email))
	}
	_, err = c.c.do(ctx, http.MethodPut, c.c.url(memberPath(t.EntitlementKey, id)), nil)
	return err
}

// Revoke removes the person from the group. A person or a group that does
// not exist has nothing to revoke: success.
func (c *Connector) Revoke(ctx context.Context, t connector.Target) error {
	if err := validGroupID(t.EntitlementKey); err != nil {
		return err
	}
	id, found, err := c.userID(ctx, t)
	if err != nil || !found {
		return err
	}
	_, err = c.c.do(ctx, http.MethodDelete, c.c.url(memberPath(t.EntitlementKey, id)), nil)
	if hasStatus(err, http.StatusNotFound) {
		return nil
	}
	return err
}

// groups lists the groups whose membership the API can change
// (type OKTA_GROUP; APP_GROUP memberships belong to their app).
func (c *Connector) groups(ctx context.Context) ([]group, error) {
	q := url.Values{"filter": {`type eq "OKTA_GROUP"`}, "limit": {groupsPageSize}}
	var out []group
	err := each(ctx, c.c, "/api/v1/groups?"+q.Encode(), func(gs []group) { out = append(out, gs...) })
	return out, err
}

// ListGrants implements connector.GrantLister: every member of every
// OKTA_GROUP group; Account is the Okta login.
func (c *Connector) ListGrants(ctx context.Context) ([]connector.GrantRecord, error) {
	gs, err := c.groups(ctx)
	if err != nil {
		return nil, err
	}
	var out []connector.GrantRecord
	for _, g := range gs {
		err := each(ctx, c.c, "/api/v1/groups/"+url.PathEscape(g.ID)+"/users?limit="+membersPageSize, func(us []user) {
			for _, u := range us {
				out = append(out, connector.GrantRecord{Account: u.Profile.Login, AccountEmail: u.Profile.Email, EntitlementKey: g.ID})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListAccounts implements connector.AccountLister: users that are not
// deprovisioned.
func (c *Connector) ListAccounts(ctx context.Context) ([]connector.Account, error) {
	var out []connector.Account
	err := each(ctx, c.c, "/api/v1/users?limit="+usersPageSize, func(us []user) {
		for _, u := range us {
			name := strings.TrimSpace(u.Profile.FirstName + " " + u.Profile.LastName)
			out = append(out, connector.Account{ExternalID: u.ID, Email: u.Profile.Email, Name: name})
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListEntitlements implements connector.EntitlementLister: OKTA_GROUP
// groups, keyed by id.
func (c *Connector) ListEntitlements(ctx context.Context) ([]connector.Entitlement, error) {
	gs, err := c.groups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]connector.Entitlement, 0, len(gs))
	for _, g := range gs {
		out = append(out, connector.Entitlement{Key: g.ID, Name: g.Profile.Name, Description: g.Profile.Description})
	}
	return out, nil
}

// HealthCheck implements connector.HealthChecker: the token is accepted
// and can read groups.
func (c *Connector) HealthCheck(ctx context.Context) error {
	_, err := c.c.do(ctx, http.MethodGet, c.c.url("/api/v1/groups?limit=1"), nil)
	return err
}
