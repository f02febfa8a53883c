// Package integrations routes Sesame's notifications to Slack channels by
// account set: each integration is a destination (a Slack incoming-webhook
// URL, or a channel the bot posts to with chat.postMessage), a selector of
// the apps it covers, and the categories it carries.
//
// # Selectors and account sets
//
// A selector is a list of terms; it covers an app when any term does:
//
//	"*"               every app
//	app:ID            the app with that ID
//	connector:TYPE    apps whose connector is TYPE (awsidc, postgresql, ...)
//	tag:TAG           requests and grants of entitlements tagged TAG (the
//	                  "resource kind" channels: tag:gateway, tag:private-server);
//	                  for app-wide messages, apps with an entitlement tagged TAG
//	watchlist         apps on the watchlist
//	set:NAME          the named account set NAME, itself a selector without
//	                  set: terms (integrations.account_sets in the config)
//
// # Categories
//
// approval_requests (a request waits for approval, or was escalated),
// decisions (approved, rejected, cancelled, timed out), grants (access
// granted, failed, extended, revoked, revocation failed) and alerts (access drift
// found by reconciliation, and whatever other packages Post as alerts).
//
// # How it hooks into the outbox
//
// Service.Notifier wraps the workflow's notifier: before a notification is
// DMed, RouteNotification writes one delivery per matching integration
// (store.Delivery, unique per integration and event, so the copies of one
// event for several approvers, and retries, make one message). Each
// delivery is a job (internal/jobs, kind "integration_deliver") that
// calls Deliver, retried with backoff and Slack's Retry-After; a periodic
// Sweep re-enqueues deliveries whose job was lost and probes failing
// integrations.
//
// # For other packages: Route and Post
//
// Security alerts and other messages reach the integrations through the
// same machinery:
//
//	dests, err := svc.Route(ctx, integrations.CategoryAlerts, appID)   // who would get it
//	n, err := svc.Post(ctx, integrations.CategoryAlerts, appID, findingID,
//		integrations.Message{Text: "...", Blocks: blocksJSON})         // durable, once per findingID
//
// # Delivery health
//
// Slack's answers are classified (SendError): a destination failure
// (invalid_token, no_service, channel_is_archived, action_prohibited,
// posting_to_general_channel_denied, channel_not_found, not_in_channel,
// is_archived, ...) holds the message and marks the integration failing;
// transient failures (429, 5xx, network) are retried and mark it failing
// after FailingAfter attempts; a refused message (invalid_payload,
// no_text, invalid_blocks) fails alone. The first failure of an episode
// is audited and DMed to every admin linked to Slack, once. A later
// success (a probe every ProbeEvery, "send test message", a new
// destination) makes it healthy, releases the held messages and tells
// the admins. Webhook URLs are sealed with the secrets box and only their
// mask (https://hooks.slack.com/services/T…/B…/••••) is ever shown.
package integrations
