// Package sqlite opens Sesame's store on an SQLite file (modernc.org/sqlite,
// no cgo): the default, single-process deployment.
//
// The database runs in WAL mode with a 10 s busy timeout and foreign keys
// on, and every transaction begins IMMEDIATE, so the store's transactions
// are serialised at BEGIN and never fail to upgrade a read lock.
//
// A job queue (River) may share the file through a *sql.DB of its own,
// opened with sql.Open(DriverName, DSN(path)). While a store transaction
// runs, it holds the file's write lock: a write through that other *sql.DB
// waits for it (up to the busy timeout), so never make one from inside InTx.
// To enqueue a job atomically with a store change, write it in the store's
// own transaction, which sqldb.SQLTx returns from the store.Queries given to
// InTx's fn.
package sqlite
