// Package auth decides who may log in to the gateway and what they may do.
//
// Users are the public keys listed in an OpenSSH authorized_keys file, which
// this package parses itself so that it can enforce the options it accepts
// (from=, expiry-time=, no-pty) and refuse the lines whose options it cannot
// honour, instead of ignoring them. Each key carries a Role and, optionally,
// the radios it may use, through two options of our own (role=, radios=).
//
// A login is allowed by Keys.Authorize, given the key the client signed with.
// The resulting Identity is the only source of who a session is.
//
// The package imports nothing else of meshgate's.
package auth
