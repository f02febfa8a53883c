// Package postgres opens Sesame's store on PostgreSQL through pgx: the
// high-availability deployment, where any number of replicas share one
// database.
//
// The store's tables live in current_schema(), the first existing schema of
// the search_path, which the URL may set as a query parameter
// (postgres://host/db?search_path=sesame). Open fails if no schema of the
// search_path exists. Migrations take an advisory lock derived from the
// schema name, so replicas starting together migrate once.
//
// River needs a *pgxpool.Pool: open one with OpenPool, give it to River and
// to FromPool, and close it after both. Open is the shortcut when nothing
// else needs the pool.
//
// TestURL and OpenTest give tests of any package a fresh schema in the
// database named by SESAME_TEST_POSTGRES_URL.
package postgres
