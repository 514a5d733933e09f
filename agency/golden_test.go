package agency

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

var recordGolden = flag.Bool("record-golden", false, "write the histories of the real-server tests' reviews to testdata/golden")

// maxReviewEvents bounds a review's history: AgencyReview never continues as new.
const maxReviewEvents = 40

// goldenPaths are the paths of a review whose recorded histories must replay.
var goldenPaths = []string{"granted-by-rule", "granted-by-the-market-regulators-list", "refused-by-officer", "information-needed",
	"withdrawn", "granted-after-worker-restart", "granted-to-two-callers", "granted-across-continue-as-new", "refused-verified"}

// keep checks the ended review of req's history against its bound and, with -record-golden,
// records it as testdata/golden/<path>.json.
func (sw *window) keep(req PermitRequest, path string) {
	sw.t.Helper()
	if !slices.Contains(goldenPaths, path) {
		sw.t.Fatalf("%s is not a golden path", path)
	}
	sw.closed(req)
	var h historypb.History
	it := sw.ac.GetWorkflowHistory(context.Background(), WorkflowID(req), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			sw.t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	if n := len(h.Events); n > maxReviewEvents {
		sw.t.Errorf("the review's history has %d events, more than %d", n, maxReviewEvents)
	}
	if !*recordGolden {
		return
	}
	b, err := temporalproto.CustomJSONMarshalOptions{}.Marshal(&h)
	if err != nil {
		sw.t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		sw.t.Fatal(err)
	}
	out.WriteByte('\n')
	if err := os.MkdirAll(filepath.Join("testdata", "golden"), 0o750); err != nil {
		sw.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "golden", path+".json"), out.Bytes(), 0o644); err != nil {
		sw.t.Fatal(err)
	}
}

// Every recorded review history (testdata/golden, recorded by this package's real-server tests
// with -record-golden) replays against this code: a change that would break a running review
// fails here, and wants workflow.GetVersion.
func TestGoldenReviewsReplay(t *testing.T) {
	if *recordGolden {
		t.Skip("recording: the tests that record run after this one")
	}
	for _, path := range goldenPaths {
		t.Run(path, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "golden", path+".json"))
			if err != nil {
				t.Fatal(err)
			}
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			_ = f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if n := len(h.GetEvents()); n > maxReviewEvents {
				t.Errorf("%d events, more than %d", n, maxReviewEvents)
			}
			if typ := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName(); typ != WorkflowName {
				t.Fatalf("a history of %s", typ)
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(AgencyReview, workflow.RegisterOptions{Name: WorkflowName})
			if err := r.ReplayWorkflowHistory(nil, h); err != nil {
				t.Fatalf("does not replay: %v", err)
			}
			if !strings.Contains(path, "withdrawn") && h.GetEvents()[len(h.GetEvents())-1].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
				t.Errorf("ends with %v", h.GetEvents()[len(h.GetEvents())-1].GetEventType())
			}
		})
	}
}
