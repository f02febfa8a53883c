package postgresql

// ScramVerifier exposes scramVerifier to the black-box tests, which check
// it against the server's own computation.
var ScramVerifier = scramVerifier
