package ui

import (
	"net/http"
	"slices"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func homePages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/{$}", Nav: "home", Handle: (*Handler).home},
	}
}

type homeView struct {
	Mine     []*access.Request
	Waiting  []*access.Request
	Active   []*access.Grant
	LinkHint bool
}

// openStates are requests still in motion.
var openStates = []access.RequestState{access.RequestPending, access.RequestApproved, access.RequestActive} //nolint:gochecknoglobals // constant list

func (h *Handler) home(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	mine, _, err := h.st.RequestList(ctx, store.RequestListParams{Page: store.Page{Limit: 50}, RequesterID: c.User.ID, States: openStates})
	if err != nil {
		return err
	}
	waiting, err := h.waitingFor(c, 50)
	if err != nil {
		return err
	}
	grants, _, err := h.st.GrantList(ctx, store.GrantListParams{Page: store.Page{Limit: 100}, UserID: c.User.ID,
		States: []access.GrantState{access.GrantActive, access.GrantPending, access.GrantProvisioning}})
	if err != nil {
		return err
	}
	if err := c.preloadRows(slices.Concat(mine, waiting), grants); err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "home", homeView{Mine: mine, Waiting: waiting, Active: grants,
		LinkHint: h.cfg.SlackLinker != nil && c.User.SlackUserID == ""})
}

// waitingFor returns pending requests c.User may decide now (eligible at
// the current step, not decided yet), at most limit.
func (h *Handler) waitingFor(c *Ctx, limit int) ([]*access.Request, error) {
	reqs, err := h.st.RequestListAwaiting(c.R.Context(), c.User.ID, 500)
	if err != nil {
		return nil, err
	}
	out := make([]*access.Request, 0, min(limit, len(reqs)))
	for _, req := range reqs {
		if _, err := req.CheckDecider(c.User); err == nil {
			out = append(out, req)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
