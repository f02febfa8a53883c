package store

// DirectoryQueries are the identity directory's reads and writes: groups,
// SCIM provisioning clients and the attributes an identity provider pushes.
// The SQL adapters implement them in sqldb/directory.go.
type DirectoryQueries interface{}
