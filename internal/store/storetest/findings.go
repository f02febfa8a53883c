package storetest

import "testing"

// testFindings checks the store's FindingsQueries (see store/findings.go).
func testFindings(t *testing.T, open Opener) {
	t.Helper()
	_ = open
}
