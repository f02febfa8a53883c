package gworkspace

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/sesame-access/sesame/internal/connector"
)

// discoveryScope is the Admin SDK scope tokens.list needs; it is asked
// for only with discover_oauth_apps: true (add it to the service
// account's domain-wide delegation).
const discoveryScope = "https://www.googleapis.com/auth/admin.directory.user.security"

var _ connector.AppDiscoverer = (*Connector)(nil)

// tokenList is tokens.list's answer (kind admin#directory#tokenList).
type tokenList struct {
	Items []struct {
		ClientID    string   `json:"clientId"`
		DisplayText string   `json:"displayText"`
		Scopes      []string `json:"scopes"`
		UserKey     string   `json:"userKey"`
		Anonymous   bool     `json:"anonymous"`
		NativeApp   bool     `json:"nativeApp"`
	} `json:"items"`
}

// DiscoverySource implements connector.AppDiscoverer.
func (c *Connector) DiscoverySource() string { return "gworkspace" }

// DiscoverApps implements connector.AppDiscoverer: with the setting
// discover_oauth_apps: true, the third-party apps people granted OAuth
// access to their Google account, from the Directory API's tokens.list
// (GET /admin/directory/v1/users/{userKey}/tokens) for every user of the
// customer. Grants are grouped by clientId; the app is named by
// displayText (the client id when empty) and carries the emails of the
// users who granted it. A user deleted between the listing and the call
// (404) is skipped. Without the setting it returns nothing.
func (c *Connector) DiscoverApps(ctx context.Context) ([]connector.DiscoveredApp, error) {
	if !c.discover {
		return nil, nil
	}
	type person struct{ id, email string }
	var people []person
	err := each(ctx, c.c, dirPath+"/users", url.Values{"customer": {c.customer}, "maxResults": {usersPageSize}}, func(p usersPage) {
		for _, u := range p.Users {
			people = append(people, person{id: u.ID, email: strings.ToLower(u.PrimaryEmail)})
		}
	})
	if err != nil {
		return nil, err
	}
	byClient := map[string]*connector.DiscoveredApp{}
	var order []string
	for _, p := range people {
		var tl tokenList
		err := c.c.do(ctx, http.MethodGet, dirPath+"/users/"+url.PathEscape(p.id)+"/tokens", nil, &tl)
		if e, ok := asAPIError(err); ok && e.Status == http.StatusNotFound && errors.Is(err, connector.ErrPermanent) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, t := range tl.Items {
			if t.ClientID == "" {
				continue
			}
			d, ok := byClient[t.ClientID]
			if !ok {
				name := strings.TrimSpace(t.DisplayText)
				if name == "" {
					name = t.ClientID
				}
				d = &connector.DiscoveredApp{Name: name, ExternalID: t.ClientID}
				byClient[t.ClientID] = d
				order = append(order, t.ClientID)
			}
			d.Emails = append(d.Emails, p.email)
		}
	}
	out := make([]connector.DiscoveredApp, 0, len(order))
	for _, id := range order {
		out = append(out, *byClient[id])
	}
	return out, nil
}
