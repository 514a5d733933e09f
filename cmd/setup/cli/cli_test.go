package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/workflows"
)

// server is the one in-process Temporal server of this package's tests.
var server *temporaltest.TestServer

func TestMain(m *testing.M) {
	server = temporaltest.NewServer()
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func setup(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return setupAt(t, server.GetFrontendHostPort(), args...)
}

func TestSetupCreatesNamespaceOnceAndRegistersSearchAttributes(t *testing.T) {
	ns := fmt.Sprintf("customs-%d", time.Now().UnixNano())
	code, out, errOut := setup(t, "--namespace", ns, "--create-namespace", "--retention", "72h")
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "namespace "+ns+": created, retention 72h0m0s") || !strings.Contains(out, "search attributes: added [") {
		t.Errorf("first run said:\n%s", out)
	}
	// Once setup has said so, the attributes are usable at once: the first clearance started
	// after it is not refused for "no mapping defined".
	if _, err := server.GetDefaultClient().CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: ns, Query: connect.SearchAttributesQuery()}); err != nil {
		t.Errorf("setup returned and the search attributes are not usable: %v", err)
	}

	ctx := context.Background()
	c := server.GetDefaultClient()
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 72*time.Hour {
		t.Errorf("retention = %s, want 72h", got)
	}
	assertSearchAttributes(t, c, ns)

	// The second run finds everything in place and changes nothing.
	code, out, errOut = setup(t, "--namespace", ns, "--create-namespace", "--retention", "720h")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "namespace "+ns+": exists") || strings.Contains(out, "added") ||
		!strings.Contains(out, fmt.Sprintf("all %d present", len(workflows.SearchAttributes()))) {
		t.Errorf("second run said:\n%s", out)
	}
	desc, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil || desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() != 72*time.Hour {
		t.Errorf("the second run changed the namespace: %v, %v", desc.GetConfig(), err)
	}
}

func TestSetupOnExistingNamespace(t *testing.T) {
	ns := server.GetDefaultNamespace()
	for i := range 2 {
		code, out, errOut := setup(t, "--namespace", ns)
		if code != 0 || !strings.Contains(out, "namespace "+ns+": exists") {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, code, out, errOut)
		}
	}
	assertSearchAttributes(t, server.GetDefaultClient(), ns)
}

func TestSetupPutsAgenciesOnTheSingleWindow(t *testing.T) {
	ns := server.GetDefaultNamespace()
	for i := range 2 {
		code, out, errOut := setup(t, "--namespace", ns, "--agencies", "NMPA,SAMR")
		if code != 0 || !strings.Contains(out, "agency NMPA: namespace agency-nmpa, Nexus endpoint agency-nmpa to task queue agency-review, called from namespace "+ns) ||
			!strings.Contains(out, "agency SAMR: namespace agency-samr") {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, code, out, errOut)
		}
	}
	ctx := context.Background()
	c := server.GetDefaultClient()
	for _, a := range []string{"nmpa", "samr"} {
		if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "agency-" + a}); err != nil {
			t.Errorf("namespace agency-%s: %v", a, err)
		}
		eps, err := c.OperatorService().ListNexusEndpoints(ctx, &operatorservice.ListNexusEndpointsRequest{Name: "agency-" + a})
		if err != nil || len(eps.GetEndpoints()) != 1 {
			t.Fatalf("endpoint agency-%s: %v, %v", a, eps, err)
		}
		w := eps.GetEndpoints()[0].GetSpec().GetTarget().GetWorker()
		if w.GetNamespace() != "agency-"+a || w.GetTaskQueue() != "agency-review" {
			t.Errorf("endpoint agency-%s routes to %v", a, w)
		}
	}
}

func TestSetupRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing namespace", []string{"--namespace", "nowhere", "--wait", "1s"}, 1, "namespace nowhere does not exist; --create-namespace creates it"},
		{"short retention", []string{"--namespace", "short", "--create-namespace", "--retention", "1h"}, 1, "at least 24h"},
		{"argument", []string{"extra"}, 2, `unexpected argument "extra"`},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"unknown agency", []string{"--agencies", "NMPA,nmpa"}, 2, `invalid value "NMPA,nmpa" for flag -agencies`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := setup(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q (stdout %q); want exit %d and %q", code, errOut, out, tc.code, tc.want)
			}
		})
	}
}

func TestSetupGivesUpOnUnreachableCluster(t *testing.T) {
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := Run(ctx, []string{"--address", "127.0.0.1:1", "--wait", "3s"}, &stdout, &stderr)
	if code != command.Unavailable || !strings.Contains(stderr.String(), "cannot reach Temporal at 127.0.0.1:1") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if d := time.Since(start); d < 3*time.Second || d > 30*time.Second {
		t.Errorf("gave up after %s, want a little over --wait 3s", d)
	}
}

func assertSearchAttributes(t *testing.T, c client.Client, ns string) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range workflows.SearchAttributes() {
		if got := resp.GetCustomAttributes()[name]; got != want {
			t.Errorf("%s on %s: %v, want %v", name, ns, got, want)
		}
	}
}

// setupAt runs setup against address.
func setupAt(t *testing.T, address string, args ...string) (int, string, string) {
	t.Helper()
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS"} {
		t.Setenv(k, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Run(ctx, append([]string{"--address", address}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestSetupArchive turns history archival on for a namespace of a cluster that archives (the
// embedded server with an archive), leaves it as it is on the next run, and refuses to move it,
// an archive URI that cannot be one, and a cluster that does not archive.
func TestSetupArchive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	s, err := embedded.Start(ctx, embedded.Config{InMemory: true, DisableUI: true, GRPCPort: testport.One(t), ArchiveDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()
	uri := "file://" + dir
	ns := "archived"
	// The namespace the setup creates takes the cluster's default archive, the same one.
	code, out, errOut := setupAt(t, s.FrontendAddress(), "--namespace", ns, "--create-namespace", "--archive", uri)
	if code != command.OK || !strings.Contains(out, "namespace "+ns+": archives closed histories to "+uri+" and their visibility records to "+uri+"/visibility\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: s.FrontendAddress(), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The history archive's state and URI, and the visibility archive's.
	archival := func() (enumspb.ArchivalState, string, enumspb.ArchivalState, string) {
		t.Helper()
		desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		nc := desc.GetConfig()
		return nc.GetHistoryArchivalState(), nc.GetHistoryArchivalUri(), nc.GetVisibilityArchivalState(), nc.GetVisibilityArchivalUri()
	}
	// An operator paused it: the next setup turns it back on.
	if _, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: ns, Config: &namespacepb.NamespaceConfig{
			HistoryArchivalState: enumspb.ARCHIVAL_STATE_DISABLED, VisibilityArchivalState: enumspb.ARCHIVAL_STATE_DISABLED},
	}); err != nil {
		t.Fatal(err)
	}
	if h, _, v, _ := archival(); h != enumspb.ARCHIVAL_STATE_DISABLED || v != enumspb.ARCHIVAL_STATE_DISABLED {
		t.Fatalf("archival %v and %v after turning it off", h, v)
	}
	code, out, errOut = setupAt(t, s.FrontendAddress(), "--namespace", ns, "--archive", uri)
	if code != command.OK || !strings.Contains(out, "namespace "+ns+": archives closed histories to "+uri+" and their visibility records to "+uri+"/visibility from now on") {
		t.Errorf("turning it back on: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if h, hu, v, vu := archival(); h != enumspb.ARCHIVAL_STATE_ENABLED || hu != uri || v != enumspb.ARCHIVAL_STATE_ENABLED || vu != uri+"/visibility" {
		t.Errorf("namespace archival: history %v at %q, visibility %v at %q; want both enabled at %s and %[5]s/visibility", h, hu, v, vu, uri)
	}
	code, _, errOut = setupAt(t, s.FrontendAddress(), "--namespace", ns, "--archive", "file:///elsewhere")
	if code != command.Failure || !strings.Contains(errOut, "namespace "+ns+" archives histories to "+uri+", which the server cannot change") {
		t.Errorf("moving the archive: exit %d, stderr %q", code, errOut)
	}

	for _, tc := range []struct{ uri, want string }{
		{"ftp://host/dir", "the scheme must be one of file, s3, gs"},
		{"file://relative/dir", "a file URI names an absolute directory"},
		{"s3:///path", "name the bucket, s3://bucket/path"},
	} {
		// Refused before dialling: the address does not answer.
		code, _, errOut := setupAt(t, "127.0.0.1:1", "--namespace", ns, "--archive", tc.uri)
		if code != command.Failure || !strings.Contains(errOut, "--archive: archive URI \""+tc.uri+"\": "+tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %q", tc.uri, code, errOut, tc.want)
		}
	}

	// A cluster whose configuration does not archive.
	code, _, errOut = setup(t, "--namespace", "not-archived", "--create-namespace", "--archive", uri)
	if code == command.OK || !strings.Contains(errOut, "the cluster's configuration must turn history and visibility archival on") {
		t.Errorf("a cluster that does not archive: exit %d, stderr %q", code, errOut)
	}
}

// TestSetupMakesTheWorkersBuildCurrent: on a fresh deployment, --make-current if-none makes the
// build current before any worker of it runs; a later build is left for a rollout; always makes
// it current.
func TestSetupMakesTheWorkersBuildCurrent(t *testing.T) {
	ns := fmt.Sprintf("versions-%d", time.Now().UnixNano())
	current := func() string {
		t.Helper()
		c, err := client.NewClientFromExisting(server.GetDefaultClient(), client.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d, err := c.WorkerDeploymentClient().GetHandle("customs-worker").Describe(context.Background(), client.WorkerDeploymentDescribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v := d.Info.RoutingConfig.CurrentVersion; v != nil {
			return v.BuildID
		}
		return ""
	}
	for _, run := range []struct {
		args    []string
		says    string
		current string
	}{
		{[]string{"--create-namespace", "--make-current", "if-none", "--build-id", "1.4.0"}, "worker deployment customs-worker: build 1.4.0 made current", "1.4.0"},
		{[]string{"--make-current", "if-none", "--build-id", "1.4.0"}, "build 1.4.0 is current already", "1.4.0"},
		{[]string{"--make-current", "if-none", "--build-id", "1.5.0"}, "build 1.4.0 is current; build 1.5.0 left to be ramped", "1.4.0"},
		{[]string{"--make-current", "always", "--build-id", "1.5.0"}, "build 1.5.0 made current", "1.5.0"},
		{[]string{"--build-id", "1.6.0"}, "", "1.5.0"},
	} {
		code, out, errOut := setup(t, append([]string{"--namespace", ns}, run.args...)...)
		if code != 0 || !strings.Contains(out, run.says) || (run.says == "" && strings.Contains(out, "worker deployment")) {
			t.Fatalf("setup %v: exit %d\n%s%s\nwant %q", run.args, code, out, errOut, run.says)
		}
		if got := current(); got != run.current {
			t.Errorf("after setup %v the current build is %q, want %q", run.args, got, run.current)
		}
	}
}

func TestSetupRefusesABadVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--make-current", "sometimes"}, `--make-current "sometimes": want never, if-none or always`},
		{[]string{"--make-current", "if-none", "--deployment-name", "customs.worker"}, `--deployment-name "customs.worker": must not contain '.' or ':'`},
		{[]string{"--make-current", "if-none", "--build-id", ""}, "--build-id is empty"},
	} {
		code, out, errOut := setup(t, append([]string{"--namespace", "untouched"}, tc.args...)...)
		if code != command.Usage || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("setup %v: exit %d, stdout %q, stderr %q; want exit 2 and %q, nothing done", tc.args, code, out, errOut, tc.want)
		}
	}
}
