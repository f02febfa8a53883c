package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sesame-access/sesame/internal/scimserver"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/store"
)

// startIdentity wires this part of the server onto mux: the SCIM 2.0
// server at /scim/v2/, through which identity providers push people,
// groups and deactivations (deactivation runs the workflow's Offboard).
// It runs after the Slack bot is started and before the job queue starts.
// First it puts back the SCIM groups of people the config file also lists
// (the config sync replaced their groups with the file's).
// The box is unused: SCIM stores only token hashes.
func (m *Main) startIdentity(ctx context.Context, mux *http.ServeMux, _ *secrets.Box) error {
	// The config sync has just set the groups of the people the file lists
	// to the file's: put back the groups their identity provider pushed.
	var ids []string
	for _, u := range m.Config.Users {
		usr, err := m.db.store.UserGetByEmail(ctx, u.Email)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("restore scim groups: %w", err)
		}
		ids = append(ids, usr.ID)
	}
	n, err := scimserver.RestoreGroups(ctx, m.db.store, m.Clock.Now().UTC(), ids)
	if err != nil {
		return err
	}
	if n > 0 {
		m.Logger.InfoContext(ctx, "restored SCIM groups of people listed in the config", "users", n)
	}
	srv, err := scimserver.New(scimserver.Config{
		Store:      m.db.store,
		Clock:      m.Clock,
		Offboarder: m.svc,
		Logger:     m.Logger.With("component", "scim"),
		BaseURL:    m.Config.Server.BaseURL,
	})
	if err != nil {
		return err
	}
	mux.Handle(scimserver.Prefix+"/", srv.Handler())
	return nil
}
