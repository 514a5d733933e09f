package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	enumspb "go.temporal.io/api/enums/v1"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/workflow"

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

func golden(t *testing.T, name string) *historypb.History {
	t.Helper()
	h, err := ReadHistoryFile(filepath.Join(goldenDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs the auditor's command line and returns its exit code, stdout and stderr.
func run(t *testing.T, dial Dialer, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Run(ctx, args, &out, &errOut, dial)
	return code, out.String(), errOut.String()
}

// oneLineError checks that stderr holds exactly one line.
func oneLineError(t *testing.T, stderr string) {
	t.Helper()
	if s := strings.TrimRight(stderr, "\n"); s == "" || strings.Contains(s, "\n") {
		t.Errorf("want one line on stderr, got %q", stderr)
	}
}

// TestGoldenHistoriesReplay replays every golden history against this build's workflow: a change
// to ExportClearance that running clearances could not survive fails here.
func TestGoldenHistoriesReplay(t *testing.T) {
	for _, f := range goldenFiles(t) {
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

func TestReplayCommandOnGoldenFiles(t *testing.T) {
	files := goldenFiles(t)
	code, out, errOut := run(t, nil, append([]string{"replay"}, files...)...)
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "failed 0") || strings.Count(out, "\nok ") != len(files)-1 || !strings.HasPrefix(out, "ok ") {
		t.Errorf("stdout:\n%s", out)
	}
}

// tamper rewrites a golden file's JSON and writes it to a temporary file.
func tamper(t *testing.T, name string, edit func(events []map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc.Events)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+"-tampered.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayLocatesNonDeterminism(t *testing.T) {
	// An activity the history scheduled under another name than the code does.
	var tampered string
	path := tamper(t, "reject", func(events []map[string]any) {
		for _, e := range events {
			a, ok := e["activityTaskScheduledEventAttributes"].(map[string]any)
			if !ok {
				continue
			}
			at := a["activityType"].(map[string]any)
			if at["name"] == "SelectLane" {
				at["name"] = "SelectLaneByRules"
				tampered = e["eventId"].(string)
			}
		}
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
		tampered != jsonInt(re.EventID) || re.WorkflowID != "clearance-JH-2020-US-0513" ||
		!strings.Contains(re.Reason, "SelectLaneByRules") {
		t.Errorf("got %+v, want non-determinism at event %s", re, tampered)
	}

	code, _, errOut := run(t, nil, "replay", path)
	oneLineError(t, errOut)
	want := "clearance-JH-2020-US-0513: non-determinism at event " + tampered + " (ActivityTaskScheduled)"
	if code != ExitFailed || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q; want %q", code, errOut, want)
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

func TestReplayBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full, err := os.ReadFile(filepath.Join(goldenDir, "reject.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
	}{
		{"truncated", write("truncated.json", full[:len(full)/2]), "truncated or corrupt"},
		{"not JSON", write("notes.txt", []byte("officer notes: approved on the phone\n")), "not JSON"},
		{"empty", write("empty.json", nil), "empty file"},
		{"JSON but no history", write("other.json", []byte(`{"declarations": []}`)), "no events"},
		{"other workflow type", tamper(t, "reject", func(events []map[string]any) {
			a := events[0]["workflowExecutionStartedEventAttributes"].(map[string]any)
			a["workflowType"] = map[string]any{"name": "OrderFulfillment"}
		}), `workflow-type: the history is of workflow type "OrderFulfillment", not ExportClearance`},
		{"missing event", tamper(t, "reject", func(events []map[string]any) {
			copy(events[9:], events[10:])
			events[len(events)-1] = events[len(events)-2]
		}), "corrupt or truncated history: event 11 follows event 9"},
		{"not a start event first", tamper(t, "reject", func(events []map[string]any) {
			events[0], events[1] = events[1], events[0]
		}), "not the workflow's start event"},
		{"missing file", filepath.Join(dir, "absent.json"), "cannot open"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, "replay", c.path)
			if code != ExitFailed {
				t.Errorf("exit %d, want %d", code, ExitFailed)
			}
			oneLineError(t, errOut)
			if !strings.HasPrefix(errOut, "FAIL "+c.path) || !strings.Contains(errOut, c.want) {
				t.Errorf("stderr %q, want it to name the file and say %q", errOut, c.want)
			}
			if !strings.Contains(out, "replayed 0, failed 1") {
				t.Errorf("stdout %q", out)
			}
			code, _, errOut = run(t, nil, "trail", "--file", c.path)
			if code != ExitFailed {
				t.Errorf("trail: exit %d, want %d", code, ExitFailed)
			}
			oneLineError(t, errOut)
		})
	}
}

func TestReplayReportsEachFailureAndGoesOn(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"events": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(goldenDir, "green-release.json")
	code, out, errOut := run(t, nil, "replay", good, bad, good)
	if code != ExitFailed || strings.Count(out, "ok   ") != 2 || !strings.Contains(out, "replayed 2, failed 1") {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	oneLineError(t, errOut)
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"replay"},
		{"replay", "a.json", "--query", "WorkflowType = 'ExportClearance'"},
		{"trail"},
		{"trail", "A", "B"},
		{"trail", "not a valid id!"},
		{"audit"},
	} {
		if code, _, _ := run(t, nil, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
