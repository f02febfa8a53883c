package scimserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// userChange is what saveUser did, for the work after commit.
type userChange struct {
	du *store.DirectoryUser
	u  *access.User
	// offboard is set when the pushed user is inactive and the Sesame user
	// still active: Offboard runs after commit.
	offboard bool
	created  bool
}

// saveUser maps d onto the Sesame user and stores both; existing is nil on
// create. Fields SCIM does not own (Slack ID, roles, groups) are kept.
func (s *Server) saveUser(ctx context.Context, q store.Queries, now time.Time, existing *store.DirectoryUser, d doc) (*userChange, error) {
	if err := normalizeUser(d); err != nil {
		return nil, err
	}
	f, err := mapUser(d)
	if err != nil {
		return nil, err
	}
	ch := &userChange{}
	var u *access.User
	// recreated is set when the user is adopted again after this or another
	// SCIM client deleted or deactivated them.
	recreated := false
	if existing == nil {
		_, n, err := q.DirectoryUserList(ctx, store.DirectoryListParams{UserName: f.UserName})
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, errUniqueness(fmt.Sprintf("userName %q is taken", f.UserName))
		}
		u, err = q.UserGetByEmail(ctx, f.Email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			u = &access.User{ID: ids.New("usr", now), Status: access.UserActive, CreatedAt: now}
		case err != nil:
			return nil, fmt.Errorf("load user: %w", err)
		default:
			// A person from the config file (or an earlier sync) is adopted.
			if err := q.DirectoryLockUser(ctx, u.ID); err != nil {
				return nil, err
			}
			if u, err = q.UserGetByID(ctx, u.ID); err != nil {
				return nil, fmt.Errorf("load user: %w", err)
			}
			if _, err := q.DirectoryUserGet(ctx, u.ID); err == nil {
				return nil, errUniqueness(fmt.Sprintf("a user with email %s is already provisioned", f.Email))
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if u.Status == access.UserOffboarded {
				if recreated, err = offboardedByProvider(ctx, q, u.ID); err != nil {
					return nil, err
				}
			}
		}
		ch.created = true
	} else {
		taken, _, err := q.DirectoryUserList(ctx, store.DirectoryListParams{UserName: f.UserName, Limit: 2})
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(taken, func(o *store.DirectoryUser) bool { return o.UserID != existing.UserID }) {
			return nil, errUniqueness(fmt.Sprintf("userName %q is taken", f.UserName))
		}
		if err := q.DirectoryLockUser(ctx, existing.UserID); err != nil {
			return nil, fmt.Errorf("lock user %s: %w", existing.UserID, err)
		}
		u, err = q.UserGetByID(ctx, existing.UserID)
		if err != nil {
			return nil, fmt.Errorf("load user %s: %w", existing.UserID, err)
		}
	}
	before := *u
	emailChanged := before.Email != "" && !strings.EqualFold(before.Email, f.Email)
	if emailChanged {
		if why := s.emailOwnedBySesame(&before); why != "" {
			return nil, &emailRefusedError{
				scimError: &scimError{Status: http.StatusBadRequest, ScimType: "mutability", Detail: fmt.Sprintf(
					"the email of %s cannot be changed over SCIM: the person %s, and Sesame signs people in by email; "+
						"change it in the config file (or remove their roles) first", before.Email, why)},
				userID: u.ID, from: before.Email, to: f.Email, userName: f.UserName, why: why}
		}
	}
	u.Email, u.Name = f.Email, f.Name
	u.ManagerID, err = resolveManager(ctx, q, u.ID, f.ManagerID)
	if err != nil {
		return nil, err
	}
	// Only the provider's own deactivation (or deletion, undone by creating
	// the user again) is undone by its reactivation: a person an admin
	// offboarded while the provider still had them active stays offboarded.
	reactivated := f.Active && u.Status == access.UserOffboarded &&
		(existing != nil && !resourceActive(existing.Resource) || recreated)
	if reactivated {
		u.Status = access.UserActive
	}
	ch.offboard = !f.Active && u.Status == access.UserActive
	u.UpdatedAt = now
	if err := q.UserUpsert(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errUniqueness(fmt.Sprintf("email %s belongs to another user", f.Email))
		}
		return nil, fmt.Errorf("save user: %w", err)
	}
	res, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	du := existing
	if du == nil {
		du = &store.DirectoryUser{UserID: u.ID, ClientID: clientID(ctx), CreatedAt: now}
	}
	du.UserName, du.ExternalID, du.Resource, du.UpdatedAt = f.UserName, f.ExternalID, res, now
	if existing == nil {
		err = q.DirectoryUserCreate(ctx, du)
	} else {
		err = q.DirectoryUserUpdate(ctx, du)
	}
	if err != nil {
		// Uniqueness was checked above: a conflict here is a race with a
		// concurrent write, which inTx retries.
		return nil, err
	}
	action := "scim.user.updated"
	if ch.created {
		action = "scim.user.created"
	}
	var beforeSnap any
	if !ch.created || before.Email != "" {
		beforeSnap = &before
	}
	if err := audit(ctx, q, now, action, "user", u.ID, beforeSnap, u, map[string]any{"userName": f.UserName, "externalId": f.ExternalID}); err != nil {
		return nil, err
	}
	if emailChanged {
		if err := audit(ctx, q, now, "user.email_changed", "user", u.ID, nil, nil,
			map[string]any{"old": before.Email, "new": u.Email, "userName": f.UserName}); err != nil {
			return nil, err
		}
	}
	if reactivated {
		var data map[string]any
		if recreated {
			data = map[string]any{"reason": "created again by the SCIM client after a SCIM deletion or deactivation"}
		}
		if err := audit(ctx, q, now, "user.reactivated", "user", u.ID, nil, nil, data); err != nil {
			return nil, err
		}
	}
	ch.du, ch.u = du, u
	return ch, nil
}

// emailRefusedError is the refusal of a SCIM push that would change the
// email of a person whose email Sesame owns; writeUser audits it.
type emailRefusedError struct {
	*scimError
	userID, from, to, userName, why string
}

func (e *emailRefusedError) Unwrap() error { return e.scimError }

// emailOwnedBySesame says why u's email may not be changed over SCIM ("" if
// it may): dashboard sign-in matches people by email, so moving the email
// of an admin, an auditor or a person of the config file (whose roles the
// file restores) to an address the provider controls would hand that
// address their access.
func (s *Server) emailOwnedBySesame(u *access.User) string {
	if len(u.Roles) > 0 {
		roles := make([]string, len(u.Roles))
		for i, r := range u.Roles {
			roles[i] = string(r)
		}
		return "holds the Sesame roles " + strings.Join(roles, ", ")
	}
	if s.configEmails[strings.ToLower(u.Email)] {
		return "is listed in the config file"
	}
	return ""
}

// auditRefusedEmailChange records a refused email change as a security
// event, in its own transaction (the push's was rolled back).
func (s *Server) auditRefusedEmailChange(ctx context.Context, now time.Time, e *emailRefusedError) error {
	return s.st.InTx(ctx, func(q store.Queries) error {
		return audit(ctx, q, now, "scim.email_change_refused", "user", e.userID, nil, nil,
			map[string]any{"old": e.from, "new": e.to, "userName": e.userName, "reason": e.why, "security": true})
	})
}

// offboardedByProvider reports whether the last offboarding of userID was
// a SCIM client's (a deactivation or deletion), not an admin's.
func offboardedByProvider(ctx context.Context, q store.Queries, userID string) (bool, error) {
	evs, _, err := q.EventList(ctx, store.EventListParams{Page: store.Page{Limit: 1}, Action: "user.offboarded",
		SubjectType: "user", SubjectID: userID})
	if err != nil {
		return false, fmt.Errorf("load offboarding of %s: %w", userID, err)
	}
	return len(evs) == 1 && strings.HasPrefix(evs[0].ActorID, workflow.ScimActorPrefix), nil
}

// resolveManager returns the Sesame user ID of the manager a SCIM user
// names: a SCIM id (= a Sesame user ID) or, failing that, an externalId.
// An unknown manager is no manager (the raw value stays in the resource
// and is resolved again on the next update).
func resolveManager(ctx context.Context, q store.Queries, self, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	if ref == self {
		return "", errInvalidValue("a user cannot be their own manager")
	}
	if u, err := q.UserGetByID(ctx, ref); err == nil {
		return u.ID, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	list, _, err := q.DirectoryUserList(ctx, store.DirectoryListParams{ExternalID: ref, Limit: 2})
	if err != nil {
		return "", err
	}
	if len(list) == 1 && list[0].UserID != self {
		return list[0].UserID, nil
	}
	return "", nil
}

func clientID(ctx context.Context) string {
	if c := clientFrom(ctx); c != nil {
		return c.ID
	}
	return access.SystemActor
}

// renderUser is the SCIM representation of a directory user.
func (s *Server) renderUser(ctx context.Context, q store.Queries, du *store.DirectoryUser) (doc, error) {
	d, err := parseDoc(du.Resource)
	if err != nil {
		return nil, fmt.Errorf("stored resource of %s: %w", du.UserID, err)
	}
	schemas := []string{SchemaUser}
	if d.obj(SchemaEnterprise) != nil {
		schemas = append(schemas, SchemaEnterprise)
	}
	d["schemas"] = schemas
	d["id"] = du.UserID
	if _, ok := d.get("active"); !ok {
		d["active"] = true
	}
	// A person Sesame has offboarded is never reported active (an admin's
	// offboarding stands while the provider still has them active).
	u, err := q.UserGetByID(ctx, du.UserID)
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", du.UserID, err)
	}
	if u.Status != access.UserActive {
		d.set("active", false)
	}
	groups, _, err := q.DirectoryGroupList(ctx, store.DirectoryListParams{Member: du.UserID, Limit: maxDirectoryGroupsPerUser})
	if err != nil {
		return nil, err
	}
	if len(groups) > 0 {
		gl := make([]any, len(groups))
		for i, g := range groups {
			gl[i] = map[string]any{"value": g.ID, "display": g.DisplayName, "$ref": s.location("Groups", g.ID), "type": "direct"}
		}
		d["groups"] = gl
	}
	d["meta"] = s.meta("Users", du.UserID, du.CreatedAt, du.UpdatedAt, du.Version)
	return d, nil
}

// maxDirectoryGroupsPerUser bounds the groups rendered on a user.
const maxDirectoryGroupsPerUser = 1000

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	if in, ok := s.input(w, r, false); ok {
		s.writeUser(w, r, "", in, http.StatusCreated)
	}
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) {
	if in, ok := s.input(w, r, false); ok {
		s.writeUser(w, r, r.PathValue("id"), in, http.StatusOK)
	}
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	if in, ok := s.input(w, r, true); ok {
		s.writeUser(w, r, r.PathValue("id"), in, http.StatusOK)
	}
}

// writeUser creates (id "") or updates a user from a document (POST, PUT)
// or a patch, then offboards a deactivated person after commit.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, id string, in any, status int) {
	ctx := r.Context()
	now := s.now()
	var ch *userChange
	var out doc
	err := s.inTx(ctx, func(q store.Queries) error {
		var existing *store.DirectoryUser
		var d doc
		if id != "" {
			if err := q.DirectoryLockUser(ctx, id); errors.Is(err, store.ErrNotFound) {
				return errNotFound("user " + id + " not found")
			} else if err != nil {
				return err
			}
			du, err := q.DirectoryUserGet(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return errNotFound("user " + id + " not found")
			}
			if err != nil {
				return err
			}
			existing = du
		}
		switch v := in.(type) {
		case doc:
			d = v.clone()
			if id != "" {
				// PUT replaces the resource; the externalId stays unless given.
				if _, ok := d.get("externalId"); !ok && existing.ExternalID != "" {
					d["externalId"] = existing.ExternalID
				}
			}
		case *patchRequest:
			cur, err := parseDoc(existing.Resource)
			if err != nil {
				return fmt.Errorf("stored resource of %s: %w", id, err)
			}
			if err := v.apply(cur); err != nil {
				return err
			}
			d = cur
		}
		var err error
		ch, err = s.saveUser(ctx, q, now, existing, d)
		if err != nil {
			return err
		}
		out, err = s.renderUser(ctx, q, ch.du)
		return err
	})
	if err != nil {
		if rf, ok := errors.AsType[*emailRefusedError](err); ok {
			if aerr := s.auditRefusedEmailChange(ctx, now, rf); aerr != nil {
				s.log.ErrorContext(ctx, "scim: audit a refused email change", "user", rf.userID, "err", aerr)
			}
			s.log.WarnContext(ctx, "scim: refused an email change", "user", rf.userID, "old", rf.from, "new", rf.to, "reason", rf.why)
		}
		s.fail(w, r, err)
		return
	}
	if ch.offboard {
		c := clientFrom(ctx)
		if _, err := s.off.Offboard(ctx, c.ID, ch.u.ID, "deactivated by SCIM client "+c.Name); err != nil {
			// The resource says inactive; the identity provider retries the
			// call, and the next write offboards again (idempotent).
			s.fail(w, r, fmt.Errorf("offboard %s: %w", ch.u.ID, err))
			return
		}
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", s.location("Users", ch.du.UserID))
	}
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, ch.du.Version))
	writeJSON(w, status, projection(r)(out))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	du, err := s.st.DirectoryUserGet(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errNotFound("user "+r.PathValue("id")+" not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.renderUser(ctx, s.st, du)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, du.Version))
	writeJSON(w, http.StatusOK, projection(r)(d))
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := s.st.DirectoryUserGet(ctx, id); errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errNotFound("user "+id+" not found"))
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	c := clientFrom(ctx)
	if _, err := s.off.Offboard(ctx, c.ID, id, "deleted by SCIM client "+c.Name); err != nil {
		s.fail(w, r, fmt.Errorf("offboard %s: %w", id, err))
		return
	}
	now := s.now()
	err := s.inTx(ctx, func(q store.Queries) error {
		du, err := q.DirectoryUserGet(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		groups, _, err := q.DirectoryGroupList(ctx, store.DirectoryListParams{Member: id, Limit: maxDirectoryGroupsPerUser})
		if err != nil {
			return err
		}
		if err := q.DirectoryUserDelete(ctx, id); err != nil {
			return err
		}
		names := make([]string, len(groups))
		for i, g := range groups {
			names[i] = g.DisplayName
		}
		if err := editUserGroups(ctx, q, now, id, names, ""); err != nil {
			return err
		}
		return audit(ctx, q, now, "scim.user.deleted", "user", id, nil, nil,
			map[string]any{"userName": du.UserName, "externalId": du.ExternalID, "groups": names})
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// editUserGroups removes the group names in remove from the user's
// Groups and adds add (when not ""), keeping every other group.
func editUserGroups(ctx context.Context, q store.Queries, now time.Time, userID string, remove []string, add string) error {
	if err := q.DirectoryLockUser(ctx, userID); err != nil {
		return fmt.Errorf("lock user %s: %w", userID, err)
	}
	u, err := q.UserGetByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("load user %s: %w", userID, err)
	}
	groups := slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return slices.Contains(remove, g) })
	if add != "" && !slices.Contains(groups, add) {
		groups = append(groups, add)
	}
	if slices.Equal(groups, u.Groups) {
		return nil
	}
	u.Groups = groups
	u.UpdatedAt = now
	if err := q.UserUpsert(ctx, u); err != nil {
		return fmt.Errorf("save groups of %s: %w", userID, err)
	}
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, false)
}

// list answers GET /Users and GET /Groups: the filter's indexed equality
// tests narrow the candidates in the store, the whole filter is evaluated
// on each, and startIndex/count page the matches.
func (s *Server) list(w http.ResponseWriter, r *http.Request, groups bool) {
	ctx := r.Context()
	if r.URL.Query().Get("sortBy") != "" {
		s.fail(w, r, &scimError{Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: "sorting is not supported (ServiceProviderConfig sort.supported is false)"})
		return
	}
	start, count, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	expr, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	proj := projection(r)
	needMembers := groups && strings.Contains(strings.ToLower(r.URL.Query().Get("filter")), "members")
	withMembers := groups && (needMembers || wantsMembers(r))
	var items []any
	total := 0
	p := pushdown(expr, groups)
	if expr == nil || (narrowed(p) && exactPushdown(expr)) {
		// The store answers the whole filter: page in the store.
		p.Offset, p.Limit = start-1, count
		var docs []doc
		if groups {
			docs, total, err = s.groupPage(ctx, p, withMembers)
		} else {
			docs, total, err = s.userPage(ctx, p)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, d := range docs {
			items = append(items, proj(d))
		}
		writeJSON(w, http.StatusOK, listResponse(total, start, items))
		return
	}
	// Evaluate the filter on the candidates, a store page at a time.
	for off := 0; ; off += maxCount {
		p.Offset, p.Limit = off, maxCount
		var docs []doc
		var n int
		if groups {
			docs, n, err = s.groupPage(ctx, p, withMembers)
		} else {
			docs, n, err = s.userPage(ctx, p)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, d := range docs {
			if !eval(d, expr) {
				continue
			}
			total++
			if total >= start && len(items) < count {
				if groups && !wantsMembers(r) {
					delete(d, "members")
				}
				items = append(items, proj(d))
			}
		}
		if off+maxCount >= n {
			break
		}
	}
	writeJSON(w, http.StatusOK, listResponse(total, start, items))
}

// exactPushdown reports whether expr is exactly one equality test that
// the store answers with the same semantics as eval (so no evaluation is
// needed): id, userName, externalId.
func exactPushdown(expr filter0) bool {
	return isExact(expr)
}

func (s *Server) userPage(ctx context.Context, p store.DirectoryListParams) ([]doc, int, error) {
	list, total, err := s.st.DirectoryUserList(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	out := make([]doc, 0, len(list))
	for _, du := range list {
		d, err := s.renderUser(ctx, s.st, du)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, nil
}

// resourceActive reads "active" of a stored resource (absent is true).
func resourceActive(raw []byte) bool {
	d, err := parseDoc(raw)
	if err != nil {
		return true
	}
	v, ok := d.get("active")
	if !ok {
		return true
	}
	b, _ := boolValue(v)
	return b
}
