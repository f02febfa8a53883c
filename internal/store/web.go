package store

// WebQueries are the dashboard's reads and writes: sessions and one-time
// login links. The SQL adapters implement them in sqldb/web.go.
type WebQueries interface{}
