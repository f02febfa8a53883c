// Package signin is the dashboard's authentication: server-side sessions
// in cookies (Secure when the base URL is https, HttpOnly, SameSite=Lax;
// only a SHA-256 hash of the session id is stored), CSRF tokens bound to
// the session, one-time login links (sesame admin bootstrap), and OpenID
// Connect sign-in with any provider through go-oidc (authorization code,
// PKCE when the provider advertises S256, state and nonce, a verified
// email required; "Sign in with Slack" restricted to one workspace by the
// https://slack.com/team_id claim).
//
// Who the person is in Sesame (matching the email to a user) is the
// caller's business: this package proves identities, it does not
// authorise.
package signin
