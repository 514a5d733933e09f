package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"
	"go.uber.org/zap/zaptest"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/connect"
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
		{"negative archive delay", Config{InMemory: true, ArchiveDir: "archive", ArchiveDelay: -time.Second}, "archive delay -1s is negative"},
		{"archive delay without an archive", Config{InMemory: true, ArchiveDelay: time.Minute}, "an archive delay needs an archive directory"},
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
	if v, ok := dynamicConfig(&Config{})[key]; ok {
		t.Errorf("no bound given, yet %s = %v", key, v)
	}
	if v := dynamicConfig(&Config{HistoryCache: 20000})[key]; v != 20000 {
		t.Errorf("%s = %v, want 20000", key, v)
	}
}

// finish runs the test workflow under id to its end.
func finish(t *testing.T, ctx context.Context, c client.Client, id string) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: testTaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.StatusKey.ValueSet("released"), workflows.ExpeditedKey.ValueSet(true)),
	}, testWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SignalWorkflow(ctx, id, run.GetRunID(), testSignal, "archive"); err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestArchive turns the archive on for a namespace created without one, archives a closed
// workflow's history into the directory, serves it from there once the server has deleted the
// workflow, and refuses to move the archive.
func TestArchive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")

	cfg := testConfig(t, dir)
	cfg.DisableUI = true
	s := start(t, ctx, cfg)
	c := dial(t, ctx, s)
	w := startWorker(t, c)
	finish(t, ctx, c, "before-archive")
	w.Stop()
	c.Close()
	stop(t, s)

	cfg = testConfig(t, dir)
	cfg.DisableUI, cfg.ArchiveDir, cfg.ArchiveDelay = true, archive, time.Millisecond
	// A deletion waits for the transfer queue to record the close task done, every 30 s by default.
	cfg.settings = dynamicconfig.StaticClient{dynamicconfig.TransferProcessorUpdateAckInterval.Key(): 100 * time.Millisecond}
	s = start(t, ctx, cfg)
	defer stop(t, s)
	c = dial(t, ctx, s)
	defer c.Close()
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.GetConfig(); got.GetHistoryArchivalState() != enumspb.ARCHIVAL_STATE_ENABLED || got.GetHistoryArchivalUri() != "file://"+archive ||
		got.GetVisibilityArchivalState() != enumspb.ARCHIVAL_STATE_ENABLED || got.GetVisibilityArchivalUri() != "file://"+archive+"/visibility" {
		t.Fatalf("namespace archival: history %v at %q, visibility %v at %q; want both enabled at file://%s and file://%[5]s/visibility",
			got.GetHistoryArchivalState(), got.GetHistoryArchivalUri(), got.GetVisibilityArchivalState(), got.GetVisibilityArchivalUri(), archive)
	}
	w = startWorker(t, c)
	defer w.Stop()
	run := finish(t, ctx, c, "archived")

	var file string
	eventually(t, ctx, "the archived history", func() error {
		files, err := audit.ArchivedHistories(archive)
		if err != nil {
			return err
		}
		if len(files) != 1 {
			return fmt.Errorf("%d files in the archive, want 1 (the workflow closed before the archive was on is not in it)", len(files))
		}
		file = files[0]
		return nil
	})
	served, err := audit.FetchHistory(ctx, c, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	archived, err := audit.ReadHistoryFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// The archive keeps search attributes under their stored fields, and the names of the fields
	// beside the histories.
	aliases, err := connect.ReadArchiveAliases(archive)
	if err != nil {
		t.Fatal(err)
	}
	if want, err := audit.NamespaceAliases(ctx, c, s.Namespace()); err != nil || !maps.Equal(aliases, want) || aliases[storedField(t, archived, workflows.SAStatus, want)] != workflows.SAStatus {
		t.Fatalf("the archive's map of search attributes %v, want the namespace's %v (%v)", aliases, want, err)
	}
	if !audit.NamesStoredFields(archived) || !audit.AliasSearchAttributes(archived, aliases) {
		t.Error("the archived history names no search attribute by its stored field")
	}
	want, _ := audit.Digest(served)
	if got, _ := audit.Digest(archived); got != want || audit.StartOf(archived).WorkflowID != "archived" {
		t.Errorf("the archive holds %s (digest %s once named), want the served history of %q (digest %s)",
			audit.StartOf(archived).WorkflowID, got, run.GetID(), want)
	}

	// Deleted from the server (as retention deletes it), the history is still served, from the archive.
	if _, err := c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: s.Namespace(), WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "deletion", func() error {
		if _, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID()); err == nil {
			return fmt.Errorf("%s is still on the server", run.GetID())
		}
		return nil
	})
	again, err := audit.FetchHistory(ctx, c, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatalf("the deleted workflow's history: %v", err)
	}
	if !audit.AliasSearchAttributes(again, aliases) {
		t.Error("served from the archive with its search attributes named")
	}
	if got, _ := audit.Digest(again); got != want {
		t.Errorf("served after deletion: digest %s once named, want %s", got, want)
	}
	// Without its run ID: the server lists it from the visibility archive.
	if _, err := audit.FetchHistory(ctx, c, run.GetID(), ""); err == nil {
		t.Error("the server still serves the latest run of the deleted workflow")
	}
	var found *historypb.History
	eventually(t, ctx, "the archived visibility record", func() error {
		found, err = audit.FetchArchived(ctx, c, run.GetID())
		return err
	})
	audit.AliasSearchAttributes(found, aliases)
	if got, _ := audit.Digest(found); got != want {
		t.Errorf("found in the archive by its workflow ID: digest %s, want %s", got, want)
	}
	if _, err := audit.FetchArchived(ctx, c, "never-ran"); err == nil || !strings.Contains(err.Error(), "never-ran is not archived") {
		t.Errorf("a workflow never archived: %v", err)
	}
	w.Stop()
	c.Close()
	stop(t, s)

	cfg = testConfig(t, dir)
	cfg.DisableUI, cfg.ArchiveDir = true, filepath.Join(t.TempDir(), "elsewhere")
	if s, err := Start(ctx, cfg); err == nil {
		stop(t, s)
		t.Fatal("a start that moves the archive succeeded")
	} else if !strings.Contains(err.Error(), "archives histories to file://"+archive+", which the server cannot change") {
		t.Errorf("moving the archive: %v", err)
	}
}

// storedField is the field the archived history h stores the search attribute name under.
func storedField(t *testing.T, h *historypb.History, name string, aliases map[string]string) string {
	t.Helper()
	for field := range h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetSearchAttributes().GetIndexedFields() {
		if aliases[field] == name {
			return field
		}
	}
	t.Fatalf("the archived start event stores no %s", name)
	return ""
}
