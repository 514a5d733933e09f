package health

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.String()
}

func TestServerFollowsTheWorker(t *testing.T) {
	var down atomic.Bool
	var checks atomic.Int32
	s, err := Listen("127.0.0.1:0", func(ctx context.Context) error {
		checks.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("check without deadline")
		}
		if down.Load() {
			return errors.New("polls fail: Unavailable: connection refused")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	live, ready := "http://"+s.Addr()+LivePath, "http://"+s.Addr()+ReadyPath
	expect := func(url string, code int, body string) {
		t.Helper()
		gotCode, gotBody := get(t, url)
		if gotCode != code || !strings.Contains(gotBody, body) {
			t.Errorf("GET %s = %d %q, want %d %q", url, gotCode, gotBody, code, body)
		}
	}

	// Starting: alive, not ready, and readiness is not asked yet.
	expect(live, 200, "ok starting")
	expect(ready, 503, "starting")
	if checks.Load() != 0 {
		t.Errorf("%d checks before the worker started", checks.Load())
	}

	s.Serving()
	expect(live, 200, "ok serving")
	expect(ready, 200, "ok serving")

	// Temporal down: not ready, still alive (a cluster outage restarts no pod), and liveness
	// does not even ask.
	down.Store(true)
	before := checks.Load()
	expect(live, 200, "ok serving")
	if checks.Load() != before {
		t.Error("liveness asked the readiness check")
	}
	expect(ready, 503, "not ready: polls fail: Unavailable: connection refused")
	down.Store(false)

	// Draining: alive, not ready.
	s.Stopping()
	expect(live, 200, "ok stopping")
	expect(ready, 503, "stopping")

	// A fatal worker error: neither, with the reason.
	s.Failed(errors.New("namespace customs not found"))
	expect(live, 503, "failed: namespace customs not found")
	expect(ready, 503, "failed: namespace customs not found")
	s.Stopping()
	expect(live, 503, "failed")

	resp, err := http.Post(live, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s = %d", LivePath, resp.StatusCode)
	}
	if code, _ := get(t, "http://"+s.Addr()+"/"); code != http.StatusNotFound {
		t.Errorf("GET / = %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(live); err == nil {
		t.Error("still serving after Close")
	}
}

func TestListenRefusesBusyAddress(t *testing.T) {
	s, err := Listen("127.0.0.1:0", func(context.Context) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	if _, err := Listen(s.Addr(), func(context.Context) error { return nil }); err == nil || !strings.Contains(err.Error(), s.Addr()) {
		t.Errorf("second Listen on %s: %v", s.Addr(), err)
	}
}

func TestURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/healthz",
		"[::]:8080":      "http://127.0.0.1:8080/healthz",
		"10.1.2.3:9000":  "http://10.1.2.3:9000/healthz",
		"localhost:8081": "http://localhost:8081/healthz",
	} {
		got, err := URL(addr, LivePath)
		if err != nil || got != want {
			t.Errorf("URL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := URL("8080", LivePath); err == nil {
		t.Error("a port without colon was accepted")
	}
}

func TestCommand(t *testing.T) {
	var unhealthy atomic.Bool
	s, err := Listen("127.0.0.1:0", func(context.Context) error {
		if unhealthy.Load() {
			return errors.New("no route to host")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	s.Serving()

	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := Command(args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	t.Setenv(EnvAddr, s.Addr())
	if code, out := run(); code != 0 || out != "ok\n" {
		t.Errorf("healthy, address from %s: exit %d %q", EnvAddr, code, out)
	}
	if code, out := run("--url", "http://"+s.Addr()+ReadyPath); code != 0 {
		t.Errorf("--url %s: exit %d %q", ReadyPath, code, out)
	}
	unhealthy.Store(true)
	if code, out := run(); code != 0 {
		t.Errorf("not ready is still alive: exit %d %q", code, out)
	}
	if code, out := run("--url", "http://"+s.Addr()+ReadyPath); code != 1 || !strings.Contains(out, "503") || !strings.Contains(out, "no route to host") {
		t.Errorf("unhealthy: exit %d %q", code, out)
	}
	if code, out := run("--url", "http://127.0.0.1:1/healthz", "--timeout", "2s"); code != 1 || !strings.Contains(out, "healthcheck:") {
		t.Errorf("nothing listening: exit %d %q", code, out)
	}
	t.Setenv(EnvAddr, "")
	if code, out := run(); code != 2 || !strings.Contains(out, EnvAddr) {
		t.Errorf("no address: exit %d %q", code, out)
	}
	if code, _ := run("extra"); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
}
