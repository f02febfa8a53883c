package api

import (
	"net/http"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/integrations"
	"github.com/sesame-access/sesame/internal/store"
)

// integrationJSON is a notification integration. The webhook URL is never
// returned: WebhookURL is its mask.
type integrationJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Source     string     `json:"source"`
	Kind       string     `json:"kind"`
	Channel    string     `json:"channel,omitempty"`
	WebhookURL string     `json:"webhook_url,omitempty"`
	Covers     []string   `json:"covers"`
	Categories []string   `json:"categories"`
	Health     healthJSON `json:"health"`
	Version    int        `json:"version"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// healthJSON is an integration's delivery health: Waiting messages
// (pending, or held while it fails) and Failed ones (refused by Slack).
type healthJSON struct {
	Status    string    `json:"status"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	LastOKAt  time.Time `json:"last_ok_at,omitzero"`
	Waiting   int       `json:"waiting"`
	Failed    int       `json:"failed"`
}

func renderIntegration(i *store.Integration, b integrations.Backlog) integrationJSON {
	return integrationJSON{ID: i.ID, Name: i.Name, Source: i.Source, Kind: i.Kind, Channel: i.Channel, WebhookURL: i.WebhookMask,
		Covers: nonNil(i.Covers), Categories: nonNil(i.Categories),
		Health: healthJSON{Status: i.Health, LastError: i.LastError, Since: utc(i.FailingSince), LastOKAt: utc(i.LastOKAt),
			Waiting: b.Waiting, Failed: b.Failed},
		Version: i.Version, CreatedAt: utc(i.CreatedAt), UpdatedAt: utc(i.UpdatedAt)}
}

// renderWithBacklog renders i with its backlog.
func renderWithBacklog(r *http.Request, svc *integrations.Service, i *store.Integration) (integrationJSON, error) {
	bs, err := svc.Backlogs(r.Context())
	if err != nil {
		return integrationJSON{}, err
	}
	return renderIntegration(i, bs[i.ID]), nil
}

// integrationsFor returns the service, refusing non-admins.
func (h *handler) integrationsFor(p *principal) (*integrations.Service, error) {
	if !p.admin() {
		return nil, forbidden("only admins manage integrations")
	}
	if h.integrations == nil {
		return nil, access.Errorf(access.CodeUnavailable, "integrations are not enabled on this server")
	}
	return h.integrations, nil
}

// listIntegrations: GET /integrations (admins) lists every integration
// with its health, by name. Not paged.
// integrationAt returns the service and the {id} of a request on one
// integration, refusing non-admins and query parameters.
func (h *handler) integrationAt(r *http.Request, p *principal) (*integrations.Service, string, error) {
	svc, err := h.integrationsFor(p)
	if err != nil {
		return nil, "", err
	}
	id, err := pathID(r)
	if err != nil {
		return nil, "", err
	}
	if err := newParams(r).Err(); err != nil {
		return nil, "", err
	}
	return svc, id, nil
}

func (h *handler) listIntegrations(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := h.integrationsFor(p)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	is, err := svc.List(r.Context())
	if err != nil {
		return err
	}
	bs, err := svc.Backlogs(r.Context())
	if err != nil {
		return err
	}
	out := page[integrationJSON]{Items: make([]integrationJSON, 0, len(is))}
	for _, i := range is {
		out.Items = append(out.Items, renderIntegration(i, bs[i.ID]))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// getIntegration: GET /integrations/{id} (admins).
func (h *handler) getIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, id, err := h.integrationAt(r, p)
	if err != nil {
		return err
	}
	i, err := svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	out, err := renderWithBacklog(r, svc, i)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// integrationBody is the body of POST /integrations.
type integrationBody struct {
	Name       string   `json:"name"`
	WebhookURL string   `json:"webhook_url"`
	Channel    string   `json:"channel"`
	Covers     []string `json:"covers"`
	Categories []string `json:"categories"`
}

// createIntegration: POST /integrations (admins) → 201 with the
// integration (its webhook URL masked), audited.
func (h *handler) createIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := h.integrationsFor(p)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b integrationBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	i, err := svc.Create(r.Context(), p.User, integrations.Spec{Name: b.Name, WebhookURL: b.WebhookURL, Channel: b.Channel,
		Covers: b.Covers, Categories: b.Categories})
	if err != nil {
		return err
	}
	w.Header().Set("Location", h.url("/integrations/"+i.ID))
	return h.writeJSON(w, r, http.StatusCreated, renderIntegration(i, integrations.Backlog{}))
}

// integrationPatch is the body of PATCH /integrations/{id}: absent (or
// null) fields are kept.
type integrationPatch struct {
	Name       *string   `json:"name"`
	WebhookURL *string   `json:"webhook_url"`
	Channel    *string   `json:"channel"`
	Covers     *[]string `json:"covers"`
	Categories *[]string `json:"categories"`
}

// updateIntegration: PATCH /integrations/{id} (admins; not those from the
// configuration file, 409) → the integration, audited.
func (h *handler) updateIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, id, err := h.integrationAt(r, p)
	if err != nil {
		return err
	}
	var b integrationPatch
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	if b.WebhookURL != nil && b.Channel != nil {
		return access.Invalid("invalid integration", access.FieldError{Field: "webhook_url", Message: "set webhook_url or channel, not both"})
	}
	i, err := svc.Update(r.Context(), p.User, id, integrations.Patch{Name: b.Name, WebhookURL: b.WebhookURL, Channel: b.Channel,
		Covers: b.Covers, Categories: b.Categories})
	if err != nil {
		return err
	}
	out, err := renderWithBacklog(r, svc, i)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// deleteIntegration: DELETE /integrations/{id} (admins; not those from the
// configuration file, 409) → 204, audited.
func (h *handler) deleteIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, id, err := h.integrationAt(r, p)
	if err != nil {
		return err
	}
	if err := svc.Delete(r.Context(), p.User, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testIntegrationJSON is the answer of POST /integrations/{id}/test.
type testIntegrationJSON struct {
	integrations.TestResult
	Integration integrationJSON `json:"integration"`
}

// testIntegration: POST /integrations/{id}/test (admins) posts a test
// message now → 200 with ok (and Slack's error when it failed) and the
// integration's health after it, audited.
func (h *handler) testIntegration(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, id, err := h.integrationAt(r, p)
	if err != nil {
		return err
	}
	if _, err := readBody(w, r, true); err != nil {
		return err
	}
	res, err := svc.Test(r.Context(), p.User, id)
	if err != nil {
		return err
	}
	i, err := svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	out, err := renderWithBacklog(r, svc, i)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, testIntegrationJSON{TestResult: res, Integration: out})
}
