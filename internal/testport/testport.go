// Package testport hands tests free loopback ports for the servers they start.
package testport

import (
	"net"
	"testing"
)

// Free returns n distinct ports that were free on 127.0.0.1 a moment ago: each is held until
// all are chosen, so none repeats.
func Free(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	held := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// One returns one port that was free on 127.0.0.1 a moment ago.
func One(t testing.TB) int {
	t.Helper()
	return Free(t, 1)[0]
}
