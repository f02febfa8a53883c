package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/ids"
	"github.com/sesame-access/sesame/internal/store"
	"github.com/sesame-access/sesame/internal/web/signin"
)

func signinPages() []Page {
	return []Page{
		{Method: http.MethodGet, Path: "/login", Access: AccessPublic, Handle: (*Handler).login},
		{Method: http.MethodGet, Path: "/login/start", Access: AccessPublic, Handle: (*Handler).loginStart},
		{Method: http.MethodGet, Path: "/login/callback", Access: AccessPublic, Handle: (*Handler).loginCallback},
		{Method: http.MethodGet, Path: "/login/link/{token}", Access: AccessPublic, Handle: (*Handler).loginLink},
		{Method: http.MethodPost, Path: "/login/link", Access: AccessPublic, Handle: (*Handler).loginLinkUse},
		{Method: http.MethodPost, Path: "/logout", Handle: (*Handler).logout},
		{Method: http.MethodGet, Path: "/link/slack", Handle: (*Handler).slackLink},
		{Method: http.MethodPost, Path: "/link/slack", Handle: (*Handler).slackLinkConfirm},
	}
}

type loginView struct {
	Next     string
	OIDC     bool
	Slack    bool
	Provider string
	Token    string
}

func (h *Handler) login(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	next := signin.LocalPath(r.URL.Query().Get("next"))
	if c.User != nil {
		http.Redirect(w, r, next, http.StatusSeeOther) //nolint:gosec // G710: next went through LocalPath
		return nil
	}
	v := loginView{Next: next}
	if o := h.cfg.OIDC; o != nil {
		v.OIDC, v.Slack, v.Provider = true, o.IsSlack(), o.Issuer()
	}
	return c.Render(w, http.StatusOK, "login", v)
}

func (h *Handler) loginStart(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	if h.cfg.OIDC == nil {
		h.failStatus(c, w, http.StatusNotFound, "No identity provider", "Sign-in with an identity provider is not configured (web.oidc.issuer). Ask an admin for a sign-in link (sesame admin bootstrap).")
		return nil
	}
	to, err := h.cfg.OIDC.Begin(r.Context(), w, r.URL.Query().Get("next"))
	if err != nil {
		h.log.WarnContext(r.Context(), "oidc sign-in could not start", "err", err)
		h.failStatus(c, w, http.StatusServiceUnavailable, "Identity provider unavailable", "The identity provider cannot be reached right now; try again in a moment.")
		return nil
	}
	http.Redirect(w, r, to, http.StatusFound) //nolint:gosec // G710: the provider's authorization URL from its discovery document
	return nil
}

// refuse shows a sign-in refusal (403) and logs why.
func (h *Handler) refuse(c *Ctx, w http.ResponseWriter, reason string) {
	h.log.InfoContext(c.R.Context(), "dashboard sign-in refused", "reason", reason)
	c.render(w, http.StatusForbidden, "refused", reason)
}

func (h *Handler) loginCallback(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	if h.cfg.OIDC == nil {
		return h.notFound(c, w, r)
	}
	id, err := h.cfg.OIDC.Finish(r.Context(), w, r)
	if rf, ok := errors.AsType[*signin.RefusalError](err); ok {
		h.refuse(c, w, rf.Reason)
		return nil
	}
	if err != nil {
		return err
	}
	u, err := h.st.UserGetByEmail(r.Context(), id.Email)
	if errors.Is(err, store.ErrNotFound) {
		h.refuse(c, w, fmt.Sprintf("No Sesame user has the email %s. Ask a Sesame admin to add you (or check you signed in with the right account).", id.Email))
		return nil
	}
	if err != nil {
		return err
	}
	if !u.Active() {
		h.refuse(c, w, fmt.Sprintf("The Sesame user %s is %s and cannot sign in.", u.Email, u.Status))
		return nil
	}
	if err := h.startSession(c, w, u, "oidc", map[string]any{"subject": id.Subject, "issuer": h.cfg.OIDC.Issuer()}); err != nil {
		return err
	}
	http.Redirect(w, r, signin.LocalPath(id.Return), http.StatusSeeOther) //nolint:gosec // G710: LocalPath allows only paths on this site
	return nil
}

// startSession replaces any session of this browser with a new one for u,
// audited.
func (h *Handler) startSession(c *Ctx, w http.ResponseWriter, u *access.User, method string, data map[string]any) error {
	ctx := c.R.Context()
	if err := h.cfg.Sessions.End(w, c.R); err != nil {
		return err
	}
	if _, err := h.cfg.Sessions.Start(ctx, w, u.ID, method); err != nil {
		return err
	}
	// Expired sessions are swept at sign-in (an indexed DELETE): no
	// background loop, and every replica may.
	if n, err := h.st.WebSessionDeleteExpired(ctx, h.clock.Now().UTC()); err != nil {
		h.log.WarnContext(ctx, "delete expired dashboard sessions", "err", err)
	} else if n > 0 {
		h.log.DebugContext(ctx, "deleted expired dashboard sessions", "count", n)
	}
	if data == nil {
		data = map[string]any{}
	}
	data["method"] = method
	return h.audit(c, u.ID, "user.signed_in", "user", u.ID, data)
}

// audit appends an event (for sign-in and catalog edits; request and
// grant decisions are audited by the workflow service).
func (h *Handler) audit(c *Ctx, actorID, action, subjType, subjID string, data map[string]any) error {
	return auditQ(c.R.Context(), h.st, h.clock.Now().UTC(), actorID, action, subjType, subjID, data)
}

func auditQ(ctx context.Context, q store.Queries, now time.Time, actorID, action, subjType, subjID string, data map[string]any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("audit data: %w", err)
	}
	if err := q.EventAppend(ctx, &access.Event{ID: ids.New("evt", now), Time: now, ActorID: actorID, Action: action,
		SubjectType: subjType, SubjectID: subjID, Data: b}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

func (h *Handler) loginLink(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	return c.Render(w, http.StatusOK, "link", loginView{Token: r.PathValue("token")})
}

func (h *Handler) loginLinkUse(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return access.Errorf(access.CodeInvalid, "the form could not be read: %v", err)
	}
	l, err := signin.RedeemLink(r.Context(), h.st, strings.TrimSpace(r.PostFormValue("token")), h.clock.Now())
	if errors.Is(err, signin.ErrBadLink) {
		h.refuse(c, w, "This sign-in link is invalid, was already used, or has expired (links last 15 minutes). Ask an admin for a new one: sesame admin bootstrap --email YOU.")
		return nil
	}
	if err != nil {
		return err
	}
	u, err := h.st.UserGetByID(r.Context(), l.UserID)
	if err != nil {
		return fmt.Errorf("load user of login link: %w", err)
	}
	if !u.Active() {
		h.refuse(c, w, fmt.Sprintf("The Sesame user %s is %s and cannot sign in.", u.Email, u.Status))
		return nil
	}
	if err := h.startSession(c, w, u, "link", map[string]any{"purpose": l.Purpose}); err != nil {
		return err
	}
	return c.Done(w, "/", "Signed in as "+u.Email+".")
}

func (h *Handler) logout(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	if err := h.cfg.Sessions.End(w, r); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

type slackLinkView struct {
	Code, SlackUserID string
	// SlackName and SlackTeam are the Slack user's name and workspace when
	// the code carries them ("" otherwise).
	SlackName, SlackTeam string
	Valid                bool
}

// slackDescriber is an optional SlackLinker method (slackbot.CodeLinker
// has it): the Slack user, name and workspace a code was issued for.
type slackDescriber interface {
	Describe(code string) (slackUserID, name, team string, err error)
}

func (h *Handler) slackLink(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	if h.cfg.SlackLinker == nil {
		h.failStatus(c, w, http.StatusNotFound, "Slack is not connected", "This Sesame has no Slack connection.")
		return nil
	}
	v := slackLinkView{Code: r.URL.Query().Get("code")}
	if d, ok := h.cfg.SlackLinker.(slackDescriber); ok {
		if id, name, team, err := d.Describe(v.Code); err == nil {
			v.SlackUserID, v.SlackName, v.SlackTeam, v.Valid = id, name, team, true
		}
	} else if id, err := h.cfg.SlackLinker.Verify(v.Code); err == nil {
		v.SlackUserID, v.Valid = id, true
	}
	return c.Render(w, http.StatusOK, "slacklink", v)
}

func (h *Handler) slackLinkConfirm(c *Ctx, w http.ResponseWriter, r *http.Request) error {
	if h.cfg.SlackLinker == nil {
		return h.notFound(c, w, r)
	}
	code := r.PostFormValue("code")
	if _, err := h.cfg.SlackLinker.Verify(code); err != nil {
		return access.Errorf(access.CodeInvalid, "this Slack link is invalid or has expired; run /access login in Slack again")
	}
	u, err := h.cfg.SlackLinker.CompleteLink(r.Context(), code, c.User.Email)
	if err != nil {
		return err
	}
	return c.Done(w, "/", "Your Slack account is linked to "+u.Email+". You can use Sesame from Slack now.")
}
