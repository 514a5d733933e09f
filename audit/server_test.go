package audit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/medsupply/customs/audit/audittest"

	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/medsupply/customs/workflows"
)

func TestReplayQuery(t *testing.T) {
	broken := audittest.RenameScheduled(golden(t, "reject"), "SelectLane", "SelectLaneByRules")
	f := &audittest.Server{
		Pages: [][]*workflowpb.WorkflowExecutionInfo{
			{audittest.Info("clearance-3302960178-NBKR-2020-000331", workflows.WorkflowName), audittest.Info("order-17", "OrderFulfillment")},
			{audittest.Info("clearance-GONE", workflows.WorkflowName), audittest.Info("clearance-3205960330-JH-2020-US-0513", workflows.WorkflowName)},
			{audittest.Info("clearance-3205960330-JH-2020-US-0515", workflows.WorkflowName)},
		},
		Histories: map[string]*historypb.History{
			"clearance-3302960178-NBKR-2020-000331": golden(t, "green-release"),
			"clearance-3205960330-JH-2020-US-0513":  broken,
			"clearance-3205960330-JH-2020-US-0515":  golden(t, "escalation"),
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
	if len(s.Failures) != 1 || s.Failures[0].WorkflowID != "clearance-3205960330-JH-2020-US-0513" || s.Failures[0].Kind != KindNonDeterminism {
		t.Errorf("failures %+v", s.Failures)
	}
	for _, want := range []string{
		"skip order-17 (run run-order-17): workflow type OrderFulfillment, not ExportClearance",
		"skip clearance-GONE (run run-clearance-GONE): the history is gone",
		"FAIL clearance-3205960330-JH-2020-US-0513: non-determinism at event",
	} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if len(progress) != 5 || progress[0] != "matched 1, replayed 1, failed 0, skipped 0" || progress[4] != s.String() {
		t.Errorf("want the counts after each of 5 workflows, got %q", progress)
	}
}

func TestReplayQueryMatchesNothing(t *testing.T) {
	f := &audittest.Server{}
	if _, err := ReplayQuery(context.Background(), f, "WorkflowId = 'x'", QueryOptions{}); !errors.Is(err, ErrNoMatch) {
		t.Errorf("want ErrNoMatch, got %v", err)
	}
}
