package ui

import (
	"net/http"

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
	return c.Render(w, http.StatusOK, "home", homeView{Mine: mine, Waiting: waiting, Active: grants,
		LinkHint: h.cfg.SlackLinker != nil && c.User.SlackUserID == ""})
}

// waitingFor returns pending requests c.User may decide now, at most
// limit (pages of the approver index until enough are found).
func (h *Handler) waitingFor(c *Ctx, limit int) ([]*access.Request, error) {
	var out []*access.Request
	cursor := ""
	for range 20 {
		page, next, err := h.st.RequestList(c.R.Context(), store.RequestListParams{Page: store.Page{Cursor: cursor, Limit: 200},
			ApproverID: c.User.ID, States: []access.RequestState{access.RequestPending}})
		if err != nil {
			return nil, err
		}
		for _, req := range page {
			if _, err := req.CheckDecider(c.User); err == nil {
				out = append(out, req)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}
