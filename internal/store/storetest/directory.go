package storetest

import "testing"

// testDirectory checks the store's DirectoryQueries (see store/directory.go).
func testDirectory(t *testing.T, open Opener) {
	t.Helper()
	_ = open
}
