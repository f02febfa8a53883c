package okta

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/sesame-access/sesame/internal/connector"
)

const (
	appsPageSize     = "200" // Okta's maximum for /api/v1/apps
	appUsersPageSize = "500" // and for /api/v1/apps/{id}/users
)

var _ connector.AppDiscoverer = (*Connector)(nil)

// oktaOwnApps are Okta's first-party apps, left out of discovery.
func oktaOwnApps() []string {
	return []string{"saasure", "okta_enduser", "okta_browser_plugin", "okta_flow_sso", "okta_atspoke_sso", "okta_iga"}
}

type oktaApp struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Label    string `json:"label"`
	Status   string `json:"status"`
	Settings struct {
		App struct {
			URL string `json:"url"`
		} `json:"app"`
	} `json:"settings"`
}

type appUser struct {
	ID          string `json:"id"`
	Scope       string `json:"scope"`
	Credentials struct {
		UserName string `json:"userName"`
	} `json:"credentials"`
	Profile struct {
		Email string `json:"email"`
	} `json:"profile"`
}

// DiscoverySource implements connector.AppDiscoverer.
func (c *Connector) DiscoverySource() string { return "okta" }

// DiscoverApps implements connector.AppDiscoverer: the org's active apps
// (GET /api/v1/apps?filter=status eq "ACTIVE", 200 a page, following the
// Link headers) but Okta's own, each with the emails of its assigned
// users (GET /api/v1/apps/{id}/users, 500 a page): the app user's
// profile email, else a credentials.userName that is an email. Rate
// limits are *connector.RetryAfterError until X-Rate-Limit-Reset.
func (c *Connector) DiscoverApps(ctx context.Context) ([]connector.DiscoveredApp, error) {
	q := url.Values{"filter": {`status eq "ACTIVE"`}, "limit": {appsPageSize}}
	var apps []oktaApp
	if err := each(ctx, c.c, "/api/v1/apps?"+q.Encode(), func(as []oktaApp) { apps = append(apps, as...) }); err != nil {
		return nil, err
	}
	out := make([]connector.DiscoveredApp, 0, len(apps))
	for _, a := range apps {
		if slices.Contains(oktaOwnApps(), a.Name) {
			continue
		}
		d := connector.DiscoveredApp{Name: a.Label, Domain: a.Settings.App.URL, ExternalID: a.ID}
		if d.Name == "" {
			d.Name = a.Name
		}
		seen := map[string]bool{}
		err := each(ctx, c.c, "/api/v1/apps/"+url.PathEscape(a.ID)+"/users?limit="+appUsersPageSize, func(us []appUser) {
			for _, u := range us {
				email := strings.ToLower(strings.TrimSpace(u.Profile.Email))
				if email == "" && strings.Contains(u.Credentials.UserName, "@") {
					email = strings.ToLower(strings.TrimSpace(u.Credentials.UserName))
				}
				if email != "" && !seen[email] {
					seen[email] = true
					d.Emails = append(d.Emails, email)
				}
			}
		})
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
