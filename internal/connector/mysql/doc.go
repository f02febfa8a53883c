// Package mysql is the connector for MariaDB (10.4 and later; tested on
// 10.11) and MySQL 8 (type "mysql"). An entitlement's key is the name of a
// role (CREATE ROLE) whose privileges are the access; the connector grants
// it to accounts 'login'@'host', where host is the host setting.
//
// # Modes
//
// In role mode (the default) people have accounts of their own, named from
// their email by login_template. Grant runs GRANT `role` TO 'login'@'host'
// unless the account holds it already and, when the account has no
// default role, makes the role its default (MariaDB: SET DEFAULT ROLE ...
// FOR, MySQL: SET DEFAULT ROLE ... TO), so it is active at the next login
// without SET ROLE. An account that already has a default role keeps it:
// the person runs SET ROLE `role`, since MariaDB has a single default
// role. Revoke runs REVOKE, clears the role from the default roles, and
// kills every connection of the login (KILL CONNECTION for each of its
// rows in information_schema.PROCESSLIST), because a session keeps an
// active role after REVOKE. A missing account or role is a permanent error
// on Grant; a missing account is nothing to do on Revoke.
//
// In ephemeral mode the connector is an *EphemeralConnector, a
// connector.CredentialIssuer: IssueGrant runs
//
//	CREATE USER IF NOT EXISTS 'login'@'host' IDENTIFIED BY ...
//	ALTER USER 'login'@'host' IDENTIFIED BY ...   (a fresh password on every call)
//	GRANT `role` TO 'login'@'host'
//	SET DEFAULT ROLE `role` FOR 'login'@'host'
//
// and returns Credentials{Kind: "password", Username: login, Secret: a
// random 32-character password of [A-Za-z0-9], Hint: a mysql command line
// with host_hint, port and database}. The login is
// login_prefix + {local} + "_" + 8 hex characters of the SHA-256 of the
// grant id, {local} cut so that the login fits 32 characters, so every
// call about one grant names the same account. MariaDB gets the password
// as a mysql_native_password hash (IDENTIFIED BY PASSWORD '*...'), so the
// server's logs never see it; MySQL gets it in clear and rewrites it in
// its own logs. Grant does what IssueGrant does and discards the
// password. Revoke runs DROP USER IF EXISTS and then kills the account's
// connections: DROP USER does not end them.
//
// MariaDB has no account expiry, so Target.ExpiresAt is not written to
// the server: Sesame's revocation is the control. PASSWORD EXPIRE INTERVAL
// is not used as a backstop: it counts whole days, and on MariaDB 10.11 an
// expired account may still log in (sandbox mode), SET PASSWORD, and carry
// on with its privileges.
//
// # Settings
//
//	setting             default          meaning
//	dsn                 (required)       go-sql-driver DSN of the admin: user@tcp(host:3306)/db
//	password            (from dsn)       admin password; overrides dsn's; a secret by name, so keep it out of dsn
//	mode                role             one of role, ephemeral
//	login_template      {local}          a person's login; {local} = email before @, lowercased, [^a-z0-9_] -> _; {email} = email, lowercased
//	host                %                host part of the accounts granted or created
//	login_prefix        sesame_          first part of ephemeral logins; [A-Za-z0-9_]{1,16}
//	roles               (every role)     comma-separated grantable roles: Grant refuses others (Revoke does not), sync lists only these
//	host_hint           host of dsn      host shown in the credentials hint
//	terminate_sessions  true             role mode: kill the login's connections on Revoke
//
// Settings are validated by New without connecting; errors name the
// setting and never contain the DSN's password. The DSN's
// multiStatements is forced off.
//
// Every name is checked before it is put in a statement (account names
// and hosts cannot take bind parameters): roles and ephemeral logins match
// ^[A-Za-z0-9_]{1,32}$ (and a role is not NONE or PUBLIC), people's logins
// ^[A-Za-z0-9_.@+-]{1,128}$ so that {email} works, hosts
// ^[A-Za-z0-9_.%:/-]{1,255}$; literals are quoted and escaped as well.
//
// # Sync
//
// ListEntitlements lists the roles (MariaDB: is_role in mysql.user;
// MySQL: locked accounts on host % without a password), only those of the
// roles setting when it is set. ListGrants reads mysql.roles_mapping
// (MariaDB) or mysql.role_edges (MySQL):
// information_schema.APPLICABLE_ROLES only shows the current user's roles.
// MariaDB grants a role WITH ADMIN OPTION to the account that created it,
// and that grant is listed too. ListAccounts lists accounts but the
// servers' own (and MariaDB roles). Accounts are named by their user name
// when their host part is the host setting, else user@host.
// HealthCheck connects, reads mysql.user, checks the roles setting and,
// in ephemeral mode, that the admin has CREATE USER.
//
// # Privileges of the admin
//
// SELECT on the mysql schema; CREATE USER; the roles WITH ADMIN OPTION
// (or SUPER); PROCESS and CONNECTION ADMIN (MariaDB 10.5+; SUPER before,
// CONNECTION_ADMIN on MySQL) to see and kill other accounts' connections.
// Killing goes by user name: connections of the same user name under
// another host part are killed too.
//
// # Errors
//
// Connection failures (driver.ErrBadConn, invalid connection, network
// errors, client errors 2002/2003/2006/2013), too many connections, lock
// timeouts and anything unrecognised are retryable. Access denied (1044,
// 1045, 1142, 1227, 1698), unknown users and roles (1133, 1396, 1959,
// 3523), a refused KILL (1095), a missing database (1049) and names the
// server rejects are permanent (connector.Permanent).
//
// Every call opens its own connection and closes it: a connector holds no
// resources and is safe for concurrent use. Only MariaDB 10.11 backs the
// tests; the MySQL 8 statements follow its documentation.
package mysql
