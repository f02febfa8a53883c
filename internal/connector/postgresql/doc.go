// Package postgresql is the connector for PostgreSQL (type "postgresql").
// An entitlement's key is the name of a role (usually NOLOGIN) whose
// privileges are the access; the connector grants membership in it.
//
// # Modes
//
// In role mode (the default) people have logins of their own, named from
// their email by login_template. Grant runs GRANT "<role>" TO "<login>"
// unless the login is already a direct member; Revoke runs REVOKE and then
// ends every session of the login (pg_terminate_backend), because a
// session that ran SET ROLE keeps the role's privileges after REVOKE. A
// login or role that does not exist is a permanent error on Grant and
// nothing to do on Revoke.
//
// In ephemeral mode the connector is an *EphemeralConnector, a
// connector.CredentialIssuer: IssueGrant creates one login per grant,
//
//	CREATE ROLE "<login>" WITH LOGIN ... PASSWORD '<verifier>' VALID UNTIL '<ExpiresAt>' IN ROLE "<role>"
//
// and returns Credentials{Kind: "password", Username: login, Secret: a
// random 32-character password of [A-Za-z0-9], Hint: a psql command line
// with host_hint, port and database}. The password is sent as a
// SCRAM-SHA-256 verifier computed here, so the server (and its statement
// log) never sees it; PostgreSQL 10 or later is needed. The login's name
// comes from ephemeral_role_template, whose {grant} is 8 hex characters
// of the SHA-256 of the grant id, so every call about one grant names the
// same login. Issuing again for a grant sets a fresh password and expiry
// (an extension). VALID UNTIL is ExpiresAt, or infinity when it is zero;
// it only stops password authentication, so revocation remains the
// control. The login is marked with a COMMENT ("sesame ephemeral login;
// grant ...") in the same transaction, and the connector never alters or
// drops a role without that mark: a name clash is a permanent error.
// Grant does what IssueGrant does and discards the password.
//
// Revoke in ephemeral mode sets NOLOGIN, revokes the role, ends the
// login's sessions, then in every database where the login owns objects or
// holds privileges (found in pg_shdepend, reached with the admin URL and
// another database name) runs REASSIGN OWNED BY login TO reassign_owned_to
// and DROP OWNED BY login, and last DROP ROLE. If the admin cannot connect
// to one of those databases, Revoke fails (retryable) after the login has
// already lost LOGIN and the role.
//
// # Settings
//
//	setting                  default                   meaning
//	url                      (required)                admin connection URL or keyword/value DSN (pgx syntax)
//	password                 (from url)                admin password; overrides url's; a secret by name, so keep it out of url
//	mode                     role                      one of role, ephemeral
//	login_template           {local}                   a person's login; {local} = email before @, lowercased, [^a-z0-9_] -> _; {email} = email, lowercased
//	login_prefix             sesame_                   {prefix} in ephemeral_role_template; [a-z0-9_]{0,24}
//	ephemeral_role_template  {prefix}{local}_{grant}   ephemeral login; must contain {grant}; {local} cut to 32 bytes
//	connection_limit         (none)                    CONNECTION LIMIT of ephemeral logins
//	reassign_owned_to        the admin (CURRENT_USER)  who gets what an ephemeral login owned
//	host_hint                host of url               host shown in the credentials hint
//	roles                    (all NOLOGIN roles)       comma-separated grantable roles: Grant refuses others (Revoke does not), sync lists only these
//	terminate_sessions       true                      role mode: end the login's sessions on Revoke
//
// Settings are validated by New without connecting; errors name the
// setting and never contain the URL's password. Logins longer than 63
// bytes are refused rather than truncated by the server.
//
// # Sync
//
// ListEntitlements lists the roles setting (those that exist) or every
// NOLOGIN role but pg_*, described by their COMMENT. ListGrants lists the
// direct members of those roles (nested roles included). ListAccounts
// lists LOGIN roles but pg_*. AccountEmail and Email are set when
// login_template is {email}. HealthCheck connects, checks that the admin
// is superuser or CREATEROLE and that every role of the roles setting
// exists.
//
// # Privileges of the admin
//
// A superuser works. Otherwise the admin needs CREATEROLE, membership in
// pg_signal_backend (to end sessions), and, on PostgreSQL 16 and later,
// ADMIN OPTION on the grantable roles; REASSIGN OWNED also needs the
// privileges of the ephemeral login, which PostgreSQL 16 gives the role
// that created it. On PostgreSQL 16 REVOKE only removes grants made by the
// current role: a membership granted by someone else is reported as a
// permanent error.
//
// # Errors
//
// Connection failures (refused, timeouts, SQLSTATE class 08), shutdowns
// (57P01-57P03) and anything unrecognised are retryable. Missing roles
// (42704), insufficient privilege (42501), authentication failures
// (28000, 28P01), a missing database (3D000), objects still depending on
// a role (2BP01) and invalid grants are permanent (connector.Permanent).
//
// Every call opens its own connection and closes it: a connector holds no
// resources and is safe for concurrent use.
package postgresql
