// Package auth issues and checks API tokens.
//
// A token's secret is "ses_" followed by 52 random base32 characters (32
// bytes from crypto/rand). It is shown once, when created; the store keeps
// only its hex SHA-256 (access.Token.Hash), so a database leak reveals no
// usable secret. Authenticate looks a secret up by its hash and refuses
// unknown, expired and revoked tokens and tokens of offboarded users, all
// with one access.CodeUnauthorized error that does not say which.
//
// Creating and revoking a token appends an audit event (token.created,
// token.revoked). The functions take store.Queries so that callers run them
// inside store.Store.InTx, where the token and its event commit together.
package auth
