package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The secrets below must never show in errors or printed configuration.
var testSecrets = []string{"xoxb-bot-SECRET", "xapp-app-SECRET", "signing-SECRET", "db-pass-SECRET", "conn-pass-SECRET", "api-key-SECRET"}

const secretConfig = `database: postgres://sesame:db-pass-SECRET@db/sesame
slack:
  mode: socket
  bot_token: xoxb-bot-SECRET
  app_token: xapp-app-SECRET
  signing_secret: signing-SECRET
catalog:
  apps:
    - id: app
      connector:
        type: fake
        settings: {user: admin, password: conn-pass-SECRET, API_Key: api-key-SECRET}
      entitlements: [{key: read}]
policies:
  - {id: default, default: true, steps: [{approvers: {app_owners: true}}]}
`

func requireNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range testSecrets {
		require.NotContains(t, s, secret)
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	t.Parallel()

	c, err := Parse("s.yaml", []byte(secretConfig), nil)
	require.NoError(t, err)
	require.Equal(t, "conn-pass-SECRET", c.Catalog.Apps[0].Connector.Settings["password"])

	js, err := json.Marshal(c.Redacted())
	require.NoError(t, err)
	for _, s := range []string{c.String(), string(js), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", *c, *c, *c, c),
		fmt.Sprintf("%v %+v %#v", c.Slack, c.Slack, c.Slack), fmt.Sprintf("%v %#v", c.Catalog.Apps[0], c.Catalog.Apps[0])} {
		requireNoSecrets(t, s)
		require.Contains(t, s, redactedValue)
	}
	require.Contains(t, c.String(), "user: admin", "settings that are not secrets are shown")
	require.Contains(t, c.String(), "postgres://sesame:xxxxx@db/sesame")
}

func TestSecretsAreNeverInErrors(t *testing.T) {
	t.Parallel()

	// A hook that quotes every setting, as a careless connector might.
	echo := func(typ string, settings map[string]string) error {
		var parts []string
		for k, v := range settings {
			parts = append(parts, k+"="+v)
		}
		return errors.New("bad settings: " + strings.Join(parts, " "))
	}
	broken := strings.NewReplacer("mode: socket", "mode: xoxb-bot-SECRET", "database: postgres", "database: mysql").Replace(secretConfig)
	_, err := LoadOptions{ConnectorTypes: []string{"ldap"}}.Parse("s.yaml", []byte(broken), nil)
	require.Error(t, err)
	requireNoSecrets(t, err.Error())
	require.Contains(t, err.Error(), `unknown connector type "fake"`)

	_, err = LoadOptions{ValidateConnector: echo}.Parse("s.yaml", []byte(secretConfig), func(name string) string {
		if name == "SESAME_SLACK_MODE" {
			return "api-key-SECRET"
		}
		return ""
	})
	require.Error(t, err)
	requireNoSecrets(t, err.Error())
	require.Contains(t, err.Error(), "password=[redacted]")
	require.Contains(t, err.Error(), "user=admin")
}
