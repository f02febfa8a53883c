package api

import (
	"fmt"
	"net/http"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// listUsers: GET /users?status=&group=&cursor=&limit= (admins and
// auditors), ordered by email.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may list users")
	}
	ps := newParams(r, "status", "group", "cursor", "limit")
	status := access.UserStatus(ps.one("status"))
	if status != "" && status != access.UserActive && status != access.UserOffboarded {
		ps.add("status", "must be active or offboarded")
	}
	group := ps.text("group", maxQueryLength)
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	list, next, err := h.st.UserList(r.Context(), store.UserListParams{Page: pg, Status: status, Group: group})
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	us := newUsers(h.st)
	for _, u := range list {
		us.seen[u.ID] = u
	}
	if err := us.load(r.Context(), userIDs(list, func(u *access.User) []string { return []string{u.ManagerID} })...); err != nil {
		return err
	}
	out := page[userJSON]{Items: make([]userJSON, 0, len(list)), NextCursor: next}
	for _, u := range list {
		out.Items = append(out.Items, renderUser(u, us))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}
