package scimserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
)

// maxGroupName bounds a group's displayName.
const maxGroupName = 256

// renderGroup is the SCIM representation of g; members are listed when
// withMembers.
func (s *Server) renderGroup(ctx context.Context, q store.Queries, g *store.DirectoryGroup, withMembers bool) (doc, error) {
	d := doc{"schemas": []string{SchemaGroup}, "id": g.ID, "displayName": g.DisplayName,
		"meta": s.meta("Groups", g.ID, g.CreatedAt, g.UpdatedAt, g.Version)}
	if g.ExternalID != "" {
		d["externalId"] = g.ExternalID
	}
	if withMembers {
		ids, err := q.DirectoryMemberList(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		members := make([]any, len(ids))
		for i, id := range ids {
			members[i] = map[string]any{"value": id, "$ref": s.location("Users", id), "type": "User"}
		}
		d["members"] = members
	}
	return d, nil
}

// groupPage renders a page of groups (members only when asked).
func (s *Server) groupPage(ctx context.Context, p store.DirectoryListParams, withMembers bool) ([]doc, int, error) {
	list, total, err := s.st.DirectoryGroupList(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	out := make([]doc, 0, len(list))
	for _, g := range list {
		d, err := s.renderGroup(ctx, s.st, g, withMembers)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, nil
}

// wantsMembers reports whether a response should list members: unless
// excluded, or unless attributes= names others only.
func wantsMembers(r *http.Request) bool {
	if splitAttrs(r.URL.Query().Get("excludedAttributes"))["members"] {
		return false
	}
	if inc := splitAttrs(r.URL.Query().Get("attributes")); inc != nil && !inc["members"] {
		return false
	}
	return true
}

// groupFields reads a pushed group document.
func groupFields(d doc) (name, externalID string, members []string, err error) {
	scrub(d)
	nv, _ := d.get("displayName")
	name, ok := nv.(string)
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", "", nil, errInvalidValue("displayName is required")
	}
	if len(name) > maxGroupName {
		return "", "", nil, errInvalidValue(fmt.Sprintf("displayName must be at most %d characters", maxGroupName))
	}
	if v, ok := d.get("externalId"); ok && v != nil {
		if externalID, ok = v.(string); !ok {
			return "", "", nil, errInvalidValue("externalId must be a string")
		}
	}
	for _, it := range d.list("members") {
		id, ok := itemValue(it)
		if !ok || strings.TrimSpace(id) == "" {
			return "", "", nil, errInvalidValue("every member needs a value (the user's id)")
		}
		members = append(members, strings.TrimSpace(id))
	}
	slices.Sort(members)
	return name, externalID, slices.Compact(members), nil
}

// saveGroup stores a group from d (existing nil on create), sets its
// members to d's, and mirrors names and membership into the members'
// access.User.Groups.
func (s *Server) saveGroup(ctx context.Context, q store.Queries, now time.Time, existing *store.DirectoryGroup, d doc) (*store.DirectoryGroup, error) {
	name, externalID, want, err := groupFields(d)
	if err != nil {
		return nil, err
	}
	for chunk := range slices.Chunk(want, maxCount) {
		found, _, err := q.DirectoryUserList(ctx, store.DirectoryListParams{IDs: chunk, Limit: maxCount})
		if err != nil {
			return nil, err
		}
		if len(found) != len(chunk) {
			for _, id := range chunk {
				if !slices.ContainsFunc(found, func(u *store.DirectoryUser) bool { return u.UserID == id }) {
					return nil, errInvalidValue(fmt.Sprintf("member %q is not a user provisioned over SCIM", id))
				}
			}
		}
	}
	sameName, _, err := q.DirectoryGroupList(ctx, store.DirectoryListParams{DisplayName: name, Limit: 2})
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(sameName, func(o *store.DirectoryGroup) bool { return existing == nil || o.ID != existing.ID }) {
		return nil, errUniqueness(fmt.Sprintf("a group named %q exists", name))
	}
	g := existing
	oldName := ""
	var before store.DirectoryGroup
	if g == nil {
		g = &store.DirectoryGroup{ID: ids.New("grp", now), ClientID: clientID(ctx), CreatedAt: now}
	} else {
		before = *g
		oldName = g.DisplayName
	}
	g.DisplayName, g.ExternalID, g.UpdatedAt = name, externalID, now
	if existing == nil {
		err = q.DirectoryGroupCreate(ctx, g)
	} else {
		err = q.DirectoryGroupUpdate(ctx, g)
	}
	if err != nil {
		// The name was checked above: a conflict is a race, retried.
		return nil, err
	}
	current, err := q.DirectoryMemberList(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	if oldName != "" && oldName != name {
		for _, id := range current {
			if err := editUserGroups(ctx, q, now, id, []string{oldName}, name); err != nil {
				return nil, err
			}
		}
	}
	var add, remove []string
	for _, id := range want {
		if _, found := slices.BinarySearch(current, id); !found {
			add = append(add, id)
		}
	}
	for _, id := range current {
		if _, found := slices.BinarySearch(want, id); !found {
			remove = append(remove, id)
		}
	}
	added, err := q.DirectoryMemberAdd(ctx, g.ID, add)
	if err != nil {
		return nil, err
	}
	removed, err := q.DirectoryMemberRemove(ctx, g.ID, remove)
	if err != nil {
		return nil, err
	}
	for _, id := range added {
		if err := editUserGroups(ctx, q, now, id, nil, name); err != nil {
			return nil, err
		}
	}
	for _, id := range removed {
		if err := editUserGroups(ctx, q, now, id, []string{name}, ""); err != nil {
			return nil, err
		}
	}
	action, beforeSnap := "scim.group.created", any(nil)
	if existing != nil {
		action, beforeSnap = "scim.group.updated", &before
	}
	data := map[string]any{"members_added": len(added), "members_removed": len(removed)}
	if len(added)+len(removed) <= 100 {
		data["added"], data["removed"] = added, removed
	}
	if err := audit(ctx, q, now, action, "group", g.ID, beforeSnap, g, data); err != nil {
		return nil, err
	}
	return g, nil
}

// input reads the request's body as a SCIM resource (POST, PUT) or, with
// patch, as a PATCH request, and answers the error itself when it cannot
// (ok false).
func (s *Server) input(w http.ResponseWriter, r *http.Request, patch bool) (in any, ok bool) {
	body, err := readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	if patch {
		p, err := parsePatch(body)
		if err != nil {
			s.fail(w, r, err)
			return nil, false
		}
		return p, true
	}
	d, err := parseDoc(body)
	if err != nil {
		s.fail(w, r, errInvalidSyntax(err.Error()))
		return nil, false
	}
	return d, true
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	if in, ok := s.input(w, r, false); ok {
		s.writeGroup(w, r, "", in, http.StatusCreated)
	}
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) {
	if in, ok := s.input(w, r, false); ok {
		s.writeGroup(w, r, r.PathValue("id"), in, http.StatusOK)
	}
}

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) {
	if in, ok := s.input(w, r, true); ok {
		s.writeGroup(w, r, r.PathValue("id"), in, http.StatusOK)
	}
}

// writeGroup creates (id "") or updates a group from a document or a
// patch. A PATCH answers 204 unless the client asked for attributes (what
// Okta and Entra expect); POST and PUT answer with the group.
func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, id string, in any, status int) {
	ctx := r.Context()
	now := s.now()
	var out doc
	err := s.inTx(ctx, func(q store.Queries) error {
		var existing *store.DirectoryGroup
		if id != "" {
			if err := q.DirectoryLockGroup(ctx, id); errors.Is(err, store.ErrNotFound) {
				return errNotFound("group " + id + " not found")
			} else if err != nil {
				return err
			}
			g, err := q.DirectoryGroupGet(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return errNotFound("group " + id + " not found")
			}
			if err != nil {
				return err
			}
			existing = g
		}
		var d doc
		switch v := in.(type) {
		case doc:
			d = v.clone()
		case *patchRequest:
			cur, err := s.renderGroup(ctx, q, existing, true)
			if err != nil {
				return err
			}
			if err := v.apply(cur); err != nil {
				return err
			}
			d = cur
		}
		g, err := s.saveGroup(ctx, q, now, existing, d)
		if err != nil {
			return err
		}
		out, err = s.renderGroup(ctx, q, g, wantsMembers(r))
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, isPatch := in.(*patchRequest); isPatch && r.URL.Query().Get("attributes") == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", s.location("Groups", out["id"].(string)))
	}
	writeJSON(w, status, projection(r)(out))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g, err := s.st.DirectoryGroupGet(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errNotFound("group "+r.PathValue("id")+" not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.renderGroup(ctx, s.st, g, wantsMembers(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, projection(r)(d))
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := s.now()
	err := s.inTx(ctx, func(q store.Queries) error {
		g, err := q.DirectoryGroupGet(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("group " + id + " not found")
		}
		if err != nil {
			return err
		}
		members, err := q.DirectoryMemberList(ctx, id)
		if err != nil {
			return err
		}
		for _, uid := range members {
			if err := editUserGroups(ctx, q, now, uid, []string{g.DisplayName}, ""); err != nil {
				return err
			}
		}
		if err := q.DirectoryGroupDelete(ctx, id); err != nil {
			return err
		}
		return audit(ctx, q, now, "scim.group.deleted", "group", id, g, nil, map[string]any{"members": len(members)})
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, true)
}
