// Package cli is the API-speaking half of the sesame command: the request,
// grant, audit and me commands, which talk to a Sesame server over the
// REST API with an API token. cmd/sesame hands them their arguments
// through Run; everything else (serve, migrations) lives there.
//
// Output is an aligned table or a short report by default, and the API's
// JSON with --json. Errors from the API (RFC 9457 problems) are printed as
// "error: <title>: <detail>" with one line per invalid field. Exit codes:
// 0 success, 1 an error from the server or the network, 2 a usage error.
package cli
