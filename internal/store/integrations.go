package store

// IntegrationQueries are the reads and writes of notification integrations
// (Slack incoming webhooks and channels, the apps and categories each
// carries) and their delivery health. The SQL adapters implement them in
// sqldb/integrations.go.
type IntegrationQueries interface{}
