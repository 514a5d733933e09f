package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/temporaltest"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/internal/command"
)

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"-h"}, &out, &errOut); code != command.OK || !strings.Contains(out.String(), "-officer-delay") {
		t.Errorf("-h: exit %d", code)
	}
	for _, args := range [][]string{{"-n", "0"}, {"--rate", "-1"}, {"extra"}, {"--examples", "no-such-file.json"}} {
		if code := Run(context.Background(), args, &out, &errOut); code != command.Usage {
			t.Errorf("%q: exit %d, want %d", args, code, command.Usage)
		}
	}
	errOut.Reset()
	bad := filepath.Join(t.TempDir(), "no-such-dir", "cpu.pprof")
	if code := Run(context.Background(), []string{"--cpu-profile", bad}, &out, &errOut); code != command.Usage || !strings.Contains(errOut.String(), "--cpu-profile") {
		t.Errorf("--cpu-profile in a missing directory: exit %d, %q; want %d naming the flag", code, errOut.String(), command.Usage)
	}
}

// TestBacklogRefusals: a --backlog that is neither mode, one with the worker elsewhere (it must
// stop and start it), or nothing lodged behind it is refused before the server is dialled.
func TestBacklogRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--backlog", "urgent"}, `--backlog "urgent": want expedited or exporter`},
		{[]string{"--backlog", "expedited", "--worker=false"}, "--backlog stops and starts the clearance worker"},
		{[]string{"--backlog", "exporter", "--behind", "0"}, "--behind 0: must be positive"},
	} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), append(tc.args, "--address", "127.0.0.1:1"), &out, &errOut); code != command.Usage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, %q; want %d saying %q", tc.args, code, errOut.String(), command.Usage, tc.want)
		}
	}
}

// TestBacklogOnARealServer runs load --backlog expedited at a small size against a real server:
// it prints the three groups' times and the backlog's rate.
func TestBacklogOnARealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	if err := connect.RegisterSearchAttributes(ctx, srv.GetDefaultClient(), srv.GetDefaultNamespace()); err != nil {
		t.Fatal(err)
	}
	examples := filepath.Join("..", "..", "..", "examples")
	args := []string{"--address", srv.GetFrontendHostPort(), "--namespace", srv.GetDefaultNamespace(), "--data-dir", t.TempDir(),
		"--notifications", "-", "--backlog", "expedited", "-n", "4", "--behind", "2", "--concurrency", "4",
		"--examples", filepath.Join(examples, "it-ffp2-respirators.json")}
	// Search attributes become usable in queries a moment after registration.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_, err := srv.GetDefaultClient().CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: srv.GetDefaultNamespace(), Query: "DeclarationId STARTS_WITH 'x'"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if code := Run(ctx, args, &out, &errOut); code != command.OK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"backlog by expedited: 4 clearances lodged behind a stopped worker, then 2 expedited copies",
		"lodged on the idle server", "lodged behind the backlog", "the backlog", "backlog released at"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
