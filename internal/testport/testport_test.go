package testport

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortsAreDistinctAndFree(t *testing.T) {
	ports := Free(t, 5)
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want five distinct positive ports", ports)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		_ = ln.Close()
	}
	if One(t) <= 0 {
		t.Error("One returned no port")
	}
}
