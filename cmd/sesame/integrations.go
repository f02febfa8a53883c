package main

import (
	"context"
	"net/http"

	"github.com/sesame-access/sesame/internal/secrets"
)

// startIntegrations wires this part of the server onto mux. It runs after the Slack
// bot is started and before the job queue starts.
func (m *Main) startIntegrations(ctx context.Context, mux *http.ServeMux, box *secrets.Box) error {
	_, _, _ = ctx, mux, box
	return nil
}
