// Package scimserver is Sesame's SCIM 2.0 service provider (RFC 7643,
// RFC 7644) at /scim/v2: identity providers such as Okta and Microsoft
// Entra ID push people (Users, with the enterprise extension's manager),
// groups and deactivations into it.
//
// It is written on net/http with github.com/scim2/filter-parser rather
// than a SCIM framework, so that it can accept what Okta and Entra really
// send: operation names in any case, path-less replace operations whose
// value object holds attribute paths, "True"/"False" strings for booleans,
// members removed by a value filter or by a value list, a manager given as
// a string, an object or a list, and filters with a sub-attribute after a
// value filter (emails[type eq "work"].value eq "..."). Resources are kept
// as JSON documents (store.DirectoryUser.Resource) and mapped onto Sesame's
// users after every write: the email, name, manager and status of an
// access.User follow the pushed user; the fields SCIM does not own (Slack
// ID, roles, groups from the config file) are kept. Group membership is
// mirrored into the members' access.User.Groups by the group's name, which
// is what approval policies refer to.
//
// Every call authenticates a provisioning client by its bearer token
// (only the token's SHA-256 is stored) and every change is audited with
// the client's ID as the actor. Deactivating a user (active false) or
// deleting it runs workflow's Offboard.
package scimserver
