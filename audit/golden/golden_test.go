package golden

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/common/dynamicconfig"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/cmd/auditor/cli"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

var record = flag.Bool("record", false, "record every golden history into "+Dir+" (a minute or two)")

var only = flag.String("only", "", "with -record: record only these scenarios (comma-separated names), keeping the others' files")

// goldenDir is Dir seen from this package.
var goldenDir = filepath.Join("..", "..", filepath.FromSlash(Dir))

const examplesDir = "../../examples"

// startServer starts an in-memory Temporal server (package embedded, whose frontend serves the
// HTTP port through which the server delivers Nexus operations to the partner agencies) whose
// ContinuesNamespace, once registered, suggests continue-as-new after ContinueAsNewAfter events,
// and a recorder on its namespace.
func startServer(t *testing.T) (*embedded.Server, *Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ports := testport.Free(t, 2)
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true, IP: "127.0.0.1", GRPCPort: ports[0], UIPort: ports[1],
		DisableUI: true, Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Settings: embedded.Settings{
			// Search attributes the recorder registers in ContinuesNamespace are usable at once.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
			dynamicconfig.HistoryCountSuggestContinueAsNew.Key(): []dynamicconfig.ConstrainedValue{{
				Constraints: dynamicconfig.Constraints{Namespace: ContinuesNamespace}, Value: ContinueAsNewAfter,
			}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	return srv, newRecorder(t, dial(t, srv, srv.Namespace()), srv.Namespace())
}

// dial returns a client of the server's namespace, closed when the test ends.
func dial(t *testing.T, srv *embedded.Server, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: namespace,
		Logger: logging.NewSDKLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newRecorder(t *testing.T, c client.Client, namespace string) *Recorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := NewRecorder(ctx, c, namespace, examplesDir, t.TempDir(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// continuesRecorder registers ContinuesNamespace on the server and starts a recorder on it.
func continuesRecorder(t *testing.T, srv *embedded.Server) *Recorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := connect.EnsureNamespace(ctx, dial(t, srv, srv.Namespace()), ContinuesNamespace, true, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	c := dial(t, srv, ContinuesNamespace)
	// A namespace just registered reaches the frontend's cache within seconds.
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ContinuesNamespace})
		if err == nil {
			err = connect.RegisterSearchAttributes(ctx, c, ContinuesNamespace)
		}
		if err == nil {
			err = connect.AwaitSearchAttributes(ctx, c, ContinuesNamespace, 30*time.Second)
		}
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("namespace %s: %v", ContinuesNamespace, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return newRecorder(t, c, ContinuesNamespace)
}

// TestRecordGolden records every golden history against an in-process Temporal server. It runs
// only with -record: go test ./audit/golden -run TestRecordGolden -record
func TestRecordGolden(t *testing.T) {
	if !*record {
		t.Skip("records the golden histories only with -record")
	}
	srv, r := startServer(t)
	var continues *Recorder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, s := range Scenarios() {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), s.Name) {
			continue
		}
		rec := r
		if s.Continued != nil {
			if continues == nil {
				continues = continuesRecorder(t, srv)
			}
			rec = continues
		}
		if s.SingleWindow {
			if err := rec.OpenSingleWindow(ctx); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := rec.Record(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		for i, file := range s.Files() {
			path, err := Write(filepath.Join(goldenDir, filepath.Dir(file)), strings.TrimSuffix(filepath.Base(file), ".json"), runs[i])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d events", path, len(runs[i].GetEvents()))
		}
		if s.Appeal {
			ah, err := rec.AppealHistory(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Write(filepath.Join("..", "..", filepath.FromSlash(AppealDir)), s.Name, ah); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(goldenDir, "README.md"), []byte(Index()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenFilesMatchScenarios keeps the committed histories and their index in step with the
// scenarios: a scenario added without recording, or a golden file deleted, fails here.
func TestGoldenFilesMatchScenarios(t *testing.T) {
	want := map[string]bool{"README.md": true}
	for _, s := range Scenarios() {
		for _, f := range s.Files() {
			want[f] = true
			if _, err := os.Stat(filepath.Join(goldenDir, filepath.FromSlash(f))); err != nil {
				t.Errorf("scenario %s has no golden history %s: %v (record with -record)", s.Name, f, err)
			}
		}
	}
	for _, dir := range []string{"", filepath.Base(ContinuedDir)} {
		entries, err := os.ReadDir(filepath.Join(goldenDir, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if dir != "" {
				name = dir + "/" + name
			}
			if e.IsDir() && (name == filepath.Base(ReleasedDir) || name == filepath.Base(ContinuedDir)) {
				continue
			}
			if !want[name] {
				t.Errorf("%s in %s belongs to no scenario", name, goldenDir)
			}
		}
	}
	index, err := os.ReadFile(filepath.Join(goldenDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(index) != Index() {
		t.Errorf("%s/README.md is out of date; record again with -record", goldenDir)
	}
}

// TestGoldensCarryWhatTheyAreAbout reads the committed histories of every scenario: between them
// they hold the version markers of the changes the scenario is the golden of; and a scenario that
// continues as new is the run that continued (its last event the continuation, handing the next
// run what the scenario checks) and the run after it, which that continuation started and which
// ends as the scenario says. Both replay.
func TestGoldensCarryWhatTheyAreAbout(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			var runs Runs
			for _, f := range s.Files() {
				h, err := audit.ReadHistoryFile(filepath.Join(goldenDir, filepath.FromSlash(f)))
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, h)
			}
			if missing := runs.Lacks(s.Carries); len(missing) > 0 {
				t.Errorf("no version marker of %v", missing)
			}
			if err := runs.HoldNexus(s.Nexus); err != nil {
				t.Error(err)
			}
			if s.Result != nil {
				last := runs[len(runs)-1].GetEvents()
				var res workflows.Result
				if err := dc.FromPayloads(last[len(last)-1].GetWorkflowExecutionCompletedEventAttributes().GetResult(), &res); err != nil {
					t.Fatal(err)
				}
				if err := s.Result(res); err != nil {
					t.Errorf("the result: %v", err)
				}
			}
			if s.Continued == nil {
				return
			}
			first, next := runs[0], runs[1]
			events := first.GetEvents()
			can := events[len(events)-1].GetWorkflowExecutionContinuedAsNewEventAttributes()
			if can == nil {
				t.Fatalf("the first run ends %s, not continued as new", events[len(events)-1].GetEventType())
			}
			start := next.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
			if start.GetContinuedExecutionRunId() != audit.StartOf(first).RunID || can.GetNewExecutionRunId() != audit.StartOf(next).RunID {
				t.Errorf("run %s continued as new into %s; the next run is %s, continued from %s", audit.StartOf(first).RunID,
					can.GetNewExecutionRunId(), audit.StartOf(next).RunID, start.GetContinuedExecutionRunId())
			}
			if !proto.Equal(can.GetInput(), start.GetInput()) {
				t.Error("the next run did not start from the input the continuation handed it")
			}
			var in workflows.Input
			if err := dc.FromPayloads(start.GetInput(), &in); err != nil {
				t.Fatal(err)
			}
			if err := s.Continued(in); err != nil {
				t.Error(err)
			}
			last := next.GetEvents()[len(next.GetEvents())-1]
			var res workflows.Result
			if err := dc.FromPayloads(last.GetWorkflowExecutionCompletedEventAttributes().GetResult(), &res); err != nil {
				t.Fatal(err)
			}
			if res.State != s.State || res.Lane != s.Lane || last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
				t.Errorf("the next run ends %s: %s in the %s lane, want %s in the %s lane", last.GetEventType(), res.State, res.Lane, s.State, s.Lane)
			}
			for i, h := range runs {
				if err := audit.Replay(h, audit.Converters{}); err != nil {
					t.Errorf("%s: %v", s.Files()[i], err)
				}
			}
		})
	}
}

// TestRecordEndToEnd proves the recorder on a real server: it records the green path, then
// checks the written file replays, its trail tells the story, the auditor reads the same
// clearance from the server, and the digest of the file, of the server's gRPC answer and of
// the Web UI's download are one and the same.
func TestRecordEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	srv, r := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	green := Scenarios()[0]
	if green.Name != "green-release" {
		t.Fatalf("first scenario is %s", green.Name)
	}
	runs, err := r.Record(ctx, green)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("the green path recorded %d runs", len(runs))
	}
	fetched := runs[0]
	dir := t.TempDir()
	path, err := Write(dir, green.Name, fetched)
	if err != nil {
		t.Fatal(err)
	}

	// The written file replays and its trail tells the green path.
	var out, errOut bytes.Buffer
	if code := cli.Run(ctx, []string{"replay", path}, &out, &errOut); code != cli.ExitOK {
		t.Fatalf("replay exit %d: %s%s", code, out.String(), errOut.String())
	}
	h, err := audit.ReadHistoryFile(path)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.BuildTrail(h, audit.Converters{})
	if err != nil {
		t.Fatal(err)
	}
	if trail.State != string(workflows.StateReleased) || trail.DeclarationID != "NBKR-2020-000331" {
		t.Errorf("trail: state %s, declaration %s", trail.State, trail.DeclarationID)
	}
	var lane, notice bool
	for _, row := range trail.Rows {
		lane = lane || (row.Kind == audit.RowLane && row.Outcome == "green lane")
		notice = notice || (row.Kind == audit.RowReleaseNotice && strings.HasPrefix(row.Outcome, "notice ") && row.Actor == audit.ActorSystem)
	}
	if !lane || !notice {
		t.Errorf("trail lacks the green lane (%v) or the automatic release notice (%v):\n%+v", lane, notice, trail.Rows)
	}

	// One digest whatever the source: the file, the gRPC answer, the Web UI's download.
	fileDigest, err := audit.Digest(h)
	if err != nil {
		t.Fatal(err)
	}
	grpcDigest, err := audit.Digest(fetched)
	if err != nil {
		t.Fatal(err)
	}
	ui := downloadLikeWebUI(t, ctx, srv, audit.StartOf(fetched).WorkflowID, fetched)
	uiPath := filepath.Join(dir, "ui-download.json")
	if err := os.WriteFile(uiPath, ui, 0o600); err != nil {
		t.Fatal(err)
	}
	uiHistory, err := audit.ReadHistoryFile(uiPath)
	if err != nil {
		t.Fatal(err)
	}
	uiDigest, err := audit.Digest(uiHistory)
	if err != nil {
		t.Fatal(err)
	}
	if fileDigest != grpcDigest || uiDigest != grpcDigest {
		t.Errorf("digests differ: file %s, gRPC %s, Web UI %s", fileDigest, grpcDigest, uiDigest)
	}
	if trail.Digest != grpcDigest {
		t.Errorf("trail digest %s, want %s", trail.Digest, grpcDigest)
	}

	// The auditor against the server: the trail by declaration ID, replay by query, and a query
	// that matches nothing.
	conn := []string{"--address", srv.FrontendAddress(), "--namespace", srv.Namespace()}
	out.Reset()
	errOut.Reset()
	if code := cli.Run(ctx, append([]string{"trail", "NBKR-2020-000331", "--json"}, conn...), &out, &errOut); code != cli.ExitOK {
		t.Fatalf("trail exit %d: %s", code, errOut.String())
	}
	var fromServer audit.Trail
	if err := json.Unmarshal(out.Bytes(), &fromServer); err != nil {
		t.Fatal(err)
	}
	if fromServer.Digest != grpcDigest || len(fromServer.Rows) != len(trail.Rows) {
		t.Errorf("server trail: digest %s, %d rows; want %s, %d rows", fromServer.Digest, len(fromServer.Rows), grpcDigest, len(trail.Rows))
	}
	// Visibility records are written asynchronously: give the listing a moment.
	query := fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out.Reset()
		errOut.Reset()
		code := cli.Run(ctx, append([]string{"replay", "--query", query}, conn...), &out, &errOut)
		got := strings.TrimSpace(out.String())
		if code == cli.ExitOK && got == "matched 1, replayed 1, failed 0, skipped 0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay --query: exit %d, stdout %q, stderr %q", code, got, errOut.String())
		}
	}
	out.Reset()
	errOut.Reset()
	code := cli.Run(ctx, append([]string{"replay", "--query", "WorkflowId = 'clearance-NOPE'"}, conn...), &out, &errOut)
	if code != cli.ExitNoMatch || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 ||
		!strings.Contains(errOut.String(), "matches the query") {
		t.Errorf("empty query: exit %d, stderr %q", code, errOut.String())
	}
}

// downloadLikeWebUI fetches a history as the Web UI's "Download" button does with the "encoded"
// setting: page by page from the UI server's HTTP API, then {"events": [...]} indented by two.
func downloadLikeWebUI(t *testing.T, ctx context.Context, srv *embedded.Server, workflowID string, h *historypb.History) []byte {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host: "127.0.0.1", Port: port, TemporalGRPCAddress: srv.FrontendAddress(),
		DefaultNamespace: srv.Namespace(), CORS: uiconfig.CORS{CookieInsecure: true},
		HideLogs: true, DisableNewsFetch: true,
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ui.Start() // returns when stopped
	}()
	t.Cleanup(func() { ui.Stop(); <-done })

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	runID := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetOriginalExecutionRunId()
	var events []json.RawMessage
	token := ""
	for deadline := time.Now().Add(30 * time.Second); ; {
		q := url.Values{"execution.runId": {runID}}
		if token != "" {
			q.Set("nextPageToken", token)
		}
		u := fmt.Sprintf("%s/api/v1/namespaces/%s/workflows/%s/history?%s", base, url.PathEscape(srv.Namespace()),
			url.PathEscape(workflowID), q.Encode())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the UI server is still starting
			continue
		}
		body, err := io.ReadAll(resp.Body)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
		}
		var page struct {
			History       struct{ Events []json.RawMessage }
			NextPageToken string
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		events = append(events, page.History.Events...)
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	b, err := json.MarshalIndent(map[string]any{"events": events}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(h.GetEvents()) {
		t.Fatalf("the Web UI's download has %d events, the server's history %d", len(events), len(h.GetEvents()))
	}
	return b
}
