// Package webhook is the generic connector: for every grant and revoke it
// POSTs one signed JSON document to a receiver the customer runs, which
// does the provisioning itself.
//
// # Settings
//
//	| key     | required | default | meaning                                                  |
//	|---------|----------|---------|----------------------------------------------------------|
//	| url     | yes      |         | absolute http(s) URL of the receiver; no user:pass@      |
//	| secret  | yes      |         | HMAC key shared with the receiver, at least 16 characters |
//	| timeout | no       | 10s     | per-delivery HTTP timeout (Go duration)                  |
//
// # Delivery
//
// Body (Payload): {"event": "grant"|"revoke", "grant_id", "user": {"id",
// "email", "name"}, "app", "entitlement", "expires_at": RFC 3339 or null}.
//
// Headers: Content-Type: application/json; X-Sesame-Event: the event;
// Idempotency-Key: "<grant id>:<event>", identical on every retry;
// X-Sesame-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// t + "." + body)>" (Stripe's scheme). Receivers verify with Verify or the
// recipe in docs/connectors/webhook.md.
//
// # Outcome
//
// A 2xx answer is success. 408, 429 and 5xx, timeouts and network errors
// are retryable (Sesame's job queue retries; a Retry-After header is
// reported through *RetryAfterError). Every other status, redirects
// included (they are never followed), is permanent.
//
// The connector has no sync capabilities: a webhook cannot be asked who
// has what.
package webhook
