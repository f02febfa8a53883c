package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/store"
)

// writeJSON sends v with status.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(append(b, '\n')); err != nil {
		h.log.DebugContext(r.Context(), "write response failed", "path", r.URL.Path, "err", err)
	}
	return nil
}

// page is a list response. NextCursor is "" on the last page.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// userRef is how a person appears in other resources.
type userRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// utc returns t in UTC (the zero time stays zero, for omitzero).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// durationText renders d for a "duration" field; zero is "" (omitted).
func durationText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return access.FormatDuration(d)
}

// users loads people once per response and renders them as userRefs.
type users struct {
	q    store.Queries
	seen map[string]*access.User
}

func newUsers(q store.Queries) *users { return &users{q: q, seen: map[string]*access.User{}} }

// load fetches the users with ids not loaded yet, in one query. Unknown
// IDs (and the system actor) render with the ID alone.
func (u *users) load(ctx context.Context, ids ...string) error {
	var missing []string
	for _, id := range ids {
		if _, ok := u.seen[id]; ok || id == "" {
			continue
		}
		if id == access.SystemActor {
			u.seen[id] = &access.User{ID: id, Name: "Sesame"}
			continue
		}
		missing = append(missing, id)
	}
	if len(missing) == 0 {
		return nil
	}
	found, err := u.q.UserListByIDs(ctx, missing)
	if err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	for _, usr := range found {
		u.seen[usr.ID] = usr
	}
	for _, id := range missing {
		if _, ok := u.seen[id]; !ok {
			u.seen[id] = &access.User{ID: id}
		}
	}
	return nil
}

// ref renders a loaded user.
func (u *users) ref(id string) userRef {
	if usr, ok := u.seen[id]; ok {
		return userRef{ID: usr.ID, Email: usr.Email, Name: usr.Name}
	}
	return userRef{ID: id}
}

// refs renders several loaded users; nil gives an empty list.
func (u *users) refs(ids []string) []userRef {
	out := make([]userRef, 0, len(ids))
	for _, id := range ids {
		out = append(out, u.ref(id))
	}
	return out
}

// resolveUser turns "me", a user ID or an email into a user ID. found is
// false when an email matches nobody.
func (h *handler) resolveUser(ctx context.Context, p *principal, v string) (id string, found bool, err error) {
	switch {
	case v == "":
		return "", true, nil
	case v == "me":
		return p.User.ID, true, nil
	case strings.Contains(v, "@"):
		u, err := h.st.UserGetByEmail(ctx, v)
		if errors.Is(err, store.ErrNotFound) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("look up user: %w", err)
		}
		return u.ID, true, nil
	}
	return v, true, nil
}

// forbidden is a CodeForbidden error.
func forbidden(format string, args ...any) error {
	return access.Errorf(access.CodeForbidden, format, args...)
}

// notFound maps store.ErrNotFound to a coded 404.
func notFound(err error, kind, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return access.Errorf(access.CodeNotFound, "%s %s not found", kind, id)
	}
	return fmt.Errorf("load %s: %w", kind, err)
}

// userIDs returns the user IDs that ids finds in each item, for one
// users.load of a whole page.
func userIDs[T any](items []T, ids func(T) []string) []string {
	var out []string
	for _, it := range items {
		out = append(out, ids(it)...)
	}
	return out
}
