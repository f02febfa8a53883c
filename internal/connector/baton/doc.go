// Package baton bridges ConductorOne baton connectors: it runs a connector
// binary built with the baton SDK (baton-okta, baton-github, baton-ldap,
// ...) as a subprocess for each grant and revoke, and, with the baton CLI,
// reads its sync file for listings.
//
// # Settings
//
//	| key            | required | default | meaning                                                                 |
//	|----------------|----------|---------|-------------------------------------------------------------------------|
//	| binary         | yes      |         | absolute path of the connector binary                                   |
//	| c1z_path       | yes      |         | absolute path of this app's sync file; its directory must exist         |
//	| baton_path     | no       |         | absolute path of the baton CLI; enables sync and principal_from=lookup  |
//	| args           | no       |         | extra flags for the connector (space-separated; not secrets)             |
//	| env.<NAME>     | no       |         | environment variables for the connector (BATON_API_TOKEN...): secrets go here |
//	| principal_type | no       | user    | baton resource type of principals                                       |
//	| principal_from | no       | email   | principal id: email, email_local_part, user_id (Sesame's) or lookup      |
//	| sync_max_age   | no       | 10m     | resync before a grant when the c1z is older (0: always)                 |
//	| timeout        | no       | 5m      | per invocation; the whole process group is killed after it              |
//
// # Invocations
//
// These are the flags the baton SDK defines (pkg/field/defaults.go) and
// handles in pkg/cli/commands.go:
//
//	sync:   <binary> -f <c1z.sync-tmp> --log-format json --log-level info [args]   (then renamed over c1z_path)
//	grant:  <binary> -f <c1z> ... --grant-entitlement <key> --grant-principal <id> --grant-principal-type <type>
//	revoke: <binary> -f <c1z> ... --revoke-grant <key>:<type>:<id>
//
// The SDK's on-demand grant and revoke read the c1z (pkg/provisioner):
// the entitlement and principal must be in the last sync, and a revoke
// needs the grant there. So grants resync when the c1z is missing or
// older than sync_max_age, and once more after a "not found"; revokes
// always resync first, and then "not found" means already revoked. Grant
// ids follow the SDK's grant.NewGrant: "<entitlement id>:<principal
// type>:<principal id>". Invocations of one c1z are serialised with a
// lock file (flock).
//
// The child process gets only HOME and TMPDIR (the c1z directory) and the
// env.* settings: none of Sesame's environment. Error output is reduced to
// the error lines of the SDK's JSON logs, with env.* values redacted.
//
// # Outcome
//
// Exit 0 is success. A non-zero exit is retryable, unless the error says
// "permission", "unauthenticated" or "not found" (the operation's own
// ids excluded from the search), which is permanent. A timeout is
// retryable; a binary that cannot be started is permanent.
//
// # Sync and c1z
//
// A c1z is a zstd-compressed SQLite database; decoding it would need
// dependencies Sesame does not take, so Sesame never reads it. With
// baton_path set, listings run a fresh sync and then the baton CLI
// (github.com/conductorone/baton) on the file:
//
//	<baton_path> -f <c1z> grants --output-format json
//	<baton_path> -f <c1z> entitlements --output-format json
//	<baton_path> -f <c1z> resources --resource-type <principal_type> --output-format json
//
// and read its protojson (baton.v1 GrantListOutput and friends). Connector
// binaries themselves have no JSON output flag: --log-format json only
// formats their logs. Without baton_path, the connector grants and
// revokes but cannot list.
package baton
