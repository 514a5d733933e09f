// Package rollout tests rolling a new build of the worker out on a real Temporal server: two
// builds of the engine's worker, versions of one worker deployment polling the one task queue,
// a new build ramped and rolled back and made current, and a move from unversioned workers to
// versioned ones, with every clearance completing on whichever build holds it.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/e2e/fixture"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

const (
	// conditionTimeout bounds every wait for a clearance, a worker or the deployment to reach a
	// state.
	conditionTimeout = 30 * time.Second
	// pollInterval is how often a condition is checked again.
	pollInterval = 50 * time.Millisecond
	examplesDir  = "../../examples"
	// deployment is the worker deployment of every test, in a namespace of its own.
	deployment = connect.DefaultDeploymentName
)

// The example declarations the tests copy under new IDs.
const (
	exAntibody = "de-antibody-test-kits.json" // yellow: document officer, biological review, release officer
	exN95      = "us-n95-respirators-niosh.json"
)

// quiet is the SDK's logger in these tests: the builds' own logs are observed.
var quiet = logging.NewSDKLogger(zap.NewNop())

var (
	srv   *temporaltest.TestServer
	ids   = &fixture.IDs{Tag: "r"}
	nsSeq atomic.Int64
)

func TestMain(m *testing.M) {
	// A version that stops being current or ramping is checked for open pinned workflows after
	// these delays (3 minutes each by default): short here, so that drainage shows within the
	// test.
	srv = temporaltest.NewServer(temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
		dynamicconfig.VersionDrainageStatusVisibilityGracePeriod.Key(): time.Second,
		dynamicconfig.VersionDrainageStatusRefreshInterval.Key():       time.Second,
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key():    true,
	})))
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

// eventually checks until check returns nil, and fails the test with check's last error once
// conditionTimeout passes.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(conditionTimeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %v", what, conditionTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), conditionTimeout)
	t.Cleanup(cancel)
	return ctx
}

// cluster is a namespace of a test's own, where its worker deployment starts empty, with the
// engine's search attributes and one release register for every build, as a cluster's
// PostgreSQL register is.
type cluster struct {
	ns      string
	c       client.Client
	dataDir string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	ns := fmt.Sprintf("rollout-%d", nsSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := srv.GetDefaultClient().WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var c client.Client
	eventually(t, "namespace "+ns+" known to the frontend", func() error {
		var err error
		c, err = connect.Dial(ctx, connect.Options{Address: srv.GetFrontendHostPort(), Namespace: ns}, quiet)
		return err
	})
	t.Cleanup(c.Close)
	eventually(t, "search attributes of "+ns, func() error { return connect.RegisterSearchAttributes(ctx, c, ns) })
	if err := connect.AwaitSearchAttributes(ctx, c, ns, time.Minute); err != nil {
		t.Fatal(err)
	}
	return &cluster{ns: ns, c: c, dataDir: t.TempDir()}
}

// build is one build of the worker, running in the test as the worker binary runs it
// (engine.Run): a version of the deployment when buildID is set, unversioned otherwise.
type build struct {
	id      string
	logs    *observer.ObservedLogs
	stop    context.CancelFunc
	done    chan error
	stopped sync.Once
}

// startBuild runs a worker of buildID ("" for an unversioned one) that makes itself current as
// makeCurrent says. It stops when the test ends, unless stopped before.
func (cl *cluster) startBuild(t *testing.T, buildID, makeCurrent string) *build {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	cfg := engine.Config{DataDir: cl.dataDir, Notifications: "-", ShutdownTimeout: 5 * time.Second,
		Versioning: connect.Versioning{Enabled: buildID != "", DeploymentName: deployment, BuildID: buildID, MakeCurrent: makeCurrent}}
	e, err := engine.Open(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := connect.Dial(ctx, connect.Options{Address: srv.GetFrontendHostPort(), Namespace: cl.ns,
		Interceptors: []grpc.UnaryClientInterceptor{e.Polls.Interceptor()}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	b := &build{id: buildID, logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() {
		b.done <- e.Run(ctx, c, cfg)
		c.Close()
		_ = e.Close()
	}()
	t.Cleanup(func() { b.Stop(t) })
	eventually(t, "build "+buildID+" ready", func() error { return e.Polls.Ready() })
	return b
}

// Stop stops the build's worker gracefully and waits for it.
func (b *build) Stop(t *testing.T) {
	t.Helper()
	b.stopped.Do(func() {
		b.stop()
		select {
		case err := <-b.done:
			if err != nil {
				t.Errorf("build %s: %v", b.id, err)
			}
		case <-time.After(conditionTimeout):
			t.Errorf("build %s did not stop", b.id)
		}
	})
}

// awaitLog waits until the build logged a message.
func (b *build) awaitLog(t *testing.T, msg string) {
	t.Helper()
	eventually(t, "build "+b.id+" logs "+msg, func() error {
		if b.logs.FilterMessage(msg).Len() > 0 {
			return nil
		}
		return errors.New("not yet")
	})
}

// routing describes the deployment.
func (cl *cluster) routing(t *testing.T) client.WorkerDeploymentRoutingConfig {
	t.Helper()
	d, err := cl.c.WorkerDeploymentClient().GetHandle(deployment).Describe(testContext(t), client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Info.RoutingConfig
}

// awaitCurrent waits until buildID is the deployment's current version.
func (cl *cluster) awaitCurrent(t *testing.T, buildID string) {
	t.Helper()
	eventually(t, "build "+buildID+" current", func() error {
		d, err := cl.c.WorkerDeploymentClient().GetHandle(deployment).Describe(testContext(t), client.WorkerDeploymentDescribeOptions{})
		if err != nil {
			return err
		}
		if cur := d.Info.RoutingConfig.CurrentVersion; cur == nil || cur.BuildID != buildID {
			return fmt.Errorf("current version %v", cur)
		}
		return nil
	})
}

// awaitVersion waits until the server knows buildID as a version of the deployment: its
// workers have polled.
func (cl *cluster) awaitVersion(t *testing.T, buildID string) {
	t.Helper()
	eventually(t, "build "+buildID+" known to the deployment", func() error {
		_, err := cl.c.WorkerDeploymentClient().GetHandle(deployment).DescribeVersion(testContext(t),
			client.WorkerDeploymentDescribeVersionOptions{BuildID: buildID})
		return err
	})
}

// ramp sends percent of the work to buildID; "" removes the ramp.
func (cl *cluster) ramp(t *testing.T, buildID string, percent float32) {
	t.Helper()
	if _, err := cl.c.WorkerDeploymentClient().GetHandle(deployment).SetRampingVersion(testContext(t),
		client.WorkerDeploymentSetRampingVersionOptions{BuildID: buildID, Percentage: percent}); err != nil {
		t.Fatalf("ramp %q to %g%%: %v", buildID, percent, err)
	}
}

// submit lodges a copy of an example and returns its Ref and workflow ID.
func (cl *cluster) submit(t *testing.T, example string) (clearance.Ref, string) {
	t.Helper()
	path, ref := ids.ExampleCopy(t, examplesDir, example)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clearance.Submit(testContext(t), cl.c, d); err != nil {
		t.Fatalf("submit %s: %v", filepath.Base(path), err)
	}
	id, err := ref.WorkflowID()
	if err != nil {
		t.Fatal(err)
	}
	return ref, id
}

// searchAttribute reads a keyword search attribute from a workflow's description.
func searchAttribute(t *testing.T, desc *workflowservice.DescribeWorkflowExecutionResponse, name string) string {
	t.Helper()
	p, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[name]
	if !ok {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		t.Fatalf("search attribute %s: %v", name, err)
	}
	return s
}

// awaitOfficer waits until the clearance awaits an officer at stage, as its description says.
func (cl *cluster) awaitOfficer(t *testing.T, id string, stage policy.Stage) {
	t.Helper()
	eventually(t, id+" awaiting an officer at "+string(stage), func() error {
		desc, err := cl.c.DescribeWorkflowExecution(testContext(t), id, "")
		if err != nil {
			return err
		}
		st, sg := searchAttribute(t, desc, workflows.SAStatus), searchAttribute(t, desc, workflows.SAStage)
		if st != string(workflows.StateAwaitingOfficer) || sg != string(stage) {
			return fmt.Errorf("it is %s at %s", st, sg)
		}
		return nil
	})
}

// decide approves stage as officer.
func (cl *cluster) decide(t *testing.T, ref clearance.Ref, stage policy.Stage, officer string) {
	t.Helper()
	if _, err := clearance.Decide(testContext(t), cl.c, ref, workflows.Decision{Stage: stage, Officer: officer,
		Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatalf("%s approves %s of %s: %v", officer, stage, ref.Declaration, err)
	}
}

// released waits for the clearance to end and checks it was released.
func (cl *cluster) released(t *testing.T, ref clearance.Ref) {
	t.Helper()
	res, err := clearance.Wait(testContext(t), cl.c, ref)
	if err != nil {
		t.Fatalf("%s: %v", ref.Declaration, err)
	}
	if res.State != workflows.StateReleased || res.Notice == nil {
		t.Fatalf("%s ended %s (notice %v), want released", ref.Declaration, res.State, res.Notice)
	}
}

// versioning reads the clearance's versioning info: the build it is on and its behaviour.
func (cl *cluster) versioning(t *testing.T, id string) (buildID string, behavior enumspb.VersioningBehavior) {
	t.Helper()
	desc, err := cl.c.DescribeWorkflowExecution(testContext(t), id, "")
	if err != nil {
		t.Fatal(err)
	}
	vi := desc.GetWorkflowExecutionInfo().GetVersioningInfo()
	return vi.GetDeploymentVersion().GetBuildId(), vi.GetBehavior()
}

// tasksBy lists, in order, the build that completed each of the clearance's workflow tasks
// ("" for an unversioned worker), from its history.
func (cl *cluster) tasksBy(t *testing.T, id string) []string {
	t.Helper()
	var builds []string
	it := cl.c.GetWorkflowHistory(testContext(t), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetWorkflowTaskCompletedEventAttributes(); a != nil {
			builds = append(builds, a.GetDeploymentVersion().GetBuildId())
		}
	}
	return builds
}

// onBuild checks that the clearance is an auto-upgrade workflow on buildID, and that buildID
// completed its last workflow task.
func (cl *cluster) onBuild(t *testing.T, id, buildID string) {
	t.Helper()
	got, behavior := cl.versioning(t, id)
	if got != buildID || behavior != enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE {
		t.Errorf("%s is on build %q (%s), want %q (auto-upgrade)", id, got, behavior, buildID)
	}
	if tasks := cl.tasksBy(t, id); len(tasks) == 0 || tasks[len(tasks)-1] != buildID {
		t.Errorf("%s: workflow tasks completed by %q, want the last by %q", id, tasks, buildID)
	}
}

// compact drops consecutive repeats: the builds a clearance ran on, in the order it moved.
func compact(builds []string) []string { return slices.Compact(slices.Clone(builds)) }

// TestRampRollBackAndPromote rolls a new build out as docs/operations.md describes. Build v1
// runs alone and makes itself current (its deployment had no current version); clearances start
// on it and wait for officers. Build v2 starts beside it and leaves v1 current. Ramped to 100%,
// v2 takes new clearances and the next task of the waiting ones. Rolled back (the ramp removed,
// v2 stopped), every clearance that moved to v2 comes back to v1 at its next task and completes
// there. Ramped again and made current, v2 takes every clearance, v1 stops, and v1 shows drained.
func TestRampRollBackAndPromote(t *testing.T) {
	cl := newCluster(t)
	v1 := cl.startBuild(t, "v1", connect.CurrentIfNone)
	v1.awaitLog(t, "this worker's version is now its deployment's current version: it takes new clearances, and the others at their next task")
	cl.awaitCurrent(t, "v1")

	a, aID := cl.submit(t, exAntibody)
	b, bID := cl.submit(t, exN95)
	for _, id := range []string{aID, bID} {
		cl.awaitOfficer(t, id, policy.StageDocumentCheck)
		cl.onBuild(t, id, "v1")
	}

	// A second build beside the first: its deployment has a current version, which it leaves.
	v2 := cl.startBuild(t, "v2", connect.CurrentIfNone)
	cl.awaitVersion(t, "v2")
	v2.awaitLog(t, "this worker's version is not its deployment's current one: it takes work once an operator ramps it or makes it current")
	if cur := cl.routing(t).CurrentVersion; cur == nil || cur.BuildID != "v1" {
		t.Fatalf("after v2 started, the current version is %v, want v1", cur)
	}

	// Ramped, v2 takes a new clearance, and a waiting one at its next task.
	cl.ramp(t, "v2", 100)
	c, cID := cl.submit(t, exAntibody)
	cl.awaitOfficer(t, cID, policy.StageDocumentCheck)
	cl.onBuild(t, cID, "v2")
	cl.decide(t, a, policy.StageDocumentCheck, "doc-li")
	cl.awaitOfficer(t, aID, policy.StageBiologicalReview)
	cl.onBuild(t, aID, "v2")

	// Rolled back: no ramp, and v2's workers gone. What v2 held comes back to v1.
	cl.ramp(t, "", 0)
	v2.Stop(t)
	cl.decide(t, c, policy.StageDocumentCheck, "doc-li")
	cl.awaitOfficer(t, cID, policy.StageBiologicalReview)
	cl.onBuild(t, cID, "v1")
	cl.decide(t, a, policy.StageBiologicalReview, "hq-wang")
	cl.awaitOfficer(t, aID, policy.StageRelease)
	cl.onBuild(t, aID, "v1")
	cl.decide(t, b, policy.StageDocumentCheck, "doc-li")
	cl.released(t, b)
	cl.onBuild(t, bID, "v1")
	if got := compact(cl.tasksBy(t, bID)); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("%s ran on %v, want v1 only", bID, got)
	}

	// Rolled forward: v2 again, ramped, then current; v1 stops once nothing runs on it.
	cl.startBuild(t, "v2", connect.CurrentNever)
	cl.awaitVersion(t, "v2")
	cl.ramp(t, "v2", 25)
	if _, err := cl.c.WorkerDeploymentClient().GetHandle(deployment).SetCurrentVersion(testContext(t),
		client.WorkerDeploymentSetCurrentVersionOptions{BuildID: "v2"}); err != nil {
		t.Fatal(err)
	}
	if r := cl.routing(t); r.RampingVersion != nil {
		t.Errorf("v2 made current, and still ramping: %+v", r)
	}
	v1.Stop(t)
	cl.decide(t, a, policy.StageRelease, "rel-zhou")
	cl.released(t, a)
	cl.onBuild(t, aID, "v2")
	if got := compact(cl.tasksBy(t, aID)); !slices.Equal(got, []string{"v1", "v2", "v1", "v2"}) {
		t.Errorf("%s ran on %v, want v1, then v2 (ramped), back on v1 (rolled back) and v2 (current)", aID, got)
	}
	cl.decide(t, c, policy.StageBiologicalReview, "hq-wang")
	cl.awaitOfficer(t, cID, policy.StageRelease)
	cl.decide(t, c, policy.StageRelease, "rel-zhou")
	cl.released(t, c)
	cl.onBuild(t, cID, "v2")
	if got := compact(cl.tasksBy(t, cID)); !slices.Equal(got, []string{"v2", "v1", "v2"}) {
		t.Errorf("%s ran on %v, want v2 (ramped), v1 (rolled back), v2 (current)", cID, got)
	}

	// v1 is neither current nor ramping, and no pinned workflow holds it: drained.
	eventually(t, "v1 drained", func() error {
		d, err := cl.c.WorkerDeploymentClient().GetHandle(deployment).DescribeVersion(testContext(t),
			client.WorkerDeploymentDescribeVersionOptions{BuildID: "v1"})
		if err != nil {
			return err
		}
		if di := d.Info.DrainageInfo; di == nil || di.DrainageStatus != client.WorkerDeploymentVersionDrainageStatusDrained {
			return fmt.Errorf("drainage %+v", di)
		}
		return nil
	})
}

// TestUnversionedToVersioned moves a deployment from unversioned workers to a versioned build:
// a clearance started on an unversioned worker waits for an officer; that worker stops; a
// versioned worker starts, finds the deployment never had a current version and makes itself
// current; the officer's decision then runs on it and the clearance completes there. Nothing
// is stranded on the unversioned queue.
func TestUnversionedToVersioned(t *testing.T) {
	cl := newCluster(t)
	old := cl.startBuild(t, "", connect.CurrentNever)
	ref, id := cl.submit(t, exN95)
	cl.awaitOfficer(t, id, policy.StageDocumentCheck)
	if got, _ := cl.versioning(t, id); got != "" {
		t.Fatalf("%s on an unversioned worker reports build %q", id, got)
	}
	old.Stop(t)

	v1 := cl.startBuild(t, "v1", connect.CurrentIfNone)
	v1.awaitLog(t, "this worker's version is now its deployment's current version: it takes new clearances, and the others at their next task")
	cl.decide(t, ref, policy.StageDocumentCheck, "doc-li")
	cl.released(t, ref)
	cl.onBuild(t, id, "v1")
	if got := compact(cl.tasksBy(t, id)); !slices.Equal(got, []string{"", "v1"}) {
		t.Errorf("%s ran on %q, want the unversioned worker, then v1", id, got)
	}
}

// TestIfNoneLeavesAnOperatorsChoice: a deployment whose operator set unversioned workers
// current (a roll back from versioning) has chosen; a versioned worker starting with if-none
// leaves it so, and one with always takes over.
func TestIfNoneLeavesAnOperatorsChoice(t *testing.T) {
	cl := newCluster(t)
	v1 := cl.startBuild(t, "v1", connect.CurrentIfNone)
	cl.awaitCurrent(t, "v1")
	if _, err := cl.c.WorkerDeploymentClient().GetHandle(deployment).SetCurrentVersion(testContext(t),
		client.WorkerDeploymentSetCurrentVersionOptions{BuildID: ""}); err != nil {
		t.Fatalf("set unversioned workers current: %v", err)
	}
	v1.Stop(t)
	v2 := cl.startBuild(t, "v2", connect.CurrentIfNone)
	v2.awaitLog(t, "this worker's version is not its deployment's current one: it takes work once an operator ramps it or makes it current")
	if cur := cl.routing(t).CurrentVersion; cur != nil {
		t.Fatalf("if-none changed the operator's choice of unversioned workers: current %v", cur)
	}
	v2.Stop(t)
	cl.startBuild(t, "v3", connect.CurrentAlways)
	cl.awaitCurrent(t, "v3")
}

// TestSetupMakesTheFirstBuildCurrent: setup, run before any worker with --make-current
// if-none, creates the version and makes it current, so the workers that start after it take
// clearances at once; run again for a later build it leaves the current one.
func TestSetupMakesTheFirstBuildCurrent(t *testing.T) {
	cl := newCluster(t)
	v := worker.WorkerDeploymentVersion{DeploymentName: deployment, BuildID: "1.4.0"}
	r, err := connect.MakeCurrent(testContext(t), cl.c, v, connect.CurrentIfNone, true)
	if err != nil || !r.Made {
		t.Fatalf("setup on a fresh deployment: %+v, %v", r, err)
	}
	ref, id := cl.submit(t, exN95)
	cl.startBuild(t, "1.4.0", connect.CurrentNever)
	cl.awaitOfficer(t, id, policy.StageDocumentCheck)
	cl.onBuild(t, id, "1.4.0")

	later := worker.WorkerDeploymentVersion{DeploymentName: deployment, BuildID: "1.5.0"}
	r, err = connect.MakeCurrent(testContext(t), cl.c, later, connect.CurrentIfNone, true)
	if err != nil || r.Made || !r.IsCurrent(v) {
		t.Fatalf("setup for a later build: %+v, %v; want 1.4.0 left current", r, err)
	}
	cl.decide(t, ref, policy.StageDocumentCheck, "doc-li")
	cl.released(t, ref)
}

// TestBackToUnversioned: a worker run with versioning off and --make-current always (the
// devserver's, after a run with versioning on) ends any ramp and makes unversioned workers
// current again, so the clearances that waited on versioned builds complete on it.
func TestBackToUnversioned(t *testing.T) {
	cl := newCluster(t)
	v1 := cl.startBuild(t, "v1", connect.CurrentIfNone)
	cl.awaitCurrent(t, "v1")
	ref, id := cl.submit(t, exN95)
	cl.awaitOfficer(t, id, policy.StageDocumentCheck)
	v2 := cl.startBuild(t, "v2", connect.CurrentNever)
	cl.awaitVersion(t, "v2")
	cl.ramp(t, "v2", 50)
	v1.Stop(t)
	v2.Stop(t)

	un := cl.startBuild(t, "", connect.CurrentAlways)
	un.awaitLog(t, "this worker is unversioned: unversioned workers are its deployment's current version again")
	if r := cl.routing(t); r.CurrentVersion != nil || r.RampingVersion != nil {
		t.Fatalf("after the unversioned worker started: current %v, ramping %v; want unversioned workers only", r.CurrentVersion, r.RampingVersion)
	}
	cl.decide(t, ref, policy.StageDocumentCheck, "doc-li")
	cl.released(t, ref)
	if got := compact(cl.tasksBy(t, id)); !slices.Equal(got, []string{"v1", ""}) {
		t.Errorf("%s ran on %q, want v1, then the unversioned worker", id, got)
	}
}
