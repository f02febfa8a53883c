package store

// FindingQueries are the reads and writes of what Sesame watches: accounts
// seen in apps, discovered apps, security alerts and their settings. The SQL
// adapters implement them in sqldb/findings.go.
type FindingQueries interface{}
