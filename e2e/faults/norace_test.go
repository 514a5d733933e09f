//go:build !race

package faults

// raceDetector reports a test binary built with -race, in which the in-process server is
// several times slower.
const raceDetector = false
