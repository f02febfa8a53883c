package ui

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/connector"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/workflow"
)

func accessPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/access", Nav: "access", Handle: (*Handler).grants},
		{Method: http.MethodGet, Path: "/access/{id}", Nav: "access", Handle: (*Handler).grant},
		{Method: http.MethodPost, Path: "/access/{id}/revoke", Handle: (*Handler).revoke},
		{Method: http.MethodPost, Path: "/access/{id}/extend", Handle: (*Handler).extend},
		{Method: http.MethodPost, Path: "/access/{id}/extension", Handle: (*Handler).askExtension},
		{Method: http.MethodPost, Path: "/access/{id}/credentials", Handle: (*Handler).credentials},
	}
}

type grantsView struct {
	Grants   []*access.Grant
	App      string
	User     string
	Expiring string
	Next     string
	All      bool
}

// grants lists active grants: everyone's for admins and auditors, the
// user's own otherwise; filters by app, user (email) and "expiring
// within".
func (h *Handler) grants(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := grantsView{App: strings.TrimSpace(q.Get("app")), User: strings.TrimSpace(q.Get("user")), Expiring: q.Get("expiring"), All: c.Privileged()}
	p := store.GrantListParams{Page: store.Page{Cursor: q.Get("cursor"), Limit: 100}, AppID: v.App,
		States: []access.GrantState{access.GrantActive, access.GrantPending, access.GrantProvisioning, access.GrantRevoking, access.GrantRevokeFailed}}
	switch {
	case !c.Privileged():
		p.UserID = c.User.ID
	case v.User != "":
		u, err := h.st.UserGetByEmail(r.Context(), strings.ToLower(v.User))
		if errors.Is(err, store.ErrNotFound) {
			return access.Invalid("bad filter", access.FieldError{Field: "user", Message: "no user has the email " + v.User})
		}
		if err != nil {
			return err
		}
		p.UserID = u.ID
	}
	if v.Expiring != "" {
		d, err := access.ParseDuration(v.Expiring)
		if err != nil {
			return access.Invalid("bad filter", access.FieldError{Field: "expiring", Message: err.Error()})
		}
		p.ExpiringBefore = c.Now.Add(d)
		p.States = []access.GrantState{access.GrantActive}
	}
	list, next, err := h.st.GrantList(r.Context(), p)
	if err != nil {
		return err
	}
	v.Grants, v.Next = list, next
	if err := c.preloadRows(nil, list); err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "access", v)
}

type grantView struct {
	G         *access.Grant
	App       *access.App
	CanRevoke bool
	CanExtend bool
	// CanAsk: the holder may ask for more time (an extension request).
	CanAsk      bool
	Credentials *connector.Credentials
	HasCreds    bool
}

// loadGrant returns a grant c.User may see: the holder, an owner of the
// app, an admin or an auditor. Others get not found.
func (h *Handler) loadGrant(c *Ctx, id string) (*access.Grant, *access.App, error) {
	g, err := h.st.GrantGetByID(c.R.Context(), id, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, access.Errorf(access.CodeNotFound, "grant %s not found", id)
	}
	if err != nil {
		return nil, nil, err
	}
	app, err := h.st.AppGetByID(c.R.Context(), g.AppID)
	if err != nil {
		return nil, nil, err
	}
	if g.UserID != c.User.ID && !c.Privileged() && !slices.Contains(app.Owners, c.User.ID) {
		return nil, nil, access.Errorf(access.CodeNotFound, "grant %s not found", id)
	}
	return g, app, nil
}

func (h *Handler) grantView(c *Ctx, id string) (*grantView, error) {
	g, app, err := h.loadGrant(c, id)
	if err != nil {
		return nil, err
	}
	owner := slices.Contains(app.Owners, c.User.ID)
	live := g.State == access.GrantActive || g.State == access.GrantPending || g.State == access.GrantProvisioning
	return &grantView{G: g, App: app, CanRevoke: live && (g.UserID == c.User.ID || owner || c.Admin()),
		CanExtend: g.State == access.GrantActive && g.UserID != c.User.ID && (owner || c.Admin()),
		CanAsk:    g.State == access.GrantActive && g.UserID == c.User.ID,
		HasCreds:  g.Credentials != "" && g.UserID == c.User.ID && g.State == access.GrantActive}, nil
}

func (h *Handler) grant(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	v, err := h.grantView(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.Render(w, http.StatusOK, "grant", v)
}

func (h *Handler) revoke(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > 500 {
		return access.Invalid("invalid revocation", access.FieldError{Field: "reason", Message: "must be at most 500 characters"})
	}
	g, err := h.svc.RevokeNow(r.Context(), c.User.ID, r.PathValue("id"), reason)
	if err != nil {
		return err
	}
	return c.Done(w, "/access/"+g.ID, "Revocation started: the grant is "+string(g.State)+".")
}

func (h *Handler) extend(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	d, err := access.ParseDuration(strings.TrimSpace(r.PostFormValue("duration")))
	if err != nil {
		return access.Invalid("invalid extension", access.FieldError{Field: "duration", Message: err.Error()})
	}
	g, err := h.svc.Extend(r.Context(), c.User.ID, r.PathValue("id"), d)
	if err != nil {
		return err
	}
	return c.Done(w, "/access/"+g.ID, "Extended: now expires "+g.ExpiresAt.UTC().Format(time.DateTime)+" UTC.")
}

// askExtension is the holder asking for more time: an extension request
// that the policy's extension rule decides (workflow.RequestExtension
// checks the holder, the caps and the rule).
func (h *Handler) askExtension(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	var d time.Duration
	if v := strings.TrimSpace(r.PostFormValue("duration")); v != "" {
		var err error
		if d, err = access.ParseDuration(v); err != nil {
			return access.Invalid("invalid extension request", access.FieldError{Field: "duration", Message: err.Error()})
		}
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > 2000 {
		return access.Invalid("invalid extension request", access.FieldError{Field: "reason", Message: "must be at most 2000 characters"})
	}
	req, err := h.svc.RequestExtension(r.Context(), c.User.ID, workflow.ExtensionParams{GrantID: r.PathValue("id"), Duration: d, Reason: reason})
	if err != nil {
		return err
	}
	msg := "Extension requested: it waits for approval."
	if req.State == access.RequestExtended {
		msg = "Extended at once, as the policy allows."
	} else if req.State != access.RequestPending {
		msg = "Extension request " + string(req.State) + "."
	}
	return c.Done(w, "/requests/"+req.ID, msg)
}

// credentials hands over the grant's one-time credentials and shows them
// once (the page is not cached; Sesame deletes its copy).
func (h *Handler) credentials(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	creds, err := h.svc.TakeCredentials(r.Context(), c.User.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := h.grantView(c, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.Credentials = creds
	return c.Render(w, http.StatusOK, "grant", v)
}
