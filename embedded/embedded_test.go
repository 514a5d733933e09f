package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"
	"go.uber.org/zap/zaptest"

	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

const (
	testWorkflow  = "embedded-test"
	testSignal    = "go"
	testTaskQueue = "embedded-test"
)

// waitForSignal stands in for a clearance: it waits, possibly across server restarts, until it
// is told to finish.
func waitForSignal(ctx workflow.Context) (string, error) {
	var who string
	workflow.GetSignalChannel(ctx, testSignal).Receive(ctx, &who)
	return "released by " + who, nil
}

func testConfig(t *testing.T, dataDir string) Config {
	t.Helper()
	grpcPort, err := freePort(loopback)
	if err != nil {
		t.Fatal(err)
	}
	uiPort, err := freePort(loopback)
	if err != nil {
		t.Fatal(err)
	}
	return Config{DataDir: dataDir, GRPCPort: grpcPort, UIPort: uiPort, Logger: zaptest.NewLogger(t)}
}

func start(t *testing.T, ctx context.Context, cfg Config) *Server {
	t.Helper()
	began := time.Now()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v (UI %v)", time.Since(began).Round(time.Millisecond), !cfg.DisableUI)
	return s
}

func stop(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Error(err)
	}
}

func dial(t *testing.T, ctx context.Context, s *Server) client.Client {
	t.Helper()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.FrontendAddress(),
		Namespace: s.Namespace(),
		Logger:    logging.NewSDKLogger(zaptest.NewLogger(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startWorker(t *testing.T, c client.Client) worker.Worker {
	t.Helper()
	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(waitForSignal, workflow.RegisterOptions{Name: testWorkflow})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

// eventually calls check until it returns nil or ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func checkSearchAttributes(t *testing.T, ctx context.Context, c client.Client, ns string) {
	t.Helper()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range workflows.SearchAttributes() {
		if got := resp.GetCustomAttributes()[name]; got != want {
			t.Errorf("search attribute %s is %v, want %v", name, got, want)
		}
	}
}

// TestFileBackedSurvivesRestart starts a server on a fresh data directory, leaves a workflow
// waiting, restarts on the same directory and finishes the workflow there.
func TestFileBackedSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()

	cfg := testConfig(t, dir)
	s := start(t, ctx, cfg)
	defer stop(t, s) // after a failure; Stop twice is harmless
	c := dial(t, ctx, s)
	checkSearchAttributes(t, ctx, c, s.Namespace())
	if _, err := os.Stat(filepath.Join(dir, DBFile+"-wal")); err != nil {
		t.Errorf("database not in WAL mode: %v", err)
	}

	if _, err := Start(ctx, testConfig(t, dir)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Start on a running data dir: error = %v, want one saying it is in use", err)
	}

	w := startWorker(t, c)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "clearance-restart",
		TaskQueue: testTaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.StageKey.ValueSet("biological-review"),
			workflows.StatusKey.ValueSet("awaiting-officer"),
			workflows.ProductCategoriesKey.ValueSet([]string{"vaccines", "sera"}),
			workflows.ExpeditedKey.ValueSet(true),
		),
	}, testWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	query := fmt.Sprintf("%s = 'awaiting-officer' AND %s = 'biological-review' AND %s = 'vaccines' AND %s = true",
		workflows.SAStatus, workflows.SAStage, workflows.SAProductCategories, workflows.SAExpedited)
	eventually(t, ctx, "list by search attributes", func() error {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace(), Query: query})
		if err != nil {
			return err
		}
		if n := len(resp.GetExecutions()); n != 1 || resp.GetExecutions()[0].GetExecution().GetWorkflowId() != run.GetID() {
			return fmt.Errorf("%q found %d executions", query, n)
		}
		return nil
	})

	t.Run("UI", func(t *testing.T) { checkUI(t, ctx, s) })

	// Take one attribute away: the next Start must put it back.
	if _, err := c.OperatorService().RemoveSearchAttributes(ctx, &operatorservice.RemoveSearchAttributesRequest{
		Namespace:        s.Namespace(),
		SearchAttributes: []string{workflows.SASlaBreached},
	}); err != nil {
		t.Fatal(err)
	}

	w.Stop()
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	cfg2 := testConfig(t, dir)
	cfg2.DisableUI = true
	s2 := start(t, ctx, cfg2)
	defer stop(t, s2)
	c2 := dial(t, ctx, s2)
	defer c2.Close()
	checkSearchAttributes(t, ctx, c2, s2.Namespace())

	desc, err := c2.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after restart the workflow is %v, want running", st)
	}
	w2 := startWorker(t, c2)
	defer w2.Stop()
	if err := c2.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), testSignal, "officer-7"); err != nil {
		t.Fatal(err)
	}
	var result string
	if err := c2.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &result); err != nil {
		t.Fatal(err)
	}
	if result != "released by officer-7" {
		t.Errorf("result = %q", result)
	}
}

func checkUI(t *testing.T, ctx context.Context, s *Server) {
	if s.UIAddress() == "" {
		t.Fatal("UIAddress is empty with the UI enabled")
	}
	page := get(t, ctx, s.UIAddress()+"/")
	if !strings.Contains(strings.ToLower(page), "<html") {
		t.Errorf("/ is not an HTML page: %.200q", page)
	}
	var namespaces struct {
		Namespaces []struct {
			NamespaceInfo struct {
				Name string `json:"name"`
			} `json:"namespaceInfo"`
		} `json:"namespaces"`
	}
	body := get(t, ctx, s.UIAddress()+"/api/v1/namespaces")
	if err := json.Unmarshal([]byte(body), &namespaces); err != nil {
		t.Fatalf("/api/v1/namespaces: %v: %.200q", err, body)
	}
	for _, ns := range namespaces.Namespaces {
		if ns.NamespaceInfo.Name == s.Namespace() {
			return
		}
	}
	t.Errorf("/api/v1/namespaces does not list %s: %.300q", s.Namespace(), body)
}

func get(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.200q", url, resp.Status, body)
	}
	return string(body)
}

func TestInMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := testConfig(t, "")
	cfg.InMemory = true
	cfg.DisableUI = true
	cfg.Namespace = "customs-test"
	s := start(t, ctx, cfg)
	defer stop(t, s)
	if s.UIAddress() != "" {
		t.Errorf("UIAddress = %q with the UI disabled", s.UIAddress())
	}
	c := dial(t, ctx, s)
	defer c.Close()
	checkSearchAttributes(t, ctx, c, "customs-test")

	w := startWorker(t, c)
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "in-memory", TaskQueue: testTaskQueue}, testWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SignalWorkflow(ctx, run.GetID(), "", testSignal, "memory"); err != nil {
		t.Fatal(err)
	}
	var result string
	if err := run.Get(ctx, &result); err != nil {
		t.Fatal(err)
	}
	if result != "released by memory" {
		t.Errorf("result = %q", result)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no data dir", Config{}, "DataDir is required"},
		{"data dir and memory", Config{DataDir: t.TempDir(), InMemory: true}, "DataDir must be empty"},
		{"bad IP", Config{InMemory: true, IP: "localhost"}, "not an IP address"},
		{"same ports", Config{InMemory: true, GRPCPort: 9000, UIPort: 9000}, "both 9000"},
		{"negative history cache", Config{InMemory: true, HistoryCache: -1}, "history cache -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Start(ctx, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The history cache's bound reaches the server's dynamic configuration only when one is given.
func TestHistoryCacheSetting(t *testing.T) {
	key := dynamicconfig.HistoryCacheHostLevelMaxSize.Key()
	if v, ok := dynamicConfig(false, 0)[key]; ok {
		t.Errorf("no bound given, yet %s = %v", key, v)
	}
	if v := dynamicConfig(false, 20000)[key]; v != 20000 {
		t.Errorf("%s = %v, want 20000", key, v)
	}
}
