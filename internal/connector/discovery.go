package connector

import "context"

// DiscoveredApp is an app a connector's system knows about: an app the
// identity provider assigns (Okta), an OAuth client people granted access
// to (Google Workspace). Emails are the accounts seen in it (lowercase;
// may be empty).
type DiscoveredApp struct {
	// Name is the app's display name; Domain its web address when known.
	Name   string
	Domain string
	// ExternalID is the app's id in the source (an Okta app id, an OAuth
	// client id).
	ExternalID string
	Emails     []string
}

// AppDiscoverer is a connector that can list the other apps its system
// knows about, for discovery. Source names the source in findings
// ("okta", "gworkspace").
type AppDiscoverer interface {
	DiscoverApps(ctx context.Context) ([]DiscoveredApp, error)
	DiscoverySource() string
}
