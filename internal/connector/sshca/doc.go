// Package sshca is the connector that makes Sesame an SSH certificate
// authority: hosts trust Sesame's CA key (sshd's TrustedUserCAKeys), and
// a grant is a short-lived user certificate whose principals say which
// logins it opens.
//
// # Contract
//
// IssueGrant (connector.CredentialIssuer) generates a fresh user key pair,
// signs a user certificate for it and returns both; Sesame shows them to
// the requester once. The certificate has KeyId "sesame:<grant id>:<email>",
// a random serial, the principals from principals_template (by default
// the entitlement key split on commas: "root" or "deploy,ubuntu"),
// validity from one minute before now (clock skew) until the grant's
// ExpiresAt, never longer than max_validity, and the extensions ssh-keygen
// gives by default (permit-pty, permit-agent-forwarding,
// permit-port-forwarding, permit-X11-forwarding, permit-user-rc). Grant
// issues one and discards it.
//
// The credentials: Kind "ssh-certificate"; Username the first principal;
// Secret the private key as an OpenSSH PEM block ("-----BEGIN OPENSSH
// PRIVATE KEY-----" ... "-----END OPENSSH PRIVATE KEY-----\n") immediately
// followed by one line, the certificate in authorized_keys format
// ("ssh-ed25519-cert-v01@openssh.com AAAA...\n"). SplitSecret separates
// and checks them: save the key as e.g. ~/.ssh/id_ed25519-sesame (mode
// 0600) and the line as ~/.ssh/id_ed25519-sesame-cert.pub, and
// `ssh -i ~/.ssh/id_ed25519-sesame deploy@host` presents the certificate.
// Hint says this.
//
// Certificates cannot be recalled: expiry is the control that always
// works, which is why max_validity is short. Revoke does what else it
// can. Without state_dir it does nothing and succeeds. With state_dir,
// IssueGrant records each certificate's public key, serial, key id and
// validity (never a private key) in <state_dir>/grants/<hash of the grant
// id>.json (JSON: grant_id, email, entitlement_key, principals,
// certificates[{serial, key_id, public_key, valid_after, valid_before,
// revoked_at}]), and Revoke marks them revoked. With revoked_keys_file as
// well, Revoke first appends the grant's public keys to that file, one
// authorized_keys line each, the format sshd's RevokedKeys reads: a host
// whose sshd_config has `RevokedKeys <that file>` refuses those
// certificates from the next login on. Getting the file to the hosts
// (shared storage, configuration management) is the operator's job, and
// the file must exist before sshd points at it: sshd refuses every public
// key when its RevokedKeys file is missing.
//
// ListGrants (needs state_dir) lists grants with an unrevoked, unexpired
// certificate; Account is the first principal, as AccountFor returns.
// Errors: principals the template cannot make, or an ExpiresAt already
// past, are permanent; failing to write state_dir or revoked_keys_file is
// retryable (and IssueGrant then returns no certificate, so none escapes
// unrecorded). Nothing in an error quotes ca_private_key.
//
// state_dir is local to one Sesame process: with several replicas, put it
// (and revoked_keys_file) on storage they share, or revocation done by one
// replica will not find certificates issued by another.
//
// # Settings
//
//	setting              default    meaning
//	ca_private_key       (required) the CA's private key (secret): OpenSSH or PEM, unencrypted; ed25519 recommended
//	principals_template  {key}      comma-separated principals; placeholders {key} (the entitlement key), {email},
//	                                {email_local} (before the @, lowercased; must be [a-z0-9._-])
//	max_validity         24h        the longest a certificate lives (a Go duration, at least 1m)
//	key_type             ed25519    user keys: ed25519, ecdsa (P-256) or rsa (3072 bits)
//	state_dir            (none)     absolute path of a directory for grant state (created 0700); enables ListGrants, Revoke
//	revoked_keys_file    (none)     absolute path of the file Revoke appends public keys to (needs state_dir);
//	                                hosts use it as sshd's RevokedKeys
package sshca
