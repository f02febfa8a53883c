// Package sqldb is the one database/sql implementation of store.Store,
// shared by the SQLite and PostgreSQL adapters. What differs between the two
// databases is described by a Dialect value: placeholder style, row locks,
// how times are encoded and how a unique violation is recognised. The
// adapters (store/sqlite, store/postgres) open the *sql.DB, pick the
// Dialect and the migrations, and call New.
//
// # Storage conventions
//
//   - Times are kept at microsecond precision in UTC: fixed-width TEXT
//     ("2006-01-02T15:04:05.000000Z", which sorts like the instant it
//     names) on SQLite, timestamptz on PostgreSQL. The zero time.Time is
//     NULL. Every time read back is UTC and == the time written, truncated
//     to the microsecond.
//   - Durations are BIGINT nanoseconds.
//   - Slices and maps are JSON in TEXT columns (nil and empty survive the
//     round trip distinctly). Audit Before/After/Data are stored as the
//     exact bytes given (TEXT, never jsonb): they are hashed.
//   - Side tables (user_groups, request_entitlements, request_approvers)
//     index JSON fields for filtering; they are rewritten on every save of
//     their owner and are never read back into a domain value.
//
// # Transactions
//
// Methods called on a *DB run outside a caller's transaction; writes that
// touch several rows (RequestCreate, RequestUpdate, UserUpsert, EventAppend)
// then run in a transaction of their own. Inside InTx every method runs in
// the caller's transaction. After a method returns store.ErrConflict inside
// InTx, return the error: on PostgreSQL the transaction is aborted by the
// failed statement and can only roll back.
package sqldb
