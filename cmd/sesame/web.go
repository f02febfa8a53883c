package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/slackbot"
	"github.com/sesame-access/sesame/internal/web/signin"
	"github.com/sesame-access/sesame/internal/web/ui"
)

// startWeb mounts the dashboard at "/" (its pages, /login, /static/...).
// It runs after the Slack bot is started and before the job queue starts.
func (m *Main) startWeb(_ context.Context, mux *http.ServeMux, box *secrets.Box) error {
	cfg := m.Config
	sessions := signin.NewSessions(m.db.store, m.Clock, cfg.Server.BaseURL, cfg.Web.SessionTTL)
	uc := ui.Config{
		Service: m.svc, Store: m.db.store, Clock: m.Clock, Logger: m.Logger.With("component", "web"),
		Sessions: sessions, BaseURL: cfg.Server.BaseURL,
		HealthCheck: m.healthCheck(box),
		SealSetting: func(name, value string) (string, error) {
			if !config.IsSecretSetting(name) || value == "" {
				return value, nil
			}
			return box.Seal(value)
		},
		Settings: ui.Settings{SlackEnabled: cfg.Slack.Enabled(), SlackMode: cfg.Slack.Mode, SlackCommand: cfg.Slack.Command,
			AlertsChannel: cfg.Slack.AlertsChannel, OIDCIssuer: cfg.Web.OIDC.Issuer, SessionTTL: cfg.Web.SessionTTL, Database: m.db.dialect},
	}
	if o := cfg.Web.OIDC; o.Enabled() {
		oidc, err := signin.NewOIDC(signin.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Scopes: o.ScopeList(), RedirectURL: cfg.Server.BaseURL + "/login/callback", SlackTeamID: o.SlackTeamID,
			Key: box.DeriveKey("web-oidc-flow"), Clock: m.Clock, Secure: sessions.Secure()})
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		uc.OIDC = oidc
	}
	if cfg.Slack.Enabled() {
		api := slack.New(cfg.Slack.BotToken, slack.OptionAPIURL(cfg.Slack.APIURL))
		uc.SlackCheck = func(ctx context.Context) (ui.SlackIdentity, error) {
			at, err := api.AuthTestContext(ctx)
			if err != nil {
				return ui.SlackIdentity{}, err
			}
			return ui.SlackIdentity{Team: at.Team, TeamID: at.TeamID, BotUser: at.User, URL: at.URL}, nil
		}
		linker, err := slackbot.NewCodeLinker(m.db.store, m.Clock, box.DeriveKey("slack-link"), cfg.Server.BaseURL, linkCodeTTL)
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		uc.SlackLinker = linker
	}
	uc.Pages = append(uc.Pages, ui.AlertPages(lateFindings{m}, cfg.Slack.AlertsChannel)...)
	isvc, err := m.integrationService(box)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	uc.Pages = append(uc.Pages, ui.IntegrationPages(isvc)...)
	mux.Handle("/", ui.New(uc))
	return nil
}

// healthCheck opens an app's connector with its (unsealed) settings and
// runs its health check, when it has one.
func (m *Main) healthCheck(box *secrets.Box) func(ctx context.Context, app *access.App) error {
	reg := m.registry()
	return func(ctx context.Context, app *access.App) error {
		settings, err := box.OpenSettings(app.ConnectorSettings)
		if err != nil {
			return fmt.Errorf("open settings: %w", err)
		}
		conn, err := reg.Open(app.ConnectorType, settings)
		if err != nil {
			return err
		}
		if sc, ok := conn.(connector.AppScoped); ok {
			conn = sc.ForApp(app.ID)
		}
		hc, ok := conn.(connector.HealthChecker)
		if !ok {
			return errNoHealthCheck
		}
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return hc.HealthCheck(ctx)
	}
}

// errNoHealthCheck: the connector type has no health check.
var errNoHealthCheck = errors.New("this connector type has no health check") //nolint:gochecknoglobals // sentinel
