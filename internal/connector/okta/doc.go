// Package okta is the connector for Okta group memberships, over the Okta
// Management API with an API token (SSWS). It uses the standard library
// only.
//
// # Settings
//
//	| key       | required | default | meaning                                                   |
//	|-----------|----------|---------|-----------------------------------------------------------|
//	| base_url  | yes      |         | the org URL, like https://acme.okta.com (not -admin)      |
//	| api_token | yes      |         | API token of an admin who may manage the groups (Group Membership Admin, Org Admin or Super Admin) |
//	| timeout   | no       | 30s     | per-request HTTP timeout                                  |
//
// # Entitlements and accounts
//
// An entitlement key is a group id ("00g1a2b3..."); ListEntitlements lists
// the groups of type OKTA_GROUP, whose membership the API can change. The
// person is found with GET /api/v1/users/{login}, the login being their
// email. Grant is PUT /api/v1/groups/{groupId}/users/{userId} and Revoke
// the matching DELETE; both are idempotent in Okta. Revoking for a person
// or a group Okta does not know succeeds (nothing to revoke).
//
// # Errors
//
// 429 (E0000047) is retryable, reported as *RetryAfterError until
// X-Rate-Limit-Reset. 5xx and network errors are retryable. 401
// (E0000011), 403 (E0000006), 404 (E0000007) and 400 are permanent.
// Errors carry Okta's errorCode and errorId, never the token.
// Pagination follows the rel="next" Link header as given (Okta sends one
// Link header per relation), refusing links to another host.
//
// # Discovery
//
// DiscoverApps (connector.AppDiscoverer, source "okta") lists the org's
// active apps and the emails of the users assigned to each, for security
// alerts about newly discovered apps and sign-ups (discover.go). The token
// needs read access to apps (okta.apps.read with OAuth).
package okta
