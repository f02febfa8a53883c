// Package github is the connector for a GitHub organization (github.com or
// GitHub Enterprise Server), over the REST API version 2022-11-28 with a
// token of an organization owner. It uses the standard library only.
//
// # Settings
//
//	| key          | required | default                | meaning                                                              |
//	|--------------|----------|------------------------|----------------------------------------------------------------------|
//	| token        | yes      |                        | token of an organization owner (classic: admin:org; fine-grained: Members read/write) |
//	| org          | yes      |                        | organization login                                                   |
//	| api_url      | no       | https://api.github.com | API root; https://HOST/api/v3 for GitHub Enterprise Server           |
//	| login_map    | no       |                        | "email=login" pairs separated by ',', ';' or newlines                 |
//	| login_suffix | no       |                        | appended to logins derived from emails (EMU: "_shortcode")           |
//	| timeout      | no       | 30s                    | per-request HTTP timeout                                             |
//
// # Accounts
//
// GitHub logins are not emails. AccountFor maps a person to a login:
// login_map's entry for the email, else the email's local part lower-cased
// with every character other than a-z, 0-9 and '-' turned into '-', plus
// login_suffix ("ada.lovelace@corp.com" -> "ada-lovelace_corp").
//
// # Entitlements
//
//	| key                    | grant                                    | revoke                                     |
//	|------------------------|------------------------------------------|--------------------------------------------|
//	| member                 | PUT org membership role=member, unless already a member (never demotes an owner) | DELETE org membership (leaves every team too) |
//	| admin                  | PUT org membership role=admin            | back to role=member if currently admin     |
//	| team:<slug>            | PUT team membership role=member, unless already in the team | DELETE team membership          |
//	| team:<slug>:maintainer | PUT team membership role=maintainer      | back to role=member if currently maintainer |
//
// A person outside the organization gets an invitation; access starts when
// they accept it, and pending invitations are not listed by ListGrants.
// Revoking something absent (404) succeeds.
//
// # Errors
//
// 401, 404, 422 and 403 without a rate limit sign are permanent. Rate
// limits (403 or 429 with retry-after, or x-ratelimit-remaining: 0, or a
// "secondary rate limit" message) are retryable and reported as
// *RetryAfterError with the wait GitHub asked for. 5xx and network errors
// are retryable. Pagination follows Link rel="next" as given (GitHub's
// links use /organizations/{id}/...), refusing links to another host.
package github
