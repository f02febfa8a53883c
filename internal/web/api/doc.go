// Package api is Sesame's REST API under /api/v1: the catalog, requests
// and their decisions, grants, the audit log, users and API tokens, and
// the OpenAPI document that describes them (openapi.json, served at
// /api/v1/openapi.json).
//
// Every route but the OpenAPI document needs an API token
// (Authorization: Bearer ses_...). Handlers validate their input, call the
// use cases in internal/workflow with the authenticated user's ID, and
// render explicit response structs; eligibility is never decided here.
// Errors are RFC 9457 problem documents, mapped once from access.Code in
// problem.go.
//
// The route table in routes.go is the one list of routes: New registers
// it, the 404/405 fallback consults it, and a test checks openapi.json
// against it.
package api
