package api

import (
	_ "embed" // the OpenAPI document
	"net/http"
)

// openAPIDocument describes every route of routeTable.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// openAPI: GET /openapi.json (no token needed).
func (h *handler) openAPI(w http.ResponseWriter, r *http.Request, _ *principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	if _, err := w.Write(openAPIDocument); err != nil {
		h.log.DebugContext(r.Context(), "write openapi document failed", "err", err)
	}
	return nil
}
