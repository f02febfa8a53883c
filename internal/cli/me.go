package cli

import (
	"context"
	"net/http"
	"strings"
	"time"
)

func me(ctx context.Context, e *env, args []string) error {
	f := e.newFlags("me", "me", "Show who the API token belongs to, their roles and the token.", "sesame me")
	_, c, err := f.setup(e, args, 0, 0, "")
	if err != nil {
		return err
	}
	var m struct {
		User struct {
			ID      string   `json:"id"`
			Email   string   `json:"email"`
			Name    string   `json:"name"`
			Groups  []string `json:"groups"`
			Manager *userRef `json:"manager"`
		} `json:"user"`
		Roles []string `json:"roles"`
		Token struct {
			ID        string    `json:"id"`
			Name      string    `json:"name"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	raw, err := c.call(ctx, http.MethodGet, "/me", nil, nil, &m)
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(e.stdout, raw)
	}
	manager := "-"
	if m.User.Manager != nil {
		manager = m.User.Manager.String()
	}
	expires := "never"
	if !m.Token.ExpiresAt.IsZero() {
		expires = fmtTime(m.Token.ExpiresAt)
	}
	return kv(e.stdout, "User", m.User.Name+" <"+m.User.Email+">", "ID", m.User.ID,
		"Roles", orDash(strings.Join(m.Roles, ", ")), "Groups", orDash(strings.Join(m.User.Groups, ", ")),
		"Manager", manager, "Token", m.Token.Name+" ("+m.Token.ID+"), expires "+expires)
}
