// Package e2e holds the end-to-end tests of the clearance engine: a real Temporal server in the
// test process, the real worker with its SQLite release register, and the exporter's starter
// command line, driven through submission, officers' decisions, requests for information,
// withdrawal and release.
package e2e
