package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/sesame-access/sesame/internal/access"
	"github.com/sesame-access/sesame/internal/auth"
	"github.com/sesame-access/sesame/internal/store"
)

// tokenJSON is an API token; its secret and hash never leave the server.
type tokenJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	User       userRef   `json:"user"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	// Current is true for the token of this API call.
	Current bool `json:"current"`
}

func renderToken(t *access.Token, us *users, currentID string) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, User: us.ref(t.UserID), CreatedAt: utc(t.CreatedAt), ExpiresAt: utc(t.ExpiresAt),
		LastUsedAt: utc(t.LastUsedAt), RevokedAt: utc(t.RevokedAt), Current: t.ID == currentID}
}

// listTokens: GET /tokens?user= lists the caller's tokens; admins may
// name another user, or user=all. Not paged.
func (h *handler) listTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	ps := newParams(r, "user")
	user := ps.one("user")
	if user != "all" {
		user = ps.user("user")
	}
	if err := ps.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	userID := p.User.ID
	if user != "" && user != "me" {
		if !p.admin() {
			return forbidden("only admins may list other users' tokens")
		}
		id, found, err := h.resolveUser(ctx, p, user)
		if err != nil {
			return err
		}
		if !found {
			return h.writeJSON(w, r, http.StatusOK, page[tokenJSON]{Items: []tokenJSON{}})
		}
		userID = id
		if user == "all" {
			userID = ""
		}
	}
	ts, err := auth.ListTokens(ctx, h.st, userID)
	if err != nil {
		return err
	}
	us := newUsers(h.st)
	if err := us.load(ctx, userIDs(ts, func(t *access.Token) []string { return []string{t.UserID} })...); err != nil {
		return err
	}
	out := page[tokenJSON]{Items: make([]tokenJSON, 0, len(ts))}
	for _, t := range ts {
		out.Items = append(out.Items, renderToken(t, us, p.Token.ID))
	}
	return h.writeJSON(w, r, http.StatusOK, out)
}

// revokeToken: DELETE /tokens/{id} revokes one of the caller's tokens
// (admins: anyone's) → 204. Revoking a revoked token is a no-op.
func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newParams(r).Err(); err != nil {
		return err
	}
	now := h.clock.Now().UTC().Truncate(time.Microsecond)
	err = h.st.InTx(r.Context(), func(q store.Queries) error {
		_, err := auth.RevokeToken(r.Context(), q, p.User, id, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
