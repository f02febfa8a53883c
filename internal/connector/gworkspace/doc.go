// Package gworkspace is the connector for Google Groups in Google
// Workspace, over the Admin SDK Directory API. It authenticates as a
// service account with domain-wide delegation (the OAuth 2.0 JWT bearer
// grant, implemented here with crypto/rsa) or with a static access token.
// It uses the standard library only.
//
// # Settings
//
//	| key                  | required          | default                         | meaning                                              |
//	|----------------------|-------------------|---------------------------------|------------------------------------------------------|
//	| service_account_json | one of these two  |                                 | the service account's JSON key file, as text         |
//	| access_token         | one of these two  |                                 | a static OAuth access token (tests, short-lived use)  |
//	| subject              | with the key file |                                 | email of the Workspace admin to impersonate          |
//	| token_url            | no                | the key file's token_uri, else https://oauth2.googleapis.com/token | OAuth token endpoint |
//	| api_url              | no                | https://admin.googleapis.com    | API root                                             |
//	| customer             | no                | my_customer                     | customer id whose groups and users are listed        |
//	| member_role          | no                | MEMBER                          | role given on grant: MEMBER, MANAGER or OWNER        |
//	| timeout              | no                | 30s                             | per-request HTTP timeout                             |
//	| discover_oauth_apps  | no                | false                           | list users' OAuth grants for app discovery           |
//
// The key is parsed when the connector is built (no network); errors
// never quote it. Access tokens are cached until a minute before they
// expire; a token the API refuses (401) is renewed once.
//
// # Operations
//
// Entitlement keys are group emails. Grant is POST
// /admin/directory/v1/groups/{groupKey}/members with {"email", "role"};
// 409 "Member already exists." is success. Revoke is DELETE
// .../members/{email}; 404 is success. Sync lists the customer's groups,
// their direct USER members (nested groups are skipped) and users, with
// maxResults (200 for groups and members, 500 for users) and pageToken.
//
// # Errors
//
// 429, 5xx and 403 with reason rateLimitExceeded, userRateLimitExceeded
// or quotaExceeded are retryable (with *RetryAfterError when Retry-After
// is given); other 403 (forbidden), 401, 404 (grant), 400 are permanent.
// Token endpoint refusals (invalid_grant, unauthorized_client) are
// permanent; its 429, 5xx and network errors are retryable.
//
// # Discovery
//
// With discover_oauth_apps: true the connector is a connector.AppDiscoverer
// (source "gworkspace", discover.go): it asks for the extra scope
// https://www.googleapis.com/auth/admin.directory.user.security (add it
// to the service account's domain-wide delegation) and reads every user's
// OAuth grants with tokens.list (one call per user), so that security
// alerts report third-party apps people connected to their Google
// account.
package gworkspace
