package storetest

import "testing"

// testIntegrations checks the store's IntegrationQueries (see
// store/integrations.go).
func testIntegrations(t *testing.T, open Opener) {
	t.Helper()
	_ = open
}
