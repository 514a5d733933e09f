package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	token "github.com/medsupply/customs/cmd/token/cli"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/internal/testport"
	starter "github.com/medsupply/customs/starter/cli"
)

// devserver is the devserver's command line running in the test.
type devserver struct {
	logs bytes.Buffer
	done chan int
	stop context.CancelFunc
}

// runDevserver runs the devserver with args (which must include --health-addr on health) and
// returns once its worker is ready; it is stopped when the test ends, unless stopped before.
func runDevserver(t *testing.T, health int, args ...string) *devserver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devserver{done: make(chan int, 1), stop: cancel}
	go func() { d.done <- Run(ctx, args, &d.logs, &d.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(time.Minute):
			t.Error("the devserver did not stop")
		}
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", health)); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case code := <-d.done:
			t.Fatalf("the devserver exited %d:\n%s", code, d.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the devserver's worker never became ready:\n%s", d.logs.String())
		}
	}
}

// Stop stops the devserver and returns its exit code.
func (d *devserver) Stop(t *testing.T) int {
	t.Helper()
	d.stop()
	select {
	case code := <-d.done:
		d.done <- code // for the cleanup
		return code
	case <-time.After(time.Minute):
		t.Fatal("the devserver did not stop")
		return -1
	}
}

// TestAuthOnTheEmbeddedDefault runs devserver --auth as a newcomer would, with tokens from
// cmd/token and the exporter's starter: its own declaration is lodged, an officer's token cannot
// lodge one, and no token at all is refused.
func TestAuthOnTheEmbeddedDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := t.TempDir()
	grpcPort, authPort, health := testport.One(t), testport.One(t), testport.One(t)
	ctx := context.Background()
	d := runDevserver(t, health, "--memory", "--no-ui", "--auth", "--data-dir", dir, "--notifications", "-",
		"--port", fmt.Sprint(grpcPort), "--auth-port", fmt.Sprint(authPort), "--health-addr", fmt.Sprintf("127.0.0.1:%d", health),
		"--log-level", "warn")
	logs := &d.logs
	if !strings.Contains(logs.String(), "Authentication is on") {
		t.Errorf("the banner does not say authentication is on:\n%s", logs.String())
	}
	sign := func(args ...string) string {
		var out, errOut bytes.Buffer
		if code := token.Run(ctx, append([]string{"--data-dir", dir, "--auth-port", fmt.Sprint(authPort)}, args...), &out, &errOut); code != command.OK {
			t.Fatalf("token %q: exit %d: %s", args, code, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	submit := func(tok string) (int, string) {
		var out, errOut bytes.Buffer
		args := []string{"--address", fmt.Sprintf("127.0.0.1:%d", grpcPort), "--tls=false"}
		if tok != "" {
			args = append(args, "--api-key", tok)
		}
		code := starter.Run(ctx, append(args, "submit", "../../../examples/de-antibody-test-kits.json"), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := submit(sign("--role", "officer", "--subject", "doc-li")); code != command.Denied || !strings.Contains(out, "only an exporter lodges declarations") {
		t.Errorf("an officer lodges: exit %d\n%s", code, out)
	}
	if code, out := submit(""); code != command.Denied || !strings.Contains(out, "no token") {
		t.Errorf("no token: exit %d\n%s", code, out)
	}
	exporter := sign("--exporter", "3301960412", "--subject", "labor-berlin")
	if code, out := submit(exporter); code != command.OK {
		t.Errorf("the exporter lodges its own declaration: exit %d\n%s", code, out)
	}
	// The worker is a version of its deployment, which a worker's token may not make current:
	// the devserver does so as an administrator, and the clearance runs.
	if !strings.Contains(logs.String(), "Worker         build ") {
		t.Errorf("the banner does not name the worker's build:\n%s", logs.String())
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var out, errOut bytes.Buffer
		code := starter.Run(ctx, []string{"--address", fmt.Sprintf("127.0.0.1:%d", grpcPort), "--tls=false", "--api-key", exporter,
			"status", "LB-2020-DE-0415"}, &out, &errOut)
		if code == command.OK && strings.Contains(out.String(), "a document officer's decision") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clearance never reached the document officer: exit %d\n%s%s\n%s", code, out.String(), errOut.String(), logs.String())
		}
	}
	// Revoked, the exporter's valid token is refused from its next call.
	var out, errOut bytes.Buffer
	if code := token.Run(ctx, []string{"--data-dir", dir, "--revoke", "labor-berlin"}, &out, &errOut); code != command.OK {
		t.Fatalf("token --revoke: exit %d: %s", code, errOut.String())
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, out := submit(exporter)
		if code == command.Denied && strings.Contains(out, "labor-berlin is revoked") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked exporter: exit %d\n%s", code, out)
		}
	}
	if code := d.Stop(t); code != command.OK {
		t.Errorf("devserver exit %d", code)
	}
}

func TestTokenRefusals(t *testing.T) {
	for _, args := range [][]string{
		{"--role", "officer"},
		{"--subject", "x"},
		{"--subject", "x", "--role", "janitor"},
		{"--subject", "x", "--role", "exporter"},
		{"--subject", "x", "--role", "officer", "--exporter", "3301960412"},
		{"--subject", "x", "--role", "officer", "--ttl", "-1h"},
	} {
		var out, errOut bytes.Buffer
		if code := token.Run(context.Background(), append(args, "--data-dir", t.TempDir()), &out, &errOut); code != command.Usage || errOut.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q; want %d with the reason", args, code, errOut.String(), command.Usage)
		}
	}
	var out, errOut bytes.Buffer
	if code := token.Run(context.Background(), []string{"--subject", "doc-li", "--role", "officer", "--data-dir", t.TempDir()}, &out, &errOut); code != command.NotFound ||
		!strings.Contains(errOut.String(), "--auth") {
		t.Errorf("no key yet: exit %d, %q", code, errOut.String())
	}
}

// --pprof-port serves the process's profiles on loopback while the devserver runs, and a port
// out of range, or one taken, is refused naming the flag.
func TestProfiles(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"--memory", "--pprof-port", "70000"}, &out, &errOut); code != command.Usage ||
		!strings.Contains(errOut.String(), "--pprof-port 70000") {
		t.Errorf("port 70000: exit %d, %q; want %d naming the flag", code, errOut.String(), command.Usage)
	}
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	out.Reset()
	errOut.Reset()
	if code := Run(context.Background(), []string{"--memory", "--no-ui", "--log-level", "error", "--pprof-port", fmt.Sprint(taken.Addr().(*net.TCPAddr).Port)}, &out, &errOut); code != command.Failure ||
		!strings.Contains(errOut.String(), "--pprof-port") {
		t.Errorf("a port in use: exit %d, %q; want %d naming the flag", code, errOut.String(), command.Failure)
	}

	prof, health := testport.One(t), testport.One(t)
	runDevserver(t, health, "--memory", "--no-ui", "--data-dir", t.TempDir(), "--notifications", "-", "--port", fmt.Sprint(testport.One(t)),
		"--health-addr", fmt.Sprintf("127.0.0.1:%d", health), "--log-level", "warn", "--pprof-port", fmt.Sprint(prof))
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", prof))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// The server's and the worker's goroutines are this process's.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go.temporal.io/server/") || !strings.Contains(string(body), "go.temporal.io/sdk/") {
		t.Errorf("goroutine profile: %s, %d bytes; want the server's and the worker's goroutines", resp.Status, len(body))
	}
}

// A negative history cache is refused before anything starts, naming the flag.
func TestHistoryCacheRefusal(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"--memory", "--history-cache", "-5"}, &out, &errOut)
	if code != command.Usage || !strings.Contains(errOut.String(), "--history-cache -5") {
		t.Errorf("exit %d, stderr %q; want %d naming the flag", code, errOut.String(), command.Usage)
	}
}

// An archive delay without an archive, or a negative one, is refused before anything starts.
func TestArchiveDelayRefusal(t *testing.T) {
	for _, args := range [][]string{
		{"--memory", "--archive-delay", "1m"},
		{"--memory", "--archive", t.TempDir(), "--archive-delay", "-1s"},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), args, &out, &errOut)
		if code != command.Usage || !strings.Contains(errOut.String(), "--archive-delay") || !strings.Contains(errOut.String(), "with --archive") {
			t.Errorf("%q: exit %d, stderr %q; want %d naming the flag", args, code, errOut.String(), command.Usage)
		}
	}
}

// The worker's health address is bound before the embedded server starts: one in use is refused
// at once, naming the flag, and none of the server's own ports can take it meanwhile.
func TestHealthAddressInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"--memory", "--no-ui", "--log-level", "error", "--port", fmt.Sprint(testport.One(t)),
		"--health-addr", taken.Addr().String()}, &out, &errOut)
	if code != command.Failure || !strings.Contains(errOut.String(), "--health-addr "+taken.Addr().String()) {
		t.Errorf("exit %d, stderr %q; want %d naming the flag", code, errOut.String(), command.Failure)
	}
	if strings.Contains(out.String(), "is running") {
		t.Errorf("the devserver started before it refused the health address:\n%s", out.String())
	}
}
