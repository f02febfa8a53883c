package ui

import (
	"context"
	"net/http"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/store"
)

// Integrations is what the integrations page calls
// (*integrations.Service): the list with health, and "send test
// message", which checks on the server that the actor is an admin and
// audits.
type Integrations interface {
	List(ctx context.Context) ([]*store.Integration, error)
	Backlogs(ctx context.Context) (map[string]integrations.Backlog, error)
	Test(ctx context.Context, actor *access.User, id string) (integrations.TestResult, error)
}

// IntegrationPages are the notification integration pages, for
// Config.Pages: /settings/integrations (admins: every integration, its
// destination (webhook URLs masked), what it covers and carries, its
// delivery health) and the Send test message button.
func IntegrationPages(svc Integrations) []Page {
	p := &integrationPages{svc: svc}
	return []Page{
		{Method: http.MethodGet, Path: "/settings/integrations", Access: AccessAdmin, Nav: "settings", Handle: p.list},
		{Method: http.MethodPost, Path: "/settings/integrations/{id}/test", Access: AccessAdmin, Handle: p.test},
	}
}

type integrationPages struct{ svc Integrations }

type integrationRow struct {
	*store.Integration
	Backlog integrations.Backlog
}

type integrationsView struct {
	Integrations []integrationRow
	Failing      int
	Menu         []menuItem
}

func (p *integrationPages) list(_ *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error {
	list, err := p.svc.List(r.Context())
	if err != nil {
		return err
	}
	backlogs, err := p.svc.Backlogs(r.Context())
	if err != nil {
		return err
	}
	v := integrationsView{Menu: settingsMenu()}
	for _, i := range list {
		v.Integrations = append(v.Integrations, integrationRow{Integration: i, Backlog: backlogs[i.ID]})
		if i.Health == store.HealthFailing {
			v.Failing++
		}
	}
	return c.Render(w, http.StatusOK, "integrations", v)
}

func (p *integrationPages) test(_ *Handler, c *Ctx, w http.ResponseWriter, r *http.Request) error {
	res, err := p.svc.Test(r.Context(), c.User, r.PathValue("id"))
	if err != nil {
		return err
	}
	if res.OK {
		return c.Done(w, "/settings/integrations", "Test message sent.")
	}
	return c.Done(w, "/settings/integrations", "The test message failed: Slack answered "+res.Error+".")
}
