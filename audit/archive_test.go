package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	"github.com/medsupply/customs/audit/audittest"
)

// TestReplayFilesOfAnArchive replays a directory laid out as the server's filestore archival
// lays it out: clearances that replay, one that no longer does, another workflow type, a file cut
// short, and files that are not histories.
func TestReplayFilesOfAnArchive(t *testing.T) {
	dir := t.TempDir()
	audittest.WriteArchived(t, dir, "1_0.history", golden(t, "green-release"))
	audittest.WriteArchived(t, dir, "2_0.history", golden(t, "escalation"))
	changed := audittest.WriteArchived(t, dir, "3_0.history", audittest.RenameScheduled(golden(t, "reject"), "SelectLane", "SelectLaneByRules"))
	other := proto.Clone(golden(t, "yellow-approve")).(*historypb.History)
	other.Events[0].GetWorkflowExecutionStartedEventAttributes().WorkflowType = &commonpb.WorkflowType{Name: "ClearanceAppeal"}
	audittest.WriteArchived(t, dir, "4_0.history", other)
	whole := audittest.ArchiveForm(t, golden(t, "expedited"))
	cut := filepath.Join(dir, "5_0.history")
	if err := os.WriteFile(cut, whole[:len(whole)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	audittest.WriteArchived(t, dir, "6_0.history", golden(t, "withdrawal"))
	// Not histories: the visibility archive's records, and a directory.
	if err := os.WriteFile(filepath.Join(dir, "1_1.visibility"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "7_0.history"), 0o700); err != nil {
		t.Fatal(err)
	}

	files, err := ArchivedHistories(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("listed %d history files, want 6: %v", len(files), files)
	}
	for _, parallel := range []int{1, 3} {
		var report bytes.Buffer
		var seen []int
		s, err := ReplayFiles(context.Background(), files, QueryOptions{
			Parallel: parallel, Report: &report, Progress: func(s Summary) { seen = append(seen, s.Matched) }})
		if err != nil {
			t.Fatal(err)
		}
		if s.Matched != 6 || s.Replayed != 3 || s.Failed != 2 || s.Skipped != 1 {
			t.Errorf("parallel %d: %s, want matched 6, replayed 3, failed 2, skipped 1", parallel, s)
		}
		if len(seen) != 6 || seen[5] != 6 {
			t.Errorf("parallel %d: progress %v, want one call per file", parallel, seen)
		}
		lines := strings.Split(strings.TrimSpace(report.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("parallel %d: report %q, want three lines", parallel, report.String())
		}
		// In the files' order, whatever finished first.
		for i, want := range []string{"FAIL clearance-3205960330-JH-2020-US-0513 (" + changed + "): non-determinism at event",
			"skip " + filepath.Join(dir, "4_0.history") + " (", "FAIL " + cut + ": input: not valid JSON"} {
			if !strings.HasPrefix(lines[i], want) {
				t.Errorf("parallel %d: line %d is %q, want it to start with %q", parallel, i+1, lines[i], want)
			}
		}
		if !strings.Contains(lines[1], "workflow type ClearanceAppeal, not ExportClearance") {
			t.Errorf("the skip does not say why: %q", lines[1])
		}
	}

	if _, err := ReplayFiles(context.Background(), nil, QueryOptions{}); !errors.Is(err, ErrNoMatch) {
		t.Errorf("no files: error %v, want ErrNoMatch", err)
	}
	var ie *InputError
	if _, err := ArchivedHistories(filepath.Join(dir, "missing")); !errors.As(err, &ie) || !strings.Contains(err.Error(), "cannot read the archive") {
		t.Errorf("a missing directory: error %v, want an InputError saying the archive cannot be read", err)
	}
}

// TestReadHistoryRefusesABrokenArchive: a batch that is not a history is named.
func TestReadHistoryRefusesABrokenArchive(t *testing.T) {
	b := []byte(`[{"events":[{"eventId":"1","eventType":"EVENT_TYPE_WORKFLOW_EXECUTION_STARTED","workflowExecutionStartedEventAttributes":{}}]},{"events":[{"eventId":"x"}]}]`)
	_, err := ReadHistory(bytes.NewReader(b), "f.history")
	if err == nil || !strings.Contains(err.Error(), "f.history: not a Temporal history: batch 2:") {
		t.Errorf("error %v, want one naming the file and batch 2", err)
	}
	// Batches that leave a gap between events are a corrupt history.
	h := golden(t, "green-release")
	gap := &historypb.History{Events: append(append([]*historypb.HistoryEvent{}, h.Events[:3]...), h.Events[4:]...)}
	if _, err := ReadHistory(bytes.NewReader(audittest.ArchiveForm(t, gap)), "g.history"); err == nil || !strings.Contains(err.Error(), "event 5 follows event 3") {
		t.Errorf("error %v, want one about the missing event", err)
	}
}

// TestAliasSearchAttributes: a history as the archive keeps it, search attributes under their
// stored fields, reads and digests as the server's copy once named again; the trail then sees
// the stage and the escalation its upserts record.
func TestAliasSearchAttributes(t *testing.T) {
	for _, name := range []string{"escalation", "green-release", "amend-with-consent"} {
		h := golden(t, name)
		want, _ := Digest(h)
		wantTrail, err := BuildTrail(h, Converters{})
		if err != nil {
			t.Fatal(err)
		}
		stored := proto.Clone(h).(*historypb.History)
		AliasSearchAttributes(stored, audittest.Fields())
		if !NamesStoredFields(stored) || NamesStoredFields(h) {
			t.Fatalf("%s: NamesStoredFields %v for the archive's form, %v for the server's", name, NamesStoredFields(stored), NamesStoredFields(h))
		}
		if d, _ := Digest(stored); d == want {
			t.Fatalf("%s: renaming the fields left the digest alone: the test changes nothing", name)
		}
		// Under stored fields the trail misses the escalation an upsert of SlaBreached records.
		unnamed, err := BuildTrail(stored, Converters{})
		if err != nil {
			t.Fatal(err)
		}
		if name == "escalation" && len(unnamed.Rows) >= len(wantTrail.Rows) {
			t.Errorf("%s: the trail of the archive's form has %d rows, want fewer than %d", name, len(unnamed.Rows), len(wantTrail.Rows))
		}
		if !AliasSearchAttributes(stored, audittest.Aliases) {
			t.Errorf("%s: nothing renamed", name)
		}
		if d, _ := Digest(stored); d != want {
			t.Errorf("%s: digest %s once named, want the server's %s", name, d, want)
		}
		got, err := BuildTrail(stored, Converters{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows) != len(wantTrail.Rows) {
			t.Errorf("%s: %d trail rows, want %d", name, len(got.Rows), len(wantTrail.Rows))
		}
		if AliasSearchAttributes(stored, audittest.Aliases) {
			t.Errorf("%s: named twice", name)
		}
	}
}
