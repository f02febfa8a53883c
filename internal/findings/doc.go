// Package findings is what Sesame watches besides access requests: the
// accounts connector syncs see in each app, the apps discovery sources
// report (connector syncs, the identity provider's app assignments,
// Google Workspace OAuth grants, custom sources through the ingestion
// API), and the security alerts raised from them and posted to Slack
// channels.
//
// A Service owns the use cases; each runs in a store transaction, appends
// its audit events there and enqueues the alert deliveries it made (in
// the transaction on SQLite, right after commit otherwise; Sweep finds a
// delivery that lost its job). Alerts carry a unique dedup key, so a
// finding raised again (a second sync, a restart, a replayed event) is
// stored and posted once. Delivery goes through a Poster (the Slack bot);
// a failure is retried by the job queue, and Retry-After is respected.
//
// The button handlers (Act) check on the server that the clicker is a
// Sesame admin: a Slack payload's values only name the alert.
package findings
