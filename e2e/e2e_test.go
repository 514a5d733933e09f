package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/e2e/fixture"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/register"
	"github.com/medsupply/customs/starter/cli"
	"github.com/medsupply/customs/workflows"
)

const (
	// conditionTimeout bounds every wait for a clearance, or for visibility, to reach a state.
	conditionTimeout = 30 * time.Second
	// pollInterval is how often a condition is checked again.
	pollInterval = 50 * time.Millisecond
	// uiBase is the Web UI address given to the starter, for its links.
	uiBase = "http://ui.e2e.test"
	// examplesDir holds the example declarations.
	examplesDir = "../examples"
)

// The one server, worker and release register every test of the package shares.
var (
	tc            client.Client
	namespace     string
	releaseDBPath string
	notifications string
	releases      *register.SQLite
	releaseDB     *sql.DB
	ids           = &fixture.IDs{Tag: "e"}
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests starts the server, registers the search attributes, opens the engine on a temporary
// data directory and runs its worker, then runs the tests; deferred calls tear it all down.
func runTests(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "customs-e2e-")
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: remove %s: %v\n", dir, err)
		}
	}()

	srv := temporaltest.NewServer()
	defer srv.Stop()
	tc = srv.GetDefaultClient()
	namespace = srv.GetDefaultNamespace()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := connect.RegisterSearchAttributes(ctx, tc, namespace); err != nil {
		return fail(err)
	}
	if err := connect.AwaitSearchAttributes(ctx, tc, namespace, time.Minute); err != nil {
		return fail(err)
	}

	releaseDBPath = filepath.Join(dir, "releases.db")
	notifications = filepath.Join(dir, "notifications.jsonl")
	cfg := engine.Config{DataDir: dir, ReleaseDB: releaseDBPath, Notifications: notifications,
		ShutdownTimeout: 5 * time.Second}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: close engine: %v\n", err)
		}
	}()
	w := e.NewWorker(tc, cfg)
	if err := w.Start(); err != nil {
		return fail(err)
	}
	defer w.Stop()

	// A second handle on the engine's register file: what the tests read is what the engine
	// wrote to disk, not an in-memory view.
	releases, err = register.OpenSQLite(releaseDBPath)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := releases.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: close register: %v\n", err)
		}
	}()
	releaseDB, err = sql.Open("sqlite", releaseDBPath)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := releaseDB.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: close register database: %v\n", err)
		}
	}()
	return m.Run()
}

// permanent marks a condition's error as one that waiting longer cannot change.
type permanent struct{ error }

// eventually checks until check returns nil; it fails the test with check's last error when
// conditionTimeout passes first or check returns a permanent error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(conditionTimeout)
	for {
		err := check()
		if err == nil {
			return
		}
		var p permanent
		if errors.As(err, &p) {
			t.Fatalf("%s: %v", what, p.error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %v", what, conditionTimeout, err)
		}
		<-time.After(pollInterval)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), conditionTimeout)
	t.Cleanup(cancel)
	return ctx
}

// run is one run of the starter's command line.
type run struct {
	code           int
	stdout, stderr string
}

// starter runs the exporter's command line against the test server's namespace.
func starter(t *testing.T, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conditionTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	full := append([]string{"--namespace", namespace, "--ui", uiBase}, args...)
	code := cli.Command(dial)(ctx, full, &stdout, &stderr)
	return run{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// dial hands the starter the test server's client, once it has asked for the test namespace.
func dial(_ context.Context, o connect.Options) (client.Client, error) {
	if o.Namespace != namespace {
		return nil, fmt.Errorf("dial: namespace %q, want %q", o.Namespace, namespace)
	}
	return tc, nil
}

// freshID returns a new declaration ID starting with base.
func freshID(base string) string { return ids.Fresh(base) }

// exampleCopy writes the example declaration name under a fresh declaration ID into a temporary
// directory and returns the file and the Ref of its clearance (its exporter and the new ID).
func exampleCopy(t *testing.T, name string) (path string, ref clearance.Ref) {
	return ids.ExampleCopy(t, examplesDir, name)
}

// workflowID returns the workflow ID of the clearance ref names.
func workflowID(t *testing.T, ref clearance.Ref) string {
	t.Helper()
	id, err := ref.WorkflowID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// submit starts the clearance of a copy of an example through the starter and returns its
// Ref.
func submit(t *testing.T, example string) clearance.Ref {
	t.Helper()
	path, ref := exampleCopy(t, example)
	r := starter(t, "submit", path)
	if r.code != cli.ExitOK {
		t.Fatalf("submit %s: exit %d\n%s", example, r.code, r.stderr)
	}
	return ref
}

// starterOn runs a starter command on the clearance ref names as its exporter does: --exporter
// names the exporter, the command's first operand the declaration ID, args follow.
func starterOn(t *testing.T, ref clearance.Ref, cmd string, args ...string) run {
	t.Helper()
	return starter(t, append([]string{"--exporter", ref.Exporter, cmd, ref.Declaration}, args...)...)
}

// status asks the starter for a clearance's status as JSON.
func status(t *testing.T, ref clearance.Ref) (workflows.Status, error) {
	t.Helper()
	var s workflows.Status
	r := starterOn(t, ref, "status", "--json")
	if r.code != cli.ExitOK {
		return s, fmt.Errorf("status exited %d: %s", r.code, strings.TrimSpace(r.stderr))
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		return s, permanent{fmt.Errorf("status output: %w\n%s", err, r.stdout)}
	}
	return s, nil
}

// awaitStatus polls the status until ok accepts it; a clearance that ends first fails the test.
func awaitStatus(t *testing.T, ref clearance.Ref, what string, ok func(workflows.Status) bool) workflows.Status {
	t.Helper()
	var got workflows.Status
	eventually(t, ref.Declaration+" "+what, func() error {
		s, err := status(t, ref)
		if err != nil {
			return err
		}
		if ok(s) {
			got = s
			return nil
		}
		if s.State.Final() {
			return permanent{fmt.Errorf("the clearance ended %s at %s: %s", s.State, s.Stage, s.Reason)}
		}
		return fmt.Errorf("it is %s at %s", s.State, s.Stage)
	})
	return got
}

// awaitOfficer waits until the clearance awaits an officer's decision on stage.
func awaitOfficer(t *testing.T, ref clearance.Ref, stage policy.Stage) workflows.Status {
	t.Helper()
	s := awaitStatus(t, ref, "awaiting an officer at "+string(stage), func(s workflows.Status) bool {
		return s.State == workflows.StateAwaitingOfficer && s.Stage == stage
	})
	if s.Waiting == nil || s.Waiting.For != workflows.WaitingForOfficer || s.Waiting.Role != policy.StageRole(stage) {
		t.Fatalf("%s awaits an officer at %s, but waiting = %+v", ref.Declaration, stage, s.Waiting)
	}
	return s
}

// decide sends an officer's decision as the update.
func decide(t *testing.T, ref clearance.Ref, d workflows.Decision) (workflows.DecisionRecord, error) {
	t.Helper()
	return clearance.Decide(testContext(t), tc, ref, d)
}

// approve waits for the stage to await an officer, checks the officer is among those offered,
// and approves it as the update.
func approve(t *testing.T, ref clearance.Ref, stage policy.Stage, officer string) {
	t.Helper()
	s := awaitOfficer(t, ref, stage)
	if !slices.Contains(s.Waiting.Officers, officer) {
		t.Fatalf("%s at %s: officers offered %v, want %s among them", ref.Declaration, stage, s.Waiting.Officers, officer)
	}
	rec, err := decide(t, ref, workflows.Decision{Stage: stage, Officer: officer, Outcome: workflows.OutcomeApprove})
	if err != nil {
		t.Fatalf("%s approves %s of %s: %v", officer, stage, ref.Declaration, err)
	}
	if rec.Via != workflows.ViaUpdate || rec.Officer != officer || rec.Stage != stage {
		t.Fatalf("decision recorded as %+v", rec)
	}
}

// wait runs the starter's wait with --json and returns its exit code and the result.
func wait(t *testing.T, ref clearance.Ref) (int, workflows.Result) {
	t.Helper()
	id := ref.Declaration
	r := starterOn(t, ref, "wait", "--json")
	var res workflows.Result
	if r.stdout == "" {
		t.Fatalf("wait %s: exit %d and no result\n%s", id, r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("wait %s: %v\n%s", id, err, r.stdout)
	}
	if res.DeclarationID != id {
		t.Fatalf("wait %s: result of %q", id, res.DeclarationID)
	}
	return r.code, res
}

// noticesOf reads the release register's file directly and returns every notice number
// recorded for a declaration.
func noticesOf(t *testing.T, declarationID string) []string {
	t.Helper()
	rows, err := releaseDB.QueryContext(testContext(t),
		`SELECT number FROM release_notices WHERE declaration_id = ?`, declarationID)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := rows.Close(); err != nil {
			t.Error(err)
		}
	}()
	var numbers []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return numbers
}

// assertOneNotice checks that the register holds exactly the notice n for the declaration ref
// names.
func assertOneNotice(t *testing.T, ref clearance.Ref, n *activities.ReleaseNotice) {
	t.Helper()
	declarationID := ref.Declaration
	if n == nil {
		t.Fatalf("%s: no release notice in the result", declarationID)
	}
	if !regexp.MustCompile(`^RN-\d{4}-\d{8}$`).MatchString(n.Number) || n.DeclarationID != declarationID {
		t.Fatalf("%s: release notice %+v", declarationID, n)
	}
	got, found, err := releases.Get(testContext(t), ref.Exporter, declarationID)
	if err != nil || !found || got.Number != n.Number {
		t.Fatalf("%s: register holds %+v (found %v, error %v), want notice %s", declarationID, got, found, err, n.Number)
	}
	if numbers := noticesOf(t, declarationID); len(numbers) != 1 {
		t.Fatalf("%s: register holds notices %v, want exactly %s", declarationID, numbers, n.Number)
	}
}

// assertNoNotice checks that the register holds no notice for the declaration ref names.
func assertNoNotice(t *testing.T, ref clearance.Ref) {
	t.Helper()
	declarationID := ref.Declaration
	if _, found, err := releases.Get(testContext(t), ref.Exporter, declarationID); err != nil || found {
		t.Fatalf("%s: register lookup found %v, error %v; want no notice", declarationID, found, err)
	}
	if numbers := noticesOf(t, declarationID); len(numbers) != 0 {
		t.Fatalf("%s: register holds notices %v, want none", declarationID, numbers)
	}
}

// notificationLine is a line of the engine's exporter notifications file.
type notificationLine struct {
	DeclarationID string `json:"declarationId"`
	Kind          string `json:"kind"`
	Message       string `json:"message"`
	Notice        string `json:"notice"`
}

// notified returns the kinds of the notifications the exporter received for a declaration, in
// order.
func notified(t *testing.T, declarationID string) []notificationLine {
	t.Helper()
	f, err := os.Open(notifications)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}()
	var out []notificationLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var n notificationLine
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			t.Fatalf("notifications: %v: %s", err, sc.Text())
		}
		if n.DeclarationID == declarationID {
			out = append(out, n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// listIDs runs a visibility query and returns the workflow IDs it lists.
func listIDs(ctx context.Context, query string) ([]string, error) {
	var ids []string
	var token []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, NextPageToken: token,
		})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			sort.Strings(ids)
			return ids, nil
		}
	}
}

// awaitListed waits until a visibility query lists exactly the workflow IDs want: visibility
// is eventually consistent.
func awaitListed(t *testing.T, query string, want ...string) {
	t.Helper()
	sort.Strings(want)
	eventually(t, "query "+query, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), conditionTimeout)
		defer cancel()
		got, err := listIDs(ctx, query)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("lists %v, want %v", got, want)
		}
		return nil
	})
}

// keywordAttributes returns a workflow's keyword search attributes as the server holds them.
func keywordAttributes(t *testing.T, workflowID string) map[string]string {
	t.Helper()
	desc, err := tc.DescribeWorkflowExecution(testContext(t), workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, p := range desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		if workflows.SearchAttributes()[name] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			continue
		}
		var v string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
			t.Fatalf("search attribute %s: %v", name, err)
		}
		out[name] = v
	}
	return out
}

// officerDecisions lists the decisions made by officers as "stage/officer/outcome/via".
func officerDecisions(ds []workflows.DecisionRecord) []string {
	var out []string
	for _, d := range ds {
		if d.Via != workflows.ViaAutomatic {
			out = append(out, fmt.Sprintf("%s/%s/%s/%s", d.Stage, d.Officer, d.Outcome, d.Via))
		}
	}
	return out
}

func hasFinding(findings []workflows.StageFindings, stage policy.Stage, code string) bool {
	for _, sf := range findings {
		if sf.Stage != stage {
			continue
		}
		for _, f := range sf.Result.Findings {
			if f.Code == code {
				return true
			}
		}
	}
	return false
}

// exampleFiles returns the example declarations, valid and invalid.
func exampleFiles(t *testing.T) (valid, invalid []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "invalid-") {
			invalid = append(invalid, f)
		} else {
			valid = append(valid, f)
		}
	}
	if len(valid) < 10 || len(invalid) < 2 {
		t.Fatalf("examples: %d valid and %d invalid files, want 10 and 2", len(valid), len(invalid))
	}
	return valid, invalid
}

// TestSubmitWithInvalidExamplesStartsNothing submits every example file, the two invalid ones
// among them: the starter names each invalid file and field, and starts none of the valid ones.
func TestSubmitWithInvalidExamplesStartsNothing(t *testing.T) {
	valid, invalid := exampleFiles(t)
	wantFields := map[string][]string{
		"invalid-five-digit-hs-code.json":           {"lines[0].hsCode"},
		"invalid-negative-quantity-no-invoice.json": {"lines[1].quantity", "lines[1].value"},
	}

	r := starter(t, append([]string{"submit"}, append(slices.Clone(valid), invalid...)...)...)

	if r.code != cli.ExitInvalid {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, cli.ExitInvalid, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing submitted", r.stdout)
	}
	for _, f := range invalid {
		fields, ok := wantFields[filepath.Base(f)]
		if !ok {
			t.Fatalf("%s: an invalid example this test does not know", f)
		}
		if !strings.Contains(r.stderr, f+": invalid declaration") {
			t.Errorf("stderr does not name %s:\n%s", f, r.stderr)
		}
		for _, field := range fields {
			if !strings.Contains(r.stderr, field) {
				t.Errorf("stderr does not name %s of %s:\n%s", field, f, r.stderr)
			}
		}
	}
	if !strings.Contains(r.stderr, "nothing was submitted") {
		t.Errorf("stderr does not say nothing was submitted:\n%s", r.stderr)
	}

	var ids []string
	for _, f := range valid {
		if strings.Contains(r.stderr, f) {
			t.Errorf("stderr names the valid %s:\n%s", f, r.stderr)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := declaration.ParseAndValidate(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		wid := workflowID(t, clearance.RefOf(d))
		ids = append(ids, "'"+wid+"'")
		_, err = tc.DescribeWorkflowExecution(testContext(t), wid, "")
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			t.Errorf("%s: describe %s = %v, want not found: nothing may start", f, wid, err)
		}
	}
	resp, err := tc.CountWorkflow(testContext(t), &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: namespace, Query: "WorkflowId IN (" + strings.Join(ids, ", ") + ")",
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetCount() != 0 {
		t.Errorf("%d clearances of the examples exist, want 0", resp.GetCount())
	}
}

// TestSubmitValidExamples submits every valid example at once: each is started under its
// workflow ID, and the starter prints that ID and a Web UI link to it, and what happens next.
func TestSubmitValidExamples(t *testing.T) {
	valid, _ := exampleFiles(t)
	var paths []string
	var refs []clearance.Ref
	for _, f := range valid {
		p, ref := exampleCopy(t, filepath.Base(f))
		paths, refs = append(paths, p), append(refs, ref)
	}

	r := starter(t, append([]string{"submit"}, paths...)...)

	if r.code != cli.ExitOK {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want empty", r.stderr)
	}
	// One line per declaration, each followed by its lodgement's answer, indented.
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if !strings.HasPrefix(l, " ") {
			n++
		}
	}
	if n != len(refs) {
		t.Errorf("stdout has %d declaration lines, want %d:\n%s", n, len(refs), r.stdout)
	}
	if got := strings.Count(r.stdout, "\n  Next "); got != len(refs) {
		t.Errorf("stdout says what happens next %d times, want %d:\n%s", got, len(refs), r.stdout)
	}
	for _, ref := range refs {
		wid := "clearance-" + ref.Exporter + "-" + ref.Declaration
		link := uiBase + "/namespaces/" + namespace + "/workflows/" + wid
		if want := ref.Declaration + "\tsubmitted\t" + wid + "\t" + link + "\n"; !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
		desc, err := tc.DescribeWorkflowExecution(testContext(t), wid, "")
		if err != nil {
			t.Errorf("%s was not started: %v", wid, err)
			continue
		}
		info := desc.GetWorkflowExecutionInfo()
		if info.GetType().GetName() != workflows.WorkflowName || info.GetTaskQueue() != workflows.TaskQueue {
			t.Errorf("%s runs %s on %s, want %s on %s", wid, info.GetType().GetName(), info.GetTaskQueue(),
				workflows.WorkflowName, workflows.TaskQueue)
		}
	}
}

// TestResubmission resubmits a released and a running clearance: the starter exits 3 and names
// the existing clearance and its state, and no second clearance starts.
func TestResubmission(t *testing.T) {
	for _, tt := range []struct {
		example string
		state   string
	}{
		{"nl-examination-gloves-self-declared.json", "released"},
		{"us-n95-respirators-niosh.json", "running"},
	} {
		t.Run(tt.state, func(t *testing.T) {
			path, ref := exampleCopy(t, tt.example)
			wid := workflowID(t, ref)
			if r := starter(t, "submit", path); r.code != cli.ExitOK {
				t.Fatalf("first submission: exit %d\n%s", r.code, r.stderr)
			}
			if tt.state == "released" {
				if code, res := wait(t, ref); code != cli.ExitOK {
					t.Fatalf("wait: exit %d, %s: %s", code, res.State, res.Reason)
				}
			}
			before, err := tc.DescribeWorkflowExecution(testContext(t), wid, "")
			if err != nil {
				t.Fatal(err)
			}

			r := starter(t, "submit", path)

			if r.code != cli.ExitDuplicate {
				t.Fatalf("resubmission: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, cli.ExitDuplicate, r.stdout, r.stderr)
			}
			if want := "clearance " + wid + " is " + tt.state; !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
			if link := uiBase + "/namespaces/" + namespace + "/workflows/" + wid; !strings.Contains(r.stderr, link) {
				t.Errorf("stderr lacks the link %s:\n%s", link, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing submitted", r.stdout)
			}
			after, err := tc.DescribeWorkflowExecution(testContext(t), wid, "")
			if err != nil {
				t.Fatal(err)
			}
			if a, b := after.GetWorkflowExecutionInfo().GetExecution().GetRunId(), before.GetWorkflowExecutionInfo().GetExecution().GetRunId(); a != b {
				t.Errorf("run %s replaced run %s: the resubmission started a second clearance", a, b)
			}
		})
	}
}

// TestGreenLaneReleasedAutomatically follows a green-lane declaration with every check passing:
// released with no officer, one notice in the register, the exporter told, and the final state
// in the search attributes and visibility.
func TestGreenLaneReleasedAutomatically(t *testing.T) {
	ref := submit(t, "us-nasal-cannulas-anaesthesia-masks.json")
	wid := workflowID(t, ref)

	code, res := wait(t, ref)

	if code != cli.ExitOK || res.State != workflows.StateReleased {
		t.Fatalf("wait: exit %d, %s at %s: %s", code, res.State, res.Stage, res.Reason)
	}
	if res.Lane != policy.LaneGreen {
		t.Errorf("lane %s, want green", res.Lane)
	}
	if ds := officerDecisions(res.Decisions); len(ds) != 0 {
		t.Errorf("officers decided %v; a green clearance with clean checks needs none", ds)
	}
	var stages []policy.Stage
	for _, s := range res.Timeline {
		stages = append(stages, s.Stage)
		if s.Outcome != "cleared" {
			t.Errorf("%s ended %q, want cleared", s.Stage, s.Outcome)
		}
	}
	if want := []policy.Stage{policy.StageDocumentCheck, policy.StageCertificationCheck, policy.StageRelease}; !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	if !res.WithinStandard {
		t.Errorf("elapsed %s is over the %s standard", res.Elapsed, res.Standard)
	}
	assertOneNotice(t, ref, res.Notice)
	if ns := notified(t, ref.Declaration); len(ns) != 1 || ns[0].Kind != string(activities.NotifyReleased) || ns[0].Notice != res.Notice.Number {
		t.Errorf("exporter notified %+v, want one release under %s", ns, res.Notice.Number)
	}

	sa := keywordAttributes(t, wid)
	want := map[string]string{
		workflows.SAStatus: "released", workflows.SAStage: "release", workflows.SALane: "green",
		workflows.SAExporterCode: "3302960178", workflows.SADestinationCountry: "US",
	}
	for k, v := range want {
		if sa[k] != v {
			t.Errorf("search attribute %s = %q, want %q", k, sa[k], v)
		}
	}
	awaitListed(t, fmt.Sprintf("%s = 'released' AND WorkflowId = '%s'", workflows.SAStatus, wid), wid)
}

// TestYellowLaneBiologicalReview takes the antibody test kits through every officer stage as it
// comes: document check, biological review and release, each by an officer of the stage's role,
// with decisions that do not fit refused with the validator's reason and no effect.
func TestYellowLaneBiologicalReview(t *testing.T) {
	ref := submit(t, "de-antibody-test-kits.json")
	wid := workflowID(t, ref)

	s := awaitOfficer(t, ref, policy.StageDocumentCheck)
	if s.Lane != policy.LaneYellow {
		t.Fatalf("lane %s (%v), want yellow", s.Lane, s.LaneSelection.Reasons)
	}
	_, err := decide(t, ref, workflows.Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: workflows.OutcomeApprove})
	assertRefused(t, err, "is not the current stage")
	approve(t, ref, policy.StageDocumentCheck, "doc-li")

	s = awaitStatus(t, ref, "awaiting the biological review", func(s workflows.Status) bool {
		return s.State == workflows.StateAwaitingOfficer && s.Stage == policy.StageBiologicalReview
	})
	if s.Waiting == nil || s.Waiting.Role != policy.RoleHealthQuarantine || !slices.Contains(s.Waiting.Officers, "hq-wang") {
		t.Fatalf("waiting = %+v, want a health-quarantine officer such as hq-wang", s.Waiting)
	}
	awaitListed(t, fmt.Sprintf("%s = 'awaiting-officer' AND %s = 'biological-review'", workflows.SAStatus, workflows.SAStage), wid)

	_, err = decide(t, ref, workflows.Decision{Stage: policy.StageBiologicalReview, Officer: "cert-liu", Outcome: workflows.OutcomeApprove})
	assertRefused(t, err, `officer: "cert-liu" does not hold the role health-quarantine-officer`)
	_, err = decide(t, ref, workflows.Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: workflows.OutcomeReject})
	assertRefused(t, err, "reason: required to reject")
	after, err := status(t, ref)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != s.State || after.Stage != s.Stage || len(after.Decisions) != len(s.Decisions) || len(after.Refused) != 0 {
		t.Fatalf("refused updates changed the clearance: before %s at %s with %d decisions, after %s at %s with %d decisions and refusals %v",
			s.State, s.Stage, len(s.Decisions), after.State, after.Stage, len(after.Decisions), after.Refused)
	}

	approve(t, ref, policy.StageBiologicalReview, "hq-wang")
	approve(t, ref, policy.StageRelease, "rel-zhou")

	code, res := wait(t, ref)
	if code != cli.ExitOK || res.State != workflows.StateReleased {
		t.Fatalf("wait: exit %d, %s at %s: %s", code, res.State, res.Stage, res.Reason)
	}
	want := []string{
		"document-check/doc-li/approve/update",
		"biological-review/hq-wang/approve/update",
		"release/rel-zhou/approve/update",
	}
	if got := officerDecisions(res.Decisions); !slices.Equal(got, want) {
		t.Errorf("officers' decisions %v, want %v", got, want)
	}
	assertOneNotice(t, ref, res.Notice)
}

func assertRefused(t *testing.T, err error, reason string) {
	t.Helper()
	var refused *clearance.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("error = %v, want a refusal with %q", err, reason)
	}
	if refused.Update != workflows.UpdateDecide || !strings.Contains(refused.Reason, reason) {
		t.Fatalf("refusal %+v, want the decide update refused with %q", refused, reason)
	}
}

// TestCertificateFromNonNotifiedBodyRefused follows the 2020 case of a mask "CE certificate" from
// a body not notified for PPE: after the document officer, the certification check refuses it by
// rule, wait exits 4 with the reason, and no release notice exists.
func TestCertificateFromNonNotifiedBodyRefused(t *testing.T) {
	ref := submit(t, "es-masks-non-notified-body.json")

	s := awaitOfficer(t, ref, policy.StageDocumentCheck)
	if s.Lane != policy.LaneYellow {
		t.Fatalf("lane %s (%v), want yellow", s.Lane, s.LaneSelection.Reasons)
	}
	approve(t, ref, policy.StageDocumentCheck, "doc-li")

	code, res := wait(t, ref)

	if code != cli.ExitRefused || res.State != workflows.StateRefused {
		t.Fatalf("wait: exit %d, %s at %s: %s; want exit %d, refused", code, res.State, res.Stage, res.Reason, cli.ExitRefused)
	}
	if res.Stage != policy.StageCertificationCheck {
		t.Errorf("refused at %s, want %s", res.Stage, policy.StageCertificationCheck)
	}
	if !strings.Contains(res.Reason, "is not notified under") || !strings.Contains(res.Reason, "1282") {
		t.Errorf("reason %q does not say body 1282 is not notified", res.Reason)
	}
	last := res.Decisions[len(res.Decisions)-1]
	if last.Via != workflows.ViaAutomatic || last.Outcome != workflows.OutcomeReject || last.Stage != policy.StageCertificationCheck {
		t.Errorf("last decision %+v, want an automatic rejection at the certification check", last)
	}
	if res.Notice != nil {
		t.Errorf("refused clearance has release notice %+v", res.Notice)
	}
	assertNoNotice(t, ref)
	if ns := notified(t, ref.Declaration); len(ns) != 1 || ns[0].Kind != string(activities.NotifyRefused) || !strings.Contains(ns[0].Message, "1282") {
		t.Errorf("exporter notifications %+v, want one refusal naming body 1282", ns)
	}

	final, err := status(t, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFinding(final.Findings, policy.StageCertificationCheck, "issuer-not-notified") {
		t.Errorf("findings %+v lack issuer-not-notified", final.Findings)
	}
}

// TestRequestForInformation has the document officer ask for the missing quality declaration;
// the exporter supplies it with the starter, the checks run again, and the officer approves.
func TestRequestForInformation(t *testing.T) {
	ref := submit(t, "missing-documents-quality-declaration-thermometers.json")
	answer := filepath.Join(t.TempDir(), "answer.json")
	if err := os.WriteFile(answer, []byte(`{"documents":[{"type":"quality-declaration","reference":"QD-RW-2020-0506"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	s := awaitOfficer(t, ref, policy.StageDocumentCheck)
	if !hasFinding(s.Findings, policy.StageDocumentCheck, "missing-quality-declaration") {
		t.Fatalf("findings %+v lack missing-quality-declaration", s.Findings)
	}
	r := starterOn(t, ref, "supply", answer)
	if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "the clearance is not awaiting documents (it is awaiting-officer: an officer's decision is awaited)") {
		t.Fatalf("supply before a request: exit %d, stderr %q; want exit %d naming the reason", r.code, r.stderr, cli.ExitInvalid)
	}

	reason := "attach the manufacturer's quality declaration (announcement No. 5 of 2020)"
	if _, err := decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li",
		Outcome: workflows.OutcomeRequestInformation, Reason: reason, Requested: []string{"quality-declaration"}}); err != nil {
		t.Fatal(err)
	}
	awaitingExporter := regexp.MustCompile(`(?m)^State\s+awaiting-exporter$`)
	eventually(t, ref.Declaration+" awaiting the exporter", func() error {
		r := starterOn(t, ref, "status")
		if r.code != cli.ExitOK {
			return fmt.Errorf("status: exit %d: %s", r.code, r.stderr)
		}
		if !awaitingExporter.MatchString(r.stdout) {
			return fmt.Errorf("status:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, reason) || !strings.Contains(r.stdout, "starter supply "+ref.Declaration+" FILE") {
			return permanent{fmt.Errorf("status does not say what is asked and what to run:\n%s", r.stdout)}
		}
		return nil
	})

	r = starterOn(t, ref, "supply", answer)
	if r.code != cli.ExitOK {
		t.Fatalf("supply: exit %d\n%s", r.code, r.stderr)
	}
	if want := "supplied 1 document(s) and 0 certificate(s) for document-check"; !strings.Contains(r.stdout, want) {
		t.Errorf("supply printed %q, want %q", r.stdout, want)
	}
	if r := starterOn(t, ref, "supply", answer); r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "not awaiting documents") {
		t.Errorf("second supply: exit %d, stderr %q; want exit %d: not awaiting documents", r.code, r.stderr, cli.ExitInvalid)
	}

	s = awaitOfficer(t, ref, policy.StageDocumentCheck)
	if runs := s.Timeline[0].CheckRuns; runs != 2 {
		t.Errorf("document checks ran %d times, want 2: again after the supply", runs)
	}
	if latest := s.Findings[len(s.Findings)-1]; latest.Stage != policy.StageDocumentCheck ||
		hasFinding([]workflows.StageFindings{latest}, policy.StageDocumentCheck, "missing-quality-declaration") {
		t.Errorf("checks after the supply found %+v; the quality declaration is there now", latest)
	}
	if len(s.Supplies) != 1 || s.Supplies[0].Documents != 1 {
		t.Errorf("supplies %+v, want one of one document", s.Supplies)
	}
	approve(t, ref, policy.StageDocumentCheck, "doc-li")

	code, res := wait(t, ref)
	if code != cli.ExitOK || res.State != workflows.StateReleased {
		t.Fatalf("wait: exit %d, %s at %s: %s", code, res.State, res.Stage, res.Reason)
	}
	want := []string{
		"document-check/doc-li/request-information/update",
		"document-check/doc-li/approve/update",
	}
	if got := officerDecisions(res.Decisions); !slices.Equal(got, want) {
		t.Errorf("officers' decisions %v, want %v", got, want)
	}
	assertOneNotice(t, ref, res.Notice)
	var kinds []string
	for _, n := range notified(t, ref.Declaration) {
		kinds = append(kinds, n.Kind)
	}
	if want := []string{string(activities.NotifyInformationRequest), string(activities.NotifyReleased)}; !slices.Equal(kinds, want) {
		t.Errorf("exporter notified %v, want %v", kinds, want)
	}
}

// TestWithdraw withdraws a clearance waiting for its document officer: without a reason the
// starter refuses and nothing changes; with one, wait exits 6.
func TestWithdraw(t *testing.T) {
	ref := submit(t, "red-lane-repeat-refusals-protective-clothing.json")
	awaitOfficer(t, ref, policy.StageDocumentCheck)

	r := starterOn(t, ref, "withdraw")
	if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "--reason: required") {
		t.Fatalf("withdraw without a reason: exit %d, stderr %q; want exit %d", r.code, r.stderr, cli.ExitInvalid)
	}
	if s, err := status(t, ref); err != nil || s.State != workflows.StateAwaitingOfficer {
		t.Fatalf("after a refused withdrawal: %s (error %v), want still awaiting-officer", s.State, err)
	}

	reason := "the buyer cancelled the order"
	r = starterOn(t, ref, "withdraw", "--reason", reason)
	if r.code != cli.ExitOK || r.stdout != ref.Declaration+"\twithdrawn\n" {
		t.Fatalf("withdraw: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}

	code, res := wait(t, ref)
	if code != cli.ExitWithdrawn || res.State != workflows.StateWithdrawn {
		t.Fatalf("wait: exit %d, %s; want exit %d, withdrawn", code, res.State, cli.ExitWithdrawn)
	}
	if res.Reason != reason || res.Stage != policy.StageDocumentCheck {
		t.Errorf("withdrawn at %s with reason %q, want at document-check with %q", res.Stage, res.Reason, reason)
	}
	assertNoNotice(t, ref)

	if r := starterOn(t, ref, "withdraw", "--reason", reason); r.code != cli.ExitInvalid {
		t.Errorf("withdraw after the end: exit %d, want %d\n%s", r.code, cli.ExitInvalid, r.stderr)
	}
}

// TestDecisionBySignal decides the document check with the signal "decision": a decision that
// does not fit is listed as refused, one that fits is applied as the update's would be.
func TestDecisionBySignal(t *testing.T) {
	ref := submit(t, "us-n95-respirators-niosh.json")
	wid := workflowID(t, ref)
	s := awaitOfficer(t, ref, policy.StageDocumentCheck)
	if s.Lane != policy.LaneYellow {
		t.Fatalf("lane %s (%v), want yellow", s.Lane, s.LaneSelection.Reasons)
	}

	if err := tc.SignalWorkflow(testContext(t), wid, "", workflows.SignalDecision, workflows.Decision{
		Stage: policy.StageDocumentCheck, Officer: "cert-liu", Outcome: workflows.OutcomeApprove,
	}); err != nil {
		t.Fatal(err)
	}
	s = awaitStatus(t, ref, "listing the refused signal", func(s workflows.Status) bool { return len(s.Refused) > 0 })
	if len(s.Refused) != 1 || !strings.Contains(s.Refused[0].Reason, `"cert-liu" does not hold the role document-officer`) {
		t.Fatalf("refused decisions %+v, want cert-liu's, for lack of the role", s.Refused)
	}
	if s.State != workflows.StateAwaitingOfficer || s.Stage != policy.StageDocumentCheck || len(officerDecisions(s.Decisions)) != 0 {
		t.Fatalf("the refused signal changed the clearance: %s at %s, decisions %v", s.State, s.Stage, officerDecisions(s.Decisions))
	}

	if err := tc.SignalWorkflow(testContext(t), wid, "", workflows.SignalDecision, workflows.Decision{
		Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: workflows.OutcomeApprove,
	}); err != nil {
		t.Fatal(err)
	}

	code, res := wait(t, ref)
	if code != cli.ExitOK || res.State != workflows.StateReleased {
		t.Fatalf("wait: exit %d, %s at %s: %s", code, res.State, res.Stage, res.Reason)
	}
	if got, want := officerDecisions(res.Decisions), []string{"document-check/doc-chen/approve/signal"}; !slices.Equal(got, want) {
		t.Errorf("officers' decisions %v, want %v", got, want)
	}
	assertOneNotice(t, ref, res.Notice)
}

// TestConcurrentDuplicateSubmission submits one new declaration from 8 goroutines at once:
// exactly one starts the clearance, the others meet it as a duplicate, and one notice is issued.
func TestConcurrentDuplicateSubmission(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(examplesDir, "it-ffp2-respirators.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	d.ID = freshID(d.ID)
	ref := clearance.RefOf(d)
	wid := workflowID(t, ref)

	const submitters = 8
	ctx := testContext(t)
	start := make(chan struct{})
	var wg sync.WaitGroup
	runs := make([]client.WorkflowRun, submitters)
	errs := make([]error, submitters)
	for i := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			runs[i], errs[i] = clearance.Submit(ctx, tc, d)
		}()
	}
	close(start)
	wg.Wait()

	var started client.WorkflowRun
	var dups []*clearance.DuplicateError
	for i, err := range errs {
		var dup *clearance.DuplicateError
		switch {
		case err == nil:
			if started != nil {
				t.Fatalf("two submissions started a clearance: runs %s and %s", started.GetRunID(), runs[i].GetRunID())
			}
			started = runs[i]
		case errors.As(err, &dup):
			dups = append(dups, dup)
		default:
			t.Fatalf("submission %d: %v, want success or a duplicate", i, err)
		}
	}
	if started == nil || len(dups) != submitters-1 {
		t.Fatalf("%d duplicates and started %v, want one started and %d duplicates", len(dups), started != nil, submitters-1)
	}
	for _, dup := range dups {
		if dup.WorkflowID != wid || dup.DeclarationID != d.ID || dup.RunID != started.GetRunID() ||
			(dup.State != "running" && dup.State != "released") {
			t.Errorf("duplicate %+v, want clearance %s run %s, running or released", dup, wid, started.GetRunID())
		}
	}

	res, err := clearance.Wait(ctx, tc, ref)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != workflows.StateReleased {
		t.Fatalf("%s at %s: %s", res.State, res.Stage, res.Reason)
	}
	assertOneNotice(t, ref, res.Notice)
}

// TestTwoExportersOneDeclarationID: another exporter lodges a declaration under an ID the first
// already used: a clearance of its own. The starter without --exporter finds a declaration ID
// that one exporter used, and refuses one that two used, naming them; with --exporter each
// exporter reaches its own.
func TestTwoExportersOneDeclarationID(t *testing.T) {
	path, first := exampleCopy(t, "us-n95-respirators-niosh.json")
	if r := starter(t, "submit", path); r.code != cli.ExitOK {
		t.Fatalf("submit: exit %d\n%s", r.code, r.stderr)
	}
	// Visibility lists the clearance a moment after it starts.
	for deadline := time.Now().Add(conditionTimeout); ; time.Sleep(100 * time.Millisecond) {
		r := starter(t, "status", first.Declaration, "--json")
		var s workflows.Status
		if r.code == cli.ExitOK && json.Unmarshal([]byte(r.stdout), &s) == nil && s.Exporter == first.Exporter {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status without --exporter: exit %d\n%s", r.code, r.stderr)
		}
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["exporter"].(map[string]any)["code"] = "3302960178"
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(other, b, 0o600); err != nil {
		t.Fatal(err)
	}
	second := clearance.Ref{Exporter: "3302960178", Declaration: first.Declaration}
	r := starter(t, "submit", other)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, workflowID(t, second)) {
		t.Fatalf("the second exporter's submission: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for deadline := time.Now().Add(conditionTimeout); ; time.Sleep(100 * time.Millisecond) {
		r := starter(t, "status", first.Declaration)
		if r.code == cli.ExitInvalid && strings.Contains(r.stderr, "is lodged by 2 exporters") &&
			strings.Contains(r.stderr, first.Exporter) && strings.Contains(r.stderr, second.Exporter) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of a declaration ID two exporters use: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	for _, ref := range []clearance.Ref{first, second} {
		s, err := status(t, ref)
		if err != nil || s.Exporter != ref.Exporter || s.DeclarationID != ref.Declaration {
			t.Errorf("status of %s: %+v, %v", ref, s.Exporter, err)
		}
	}
}
