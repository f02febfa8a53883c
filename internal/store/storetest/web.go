package storetest

import "testing"

// testWeb checks the store's WebQueries (see store/web.go).
func testWeb(t *testing.T, open Opener) {
	t.Helper()
	_ = open
}
