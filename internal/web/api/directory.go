package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// scimJSON is what an identity provider pushed about a user over SCIM.
type scimJSON struct {
	UserName   string `json:"user_name"`
	ExternalID string `json:"external_id,omitempty"`
	// Client is the SCIM client that created the user.
	Client string `json:"client"`
}

// userDetailJSON is a user with their SCIM identity, when pushed.
type userDetailJSON struct {
	userJSON
	SCIM *scimJSON `json:"scim,omitempty"`
}

// getUser: GET /users/{id} (admins and auditors, or the user themselves).
func (h *handler) getUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if !p.privileged() && p.User.ID != id {
		return access.Errorf(access.CodeNotFound, "user %s not found", id)
	}
	u, err := h.st.UserGetByID(r.Context(), id)
	if err != nil {
		return notFound(err, "user", id)
	}
	out, err := h.userDetail(r, u)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

func (h *handler) userDetail(r *http.Request, u *access.User) (userDetailJSON, error) {
	us := newUsers(h.st)
	us.seen[u.ID] = u
	if err := us.load(r.Context(), u.ManagerID); err != nil {
		return userDetailJSON{}, err
	}
	out := userDetailJSON{userJSON: renderUser(u, us)}
	du, err := h.st.DirectoryUserGet(r.Context(), u.ID)
	switch {
	case err == nil:
		out.SCIM = &scimJSON{UserName: du.UserName, ExternalID: du.ExternalID, Client: du.ClientID}
	case !errors.Is(err, store.ErrNotFound):
		return userDetailJSON{}, fmt.Errorf("load scim user: %w", err)
	}
	return out, nil
}

// offboardBody is the body of POST /users/{id}/offboard.
type offboardBody struct {
	Reason string `json:"reason"`
}

// offboardJSON is what an offboarding did.
type offboardJSON struct {
	User              userDetailJSON `json:"user"`
	Changed           bool           `json:"changed"`
	CancelledRequests []string       `json:"cancelled_requests"`
	RevokedGrants     []string       `json:"revoked_grants"`
	Reassigned        []string       `json:"reassigned_requests"`
	Escalated         []string       `json:"escalated_requests"`
	Unapprovable      []string       `json:"unapprovable_requests"`
}

// offboardUser: POST /users/{id}/offboard {reason} (admins). The workflow
// checks the actor and does the work; a second call changes nothing.
func (h *handler) offboardUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b offboardBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	if len(b.Reason) > workflow.MaxReasonLength {
		return access.Invalid("invalid offboarding", access.FieldError{Field: "reason",
			Message: fmt.Sprintf("must be at most %d characters", workflow.MaxReasonLength)})
	}
	res, err := h.svc.Offboard(r.Context(), p.User.ID, id, b.Reason)
	if err != nil {
		return fmt.Errorf("offboard: %w", err)
	}
	u, err := h.userDetail(r, res.User)
	if err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, offboardJSON{User: u, Changed: res.Changed,
		CancelledRequests: nonNil(res.CancelledRequests), RevokedGrants: nonNil(res.RevokedGrants),
		Reassigned: nonNil(res.Reassigned), Escalated: nonNil(res.Escalated), Unapprovable: nonNil(res.Unapprovable)})
}

// listGroups: GET /groups?cursor=&limit= (admins and auditors): every
// group name, from the config file or SCIM, ordered by name.
func (h *handler) listGroups(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may list groups")
	}
	ps := newParams(r, "cursor", "limit")
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	list, next, err := h.st.GroupList(r.Context(), pg)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	out := page[store.Group]{Items: make([]store.Group, 0, len(list)), NextCursor: next}
	for _, g := range list {
		out.Items = append(out.Items, *g)
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// maxGroupName is the longest group name (SCIM displayName) looked up.
const maxGroupName = 256

// groupDetailJSON is a group and a page of its members.
type groupDetailJSON struct {
	store.Group
	MemberPage page[userJSON] `json:"member_page"`
}

// getGroup: GET /groups/{id}?cursor=&limit= (admins and auditors): the
// group (by name, or by SCIM id) and a page of its members by email.
func (h *handler) getGroup(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.privileged() {
		return forbidden("only admins and auditors may see groups")
	}
	id := r.PathValue("id")
	if id == "" || len(id) > maxGroupName {
		return access.Invalid("invalid id", access.FieldError{Field: "id", Message: fmt.Sprintf("must be 1 to %d characters", maxGroupName)})
	}
	ps := newParams(r, "cursor", "limit")
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	g, err := h.st.GroupGet(r.Context(), id)
	if err != nil {
		return notFound(err, "group", id)
	}
	list, next, err := h.st.UserList(r.Context(), store.UserListParams{Page: pg, Group: g.Name})
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	us := newUsers(h.st)
	for _, u := range list {
		us.seen[u.ID] = u
	}
	if err := us.load(r.Context(), userIDs(list, func(u *access.User) []string { return []string{u.ManagerID} })...); err != nil {
		return err
	}
	out := groupDetailJSON{Group: *g, MemberPage: page[userJSON]{Items: make([]userJSON, 0, len(list)), NextCursor: next}}
	for _, u := range list {
		out.MemberPage.Items = append(out.MemberPage.Items, renderUser(u, us))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}
