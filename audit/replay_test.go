package audit

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/audit/audittest"
	"github.com/medsupply/customs/workflows"
)

// goldenDir holds the golden histories recorded by audit/golden.
var goldenDir = filepath.Join("..", "workflows", "testdata", "golden")

// releasedDir keeps the golden histories of earlier releases, one directory each.
var releasedDir = filepath.Join(goldenDir, "released")

// goldenFiles lists the golden histories of this release and of every earlier one.
func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	released, err := filepath.Glob(filepath.Join(releasedDir, "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 12 || len(released) < 12 {
		t.Fatalf("want at least 12 golden histories in %s and in %s, found %d and %d", goldenDir, releasedDir, len(files), len(released))
	}
	return append(files, released...)
}

// continuedFiles lists the golden histories of the clearances that continued as new, of this
// release and of earlier ones: each the run that continued and the run after it.
func continuedFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "continued", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("want at least 4 golden histories in %s, found %d", filepath.Join(goldenDir, "continued"), len(files))
	}
	released, err := filepath.Glob(filepath.Join(releasedDir, "*", "continued", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return append(files, released...)
}

func golden(t testing.TB, name string) *historypb.History {
	t.Helper()
	h, err := ReadHistoryFile(filepath.Join(goldenDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestGoldenHistoriesReplay replays every golden history against this build's workflow: a change
// to ExportClearance that running clearances could not survive fails here.
func TestGoldenHistoriesReplay(t *testing.T) {
	for _, f := range append(goldenFiles(t), continuedFiles(t)...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h, err := ReadHistoryFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := Replay(h, Converters{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReplayLocatesNonDeterminism(t *testing.T) {
	// An activity the history scheduled under another name than the code does.
	var tampered string
	path := audittest.Tamper(t, goldenDir, "reject", func(events []map[string]any) {
		tampered = audittest.RenameScheduledJSON(events, "SelectLane", "SelectLaneByRules")
	})
	h, err := ReadHistoryFile(path)
	if err != nil {
		t.Fatal(err)
	}
	err = Replay(h, Converters{})
	var re *ReplayError
	if !errors.As(err, &re) {
		t.Fatalf("want a *ReplayError, got %v", err)
	}
	if re.Kind != KindNonDeterminism || re.EventType != "ActivityTaskScheduled" || tampered == "" ||
		tampered != jsonInt(re.EventID) || re.WorkflowID != "clearance-3205960330-JH-2020-US-0513" ||
		!strings.Contains(re.Reason, "SelectLaneByRules") {
		t.Errorf("got %+v, want non-determinism at event %s", re, tampered)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// changedWorkflow is ExportClearance with a timer added in front, released without
// workflow.GetVersion: old histories cannot replay against it.
func changedWorkflow(ctx workflow.Context, in workflows.Input) (workflows.Result, error) {
	if err := workflow.Sleep(ctx, time.Minute); err != nil {
		return workflows.Result{}, err
	}
	return workflows.ExportClearance(ctx, in)
}

func TestReplayWithChangedWorkflowFails(t *testing.T) {
	h := golden(t, "yellow-approve")
	err := ReplayWith(h, changedWorkflow, Converters{})
	var re *ReplayError
	if !errors.As(err, &re) || re.Kind != KindNonDeterminism {
		t.Fatalf("want non-determinism, got %v", err)
	}
	// The timer meets the clearance's first activity, LoadConfiguration (after the version
	// marker and its search attribute).
	var first int64
	for _, e := range h.GetEvents() {
		if e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
			first = e.GetEventId()
			break
		}
	}
	if first == 0 || re.EventID != first || re.EventType != "ActivityTaskScheduled" || !strings.Contains(re.Reason, "TMPRL1100") {
		t.Errorf("got %+v, want the non-determinism at event %d", re, first)
	}
}
