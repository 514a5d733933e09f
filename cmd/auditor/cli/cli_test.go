package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/audit/audittest"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/codec"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/workflows"
)

// goldenDir holds the golden histories recorded by audit/golden.
var goldenDir = filepath.Join("..", "..", "..", "workflows", "testdata", "golden")

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
	h, err := audit.ReadHistoryFile(filepath.Join(goldenDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func trailOf(t *testing.T, name string) *audit.Trail {
	t.Helper()
	tr, err := audit.BuildTrail(golden(t, name), audit.Converters{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// run runs the auditor's command line and returns its exit code, stdout and stderr.
func run(t *testing.T, dial Dialer, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Command(dial)(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// oneLineError checks that stderr holds exactly one line.
func oneLineError(t *testing.T, stderr string) {
	t.Helper()
	if s := strings.TrimRight(stderr, "\n"); s == "" || strings.Contains(s, "\n") {
		t.Errorf("want one line on stderr, got %q", stderr)
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

// TestReplayCommandLocatesNonDeterminism is the command line on the history of
// audit's TestReplayLocatesNonDeterminism: one line naming the clearance and the event.
func TestReplayCommandLocatesNonDeterminism(t *testing.T) {
	// An activity the history scheduled under another name than the code does.
	var tampered string
	path := audittest.Tamper(t, goldenDir, "reject", func(events []map[string]any) {
		tampered = audittest.RenameScheduledJSON(events, "SelectLane", "SelectLaneByRules")
	})
	if tampered == "" {
		t.Fatal("the reject history schedules no SelectLane")
	}
	code, _, errOut := run(t, nil, "replay", path)
	oneLineError(t, errOut)
	want := "clearance-3205960330-JH-2020-US-0513: non-determinism at event " + tampered + " (ActivityTaskScheduled)"
	if code != ExitFailed || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q; want %q", code, errOut, want)
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
		{"other workflow type", audittest.Tamper(t, goldenDir, "reject", func(events []map[string]any) {
			a := events[0]["workflowExecutionStartedEventAttributes"].(map[string]any)
			a["workflowType"] = map[string]any{"name": "OrderFulfillment"}
		}), `workflow-type: the history is of workflow type "OrderFulfillment", not ExportClearance`},
		{"missing event", audittest.Tamper(t, goldenDir, "reject", func(events []map[string]any) {
			copy(events[9:], events[10:])
			events[len(events)-1] = events[len(events)-2]
		}), "corrupt or truncated history: event 11 follows event 9"},
		{"not a start event first", audittest.Tamper(t, goldenDir, "reject", func(events []map[string]any) {
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
		{"replay", "--query", "WorkflowType = 'ExportClearance'", "--parallel", "0"},
		{"audit"},
	} {
		if code, _, _ := run(t, nil, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

func dialer(f *audittest.Server) Dialer {
	return func(context.Context, connect.Options) (client.Client, error) { return f, nil }
}

// TestReplayQueryCommand is replay --query over the server of audit's TestReplayQuery: the
// summary on stdout, exit 1 for the failure, and the client closed.
func TestReplayQueryCommand(t *testing.T) {
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
	code, out, errOut := run(t, dialer(f), "replay", "--query", "ExporterCode = '3205960330'")
	if code != ExitFailed || strings.TrimSpace(out) != "matched 5, replayed 2, failed 1, skipped 2" || !f.Closed {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestReplayQueryCommandTellsAnInvalidQueryFromAnOutage: a query the server refuses is the
// auditor's mistake (usage, 2); a server that cannot answer is unavailable (3).
func TestReplayQueryCommandTellsAnInvalidQueryFromAnOutage(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{serviceerror.NewInvalidArgument("invalid query: unknown or unsupported attribute Lane"), ExitUsage},
		{serviceerror.NewUnavailable("connection refused"), ExitUnavailable},
	} {
		f := &audittest.Server{ListErr: c.err}
		code, out, errOut := run(t, dialer(f), "replay", "--query", "Lane = 'red'")
		if code != c.want || out != "" || !strings.Contains(errOut, c.err.Error()) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d", c.err, code, out, errOut, c.want)
		}
		oneLineError(t, errOut)
	}
}

// TestHelp: -h and --help at every level exit 0; the top-level help shows every command's
// flags and the exit codes.
func TestHelp(t *testing.T) {
	code, out, _ := run(t, nil, "--help")
	for _, want := range []string{"usage: auditor [connection flags] COMMAND", "auditor replay flags:", "-query", "auditor trail flags:", "-run-id", "-tls-ca-path", "4 not found"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	if code != ExitOK {
		t.Errorf("--help: exit %d", code)
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"replay", "-h"}, {"trail", "--help"}} {
		if code, _, _ := run(t, nil, args...); code != ExitOK {
			t.Errorf("%q: exit %d, want 0", args, code)
		}
	}
}

func TestReplayQueryCommandMatchesNothing(t *testing.T) {
	f := &audittest.Server{}
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
	f := &audittest.Server{Histories: map[string]*historypb.History{"clearance-JH-2020-US-0513": golden(t, "reject")}}
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

// TestTrailOfADeclarationIDFoundInVisibility: a declaration ID names the one clearance
// visibility lists with it, under its exporter's workflow ID; one that two exporters use is
// ambiguous, a usage error (2, not 4: the clearances exist), naming both clearances.
func TestTrailOfADeclarationIDFoundInVisibility(t *testing.T) {
	own := "clearance-3205960330-JH-2020-US-0513"
	f := &audittest.Server{Histories: map[string]*historypb.History{own: golden(t, "reject")},
		Pages: [][]*workflowpb.WorkflowExecutionInfo{{audittest.Info(own, workflows.WorkflowName)}}}
	if code, out, errOut := run(t, dialer(f), "trail", "JH-2020-US-0513"); code != ExitOK || !strings.Contains(out, "doc-chen") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	f.Pages = [][]*workflowpb.WorkflowExecutionInfo{{audittest.Info(own, workflows.WorkflowName),
		audittest.Info("clearance-3302960178-JH-2020-US-0513", workflows.WorkflowName)}}
	code, _, errOut := run(t, dialer(f), "trail", "JH-2020-US-0513")
	if code != ExitUsage || !strings.Contains(errOut, "names 2 clearances ("+own+", clearance-3302960178-JH-2020-US-0513): give --exporter") {
		t.Errorf("a declaration ID of two exporters: exit %d, stderr %q", code, errOut)
	}
	oneLineError(t, errOut)
	if code, _, errOut := run(t, dialer(f), "trail", "JH-2020-US-0513", "--exporter", "32059"); code != ExitUsage || !strings.Contains(errOut, "--exporter") {
		t.Errorf("a malformed --exporter: exit %d, stderr %q", code, errOut)
	}
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
	b, err := audit.MarshalHistoryJSON(h)
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

func TestTrailCommand(t *testing.T) {
	path := filepath.Join(goldenDir, "reject.json")
	code, out, errOut := run(t, nil, "trail", "--file", path, "--json")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got audit.Trail
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := trailOf(t, "reject")
	var buf bytes.Buffer
	if err := want.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != out || got.Digest != want.Digest || len(got.Rows) != len(want.Rows) {
		t.Errorf("the JSON trail differs from BuildTrail's")
	}

	code, out, errOut = run(t, nil, "trail", "--file", path)
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Clearance clearance-3205960330-JH-2020-US-0513 of declaration JH-2020-US-0513",
		"History digest (" + audit.DigestAlgorithm + "): " + want.Digest,
		"TIME (UTC)", "doc-chen", "reject", "the packing list declares 4,000 cartons",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestReplayArchiveCommand replays a directory laid out as the server's history archival lays it
// out, with no server to dial.
func TestReplayArchiveCommand(t *testing.T) {
	noServer := func(context.Context, connect.Options) (client.Client, error) {
		t.Error("replay --archive dialled a server")
		return nil, fmt.Errorf("no server")
	}
	dir := t.TempDir()
	names := []string{"green-release", "escalation", "yellow-approve", "reject"}
	for i, name := range names {
		audittest.WriteArchived(t, dir, fmt.Sprintf("%d_0.history", i), golden(t, name))
	}
	code, out, errOut := run(t, noServer, "replay", "--archive", dir, "--parallel", "2")
	if code != ExitOK || errOut != "" || out != "matched 4, replayed 4, failed 0, skipped 0\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	changed := audittest.WriteArchived(t, dir, "9_0.history", audittest.RenameScheduled(golden(t, "reject"), "SelectLane", "SelectLaneByRules"))
	code, out, errOut = run(t, noServer, "replay", "--archive", dir)
	if code != ExitFailed || out != "matched 5, replayed 4, failed 1, skipped 0\n" ||
		!strings.Contains(errOut, "FAIL clearance-3205960330-JH-2020-US-0513 ("+changed+"): non-determinism at event") {
		t.Errorf("a history that no longer replays: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	empty := t.TempDir()
	code, out, errOut = run(t, noServer, "replay", "--archive", empty)
	oneLineError(t, errOut)
	if code != ExitNoMatch || out != "" || !strings.Contains(errOut, empty+" holds no archived history (*.history): nothing was replayed") {
		t.Errorf("an empty archive: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	missing := filepath.Join(empty, "missing")
	code, _, errOut = run(t, noServer, "replay", "--archive", missing)
	oneLineError(t, errOut)
	if code != ExitUsage || !strings.Contains(errOut, missing+": cannot read the archive: no such file or directory") {
		t.Errorf("a missing archive: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{
		{"replay", "--archive", dir, "--query", "WorkflowType = 'ExportClearance'"},
		{"replay", "--archive", dir, filepath.Join(goldenDir, "reject.json")},
	} {
		code, _, errOut = run(t, noServer, args...)
		oneLineError(t, errOut)
		if code != ExitUsage || !strings.Contains(errOut, "give files, --query or --archive, one of them") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// TestTrailFromTheArchive: a clearance retention removed from the server is read from the
// archive, by its workflow ID or by its declaration ID and exporter, and the auditor says so; one
// the archive does not hold either is not found.
func TestTrailFromTheArchive(t *testing.T) {
	id := "clearance-3205960330-JH-2020-US-0513"
	f := &audittest.Server{Archived: map[string]*historypb.History{id: golden(t, "reject")}}
	for _, args := range [][]string{{"trail", id}, {"trail", "JH-2020-US-0513", "--exporter", "3205960330"}} {
		code, out, errOut := run(t, dialer(f), args...)
		if code != ExitOK || !strings.Contains(out, "doc-chen") ||
			errOut != "auditor: "+id+" is no longer on the server: its latest run, read from the archive\n" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	code, _, errOut := run(t, dialer(f), "trail", "clearance-3205960330-JH-2020-US-9999")
	oneLineError(t, errOut)
	if code != ExitNoMatch || !strings.Contains(errOut, "no clearance clearance-3205960330-JH-2020-US-9999") {
		t.Errorf("neither on the server nor archived: exit %d, stderr %q", code, errOut)
	}
}

// TestTrailOfAnArchivedFile: a history file of an archive names search attributes by their
// stored fields; the map the archive keeps beside it names them again, so the trail shows the
// escalation and the digest is the server's copy's. Without the map the file is read as it is.
func TestTrailOfAnArchivedFile(t *testing.T) {
	dir := t.TempDir()
	h := golden(t, "escalation")
	want, _ := audit.Digest(h)
	stored := golden(t, "escalation")
	audit.AliasSearchAttributes(stored, audittest.Fields())
	path := audittest.WriteArchived(t, dir, "1_0.history", stored)
	if err := connect.WriteArchiveAliases(dir, audittest.Aliases); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, "trail", "--file", path)
	if code != ExitOK || errOut != "" || !strings.Contains(out, "SlaBreached set") || !strings.Contains(out, want) {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant the escalation and digest %s", code, errOut, out, want)
	}
	code, out, _ = run(t, nil, "replay", path)
	if code != ExitOK || !strings.Contains(out, "digest "+want) {
		t.Errorf("replay: exit %d, stdout %q; want digest %s", code, out, want)
	}

	if err := os.WriteFile(filepath.Join(dir, connect.ArchiveAliasesFile), []byte("[1,2]"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, nil, "trail", "--file", path)
	oneLineError(t, errOut)
	if code != ExitFailed || !strings.Contains(errOut, connect.ArchiveAliasesFile+": not a map of search attribute fields to names") {
		t.Errorf("a broken map: exit %d, stderr %q", code, errOut)
	}
}

// TestTrailOfAnArchivedRunFromServer: the server serves an archived run with its search
// attributes under their stored fields; the auditor names them by the namespace's map.
func TestTrailOfAnArchivedRunFromServer(t *testing.T) {
	id := "clearance-3205960330-JH-2020-US-0515"
	stored := golden(t, "escalation")
	audit.AliasSearchAttributes(stored, audittest.Fields())
	f := &audittest.Server{Archived: map[string]*historypb.History{id: stored}, Aliases: audittest.Aliases}
	want, _ := audit.Digest(golden(t, "escalation"))
	code, out, errOut := run(t, dialer(f), "trail", id)
	if code != ExitOK || !strings.Contains(out, "SlaBreached set") || !strings.Contains(out, want) {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant the escalation and digest %s", code, errOut, out, want)
	}
}
