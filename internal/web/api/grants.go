package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

// grantJSON is access for one user to one entitlement.
type grantJSON struct {
	ID                 string    `json:"id"`
	RequestID          string    `json:"request_id"`
	User               userRef   `json:"user"`
	AppID              string    `json:"app_id"`
	EntitlementID      string    `json:"entitlement_id"`
	State              string    `json:"state"`
	Duration           string    `json:"duration"`
	DurationSeconds    int64     `json:"duration_seconds"`
	MaxDuration        string    `json:"max_duration,omitempty"`
	MaxDurationSeconds int64     `json:"max_duration_seconds"`
	ActivatedAt        time.Time `json:"activated_at,omitzero"`
	ExpiresAt          time.Time `json:"expires_at,omitzero"`
	RevokedAt          time.Time `json:"revoked_at,omitzero"`
	Attempts           int       `json:"attempts"`
	LastError          string    `json:"last_error,omitempty"`
	RevokeReason       string    `json:"revoke_reason,omitempty"`
	ManualTask         string    `json:"manual_task,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func renderGrant(g *access.Grant, us *users) grantJSON {
	return grantJSON{ID: g.ID, RequestID: g.RequestID, User: us.ref(g.UserID), AppID: g.AppID, EntitlementID: g.EntitlementID,
		State: string(g.State), Duration: durationText(g.Duration), DurationSeconds: int64(g.Duration.Seconds()),
		MaxDuration: durationText(g.MaxDuration), MaxDurationSeconds: int64(g.MaxDuration.Seconds()),
		ActivatedAt: utc(g.ActivatedAt), ExpiresAt: utc(g.ExpiresAt), RevokedAt: utc(g.RevokedAt), Attempts: g.Attempts,
		LastError: g.LastError, RevokeReason: g.RevokeReason, ManualTask: g.ManualTask,
		CreatedAt: utc(g.CreatedAt), UpdatedAt: utc(g.UpdatedAt)}
}

// revokeBody is the optional body of POST /grants/{id}/revoke.
type revokeBody struct {
	Reason string `json:"reason"`
}

// extendBody is the body of POST /grants/{id}/extend. Reason and
// Approvers apply only to the holder's extension request.
type extendBody struct {
	Duration  *string  `json:"duration"`
	Reason    *string  `json:"reason"`
	Approvers []string `json:"approvers"`
}

// ownsApp reports whether userID is an owner of app appID.
func (h *handler) ownsApp(ctx context.Context, userID, appID string) (bool, error) {
	app, err := h.st.AppGetByID(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load app: %w", err)
	}
	return slices.Contains(app.Owners, userID), nil
}

// canSeeGrant: admins and auditors, the holder, owners of the app, and
// whoever may see the grant's request (its approvers).
func (h *handler) canSeeGrant(ctx context.Context, p *principal, g *access.Grant) (bool, error) {
	if p.privileged() || g.UserID == p.User.ID {
		return true, nil
	}
	owner, err := h.ownsApp(ctx, p.User.ID, g.AppID)
	if err != nil || owner {
		return owner, err
	}
	req, err := h.st.RequestGetByID(ctx, g.RequestID, false)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load request: %w", err)
	}
	return workflow.CanView(p.User, req), nil
}

// listGrants: GET /grants?state=&active=&expiring_before=&user=&app=&request=&cursor=&limit=
// Users who are neither admins nor auditors see their own grants; with
// app=<an app they own>, every grant of that app; with request=<a request
// they may see>, its grants.
func (h *handler) listGrants(w http.ResponseWriter, r *http.Request, p *principal) error {
	ps := newParams(r, "state", "active", "expiring_before", "user", "app", "request", "cursor", "limit")
	var states []access.GrantState
	for _, s := range ps.list("state") {
		if !slices.Contains(access.GrantStates(), access.GrantState(s)) {
			ps.add("state", fmt.Sprintf("%q is not a grant state (%s)", s, joinStates(access.GrantStates())))
			continue
		}
		states = append(states, access.GrantState(s))
	}
	if ps.bool("active") {
		if len(states) > 0 {
			ps.add("active", "cannot be combined with state")
		}
		states = []access.GrantState{access.GrantActive}
	}
	before := ps.time("expiring_before")
	user := ps.user("user")
	appID, requestID := ps.id("app"), ps.id("request")
	pg := store.Page{Cursor: ps.cursor(), Limit: ps.limit()}
	if err := ps.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	userID, found, err := h.resolveUser(ctx, p, user)
	if err != nil {
		return err
	}
	allowed := p.privileged()
	if !allowed && requestID != "" {
		req, err := h.st.RequestGetByID(ctx, requestID, false)
		if err != nil {
			return notFound(err, "request", requestID)
		}
		owner, err := h.ownsApp(ctx, p.User.ID, req.AppID)
		if err != nil {
			return err
		}
		if !owner && !workflow.CanView(p.User, req) {
			return access.Errorf(access.CodeNotFound, "request %s not found", requestID)
		}
		allowed = true
	}
	if !allowed && appID != "" {
		if allowed, err = h.ownsApp(ctx, p.User.ID, appID); err != nil {
			return err
		}
	}
	if !allowed {
		if user != "" && userID != p.User.ID {
			return forbidden("you may only list your own grants, the grants of apps you own (app=...) or of requests you may see (request=...)")
		}
		userID, found = p.User.ID, true
	}
	out := page[grantJSON]{Items: []grantJSON{}}
	if !found {
		return h.writeJSON(w, r, http.StatusOK, out)
	}
	grants, next, err := h.st.GrantList(ctx, store.GrantListParams{Page: pg, States: states, UserID: userID,
		AppID: appID, RequestID: requestID, ExpiringBefore: before})
	if err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	us := newUsers(h.st)
	if err := us.load(ctx, userIDs(grants, func(g *access.Grant) []string { return []string{g.UserID} })...); err != nil {
		return err
	}
	out.NextCursor = next
	for _, g := range grants {
		out.Items = append(out.Items, renderGrant(g, us))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// getGrant: GET /grants/{id}. Grants the caller may not see are not found.
func (h *handler) getGrant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	g, err := h.st.GrantGetByID(r.Context(), id, false)
	if err != nil {
		return notFound(err, "grant", id)
	}
	ok, err := h.canSeeGrant(r.Context(), p, g)
	if err != nil {
		return err
	}
	if !ok {
		return access.Errorf(access.CodeNotFound, "grant %s not found", id)
	}
	return h.respondGrant(w, r, g)
}

func (h *handler) respondGrant(w http.ResponseWriter, r *http.Request, g *access.Grant) error {
	us := newUsers(h.st)
	if err := us.load(r.Context(), g.UserID); err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, renderGrant(g, us))
}

// revokeGrant: POST /grants/{id}/revoke {reason} (the holder, an owner of
// the app, or an admin). The grant is revoking until the connector is done.
func (h *handler) revokeGrant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b revokeBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	if len(b.Reason) > workflow.MaxReasonLength {
		return access.Invalid("invalid revocation", access.FieldError{Field: "reason",
			Message: fmt.Sprintf("must be at most %d characters", workflow.MaxReasonLength)})
	}
	g, err := h.svc.RevokeNow(r.Context(), p.User.ID, id, b.Reason)
	if err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	return h.respondGrant(w, r, g)
}

// extendGrant: POST /grants/{id}/extend {duration, reason, approvers}.
// The holder makes an extension request (201 with the request, approved
// or not as the policy's extension rule says); an owner of the app or an
// admin extends at once (200 with the grant: it expires duration from
// now). Who may do what is decided by the workflow.
func (h *handler) extendGrant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	var b extendBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	var d time.Duration
	if b.Duration != nil {
		if d, err = parseDurationField("duration", *b.Duration); err != nil {
			return err
		}
	}
	g, err := h.st.GrantGetByID(r.Context(), id, false)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load grant: %w", err)
	}
	if err == nil && g.UserID == p.User.ID {
		reason := ""
		if b.Reason != nil {
			reason = *b.Reason
		}
		req, err := h.svc.RequestExtension(r.Context(), p.User.ID, workflow.ExtensionParams{GrantID: id, Duration: d,
			Reason: reason, Approvers: b.Approvers})
		if err != nil {
			return fmt.Errorf("request extension: %w", err)
		}
		w.Header().Set("Location", h.url("/requests/"+req.ID))
		return h.respondRequest(w, r, p, req.ID, http.StatusCreated)
	}
	var fields []access.FieldError
	if b.Duration == nil {
		fields = append(fields, access.FieldError{Field: "duration", Message: "is required"})
	}
	if b.Reason != nil {
		fields = append(fields, access.FieldError{Field: "reason", Message: "applies only to the holder's extension request"})
	}
	if b.Approvers != nil {
		fields = append(fields, access.FieldError{Field: "approvers", Message: "apply only to the holder's extension request"})
	}
	if len(fields) > 0 {
		return access.Invalid("invalid extension", fields...)
	}
	g, err = h.svc.Extend(r.Context(), p.User.ID, id, d)
	if err != nil {
		return fmt.Errorf("extend grant: %w", err)
	}
	return h.respondGrant(w, r, g)
}

// completeGrant: POST /grants/{id}/complete marks a manual task done (an
// owner of the app or an admin).
func (h *handler) completeGrant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if err := decodeBody(w, r, &emptyBody{}, true); err != nil {
		return err
	}
	g, err := h.svc.CompleteTask(r.Context(), p.User.ID, id)
	if err != nil {
		return fmt.Errorf("complete task: %w", err)
	}
	return h.respondGrant(w, r, g)
}

// credentialsJSON is what POST /grants/{id}/credentials returns, once.
type credentialsJSON struct {
	GrantID  string `json:"grant_id"`
	Kind     string `json:"kind"`
	Username string `json:"username,omitempty"`
	Secret   string `json:"secret"`
	Hint     string `json:"hint,omitempty"`
}

// takeCredentials: POST /grants/{id}/credentials hands the holder the
// credentials the connector issued for the grant (a temporary password, an
// SSH certificate), once. A POST because it consumes them.
func (h *handler) takeCredentials(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	if err := decodeBody(w, r, &emptyBody{}, true); err != nil {
		return err
	}
	c, err := h.svc.TakeCredentials(r.Context(), p.User.ID, id)
	if err != nil {
		return fmt.Errorf("take credentials: %w", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	return h.writeJSON(w, r, http.StatusOK, credentialsJSON{GrantID: id, Kind: c.Kind, Username: c.Username, Secret: c.Secret, Hint: c.Hint})
}
