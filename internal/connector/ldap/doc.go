// Package ldap is the connector for LDAP directories (OpenLDAP, 389 DS,
// and others that speak LDAPv3 with standard group classes): an
// entitlement is a group, and Grant adds the person's entry to it.
//
// # Contract
//
// Grant finds the one entry under base_dn that user_filter matches for the
// person's email (the email is escaped, so it cannot widen the filter),
// finds the group the entitlement key names, and adds the member value:
// the user's DN (groupOfNames member, groupOfUniqueNames uniqueMember) or
// the user's uid_attribute (posixGroup memberUid). Revoke deletes that
// value. Both are idempotent: "attribute or value exists" (20) on add and
// "no such attribute" (16) on delete are successes.
//
// An entitlement key is a group's cn, looked up under group_base_dn among
// groups of group_type, or a group's full DN (a key that parses as a DN of
// two or more RDNs). A cn shared by several groups is an error: use the DN.
//
// Permanent errors (retrying will not help): no entry for the email
// (ErrNoAccount) or several; no such group (ErrNoGroup) or several; LDAP
// results 49 invalid credentials, 50 insufficient access, 32 no such
// object, schema and syntax errors, 53 unwilling to perform; a server
// certificate that does not verify; removing the last member of a
// groupOfNames or groupOfUniqueNames (the schema requires one; keep a
// placeholder member in such groups). Everything else is retryable:
// network errors, timeouts, 51 busy, 52 unavailable, 80 other. Revoke
// also fails permanently when the user or group cannot be found, because
// Sesame cannot then confirm the access is gone.
//
// Every call opens one connection, secures it, binds as bind_dn and closes
// it. Sesame refuses to send the bind password in clear: ldap:// URLs use
// StartTLS unless start_tls=false, which in turn needs allow_insecure=true.
// Errors name DNs, emails and the server's diagnostic message, never
// bind_password.
//
// Sync: ListAccounts lists the entries user_filter matches with {email}
// replaced by * (for the default filter, every inetOrgPerson with a mail);
// ListEntitlements lists the groups of group_type under group_base_dn,
// keyed by cn (or DN when a cn is shared); ListGrants lists their members,
// mapped back to DN and email through the users ListAccounts sees.
// AccountFor returns the user's DN, which it has to look up; HealthCheck
// binds and reads base_dn and group_base_dn.
//
// # Settings
//
//	setting               default                                      meaning
//	url                   (required)                                   ldaps://host[:636] or ldap://host[:389]
//	start_tls             true for ldap://, false for ldaps://         upgrade ldap:// with StartTLS; must not be true for ldaps://
//	allow_insecure        false                                        permit ldap:// without StartTLS (password in clear: tests only)
//	ca_cert               system roots                                 PEM certificate(s) of the CA that signed the server's certificate
//	insecure_skip_verify  false                                        do not verify the server's certificate (tests only)
//	bind_dn               (required)                                   DN Sesame binds as; needs read on users and groups, write on member attributes
//	bind_password         (required, secret)                           its password
//	base_dn               (required)                                   where users are searched (subtree)
//	user_filter           (&(objectClass=inetOrgPerson)(mail={email}))  finds a user; {email} is replaced by the escaped email
//	group_base_dn         base_dn                                      where groups are searched (subtree)
//	group_type            groupOfNames                                 groupOfNames (member), groupOfUniqueNames (uniqueMember) or posixGroup (memberUid)
//	uid_attribute         uid                                          the user attribute that posixGroup memberUid holds
//	mail_attribute        mail                                         the user attribute that holds the email, for listings
//	timeout               10s                                          bound on connecting and binding, and on each request
package ldap
