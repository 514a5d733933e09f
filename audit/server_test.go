package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/codec"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/workflows"
)

// fakeServer answers the two calls ReplayQuery makes, from golden histories.
type fakeServer struct {
	client.Client
	pages     [][]*workflowpb.WorkflowExecutionInfo
	histories map[string]*historypb.History
	closed    bool
}

func (f *fakeServer) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	page := 0
	if len(req.GetNextPageToken()) > 0 {
		page = int(req.GetNextPageToken()[0])
	}
	if page >= len(f.pages) {
		return &workflowservice.ListWorkflowExecutionsResponse{}, nil
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: f.pages[page]}
	if page+1 < len(f.pages) {
		resp.NextPageToken = []byte{byte(page + 1)}
	}
	return resp, nil
}

func (f *fakeServer) GetWorkflowHistory(_ context.Context, id, _ string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	h, ok := f.histories[id]
	if !ok {
		return &iterator{err: serviceerror.NewNotFound("workflow execution not found")}
	}
	return &iterator{events: h.GetEvents()}
}

func (f *fakeServer) Close() { f.closed = true }

type iterator struct {
	events []*historypb.HistoryEvent
	err    error
}

func (it *iterator) HasNext() bool { return it.err != nil || len(it.events) > 0 }

func (it *iterator) Next() (*historypb.HistoryEvent, error) {
	if it.err != nil {
		err := it.err
		it.err = nil
		return nil, err
	}
	e := it.events[0]
	it.events = it.events[1:]
	return e, nil
}

func info(id, workflowType string) *workflowpb.WorkflowExecutionInfo {
	return &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-" + id},
		Type:      &commonpb.WorkflowType{Name: workflowType},
	}
}

func dialer(f *fakeServer) Dialer {
	return func(context.Context, connect.Options) (client.Client, error) { return f, nil }
}

func TestReplayQuery(t *testing.T) {
	broken := tamperedHistory(t)
	f := &fakeServer{
		pages: [][]*workflowpb.WorkflowExecutionInfo{
			{info("clearance-NBKR-2020-000331", workflows.WorkflowName), info("order-17", "OrderFulfillment")},
			{info("clearance-GONE", workflows.WorkflowName), info("clearance-JH-2020-US-0513", workflows.WorkflowName)},
			{info("clearance-JH-2020-US-0515", workflows.WorkflowName)},
		},
		histories: map[string]*historypb.History{
			"clearance-NBKR-2020-000331": golden(t, "green-release"),
			"clearance-JH-2020-US-0513":  broken,
			"clearance-JH-2020-US-0515":  golden(t, "escalation"),
		},
	}
	var progress, report bytes.Buffer
	s, err := ReplayQuery(context.Background(), f, "ExporterCode = '3205960330'", QueryOptions{
		Progress: &progress, ProgressEvery: 2, Report: &report})
	if err != nil {
		t.Fatal(err)
	}
	if s.Matched != 5 || s.Replayed != 2 || s.Failed != 1 || s.Skipped != 2 {
		t.Errorf("summary %s", s)
	}
	if len(s.Failures) != 1 || s.Failures[0].WorkflowID != "clearance-JH-2020-US-0513" || s.Failures[0].Kind != KindNonDeterminism {
		t.Errorf("failures %+v", s.Failures)
	}
	for _, want := range []string{
		"skip order-17 (run run-order-17): workflow type OrderFulfillment, not ExportClearance",
		"skip clearance-GONE (run run-clearance-GONE): the history is gone",
		"FAIL clearance-JH-2020-US-0513: non-determinism at event",
	} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if n := strings.Count(progress.String(), "progress: "); n < 2 {
		t.Errorf("want a progress line every 2 workflows, got:\n%s", progress.String())
	}

	code, out, errOut := run(t, dialer(f), "replay", "--query", "ExporterCode = '3205960330'", "--progress-every", "100")
	if code != ExitFailed || strings.TrimSpace(out) != "matched 5, replayed 2, failed 1, skipped 2" || !f.closed {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// tamperedHistory is the reject golden with its lane selection renamed: it cannot replay.
func tamperedHistory(t *testing.T) *historypb.History {
	t.Helper()
	h := golden(t, "reject")
	for _, e := range h.GetEvents() {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "SelectLane" {
			a.ActivityType.Name = "SelectLaneByRules"
		}
	}
	return h
}

func TestReplayQueryMatchesNothing(t *testing.T) {
	f := &fakeServer{}
	if _, err := ReplayQuery(context.Background(), f, "WorkflowId = 'x'", QueryOptions{}); !errors.Is(err, ErrNoMatch) {
		t.Errorf("want ErrNoMatch, got %v", err)
	}
	code, out, errOut := run(t, dialer(f), "replay", "--query", "WorkflowId = 'clearance-NONE'")
	if code != ExitNoMatch || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	oneLineError(t, errOut)
	if !strings.Contains(errOut, `matches the query "WorkflowId = 'clearance-NONE'": nothing was replayed`) {
		t.Errorf("stderr %q", errOut)
	}
}

func TestTrailFromServer(t *testing.T) {
	f := &fakeServer{histories: map[string]*historypb.History{"clearance-JH-2020-US-0513": golden(t, "reject")}}
	for _, id := range []string{"JH-2020-US-0513", "clearance-JH-2020-US-0513"} {
		code, out, errOut := run(t, dialer(f), "trail", id)
		if code != ExitOK || !strings.Contains(out, "doc-chen") || errOut != "" {
			t.Errorf("%s: exit %d, stderr %q", id, code, errOut)
		}
	}
	code, _, errOut := run(t, dialer(f), "trail", "JH-2020-US-9999")
	if code != ExitNoMatch {
		t.Errorf("unknown clearance: exit %d", code)
	}
	oneLineError(t, errOut)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestUnreachableServer(t *testing.T) {
	addr := closedPort(t)
	for _, args := range [][]string{
		{"replay", "--query", "WorkflowType = 'ExportClearance'", "--address", addr, "--timeout", "5s"},
		{"trail", "JH-2020-US-0513", "--address", addr, "--timeout", "5s"},
	} {
		code, out, errOut := run(t, nil, args...)
		if code != ExitUnavailable || out != "" {
			t.Errorf("%s: exit %d, stdout %q", args[0], code, out)
		}
		oneLineError(t, errOut)
		if !strings.Contains(errOut, "cannot reach Temporal at "+addr) {
			t.Errorf("%s: stderr %q", args[0], errOut)
		}
	}
}

// encrypt writes a golden history with every payload encrypted as the codec of a deployment
// with --codec-keys would store it, and returns the file and the keyring.
func encrypt(t *testing.T, name string) (string, string) {
	t.Helper()
	key, err := codec.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := fmt.Sprintf(`{"active": "2026-11", "keys": {"2026-11": %q}}`, key)
	ring, err := codec.ParseKeyring([]byte(keys))
	if err != nil {
		t.Fatal(err)
	}
	c := codec.New(ring)
	h := golden(t, name)
	if err := proxy.VisitPayloads(context.Background(), h, proxy.VisitPayloadsOptions{
		SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return c.Encode(ps)
		},
	}); err != nil {
		t.Fatal(err)
	}
	b, err := MarshalHistoryJSON(h)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, name+"-encrypted.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keyFile, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, keyFile
}

func TestEncryptedHistories(t *testing.T) {
	path, keys := encrypt(t, "request-supply")
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte("encryption-key-id")) || bytes.Contains(b, []byte("quality-declaration")) {
		t.Fatal("the history is not encrypted")
	}
	code, _, errOut := run(t, nil, "replay", path)
	if code != ExitFailed || !strings.Contains(errOut, "encrypted") || !strings.Contains(errOut, "--codec-keys") {
		t.Errorf("without keys: exit %d, stderr %q", code, errOut)
	}
	oneLineError(t, errOut)
	if code, _, errOut := run(t, nil, "trail", "--file", path); code != ExitFailed || !strings.Contains(errOut, "--codec-keys") {
		t.Errorf("trail without keys: exit %d, stderr %q", code, errOut)
	}

	if code, out, errOut := run(t, nil, "replay", "--codec-keys", keys, path); code != ExitOK {
		t.Errorf("with keys: exit %d, %s%s", code, out, errOut)
	}
	code, out, errOut := run(t, nil, "trail", "--file", path, "--codec-keys", keys, "--json")
	if code != ExitOK {
		t.Fatalf("trail with keys: exit %d, %s", code, errOut)
	}
	plain := trailOf(t, "request-supply")
	for _, r := range plain.Rows {
		line := fmt.Sprintf(`"actor": %q`, r.Actor)
		if !strings.Contains(out, line) || !strings.Contains(out, r.Outcome) {
			t.Errorf("the decrypted trail lacks %s / %s", line, r.Outcome)
		}
	}
}
