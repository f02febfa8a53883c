package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/findings"
	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/web/api"
	"github.com/sesame-access/sesame/internal/web/ui"
)

// startFindings wires this part of the server onto mux. It runs after the Slack
// bot is started and before the job queue starts: it builds the findings
// service (accounts, discovery, security alerts), seeds the alert
// settings from the config, gives the job queue its workers' service,
// makes the Slack bot post alerts and handle their buttons, and registers
// the offboarded-employee alert on the workflow's offboard hook. The API
// routes reach it through m.findings.
func (m *Main) startFindings(ctx context.Context, mux *http.ServeMux, box *secrets.Box) error {
	_ = mux
	cfg := m.Config
	defaults := map[access.AlertType]access.AlertSetting{}
	for typ, s := range cfg.Alerts.Types {
		defaults[access.AlertType(typ)] = access.AlertSetting{Type: access.AlertType(typ), Enabled: s.Enabled, Channel: s.Channel}
	}
	svc, err := findings.New(findings.Config{
		Store: m.db.store, Clock: m.Clock, Logger: m.Logger.With("component", "findings"),
		Connectors: m.registry(), Secrets: box, BaseURL: cfg.Server.BaseURL,
		Defaults: defaults, DefaultChannel: cfg.Slack.AlertsChannel,
	})
	if err != nil {
		return err
	}
	svc.SetEnqueuer(m.queue)
	m.queue.SetFindings(svc)
	if m.bot != nil {
		svc.SetPoster(m.bot)
		m.bot.SetAlerts(svc)
	}
	if err := svc.SeedSettings(ctx); err != nil {
		return fmt.Errorf("alert settings: %w", err)
	}
	integ, err := m.integrationService(box)
	if err != nil {
		return err
	}
	svc.SetForwarder(alertForwarder{integ})
	m.svc.SetOffboardHook(svc.RaiseOffboarded)
	m.findings = svc
	return nil
}

// findingsAPI is the findings service for the API (nil interface when it
// is not running, so the routes answer 503).
func (m *Main) findingsAPI() api.Findings {
	if m.findings == nil {
		return nil
	}
	return m.findings
}

// lateFindings gives the dashboard (built before startFindings) the
// findings service once it exists; until then its pages answer 503.
type lateFindings struct{ m *Main }

var _ ui.AlertFindings = lateFindings{}

func (l lateFindings) svc() (*findings.Service, error) {
	if l.m.findings == nil {
		return nil, access.Errorf(access.CodeUnavailable, "security alerts are not running yet")
	}
	return l.m.findings, nil
}

func (l lateFindings) Settings(ctx context.Context) ([]access.AlertSetting, error) {
	s, err := l.svc()
	if err != nil {
		return nil, err
	}
	return s.Settings(ctx)
}

func (l lateFindings) PutSettings(ctx context.Context, actorID string, list []access.AlertSetting) ([]access.AlertSetting, error) {
	s, err := l.svc()
	if err != nil {
		return nil, err
	}
	return s.PutSettings(ctx, actorID, list)
}

func (l lateFindings) Act(ctx context.Context, actorID, alertID, action string) (*access.Alert, error) {
	s, err := l.svc()
	if err != nil {
		return nil, err
	}
	return s.Act(ctx, actorID, alertID, action)
}

func (l lateFindings) ReviewURL(a *access.Alert) string {
	s, err := l.svc()
	if err != nil {
		return ""
	}
	return s.ReviewURL(a)
}

// alertForwarder posts security alerts of catalog apps to the notification
// integrations that carry the alerts category for the app (text only:
// the buttons live on the alert channel's message).
type alertForwarder struct{ svc *integrations.Service }

func (f alertForwarder) ForwardAlert(ctx context.Context, m findings.Message) error {
	a := m.Alert
	var text strings.Builder
	text.WriteString("🔔 Security alert (" + string(a.Type) + "): " + a.Title)
	for _, d := range a.Details {
		text.WriteString("\n• " + d)
	}
	if m.ReviewURL != "" {
		text.WriteString("\nReview in Sesame: " + m.ReviewURL)
	}
	_, err := f.svc.Post(ctx, integrations.CategoryAlerts, a.AppID, "alert/"+a.ID, integrations.Message{Text: text.String()})
	return err
}
