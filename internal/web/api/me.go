package api

import (
	"net/http"
	"time"

	"github.com/sesame-access/sesame/internal/access"
)

// userJSON is a person with their directory attributes.
type userJSON struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Manager     *userRef  `json:"manager,omitempty"`
	Groups      []string  `json:"groups"`
	Roles       []string  `json:"roles"`
	SlackLinked bool      `json:"slack_linked"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func renderUser(u *access.User, us *users) userJSON {
	out := userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Status: string(u.Status), Groups: nonNil(u.Groups),
		Roles: roleNames(u.Roles), SlackLinked: u.SlackUserID != "", CreatedAt: utc(u.CreatedAt), UpdatedAt: utc(u.UpdatedAt)}
	if u.ManagerID != "" {
		m := us.ref(u.ManagerID)
		out.Manager = &m
	}
	return out
}

func roleNames(rs []access.Role) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r))
	}
	return out
}

// meJSON is the caller: who they are and which token they used.
type meJSON struct {
	User  userJSON  `json:"user"`
	Roles []string  `json:"roles"`
	Token tokenJSON `json:"token"`
}

// getMe: GET /me
func (h *handler) getMe(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := newParams(r).Err(); err != nil {
		return err
	}
	us := newUsers(h.st)
	if err := us.load(r.Context(), p.User.ID, p.User.ManagerID); err != nil {
		return err
	}
	return h.writeJSON(w, r, http.StatusOK, meJSON{User: renderUser(p.User, us), Roles: roleNames(p.User.Roles),
		Token: renderToken(p.Token, us, p.Token.ID)})
}
