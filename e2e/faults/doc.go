// Package faults holds the clearance engine's fault tests: real worker and starter processes
// against a real Temporal server, with the faults an operator meets in production. A worker is
// killed with SIGKILL while clearances are in flight, alone or beside a second worker; the
// file-backed server is stopped and started again with clearances waiting on officers and
// exporters; one declaration is submitted by several processes at once; the certificate registry
// fails and recovers; and payloads are encrypted end to end. Each test checks that nothing is
// lost (every clearance ends as it should) and nothing is done twice (one release notice per
// declaration, one clearance per declaration), and logs what it covered.
package faults
