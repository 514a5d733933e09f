package engine

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/register"
)

// server is the one in-process Temporal server of this package's tests.
var server *temporaltest.TestServer

func TestMain(m *testing.M) {
	server = temporaltest.NewServer()
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestRunServesHealthUntilStopped(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), Notifications: "-", ShutdownTimeout: 5 * time.Second,
		HealthAddr: freeAddr(t), Pollers: 3, StickyCacheSize: 500}
	e, err := Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, ok := e.Activities.Releases.(*register.SQLite); !ok {
		t.Errorf("default register is %T, want SQLite", e.Activities.Releases)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := connect.Dial(ctx, connect.Options{Address: server.GetFrontendHostPort(), Namespace: server.GetDefaultNamespace(),
		Interceptors: []grpc.UnaryClientInterceptor{e.Polls.Interceptor()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, c, cfg) }()

	base := "http://" + cfg.HealthAddr
	deadline := time.Now().Add(20 * time.Second)
	for status(base+"/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := status(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(cfg.ShutdownTimeout + 10*time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if code := status(base + "/healthz"); code != 0 {
		t.Errorf("/healthz = %d after the worker stopped; want nothing listening", code)
	}
}

// TestRunStopsWhenItsNamespaceIsDeleted deletes the namespace under a running worker. The SDK
// keeps polling and calls no fatal-error handler; the worker must still turn not ready at once
// (polls fail), stop with an error naming the cause once the refusals last, and end its liveness.
func TestRunStopsWhenItsNamespaceIsDeleted(t *testing.T) {
	// Long polls end after 3 s instead of a minute, so the first poll after the deletion comes
	// soon.
	server := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
		dynamicconfig.MatchingLongPollExpirationInterval.Key():      3 * time.Second,
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	})))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := "doomed"
	if _, err := server.GetDefaultClient().WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: t.TempDir(), Notifications: "-", ShutdownTimeout: 5 * time.Second,
		HealthAddr: freeAddr(t), FatalPollsAfter: 3 * time.Second}
	e, err := Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	var c client.Client
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// A new namespace reaches the frontend's cache within seconds.
		c, err = connect.Dial(ctx, connect.Options{Address: server.GetFrontendHostPort(), Namespace: ns,
			Interceptors: []grpc.UnaryClientInterceptor{e.Polls.Interceptor()}}, nil)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, c, cfg) }()
	base := "http://" + cfg.HealthAddr
	for deadline := time.Now().Add(30 * time.Second); status(base+"/readyz") != http.StatusOK; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never answered 200")
		}
	}

	if _, err := server.GetDefaultClient().OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	sawNotReady := false
	for {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "NotFound") {
				t.Fatalf("Run returned %v, want the lasting NotFound refusal", err)
			}
			if !sawNotReady {
				t.Error("/readyz never said not ready before the worker stopped")
			}
			return
		case <-ctx.Done():
			t.Fatal("the worker kept running on a deleted namespace")
		case <-time.After(100 * time.Millisecond):
			if status(base+"/readyz") == http.StatusServiceUnavailable {
				sawNotReady = true
			}
		}
	}
}

func TestRunRefusesBusyHealthAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	cfg := Config{DataDir: t.TempDir(), Notifications: "-", HealthAddr: ln.Addr().String()}
	e, err := Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	err = e.Run(context.Background(), server.GetDefaultClient(), cfg)
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Run = %v, want an error naming %s", err, ln.Addr())
	}
}

func TestWorkerFlags(t *testing.T) {
	for _, k := range []string{"CUSTOMS_DATA_DIR", "CUSTOMS_RELEASE_DB", "CUSTOMS_HEALTH_ADDR", "TEMPORAL_ADDRESS"} {
		t.Setenv(k, "")
	}
	t.Setenv("CUSTOMS_HEALTH_ADDR", ":8080")
	var o WorkerOptions
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	o.RegisterFlags(fs)
	if o.Config.HealthAddr != ":8080" {
		t.Errorf("health address from the environment = %q", o.Config.HealthAddr)
	}
	err := fs.Parse([]string{"--address", "temporal:7233", "--release-db", "postgres://customs@db/customs",
		"--pollers", "4", "--sticky-cache", "2000", "--health-addr", ":9000", "--shutdown-timeout", "2m",
		"--max-activities", "50", "--max-workflow-tasks", "20", "--log-json", "--register-search-attributes"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Config
	if o.Connect.Address != "temporal:7233" || c.Pollers != 4 || c.StickyCacheSize != 2000 || c.HealthAddr != ":9000" ||
		c.ShutdownTimeout != 2*time.Minute || c.MaxConcurrentActivities != 50 || c.MaxConcurrentWorkflowTasks != 20 ||
		!o.LogJSON || !o.RegisterSearchAttributes || !IsPostgresURL(c.ReleaseDB) {
		t.Errorf("options = %+v", o)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Pollers: 1},
		{Pollers: -2},
		{MaxConcurrentWorkflowTasks: 1},
		{StickyCacheSize: -1},
		{ShutdownTimeout: -time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
		if _, err := Open(Config{DataDir: t.TempDir(), Pollers: c.Pollers, MaxConcurrentWorkflowTasks: c.MaxConcurrentWorkflowTasks,
			StickyCacheSize: c.StickyCacheSize, ShutdownTimeout: c.ShutdownTimeout}, zaptest.NewLogger(t)); err == nil {
			t.Errorf("Open(%+v) accepted", c)
		}
	}
	if err := (Config{Pollers: 2, MaxConcurrentWorkflowTasks: 2}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestIsPostgresURL(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://customs@db/customs":   true,
		"postgresql://customs@db/customs": true,
		"data/releases.db":                false,
		"/var/lib/customs/postgres.db":    false,
		"":                                false,
	} {
		if got := IsPostgresURL(s); got != want {
			t.Errorf("IsPostgresURL(%q) = %v", s, got)
		}
	}
}

// TestOpenPostgresRegister needs the database .ci/postgres.sh provides.
func TestOpenPostgresRegister(t *testing.T) {
	url := os.Getenv("CUSTOMS_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("set CUSTOMS_TEST_POSTGRES_URL to open the engine on PostgreSQL")
	}
	e, err := Open(Config{DataDir: t.TempDir(), ReleaseDB: url, Notifications: filepath.Join(t.TempDir(), "n.jsonl")}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	if _, ok := e.Activities.Releases.(*register.Postgres); !ok {
		t.Errorf("register is %T, want PostgreSQL", e.Activities.Releases)
	}
}

// TestOpenWarnsOfPathsOverTheStandard: the default allowances of the red lane with a
// biological review add up past the 20 days, and the engine says so when it opens.
func TestOpenWarnsOfPathsOverTheStandard(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	e, err := Open(Config{DataDir: t.TempDir(), Notifications: "-"}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	found := logs.FilterMessageSnippet("add up past the standard").All()
	if len(found) != 1 || !strings.Contains(fmt.Sprint(found[0].ContextMap()["path"]), "red lane with biological review") {
		t.Errorf("warnings: %+v", logs.All())
	}
}

// TestSDKWorkerOptionsOfAVersion: with versioning the worker polls as its build of the
// deployment, and a workflow registered without a behaviour of its own upgrades as the
// clearances do; without it the worker is unversioned.
func TestSDKWorkerOptionsOfAVersion(t *testing.T) {
	v := connect.Versioning{Enabled: true, DeploymentName: "customs-worker", BuildID: "1.4.0", MakeCurrent: connect.CurrentIfNone}
	o := Config{Versioning: v}.SDKWorkerOptions()
	d := o.DeploymentOptions
	if !d.UseVersioning || d.Version != v.Version() || d.DefaultVersioningBehavior != workflow.VersioningBehaviorAutoUpgrade {
		t.Errorf("versioned: %+v", d)
	}
	v.Enabled = false
	if d := (Config{Versioning: v}).SDKWorkerOptions().DeploymentOptions; d.UseVersioning || d.Version.BuildID != "" {
		t.Errorf("unversioned: %+v", d)
	}
}
