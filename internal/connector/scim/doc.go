// Package scim is the outbound SCIM 2.0 connector (RFC 7643, RFC 7644):
// it manages group memberships in any service provider that speaks SCIM,
// with a bearer token. It uses the standard library only.
//
// # Settings
//
//	| key            | required | default  | meaning                                                         |
//	|----------------|----------|----------|-----------------------------------------------------------------|
//	| base_url       | yes      |          | SCIM root, like https://example.com/scim/v2                     |
//	| token          | yes      |          | bearer token issued by the service provider                     |
//	| user_attribute | no       | userName | attribute matched against the person's email: userName or emails.value |
//	| create_users   | no       | false    | POST /Users when the person has no account                      |
//	| page_size      | no       | 100      | count asked for per page (1-1000; the server may cap it)        |
//	| timeout        | no       | 30s      | per-request HTTP timeout                                        |
//
// # Operations
//
// The person is found with GET /Users?filter=<user_attribute> eq "<email>".
// Grant is PATCH /Groups/{id} with {"op":"add","path":"members",
// "value":[{"value":"<user id>"}]}; Revoke is PATCH /Groups/{id} with
// {"op":"remove","path":"members[value eq \"<user id>\"]"}. Entitlement
// keys are group ids. A "noTarget" answer to the remove (not a member), an
// unknown group (404) and an unknown person all count as revoked.
//
// Lists use startIndex/count until totalResults are seen, whatever page
// size the server chooses.
//
// # Errors
//
// SCIM errors (schema urn:ietf:params:scim:api:messages:2.0:Error) are
// reported with their status, scimType and detail. 429 and 5xx are
// retryable (with *RetryAfterError when Retry-After is given); 4xx are
// permanent.
package scim
