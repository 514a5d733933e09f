package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/logging"
)

// TestBinariesDoNotLinkTheServer lists the dependencies of the worker and of the starter: the
// production binaries talk to a Temporal cluster as clients and must not link the Temporal
// server, which only the embedded development server and the tests need; the exporter's starter
// links no database driver either: the registers are the worker's.
func TestBinariesDoNotLinkTheServer(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	// The binaries' main packages, relative to worker/cli.
	for name, pkg := range map[string]string{"worker": "..", "starter": "../../starter"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", pkg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
			}
			deps := strings.Fields(string(out))
			var server []string
			sdk := false
			for _, d := range deps {
				if strings.HasPrefix(d, "go.temporal.io/server") {
					server = append(server, d)
				}
				sdk = sdk || strings.HasPrefix(d, "go.temporal.io/sdk/")
			}
			if !sdk {
				t.Fatalf("go list -deps %s lists no go.temporal.io/sdk package among %d: the listing is not of the binary", pkg, len(deps))
			}
			if len(server) > 0 {
				t.Errorf("%s links %d packages of the Temporal server, among them %s", name, len(server),
					strings.Join(server[:min(len(server), 5)], ", "))
			}
			if name == "starter" {
				for _, d := range deps {
					if strings.HasPrefix(d, "github.com/jackc/pgx") || strings.HasPrefix(d, "modernc.org/sqlite") ||
						d == "github.com/medsupply/customs/register" {
						t.Errorf("the starter links %s", d)
					}
				}
			}
		})
	}
}

func TestHelpAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &out, &errOut); code != command.OK {
		t.Errorf("--help: exit %d", code)
	}
	for _, want := range []string{"usage: worker [flags]", "-wait", "-fatal-polls-after", "-tls-ca-path", "-versioning", "-build-id", "-make-current",
		"worker healthcheck flags:", "-url", "3 the server could not be reached"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, args := range [][]string{{"extra"}, {"--pollers", "1"}, {"--nope"}, {"--log-level", "loud"}} {
		if code := Run(context.Background(), args, &out, &errOut); code != command.Usage {
			t.Errorf("%q: exit %d, want %d", args, code, command.Usage)
		}
	}
}

// TestVersioningRefusals: a version the server would refuse, or an unknown --make-current, is
// refused before the worker opens anything, naming the flag or variable.
func TestVersioningRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--make-current", "sometimes"}, "", `--make-current "sometimes": want never, if-none or always`},
		{[]string{"--deployment-name", "customs:worker"}, "", `--deployment-name "customs:worker": must not contain '.' or ':'`},
		{[]string{"--build-id", "__mine"}, "", `--build-id "__mine": must not start with '__'`},
		{nil, "maybe", `CUSTOMS_VERSIONING="maybe": want true or false`},
	} {
		t.Setenv("CUSTOMS_VERSIONING", c.env)
		dir := t.TempDir()
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"--data-dir", dir, "--address", "127.0.0.1:1"}, c.args...), &out, &errOut)
		if code != command.Usage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q (CUSTOMS_VERSIONING=%q): exit %d, stderr %q; want exit 2 and %q", c.args, c.env, code, errOut.String(), c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%q: the worker wrote to its data directory before refusing", c.args)
		}
	}
}

// An agency's worker that could not serve its agency's endpoint, or a single window the built-in
// policy has no rules for, is refused before anything starts, naming the flag.
func TestAgencyRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--agency", "nmpa", "--agency-callers", "customs", "--namespace", "agency-nmpa"}, "--agency: "},
		{[]string{"--agency", "WHO", "--agency-callers", "customs", "--namespace", "agency-who"}, "--agency-roster: roster: WHO has no built-in roster; give its roster file"},
		{[]string{"--agency", "NMPA", "--namespace", "agency-nmpa"}, "--agency-callers: missing: name customs' namespace"},
		{[]string{"--agency", "NMPA", "--agency-callers", "customs", "--namespace", "customs"}, "--namespace customs: NMPA's worker works in namespace agency-nmpa"},
		{[]string{"--agency", "SAMR", "--agency-callers", "agency-samr", "--namespace", "agency-samr"}, "--agency-callers agency-samr: that is SAMR's own namespace"},
		{[]string{"--agency-callers", "customs"}, "give --agency too"},
		{[]string{"--single-window", "NMPA,WHO"}, `--single-window: "WHO" has no standard rules`},
		{[]string{"--single-window", "NMPA", "--policy", "policy.json"}, "--single-window is for the built-in policy"},
	} {
		dir := t.TempDir()
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"--data-dir", dir, "--address", "127.0.0.1:1"}, c.args...), &out, &errOut)
		if code != command.Usage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", c.args, code, errOut.String(), c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%q: the worker wrote to its data directory before refusing", c.args)
		}
	}
}

// TestWorkerWaitsForTheServerThenServesReady starts the worker before any server listens: with
// --wait it keeps trying, and once the server is up the worker polls and /readyz answers 200 (its
// polls are watched on its own connection); without --wait it exits 3 at once.
func TestWorkerWaitsForTheServerThenServesReady(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	port, health := testport.One(t), testport.One(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"--address", addr, "--data-dir", t.TempDir(), "--notifications", "-"}, &out, &errOut); code != command.Unavailable {
		t.Fatalf("no server, no --wait: exit %d, want %d\n%s", code, command.Unavailable, errOut.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var logs bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"--address", addr, "--namespace", "default", "--wait", "2m", "--data-dir", t.TempDir(),
			"--notifications", "-", "--health-addr", fmt.Sprintf("127.0.0.1:%d", health), "--log-level", "warn"}, &logs, &logs)
	}()
	// While it waits for the server the worker is alive, not ready: a probe restarts it only when
	// it has failed. Its health address is bound meanwhile, so the server's ports cannot take it.
	live, ready := fmt.Sprintf("http://127.0.0.1:%d/healthz", health), fmt.Sprintf("http://127.0.0.1:%d/readyz", health)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code := statusOf(live); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("while it waits for the server, the worker's /healthz never answered 200:\n%s", logs.String())
		}
	}
	if code := statusOf(ready); code != http.StatusServiceUnavailable {
		t.Errorf("while it waits for the server, /readyz answers %d, want %d", code, http.StatusServiceUnavailable)
	}
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true, IP: "127.0.0.1", GRPCPort: port, DisableUI: true, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(ready)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("the worker exited %d before it was ready:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200:\n%s", logs.String())
		}
	}
	// By default the worker is a version of its deployment, named by its build, and on a fresh
	// deployment it makes itself current: new clearances go to it.
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: "default", Logger: logging.NewSDKLogger(zap.NewNop())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		d, err := c.WorkerDeploymentClient().GetHandle(connect.DefaultDeploymentName).Describe(ctx, client.WorkerDeploymentDescribeOptions{})
		if cur := d.Info.RoutingConfig.CurrentVersion; err == nil && cur != nil && cur.BuildID == command.BuildID() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker's build %s never became current: %+v, %v\n%s", command.BuildID(), d.Info.RoutingConfig, err, logs.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != command.OK {
			t.Errorf("stopped with exit %d:\n%s", code, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the worker did not stop")
	}
}

// statusOf GETs url and returns the response's status code, or 0 when nothing answered.
func statusOf(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
