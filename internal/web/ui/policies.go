package ui

import (
	"net/http"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/policy"
	"github.com/sesame-access/sesame/internal/workflow"
)

func policyPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/policies", Nav: "policies", Handle: (*Handler).policies},
	}
}

type policiesView struct {
	Set       *workflow.PolicySet
	Requester string
	Ents      string
	Duration  string
	Reason    string
	Sim       *policy.Simulation
	SimErr    *access.Error
}

// policies shows the active policies and the simulator ("who could
// approve X for Y, and why"): workflow.Simulate, which lets only admins
// and auditors simulate for someone else.
func (h *Handler) policies(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	set, err := h.svc.ActivePolicies(r.Context())
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := policiesView{Set: set, Requester: strings.TrimSpace(q.Get("requester")), Ents: strings.TrimSpace(q.Get("entitlements")),
		Duration: q.Get("duration"), Reason: q.Get("reason")}
	if v.Ents != "" {
		sp := workflow.SimulateParams{RequesterEmail: v.Requester, Entitlements: strings.Fields(strings.ReplaceAll(v.Ents, ",", " ")), Reason: v.Reason}
		d, err := parseOptionalDuration(v.Duration)
		if err != nil {
			v.SimErr = access.Invalid("invalid simulation", access.FieldError{Field: "duration", Message: err.Error()})
		} else {
			sp.Duration = d
			sim, err := h.svc.Simulate(r.Context(), c.User.ID, sp)
			switch ae := asCoded(err); {
			case err == nil:
				v.Sim = sim
			case ae != nil:
				v.SimErr = ae
			default:
				return err
			}
		}
	}
	return c.Render(w, http.StatusOK, "policies", v)
}
