package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/logging"
)

// TestSingleWindowRefusals: --single-window with the workers elsewhere, with a policy file, or
// naming an agency without standard rules or one twice is refused before the server is dialled.
func TestSingleWindowRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--single-window", "SAMR", "--worker=false"}, "--single-window runs the clearance worker and the agencies' workers in this process"},
		{[]string{"--single-window", "SAMR", "--policy", "policy.json"}, "--single-window is for the built-in policy"},
		{[]string{"--single-window", "HEALTH"}, `--single-window "HEALTH": "HEALTH" has no standard rules`},
		{[]string{"--single-window", "SAMR,SAMR"}, "SAMR is named twice"},
		{[]string{"--single-window", ","}, "name at least one agency"},
	} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), append(tc.args, "--address", "127.0.0.1:1"), &out, &errOut); code != command.Usage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, %q; want %d saying %q", tc.args, code, errOut.String(), command.Usage, tc.want)
		}
	}
}

// TestSingleWindowOnARealServer runs load against the embedded server with the agencies set up,
// as singlewindow.sh does, without and with --single-window SAMR: without, no clearance asks an
// agency; with, each is granted SAMR's permit through the Nexus endpoint by SAMR's worker in the
// load process, and the agency round trip is reported.
func TestSingleWindowOnARealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ports := testport.Free(t, 2)
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true, IP: "127.0.0.1", GRPCPort: ports[0], UIPort: ports[1],
		DisableUI: true, Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	ac, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(),
		Logger: logging.NewSDKLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))})
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	if err := agency.Setup(ctx, ac, srv.Namespace(), agency.SAMR); err != nil {
		t.Fatal(err)
	}
	load := func(extra ...string) string {
		t.Helper()
		args := append([]string{"--address", srv.FrontendAddress(), "--namespace", srv.Namespace(), "--data-dir", t.TempDir(),
			"--notifications", "-", "--baseline=false", "-n", "3", "--concurrency", "3",
			"--examples", filepath.Join("..", "..", "..", "examples", "it-ffp2-respirators.json")}, extra...)
		var out, errOut bytes.Buffer
		if code := Run(ctx, args, &out, &errOut); code != command.OK {
			t.Fatalf("load %q: exit %d\n%s%s", extra, code, out.String(), errOut.String())
		}
		return out.String()
	}
	if out := load(); strings.Contains(out, "permits granted") {
		t.Errorf("without --single-window, a clearance asked an agency:\n%s", out)
	}
	// load names its declarations after the second it starts in: the second run starts in the next.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	out := load("--single-window", agency.SAMR)
	for _, want := range []string{"permits granted through the single window, clearances by agency: SAMR 3 of 3", "agency round trip (asked to answered) p50 "} {
		if !strings.Contains(out, want) {
			t.Errorf("with --single-window SAMR, output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "p50 0s") {
		t.Errorf("with --single-window SAMR, no round trip measured:\n%s", out)
	}
}
