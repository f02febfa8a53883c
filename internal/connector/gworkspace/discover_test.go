package gworkspace_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/connector/gworkspace"
	fakegws "github.com/sesame-access/sesame/internal/saasfake/gworkspace"
)

// TestDiscoverOAuthApps: with discover_oauth_apps the service account asks
// for the user.security scope and lists every user's OAuth grants
// (several pages of users), grouped by client; without it, nothing is
// listed; a rate limit is retryable.
func TestDiscoverOAuthApps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 520 {
		b.gws.AddUser(fmt.Sprintf("p%03d@acme.example", i), "P", false)
	}
	b.gws.AddOAuthGrant("user0@acme.example", fakegws.OAuthGrant{ClientID: "111.apps.googleusercontent.com", DisplayText: "Notion"})
	b.gws.AddOAuthGrant("p519@acme.example", fakegws.OAuthGrant{ClientID: "111.apps.googleusercontent.com", DisplayText: "Notion"})
	b.gws.AddOAuthGrant("p001@acme.example", fakegws.OAuthGrant{ClientID: "222.apps.googleusercontent.com"})

	off := b.open(t, b.settings)
	apps, err := off.DiscoverApps(t.Context())
	require.NoError(t, err)
	require.Empty(t, apps, "discovery is off by default")

	_, err = gworkspace.New(with(b.settings, "discover_oauth_apps", "yes"))
	require.ErrorContains(t, err, "discover_oauth_apps must be true or false")

	c := b.open(t, with(b.settings, "discover_oauth_apps", "true"))
	require.Equal(t, "gworkspace", c.DiscoverySource())
	apps, err = c.DiscoverApps(t.Context())
	require.NoError(t, err)
	require.Equal(t, []connector.DiscoveredApp{
		{Name: "Notion", ExternalID: "111.apps.googleusercontent.com", Emails: []string{"user0@acme.example", "p519@acme.example"}},
		{Name: "222.apps.googleusercontent.com", ExternalID: "222.apps.googleusercontent.com", Emails: []string{"p001@acme.example"}},
	}, apps)
	require.Equal(t, 523, b.gws.Calls.Get("GET /admin/directory/v1/users/{userKey}/tokens"))

	// A static token without the scope is refused for good.
	b.gws.AddAccessToken("ya29.narrow", fakegws.Access{Admin: true, Scopes: []string{"https://www.googleapis.com/auth/admin.directory.user.readonly"}})
	_, err = b.open(t, map[string]string{"access_token": "ya29.narrow", "api_url": b.srv.URL, "discover_oauth_apps": "true"}).DiscoverApps(t.Context())
	require.True(t, connector.IsPermanent(err), "%v", err)

	b.gws.SetRateLimit(1, time.Minute, "429")
	_, err = c.DiscoverApps(t.Context())
	require.Error(t, err)
	require.False(t, connector.IsPermanent(err))
	require.NotErrorIs(t, err, connector.ErrPermanent)
}
