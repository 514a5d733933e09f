package faults

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/e2e/fixture"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/register"
	"github.com/medsupply/customs/workflows"
)

const (
	// conditionTimeout bounds a wait for a clearance, a worker or the server to reach a state
	// when no killed worker holds any of its work.
	conditionTimeout = 30 * time.Second
	// recoveryTimeout bounds a wait for clearances a killed worker was running. The workflow
	// gives each activity attempt a minute (StartToCloseTimeout) and no heartbeat timeout, so
	// the server retries an activity that died with its worker only after that minute.
	recoveryTimeout = 150 * time.Second
	// pollInterval is how often a condition is checked again.
	pollInterval = 50 * time.Millisecond
	// examplesDir holds the example declarations.
	examplesDir = "../../examples"
)

// The example declarations the tests copy under new IDs.
const (
	exCannulas     = "us-nasal-cannulas-anaesthesia-masks.json"                // green
	exFFP2         = "it-ffp2-respirators.json"                                // green
	exGloves       = "nl-examination-gloves-self-declared.json"                // green
	exN95          = "us-n95-respirators-niosh.json"                           // yellow: document officer
	exAntibody     = "de-antibody-test-kits.json"                              // yellow: document, biological review, release
	exThermometers = "missing-documents-quality-declaration-thermometers.json" // document officer requests information
	exNonNotified  = "es-masks-non-notified-body.json"                         // refused: InvalidCertificate
)

// greenExamples are released without an officer.
var greenExamples = []string{exCannulas, exFFP2, exGloves}

var (
	// binDir holds the worker and starter binaries TestMain builds.
	binDir string
	// srv is the in-memory Temporal server the tests share, a namespace each; admin is its
	// default client, for registering namespaces.
	srv   *temporaltest.TestServer
	admin client.Client
	idSeq atomic.Int64
	ids   = &fixture.IDs{Tag: "f"}
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests builds the worker and starter binaries, starts the shared server and runs the tests;
// deferred calls tear it down.
func runTests(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "faults: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "customs-faults-")
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "faults: remove %s: %v\n", dir, err)
		}
	}()
	binDir = dir
	// go test puts its own go first on PATH.
	build := exec.Command("go", "build", "-o", binDir+string(filepath.Separator),
		"github.com/medsupply/customs/worker", "github.com/medsupply/customs/starter")
	if out, err := build.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("build the worker and starter: %w\n%s", err, out))
	}
	// The binaries' main files, and the worker's command line, are not linked into this test;
	// reading them makes go test's result cache notice when they change.
	for _, f := range []string{"../../worker/main.go", "../../worker/cli/cli.go", "../../starter/main.go"} {
		if _, err := os.ReadFile(f); err != nil {
			return fail(err)
		}
	}

	// The tests spend most of their time waiting on the server's timeouts, not on the CPU: the
	// server retries an activity a killed worker held only after its one-minute start-to-close
	// timeout. They all run at once unless -parallel says otherwise or the race detector makes
	// the in-process server the bottleneck.
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet && !raceDetector {
		if err := flag.Set("test.parallel", "8"); err != nil {
			return fail(err)
		}
	}

	srv = temporaltest.NewServer()
	defer srv.Stop()
	admin = srv.GetDefaultClient()
	return m.Run()
}

// permanent marks a condition's error as one that waiting longer cannot change.
type permanent struct{ error }

// eventually checks until check returns nil; it fails the test with check's last error when
// timeout passes first or check returns a permanent error.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	if err := poll(timeout, check); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// poll checks until check returns nil, a permanent error, or timeout passes; it returns nil or
// the last error.
func poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.error
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", timeout, err)
		}
		time.Sleep(pollInterval)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newNamespace registers a namespace of the shared server for one test, with the engine's
// search attributes, and returns its name once visibility queries naming them are accepted.
func newNamespace(t *testing.T) string {
	t.Helper()
	ctx := ctxFor(t, conditionTimeout)
	ns := fmt.Sprintf("faults-%d", idSeq.Add(1))
	if _, err := admin.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		t.Fatalf("register namespace %s: %v", ns, err)
	}
	c := dial(t, srv.GetFrontendHostPort(), ns, "")
	eventually(t, conditionTimeout, "search attributes of "+ns, func() error {
		return connect.RegisterSearchAttributes(ctx, c, ns)
	})
	if err := connect.AwaitSearchAttributes(context.Background(), c, ns, conditionTimeout); err != nil {
		t.Fatal(err)
	}
	return ns
}

// dial connects to a server's namespace the way the worker and starter do, with the codec when
// codecKeys is set; the client is closed when the test ends.
func dial(t *testing.T, address, ns, codecKeys string) client.Client {
	t.Helper()
	ctx := ctxFor(t, conditionTimeout)
	c, err := connect.Dial(ctx, connect.Options{Address: address, Namespace: ns, CodecKeys: codecKeys},
		logging.NewSDKLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// freshID returns a new declaration ID starting with base.
func freshID(base string) string { return ids.Fresh(base) }

// fresh returns the example declaration name under a fresh ID.
func fresh(t *testing.T, name string) declaration.Declaration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	d.ID = freshID(d.ID)
	return d
}

// exampleFile writes the example declaration name under a fresh ID into a temporary directory
// and returns the file and the Ref of its clearance (its exporter and the new ID).
func exampleFile(t *testing.T, name string) (path string, ref clearance.Ref) {
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

// compareRefs orders Refs by declaration ID, then exporter.
func compareRefs(a, b clearance.Ref) int {
	return cmp.Or(cmp.Compare(a.Declaration, b.Declaration), cmp.Compare(a.Exporter, b.Exporter))
}

// submitAll starts a clearance of each declaration and returns their Refs.
func submitAll(t *testing.T, c client.Client, decls ...declaration.Declaration) []clearance.Ref {
	t.Helper()
	ctx := ctxFor(t, conditionTimeout)
	refs := make([]clearance.Ref, 0, len(decls))
	for _, d := range decls {
		if _, err := clearance.Submit(ctx, c, d); err != nil {
			t.Fatalf("submit %s: %v", d.ID, err)
		}
		refs = append(refs, clearance.RefOf(d))
	}
	return refs
}

// workerProcess is the worker binary running as a child process.
type workerProcess struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
}

// startWorker runs the worker binary against a server's namespace with dataDir for its release
// register and notifications. It is stopped gracefully, or killed, when the test ends.
func startWorker(t *testing.T, address, ns, dataDir, name string, extra ...string) *workerProcess {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--address", address, "--namespace", ns, "--data-dir", dataDir,
		"--log-level", "warn", "--shutdown-timeout", "5s"}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "worker"), args...)
	cmd.Env = processEnv()
	cmd.Stdout, cmd.Stderr = f, f
	dieWithTest(cmd)
	err = cmd.Start()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("start worker %s: %v", name, err)
	}
	p := &workerProcess{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			p.dumpLog(t)
		}
	})
	return p
}

// processEnv is the environment of child processes, without the TEMPORAL_* and CUSTOMS_*
// variables that would override their flags' defaults (an API key turns TLS on, a release
// database moves the register).
func processEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "CUSTOMS_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *workerProcess) pid() int { return p.cmd.Process.Pid }

// identityPrefix starts the SDK's default identity of the process's worker: pid@host@.
func (p *workerProcess) identityPrefix() string { return fmt.Sprintf("%d@", p.pid()) }

func (p *workerProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *workerProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && p.running() {
		t.Fatalf("kill worker %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(conditionTimeout):
		t.Fatalf("worker %s (pid %d) still running %s after SIGKILL", p.name, p.pid(), conditionTimeout)
	}
}

// stop asks the worker to stop with SIGTERM and kills it if it has not stopped in time.
func (p *workerProcess) stop(t *testing.T) {
	t.Helper()
	if !p.running() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && p.running() {
		t.Errorf("stop worker %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(conditionTimeout):
		t.Errorf("worker %s (pid %d) did not stop within %s of SIGTERM; killing it", p.name, p.pid(), conditionTimeout)
		p.kill(t)
	}
}

func (p *workerProcess) dumpLog(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Logf("worker %s log: %v", p.name, err)
		return
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	t.Logf("worker %s (pid %d) log, last %d lines:\n%s", p.name, p.pid(), len(lines), strings.Join(lines, "\n"))
}

// awaitPolling waits until the worker process polls both of the clearance task queue's kinds of
// tasks, as the server sees it.
func awaitPolling(t *testing.T, c client.Client, p *workerProcess) {
	t.Helper()
	eventually(t, conditionTimeout, "worker "+p.name+" polling", func() error {
		if !p.running() {
			return permanent{fmt.Errorf("worker exited: %v", p.err)}
		}
		for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := c.DescribeTaskQueue(ctx, workflows.TaskQueue, typ)
			cancel()
			if err != nil {
				return err
			}
			found := false
			for _, poller := range resp.GetPollers() {
				found = found || strings.HasPrefix(poller.GetIdentity(), p.identityPrefix())
			}
			if !found {
				return fmt.Errorf("no %s poller with identity %s*", typ, p.identityPrefix())
			}
		}
		return nil
	})
}

// openRegister opens a worker's release register file once the worker has created it. The test
// only reads it (Count, Get).
func openRegister(t *testing.T, path string) *register.SQLite {
	t.Helper()
	eventually(t, conditionTimeout, "release register "+path, func() error {
		_, err := os.Stat(path)
		return err
	})
	r, err := register.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close register: %v", err)
		}
	})
	return r
}

// awaitNotices waits until the register holds at least n notices and returns how many it holds.
func awaitNotices(t *testing.T, r *register.SQLite, n int) int {
	t.Helper()
	var got int
	eventually(t, conditionTimeout, fmt.Sprintf("%d release notices", n), func() error {
		var err error
		got, err = r.Count(context.Background())
		if err != nil {
			return err
		}
		if got < n {
			return fmt.Errorf("%d notices", got)
		}
		return nil
	})
	return got
}

// outcomes collects clearances' results as they end.
type outcomes struct {
	wg      sync.WaitGroup
	ended   atomic.Int64
	mu      sync.Mutex
	results map[clearance.Ref]workflows.Result
	errs    map[clearance.Ref]error
}

// awaitResults waits in the background for each clearance's result, for at most timeout.
func awaitResults(c client.Client, refs []clearance.Ref, timeout time.Duration) *outcomes {
	o := &outcomes{results: map[clearance.Ref]workflows.Result{}, errs: map[clearance.Ref]error{}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	o.wg.Add(len(refs))
	for _, ref := range refs {
		go func() {
			defer o.wg.Done()
			res, err := clearance.Wait(ctx, c, ref)
			o.ended.Add(1)
			o.mu.Lock()
			defer o.mu.Unlock()
			if err != nil {
				o.errs[ref] = err
				return
			}
			o.results[ref] = res
		}()
	}
	go func() {
		o.wg.Wait()
		cancel()
	}()
	return o
}

// running returns how many clearances have not ended yet.
func (o *outcomes) running(total int) int { return total - int(o.ended.Load()) }

// wait waits for every result and fails the test on a clearance that did not end.
func (o *outcomes) wait(t *testing.T) map[clearance.Ref]workflows.Result {
	t.Helper()
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	refs := slices.SortedFunc(maps.Keys(o.errs), compareRefs)
	for _, ref := range refs {
		t.Errorf("%s: %v", ref.Declaration, o.errs[ref])
	}
	if len(refs) > 0 {
		t.FailNow()
	}
	return o.results
}

// assertReleasedOnce checks that every clearance ended released and that the register holds
// exactly one notice for each, the one in its result, and no other notice.
func assertReleasedOnce(t *testing.T, r *register.SQLite, refs []clearance.Ref, results map[clearance.Ref]workflows.Result) {
	t.Helper()
	ctx := ctxFor(t, conditionTimeout)
	numbers := map[string]string{}
	for _, ref := range refs {
		id := ref.Declaration
		res := results[ref]
		if res.State != workflows.StateReleased {
			t.Errorf("%s ended %s at %s: %s", id, res.State, res.Stage, res.Reason)
			continue
		}
		n := res.Notice
		if n == nil {
			t.Errorf("%s: released without a notice in its result", id)
			continue
		}
		got, found, err := r.Get(ctx, ref.Exporter, id)
		switch {
		case err != nil:
			t.Errorf("%s: register: %v", id, err)
		case !found:
			t.Errorf("%s: notice %s is not in the register", id, n.Number)
		case got.Number != n.Number || got.DeclarationID != n.DeclarationID || !got.IssuedAt.Equal(n.IssuedAt):
			t.Errorf("%s: result carries notice %+v, register holds %+v", id, *n, got)
		}
		if other, dup := numbers[n.Number]; dup {
			t.Errorf("notice %s is in the results of %s and %s", n.Number, other, id)
		}
		numbers[n.Number] = id
	}
	count, err := r.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if count != len(refs) {
		t.Errorf("register holds %d notices for %d released declarations", count, len(refs))
	}
}

// notificationsOf counts the exporter notifications of a kind per declaration in a worker's
// notifications file.
func notificationsOf(t *testing.T, path string, kind activities.NotificationKind) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var n struct {
			DeclarationID string                      `json:"declarationId"`
			Kind          activities.NotificationKind `json:"kind"`
		}
		if err := json.Unmarshal([]byte(line), &n); err != nil {
			t.Fatalf("%s: %v: %s", path, err, line)
		}
		if n.Kind == kind {
			counts[n.DeclarationID]++
		}
	}
	return counts
}

// assertNotifiedAtLeastOnce checks that every declaration's exporter was told of its release and
// returns how many notifications were repeats. Notifications are at least once by design.
func assertNotifiedAtLeastOnce(t *testing.T, path string, refs []clearance.Ref) (repeats int) {
	t.Helper()
	counts := notificationsOf(t, path, activities.NotifyReleased)
	for _, ref := range refs {
		id := ref.Declaration
		switch n := counts[id]; {
		case n == 0:
			t.Errorf("%s: the exporter was not told of the release", id)
		case n > 1:
			repeats += n - 1
		}
	}
	return repeats
}

// activityRun is one activity execution as a clearance's history records it: its type, the
// attempt that ended it and the worker that ran that attempt.
type activityRun struct {
	workflowID string
	activity   string
	attempt    int32
	identity   string
}

// activityRuns reads the activity executions of clearances from their histories.
func activityRuns(t *testing.T, c client.Client, refs []clearance.Ref) []activityRun {
	t.Helper()
	ctx := ctxFor(t, conditionTimeout)
	var runs []activityRun
	for _, ref := range refs {
		wid := workflowID(t, ref)
		types := map[int64]string{}
		it := c.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", wid, err)
			}
			runs = appendActivityRun(runs, wid, types, e)
		}
	}
	return runs
}

func appendActivityRun(runs []activityRun, wid string, types map[int64]string, e *historypb.HistoryEvent) []activityRun {
	if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
		types[e.GetEventId()] = a.GetActivityType().GetName()
	}
	if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
		runs = append(runs, activityRun{workflowID: wid, activity: types[a.GetScheduledEventId()],
			attempt: a.GetAttempt(), identity: a.GetIdentity()})
	}
	return runs
}

// heldBy counts the clearances with an activity started by a worker and not finished, and those
// activities, as the server sees them: after a SIGKILL, the work the dead worker took with it.
func heldBy(t *testing.T, c client.Client, refs []clearance.Ref, p *workerProcess) (clearances, acts int) {
	t.Helper()
	ctx := ctxFor(t, conditionTimeout)
	for _, ref := range refs {
		desc, err := c.DescribeWorkflowExecution(ctx, workflowID(t, ref), "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range desc.GetPendingActivities() {
			if a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED && strings.HasPrefix(a.GetLastWorkerIdentity(), p.identityPrefix()) {
				n++
			}
		}
		if n > 0 {
			clearances++
			acts += n
		}
	}
	return clearances, acts
}

// decider drives officers' decisions in the background while faults happen: for each
// clearance, it waits until stage awaits an officer and decides it, retrying across a dead
// worker until the decision is recorded.
type decider struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
	// tries counts decide updates sent, including those a fault cut short.
	tries atomic.Int64
}

func decideAll(c client.Client, refs []clearance.Ref, d workflows.Decision, timeout time.Duration) *decider {
	dc := &decider{}
	dc.wg.Add(len(refs))
	for _, ref := range refs {
		go func() {
			defer dc.wg.Done()
			if err := poll(timeout, func() error { return dc.decideOnce(c, ref, d) }); err != nil {
				dc.mu.Lock()
				dc.errs = append(dc.errs, fmt.Errorf("%s: %s by %s: %w", ref.Declaration, d.Stage, d.Officer, err))
				dc.mu.Unlock()
			}
		}()
	}
	return dc
}

// decideOnce returns nil once the decision is recorded.
func (dc *decider) decideOnce(c client.Client, ref clearance.Ref, d workflows.Decision) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := clearance.Status(ctx, c, ref)
	if err != nil {
		return err
	}
	for _, rec := range s.Decisions {
		if rec.Stage == d.Stage && rec.Officer == d.Officer && rec.Outcome == d.Outcome {
			return nil
		}
	}
	if s.State.Final() {
		return permanent{fmt.Errorf("ended %s at %s before the decision", s.State, s.Stage)}
	}
	if s.State != workflows.StateAwaitingOfficer || s.Stage != d.Stage {
		return fmt.Errorf("%s at %s", s.State, s.Stage)
	}
	dc.tries.Add(1)
	if _, err := clearance.Decide(ctx, c, ref, d); err != nil {
		return err
	}
	return nil
}

func (dc *decider) wait(t *testing.T) {
	t.Helper()
	dc.wg.Wait()
	for _, err := range dc.errs {
		t.Error(err)
	}
	if len(dc.errs) > 0 {
		t.FailNow()
	}
}

// awaitState polls a clearance's status until ok accepts it; a clearance that ends first fails
// the test.
func awaitState(t *testing.T, c client.Client, ref clearance.Ref, what string, ok func(workflows.Status) bool) workflows.Status {
	t.Helper()
	var got workflows.Status
	eventually(t, conditionTimeout, ref.Declaration+" "+what, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := clearance.Status(ctx, c, ref)
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

func awaitOfficer(t *testing.T, c client.Client, ref clearance.Ref, stage policy.Stage) workflows.Status {
	t.Helper()
	return awaitState(t, c, ref, "awaiting an officer at "+string(stage), func(s workflows.Status) bool {
		return s.State == workflows.StateAwaitingOfficer && s.Stage == stage
	})
}

func decide(t *testing.T, c client.Client, ref clearance.Ref, d workflows.Decision) {
	t.Helper()
	if _, err := clearance.Decide(ctxFor(t, conditionTimeout), c, ref, d); err != nil {
		t.Fatalf("%s: %s decides %s at %s: %v", ref.Declaration, d.Officer, d.Outcome, d.Stage, err)
	}
}

func approval(stage policy.Stage, officer string) workflows.Decision {
	return workflows.Decision{Stage: stage, Officer: officer, Outcome: workflows.OutcomeApprove}
}

// since formats the time since began for the tests' reports.
func since(began time.Time) string { return time.Since(began).Round(100 * time.Millisecond).String() }

// exitStatus says how a stopped worker process ended.
func exitStatus(p *workerProcess) string {
	if p.running() {
		return "the process still running"
	}
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}
