package appeal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/workflows"
)

// Every recorded appeal history (testdata/golden, recorded by audit/golden with the clearance it
// reopened, and testdata/golden/released, the histories of earlier releases as they were
// recorded) replays against this code: a change that would break a running appeal fails here.
// The histories of earlier releases take the paths they took, and this release's its own.
func TestGoldenAppealsReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("appeal histories: %v %v", files, err)
	}
	released, err := filepath.Glob(filepath.Join("testdata", "golden", "released", "*", "*.json"))
	if err != nil || len(released) == 0 {
		t.Fatalf("appeal histories of earlier releases: %v %v", released, err)
	}
	for _, file := range append(files, released...) {
		t.Run(strings.TrimPrefix(filepath.ToSlash(file), "testdata/golden/"), func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
				Interceptors: []interceptor.WorkerInterceptor{workflows.Interceptor()},
			})
			if err != nil {
				t.Fatal(err)
			}
			r.RegisterWorkflowWithOptions(ClearanceAppeal, workflow.RegisterOptions{Name: WorkflowName})
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			_ = f.Close()
			if err != nil {
				t.Fatal(err)
			}
			// Under the workflow ID and run the server recorded, as a worker replays it: the
			// appeal checks its own workflow ID (ChangeHeardOnce).
			start := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
			if err := r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: start.GetWorkflowId(), RunID: start.GetOriginalExecutionRunId()},
			}); err != nil {
				t.Fatalf("%s does not replay: %v", file, err)
			}
			// The histories recorded before the change heard without a record; those after it
			// record the hearing: both paths of the change replay.
			recorded := slices.ContainsFunc(h.GetEvents(), func(e *historypb.HistoryEvent) bool {
				return e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == NameRecordHearing
			})
			if before := strings.Contains(file, "before-durable-hearing"); recorded == before {
				t.Errorf("%s: records the hearing %v", file, recorded)
			}
			// The histories of earlier releases admit without a claim; this release's claim the
			// refused run when admitted (ChangeHeardOnce).
			admitted := slices.ContainsFunc(h.GetEvents(), func(e *historypb.HistoryEvent) bool {
				return e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == NameAdmitAppeal
			})
			if before := strings.Contains(file, "released/before-"); admitted == before {
				t.Errorf("%s: claims the refused run when admitted %v", file, admitted)
			}
		})
	}
}
