package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAlertsSettings(t *testing.T) {
	t.Parallel()
	c, err := Parse("a.yaml", nil, nil)
	require.NoError(t, err)
	require.Equal(t, time.Hour, c.Alerts.DiscoveryInterval)
	require.Empty(t, c.Alerts.Types)

	doc := "slack:\n  alerts_channel: \"#security\"\nalerts:\n  discovery_interval: 15m\n" +
		"  watchlist_signup: {channel: C0WATCH}\n  new_app_discovered: {enabled: false}\n"
	c, err = Parse("a.yaml", []byte(doc), nil)
	require.NoError(t, err)
	require.Equal(t, 15*time.Minute, c.Alerts.DiscoveryInterval)
	require.Equal(t, map[string]AlertTypeSetting{
		"watchlist_signup":   {Enabled: true, Channel: "C0WATCH"},
		"new_app_discovered": {Enabled: false},
	}, c.Alerts.Types)

	again, err := Parse("printed.yaml", []byte(c.String()), nil)
	require.NoError(t, err, c.String())
	require.Equal(t, c.Alerts, again.Alerts, "the printed config loads the same alerts")

	lines := problemLines(t, LoadOptions{}, "slack:\n  alerts_channel: security\nalerts:\n  discovery_interval: 1m\n"+
		"  offboarded_with_accounts: {channel: 'not one', enabled: maybe}\n  sign_ups: {}\n", nil)
	require.ElementsMatch(t, []string{
		`t.yaml:4: alerts.discovery_interval: must be between 5m and 1w`,
		`t.yaml:5: alerts.offboarded_with_accounts.enabled: must be true or false, not "maybe"`,
		`t.yaml:5: alerts.offboarded_with_accounts.channel: must be a Slack channel ID (C0123ABCD) or #name, or empty for slack.alerts_channel`,
		`t.yaml:2: slack.alerts_channel: must be a Slack channel ID (C0123ABCD) or #name`,
		`t.yaml:6: alerts.sign_ups: unknown key (known keys: discovery_interval, new_app_discovered, offboarded_with_accounts, watchlist_signup)`,
	}, lines)
}
