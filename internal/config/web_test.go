package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWebSettings(t *testing.T) {
	t.Parallel()
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		c, err := Parse("w.yaml", nil, nil)
		require.NoError(t, err)
		require.Equal(t, 12*time.Hour, c.Web.SessionTTL)
		require.False(t, c.Web.OIDC.Enabled())
		require.Equal(t, []string{"openid", "email", "profile"}, c.Web.OIDC.ScopeList())
	})
	t.Run("file and env", func(t *testing.T) {
		t.Parallel()
		doc := "web:\n  oidc:\n    issuer: https://example.okta.com\n    client_id: sesame\n    scopes: openid,email\n  session_ttl: 8h\n"
		env := map[string]string{"SESAME_WEB_OIDC_CLIENT_SECRET": "s3cr3t-value"}
		c, err := Parse("w.yaml", []byte(doc), func(k string) string { return env[k] })
		require.NoError(t, err)
		require.Equal(t, WebOIDC{Issuer: "https://example.okta.com", ClientID: "sesame", ClientSecret: "s3cr3t-value", Scopes: "openid,email"}, c.Web.OIDC)
		require.Equal(t, 8*time.Hour, c.Web.SessionTTL)
		require.NotContains(t, c.String(), "s3cr3t-value")
		require.NotContains(t, c.Web.OIDC.String(), "s3cr3t-value")
		require.Contains(t, c.String(), "client_secret: '[redacted]'")
	})
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "issuer missing",
			doc:  "web:\n  oidc:\n    client_id: x\n",
			want: []string{"t.yaml:2: web.oidc.issuer: is required when web.oidc.client_id, client_secret or slack_team_id is set (or set SESAME_WEB_OIDC_ISSUER)"},
		},
		{
			name: "incomplete provider",
			doc:  "web:\n  oidc:\n    issuer: http://idp.example.com\n    scopes: openid\n",
			want: []string{
				"t.yaml:2: web.oidc.client_id: is required with web.oidc.issuer",
				"t.yaml:2: web.oidc.client_secret: is required with web.oidc.issuer (or set SESAME_WEB_OIDC_CLIENT_SECRET)",
				"t.yaml:3: web.oidc.issuer: must use https (http only for localhost)",
				"t.yaml:4: web.oidc.scopes: must include email: people are matched by their verified email",
			},
		},
		{
			name: "slack needs a team",
			doc:  "web:\n  oidc:\n    issuer: https://slack.com\n    client_id: a\n    client_secret: b\n",
			want: []string{"t.yaml:2: web.oidc.slack_team_id: is required for Sign in with Slack: only people of that workspace may sign in"},
		},
		{
			name: "bad team and ttl",
			doc:  "web:\n  oidc:\n    issuer: https://slack.com\n    client_id: a\n    client_secret: b\n    slack_team_id: nope\n  session_ttl: 1m\n",
			want: []string{
				"t.yaml:6: web.oidc.slack_team_id: \"nope\" is not a Slack team ID (like T012AB3CD)",
				"t.yaml:7: web.session_ttl: must be between 5m and 30d",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("w.yaml", []byte(tt.doc), nil)
			require.Error(t, err)
			require.Equal(t, tt.want, problemLines(t, LoadOptions{}, tt.doc, nil))
		})
	}
}
