package ui

import (
	"errors"
	"net/http"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

func peoplePages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/people", Access: AccessPrivileged, Nav: "people", Handle: (*Handler).people},
		{Method: http.MethodGet, Path: "/people/{userID}", Nav: "people", Handle: (*Handler).person},
	}
}

type peopleView struct {
	Users []*access.User
	Group string
	Next  string
}

func (h *Handler) people(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := peopleView{Group: q.Get("group")}
	users, next, err := h.st.UserList(r.Context(), store.UserListParams{Page: store.Page{Cursor: q.Get("cursor"), Limit: 100}, Group: v.Group})
	if err != nil {
		return err
	}
	v.Users, v.Next = users, next
	return c.Render(w, http.StatusOK, "people", v)
}

type personView struct {
	U        *access.User
	Requests []*access.Request
	Grants   []*access.Grant
}

// person shows a profile, status, groups, requests and grants: to the
// person, admins and auditors (security alerts link here).
func (h *Handler) person(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("userID")
	if id != c.User.ID && !c.Privileged() {
		return access.Errorf(access.CodeNotFound, "person %s not found", id)
	}
	u, err := h.st.UserGetByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return access.Errorf(access.CodeNotFound, "person %s not found", id)
	}
	if err != nil {
		return err
	}
	reqs, _, err := h.st.RequestList(r.Context(), store.RequestListParams{Page: store.Page{Limit: 50}, RequesterID: u.ID})
	if err != nil {
		return err
	}
	grants, _, err := h.st.GrantList(r.Context(), store.GrantListParams{Page: store.Page{Limit: 100}, UserID: u.ID})
	if err != nil {
		return err
	}
	if err := c.preloadRows(reqs, grants); err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "person", personView{U: u, Requests: reqs, Grants: grants})
}
