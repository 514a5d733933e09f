package audit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/workflows"
)

// fakeServer answers the two calls ReplayQuery makes, from golden histories.
type fakeServer struct {
	client.Client
	pages     [][]*workflowpb.WorkflowExecutionInfo
	histories map[string]*historypb.History
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
	var report bytes.Buffer
	var progress []string
	s, err := ReplayQuery(context.Background(), f, "ExporterCode = '3205960330'", QueryOptions{
		Progress: func(s Summary) { progress = append(progress, s.String()) }, Report: &report})
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
	if len(progress) != 5 || progress[0] != "matched 1, replayed 1, failed 0, skipped 0" || progress[4] != s.String() {
		t.Errorf("want the counts after each of 5 workflows, got %q", progress)
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
}
