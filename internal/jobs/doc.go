// Package jobs runs Sesame's background work on River: provisioning with
// retries and backoff, revocation at expiry, notification delivery,
// request timeouts, reminders, and a periodic sweeper (leader only) that
// re-enqueues due work whose job was lost. Our own tables are the source of
// truth; every job re-reads them and is idempotent.
//
// River runs on SQLite (riversqlite, one connection) for the embedded
// default and on PostgreSQL (riverpgxv5) for production; the Queue type
// hides which.
package jobs
