package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/secrets"
)

// integrationService returns the notification integrations service,
// building it on first use (so startFindings, which runs earlier, may
// call it too to Post security alerts to the integrations).
func (m *Main) integrationService(box *secrets.Box) (*integrations.Service, error) {
	if m.integrations != nil {
		return m.integrations, nil
	}
	cfg := m.Config
	svc, err := integrations.New(integrations.Config{
		Store: m.db.store, Clock: m.Clock, Secrets: box, Logger: m.Logger.With("component", "integrations"),
		BaseURL: cfg.Server.BaseURL, SlackAPIURL: cfg.Slack.APIURL, BotToken: cfg.Slack.BotToken,
		Sets: cfg.IntegrationSets(), AllowLoopback: cfg.Integrations.AllowLoopbackWebhooks,
	})
	if err != nil {
		return nil, err
	}
	svc.SetEnqueuer(m.queue)
	m.queue.SetIntegrations(svc)
	m.integrations = svc
	return svc, nil
}

// startIntegrations syncs the integrations of the configuration file,
// routes every outbox notification through them (wrapping the Slack bot's
// notifier, if any), and gives the job queue their workers' service. It
// runs after the Slack bot is started and before the job queue starts.
func (m *Main) startIntegrations(ctx context.Context, _ *http.ServeMux, box *secrets.Box) error {
	svc, err := m.integrationService(box)
	if err != nil {
		return err
	}
	created, updated, removed, err := svc.SyncConfig(ctx, m.Config.IntegrationSpecs())
	if err != nil {
		return fmt.Errorf("integrations: %s", integrations.Redact(err.Error(), m.Config.IntegrationSpecs()))
	}
	var inner integrations.Notifier
	if m.bot != nil {
		inner = m.bot.Notifier()
	}
	m.svc.SetNotifier(svc.Notifier(inner))
	m.Logger.InfoContext(ctx, "integrations synced from the config", "routes", len(m.Config.Integrations.Routes),
		"created", created, "updated", updated, "removed", removed)
	return nil
}
