package slackbot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// requestInfo is a request with what its views show: the app, the
// entitlements and the people involved.
type requestInfo struct {
	Req   *access.Request
	App   *access.App
	Ents  []*access.Entitlement
	Users map[string]*access.User
	// Extends is the grant an extension request extends (nil otherwise,
	// or when it is gone).
	Extends *access.Grant
}

// grantInfo is a grant with its app and entitlement.
type grantInfo struct {
	Grant *access.Grant
	App   *access.App
	Ent   *access.Entitlement
}

// loader reads catalog entries and users once per view.
type loader struct {
	q     store.Queries
	apps  map[string]*access.App
	ents  map[string]*access.Entitlement
	users map[string]*access.User
}

func newLoader(q store.Queries) *loader {
	return &loader{q: q, apps: map[string]*access.App{}, ents: map[string]*access.Entitlement{}, users: map[string]*access.User{}}
}

// app returns the app with id, or a stand-in named by the id when it was
// removed from the catalog.
func (l *loader) app(ctx context.Context, id string) (*access.App, error) {
	if a, ok := l.apps[id]; ok {
		return a, nil
	}
	a, err := l.q.AppGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		a, err = &access.App{ID: id, Name: id}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load app %s: %w", id, err)
	}
	l.apps[id] = a
	return a, nil
}

func (l *loader) ent(ctx context.Context, id string) (*access.Entitlement, error) {
	if e, ok := l.ents[id]; ok {
		return e, nil
	}
	e, err := l.q.EntitlementGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		appID, key, _ := access.SplitEntitlementID(id)
		e, err = &access.Entitlement{ID: id, AppID: appID, Key: key, Name: key}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load entitlement %s: %w", id, err)
	}
	l.ents[id] = e
	return e, nil
}

// user returns the user with id, or nil when unknown.
func (l *loader) user(ctx context.Context, id string) (*access.User, error) {
	if u, ok := l.users[id]; ok {
		return u, nil
	}
	u, err := l.q.UserGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		u, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", id, err)
	}
	l.users[id] = u
	return u, nil
}

func (l *loader) request(ctx context.Context, r *access.Request) (*requestInfo, error) {
	app, err := l.app(ctx, r.AppID)
	if err != nil {
		return nil, err
	}
	ri := &requestInfo{Req: r, App: app, Users: map[string]*access.User{}}
	for _, id := range r.EntitlementIDs {
		e, err := l.ent(ctx, id)
		if err != nil {
			return nil, err
		}
		ri.Ents = append(ri.Ents, e)
	}
	ids := []string{r.RequesterID}
	for _, d := range r.Decisions {
		ids = append(ids, d.ApproverID)
	}
	for _, st := range r.Steps {
		ids = append(ids, st.Notified...)
	}
	for _, id := range ids {
		u, err := l.user(ctx, id)
		if err != nil {
			return nil, err
		}
		if u != nil {
			ri.Users[id] = u
		}
	}
	if r.IsExtension() {
		g, err := l.q.GrantGetByID(ctx, r.ExtendsGrantID, false)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("load extended grant %s: %w", r.ExtendsGrantID, err)
		}
		ri.Extends = g
	}
	return ri, nil
}

func (l *loader) requestByID(ctx context.Context, id string) (*requestInfo, error) {
	r, err := l.q.RequestGetByID(ctx, id, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil, access.Errorf(access.CodeNotFound, "request %s was not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load request %s: %w", id, err)
	}
	return l.request(ctx, r)
}

func (l *loader) grant(ctx context.Context, g *access.Grant) (*grantInfo, error) {
	app, err := l.app(ctx, g.AppID)
	if err != nil {
		return nil, err
	}
	e, err := l.ent(ctx, g.EntitlementID)
	if err != nil {
		return nil, err
	}
	return &grantInfo{Grant: g, App: app, Ent: e}, nil
}

// who names user id in mrkdwn: a mention when linked to Slack, else the
// name or email.
func who(u *access.User, id string) string {
	switch {
	case u == nil:
		return escape(id)
	case u.SlackUserID != "":
		return "<@" + u.SlackUserID + ">"
	case u.Name != "":
		return "*" + escape(u.Name) + "*"
	}
	return escape(u.Email)
}

func (ri *requestInfo) who(id string) string { return who(ri.Users[id], id) }

// plainName names a user in plain text (option labels, fallbacks).
func plainName(u *access.User, id string) string {
	switch {
	case u == nil:
		return id
	case u.Name != "":
		return u.Name
	}
	return u.Email
}

// roles lists the request's entitlement names.
func (ri *requestInfo) roles() string {
	names := make([]string, len(ri.Ents))
	for i, e := range ri.Ents {
		names[i] = entName(e)
	}
	return strings.Join(names, ", ")
}

func entName(e *access.Entitlement) string {
	if e.Name != "" {
		return e.Name
	}
	return e.Key
}

func appName(a *access.App) string {
	if a.Name != "" {
		return a.Name
	}
	return a.ID
}
