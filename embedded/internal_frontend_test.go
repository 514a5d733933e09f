package embedded

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.uber.org/zap/zaptest"

	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/logging"
)

// testToken is the authorization header tokenAuth admits.
const testToken = "Bearer embedded-test"

// tokenAuth admits system administrators only: the internal frontend's callers, whom its own
// claim mapper makes administrators, and the public frontend's callers that send testToken.
type tokenAuth struct{}

func (tokenAuth) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	if info.AuthToken != testToken {
		return nil, nil
	}
	return &authorization.Claims{Subject: "embedded-test", System: authorization.RoleAdmin}, nil
}

func (tokenAuth) Authorize(_ context.Context, c *authorization.Claims, _ *authorization.CallTarget) (authorization.Result, error) {
	if c == nil || c.System&authorization.RoleAdmin == 0 {
		return authorization.Result{Decision: authorization.DecisionDeny}, nil
	}
	return authorization.Result{Decision: authorization.DecisionAllow}, nil
}

// header sends a fixed authorization header.
type header string

func (h header) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": string(h)}, nil
}

// describeNamespace dials addr as opts say and asks it about the namespace.
func describeNamespace(ctx context.Context, addr, ns string, opts client.ConnectionOptions) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: ns, ConnectionOptions: opts})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	return err
}

// TestInternalFrontendNeedsCertificate starts a server with Auth and checks that the internal
// frontend, whose claim mapper makes every caller an administrator, refuses whoever lacks the
// process's certificate, while the server keeps working: the namespace prepared through the
// internal frontend, a workflow run through the public one with a token, and a schedule's
// workflow started by the server's system workers.
func TestInternalFrontendNeedsCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := start(t, ctx, Config{InMemory: true, DisableUI: true, GRPCPort: testport.One(t), Namespace: "customs-auth",
		Logger: zaptest.NewLogger(t), Auth: &Auth{ClaimMapper: tokenAuth{}, Authorizer: tokenAuth{}}})
	defer stop(t, s)
	internal := s.InternalFrontendAddress()
	if internal == "" || internal == s.FrontendAddress() {
		t.Fatalf("internal frontend address %q beside the frontend's %q", internal, s.FrontendAddress())
	}

	// Outsiders, who skip verifying the server so that only its check of them stands: each
	// gets a few seconds, as the SDK retries an unavailable server.
	other, err := newInternodeTLS()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.client()
	if err != nil {
		t.Fatal(err)
	}
	foreign.InsecureSkipVerify = true
	for name, opts := range map[string]client.ConnectionOptions{
		"plain":                       {},
		"TLS without a certificate":   {TLS: &tls.Config{InsecureSkipVerify: true}},
		"a certificate of another CA": {TLS: foreign},
	} {
		octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
		err := describeNamespace(octx, internal, s.Namespace(), opts)
		ocancel()
		if err == nil {
			t.Errorf("%s: an outsider described the namespace through the internal frontend %s", name, internal)
		} else {
			t.Logf("%s: refused: %v", name, err)
		}
	}

	// The process itself still gets in.
	own, err := s.dialOwn(ctx, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if _, err := own.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.Namespace()}); err != nil {
		t.Fatalf("the process's own client: %v", err)
	}

	// The public frontend is as before: plain gRPC, a token required.
	var denied *serviceerror.PermissionDenied
	if err := describeNamespace(ctx, s.FrontendAddress(), s.Namespace(), client.ConnectionOptions{}); !errors.As(err, &denied) {
		t.Errorf("the public frontend without a token: %v, want permission denied", err)
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace(),
		HeadersProvider: header(testToken), Logger: logging.NewSDKLogger(zaptest.NewLogger(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkSearchAttributes(t, ctx, c, s.Namespace())
	w := startWorker(t, c)
	defer w.Stop()
	finish(t, ctx, c, "with-token")

	// The scheduler is a system worker: it starts the schedule's workflow through the internal
	// frontend.
	h, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: "scheduled", Spec: client.ScheduleSpec{}, TriggerImmediately: true,
		Action: &client.ScheduleWorkflowAction{ID: "scheduled", Workflow: testWorkflow, TaskQueue: testTaskQueue},
	})
	if err != nil {
		t.Fatal(err)
	}
	var started string
	eventually(t, ctx, "the schedule's workflow", func() error {
		desc, err := h.Describe(ctx)
		if err != nil {
			return err
		}
		if len(desc.Info.RecentActions) == 0 {
			return fmt.Errorf("the schedule has taken no action")
		}
		started = desc.Info.RecentActions[0].StartWorkflowResult.WorkflowID
		return nil
	})
	if err := c.SignalWorkflow(ctx, started, "", testSignal, "scheduler"); err != nil {
		t.Fatal(err)
	}
	var result string
	if err := c.GetWorkflow(ctx, started, "").Get(ctx, &result); err != nil || !strings.HasSuffix(result, "scheduler") {
		t.Fatalf("the schedule's workflow %s: %q, %v", started, result, err)
	}
}
