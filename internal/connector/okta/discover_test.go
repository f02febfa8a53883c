package okta_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesame-access/sesame/internal/connector"
	fakeokta "github.com/sesame-access/sesame/internal/saasfake/okta"
)

// TestDiscoverApps lists every active app (more than one page) with the
// emails of its users (more than one page), leaves out Okta's own and
// inactive apps, and reports a rate limit with its reset time.
func TestDiscoverApps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	notion := b.okta.AddApp(fakeokta.App{Name: "bookmark", Label: "Notion", URL: "https://www.notion.so"})
	b.okta.AddApp(fakeokta.App{Name: "saasure", Label: "Okta Admin Console"})
	b.okta.AddApp(fakeokta.App{Name: "zoom", Label: "Zoom", Status: "INACTIVE"})
	for i := range 205 {
		b.okta.AddApp(fakeokta.App{Name: "oidc_client", Label: fmt.Sprintf("Internal %03d", i)})
	}
	for i := range 510 {
		uid := b.okta.AddUser(fakeokta.User{Email: fmt.Sprintf("p%03d@example.com", i)})
		name := ""
		if i == 0 {
			name = "not-an-email"
		}
		b.okta.AssignApp(notion, uid, name)
	}
	c := b.open(t, b.settings)
	require.Equal(t, "okta", c.DiscoverySource())
	apps, err := c.DiscoverApps(t.Context())
	require.NoError(t, err)
	require.Len(t, apps, 206)
	require.Equal(t, "Notion", apps[0].Name)
	require.Equal(t, "https://www.notion.so", apps[0].Domain)
	require.Equal(t, notion, apps[0].ExternalID)
	require.Len(t, apps[0].Emails, 509, "a username that is not an email is skipped")
	require.Equal(t, "p509@example.com", apps[0].Emails[508])
	require.Equal(t, 2, b.okta.Calls.Get("GET /api/v1/apps"), "200 apps a page")
	require.Equal(t, 2+205, b.okta.Calls.Get("GET /api/v1/apps/{appId}/users"), "500 users a page")

	b.okta.SetRateLimit(1, time.Minute)
	_, err = c.DiscoverApps(t.Context())
	ra, ok := errors.AsType[*connector.RetryAfterError](err)
	require.True(t, ok, "%v", err)
	require.Positive(t, ra.After)
	require.False(t, connector.IsPermanent(err))
}
