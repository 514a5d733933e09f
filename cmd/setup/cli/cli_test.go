package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/internal/command"
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
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS"} {
		t.Setenv(k, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Run(ctx, append([]string{"--address", server.GetFrontendHostPort()}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
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
