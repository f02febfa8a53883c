package main

import (
	"context"
	"net/http"

	"github.com/sesame-access/sesame/internal/scimserver"
	"github.com/sesame-access/sesame/internal/secrets"
)

// startIdentity wires this part of the server onto mux: the SCIM 2.0
// server at /scim/v2/, through which identity providers push people,
// groups and deactivations (deactivation runs the workflow's Offboard).
// It runs after the Slack bot is started and before the job queue starts.
// People both in the config file and pushed over SCIM need nothing here:
// the config sync leaves their name, manager and SCIM groups alone.
// The box is unused: SCIM stores only token hashes.
func (m *Main) startIdentity(_ context.Context, mux *http.ServeMux, _ *secrets.Box) error {
	// The email of a person the file lists may not be changed over SCIM
	// (sign-in matches by email; the file gives them their roles).
	emails := make([]string, len(m.Config.Users))
	for i, u := range m.Config.Users {
		emails[i] = u.Email
	}
	srv, err := scimserver.New(scimserver.Config{
		Store:        m.db.store,
		Clock:        m.Clock,
		Offboarder:   m.svc,
		Logger:       m.Logger.With("component", "scim"),
		BaseURL:      m.Config.Server.BaseURL,
		ConfigEmails: emails,
	})
	if err != nil {
		return err
	}
	mux.Handle(scimserver.Prefix+"/", srv.Handler())
	return nil
}
