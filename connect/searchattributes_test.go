package connect

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/logging"
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

func testLogger(t *testing.T) log.Logger {
	return logging.NewSDKLogger(zaptest.NewLogger(t))
}

func dialTestServer(t *testing.T, ctx context.Context, namespace string) client.Client {
	t.Helper()
	c, err := Dial(ctx, Options{Address: server.GetFrontendHostPort(), Namespace: namespace}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestRegisterSearchAttributesIsIdempotent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := server.GetDefaultNamespace()
	c := dialTestServer(t, ctx, ns)

	for i := range 2 {
		if err := RegisterSearchAttributes(ctx, c, ns); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}

	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetCustomAttributes()
	for name, want := range workflows.SearchAttributes() {
		if got[name] != want {
			t.Errorf("%s: registered as %v, want %v", name, got[name], want)
		}
	}
}

func TestRegisterSearchAttributesRefusesWrongType(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := fmt.Sprintf("conflict-%d", time.Now().UnixNano())
	c := dialTestServer(t, ctx, server.GetDefaultNamespace())
	if _, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        ns,
		SearchAttributes: map[string]enumspb.IndexedValueType{workflows.SAStage: enumspb.INDEXED_VALUE_TYPE_INT},
	}); err != nil {
		t.Fatal(err)
	}

	err := RegisterSearchAttributes(ctx, c, ns)
	if err == nil || !strings.Contains(err.Error(), workflows.SAStage) {
		t.Fatalf("error = %v, want one naming %s", err, workflows.SAStage)
	}
}
