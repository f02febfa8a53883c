// Package storetest is the conformance suite every store.Store passes. The
// SQLite and PostgreSQL adapters run it from their tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return sqlite.OpenTest(t) })
//	}
//
// Every subtest runs in parallel on a store of its own, so open must return
// a fresh, empty, migrated store each call and close it in t.Cleanup.
package storetest
