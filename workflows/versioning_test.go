package workflows

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// The golden histories are real histories of the released workflow, one per path, recorded by
// audit/golden. docs/audit.md says how a change to the workflow keeps them replaying.
const goldenDir = "testdata/golden"

// releasedDir keeps the golden histories of earlier releases, one directory each.
const releasedDir = goldenDir + "/released"

// goldenFiles lists the golden histories of this release and of every earlier one.
func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 12, "golden histories in %s", goldenDir)
	// The runs of clearances that continued as new: the run that continued and the one after it.
	continued, err := filepath.Glob(filepath.Join(goldenDir, "continued", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(continued), 4, "golden histories in %s", filepath.Join(goldenDir, "continued"))
	released, err := filepath.Glob(filepath.Join(releasedDir, "*", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(released), 12, "golden histories in %s", releasedDir)
	// And those of earlier releases, each run that continued with the one after it.
	releasedContinued, err := filepath.Glob(filepath.Join(releasedDir, "*", "continued", "*.json"))
	require.NoError(t, err)
	return append(append(append(files, continued...), released...), releasedContinued...)
}

// replay replays one golden history against wf registered under the workflow's name, as the
// worker registers ExportClearance.
func replay(t *testing.T, wf any, file string) error {
	t.Helper()
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{Interceptors: []interceptor.WorkerInterceptor{Interceptor()}})
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: WorkflowName})
	h, err := client.HistoryFromJSON(mustOpen(t, file), client.HistoryJSONOptions{})
	require.NoError(t, err, file)
	// Under the workflow ID and run the server recorded, as a worker replays it: the clearance
	// names its permit requests after its workflow ID and checks the agencies' answers by them.
	start := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	return r.ReplayWorkflowHistoryWithOptions(quietLogger(), h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: start.GetWorkflowId(), RunID: start.GetOriginalExecutionRunId()},
	})
}

func quietLogger() *discardLogger { return &discardLogger{} }

// discardLogger keeps the replayer's panic reports out of the test output: the tests below
// expect some replays to fail.
type discardLogger struct{}

func (discardLogger) Debug(string, ...any) {}
func (discardLogger) Info(string, ...any)  {}
func (discardLogger) Warn(string, ...any)  {}
func (discardLogger) Error(string, ...any) {}

// screenSanctionsList names the activity the example change adds.
const screenSanctionsList = "ScreenSanctionsList"

// extraCheck is the example change: a sanctions screening of the exporter before anything else.
func extraCheck(ctx workflow.Context, in Input) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(actx, screenSanctionsList, in.Declaration.Exporter.Code).Get(ctx, nil)
}

// exportClearanceVersioned is the change made as docs/audit.md says: behind workflow.GetVersion,
// so a clearance that started before it replays the old way and a new one takes the new path.
func exportClearanceVersioned(ctx workflow.Context, in Input) (Result, error) {
	if workflow.GetVersion(ctx, "extra-check", workflow.DefaultVersion, 1) == 1 {
		if err := extraCheck(ctx, in); err != nil {
			return Result{}, err
		}
	}
	return ExportClearance(ctx, in)
}

// exportClearanceUnversioned is the same change released without GetVersion.
func exportClearanceUnversioned(ctx workflow.Context, in Input) (Result, error) {
	if err := extraCheck(ctx, in); err != nil {
		return Result{}, err
	}
	return ExportClearance(ctx, in)
}

// exportClearanceOldBranchRemoved is the versioned change once its old branch is removed: the
// minimum supported version moved to 1. It is only released when no open clearance started
// before the change.
func exportClearanceOldBranchRemoved(ctx workflow.Context, in Input) (Result, error) {
	workflow.GetVersion(ctx, "extra-check", 1, 1)
	if err := extraCheck(ctx, in); err != nil {
		return Result{}, err
	}
	return ExportClearance(ctx, in)
}

// TestGoldenHistoriesReplay replays every golden history against the workflow as it is now: an
// unversioned change to ExportClearance fails here before it reaches a worker.
func TestGoldenHistoriesReplay(t *testing.T) {
	for _, f := range goldenFiles(t) {
		require.NoError(t, replay(t, ExportClearance, f), filepath.Base(f))
	}
}

func TestVersionedChangeReplaysOldHistories(t *testing.T) {
	for _, f := range goldenFiles(t) {
		require.NoError(t, replay(t, exportClearanceVersioned, f), filepath.Base(f))
	}
}

func TestUnversionedChangeBreaksOldHistories(t *testing.T) {
	for _, f := range goldenFiles(t) {
		err := replay(t, exportClearanceUnversioned, f)
		require.Error(t, err, filepath.Base(f))
		// TMPRL1100 is the SDK's code for a non-determinism error.
		require.Contains(t, err.Error(), "TMPRL1100", "%s: want a non-determinism error", filepath.Base(f))
	}
}

func TestRemovingTheOldBranchEarlyBreaksOldHistories(t *testing.T) {
	for _, f := range goldenFiles(t) {
		err := replay(t, exportClearanceOldBranchRemoved, f)
		require.Error(t, err, filepath.Base(f))
		require.Contains(t, err.Error(), "TMPRL1100", filepath.Base(f))
	}
}

// TestVersionedChangeTakesNewPath runs the versioned change as a new clearance: it records the
// version and screens the exporter before the lane is selected, then clears as before.
func TestVersionedChangeTakesNewPath(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "examples", "us-nasal-cannulas-anaesthesia-masks.json"))
	require.NoError(t, err)
	decl, err := declaration.ParseAndValidate(raw)
	require.NoError(t, err)

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(quietLogger())
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(exportClearanceVersioned, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivity(&activities.Activities{})
	env.RegisterActivityWithOptions(func(context.Context, string) error { return nil },
		activity.RegisterOptions{Name: screenSanctionsList})

	var order []string
	note := func(name string) { order = append(order, name) }
	env.OnActivity(screenSanctionsList, mock.Anything, decl.Exporter.Code).Return(
		func(context.Context, string) error { note(screenSanctionsList); return nil }).Once()
	env.OnActivity(a.LoadConfiguration, mock.Anything).Return(
		func(context.Context) (activities.Configuration, error) {
			note("LoadConfiguration")
			return activities.Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()}, nil
		})
	env.OnActivity(a.SelectLane, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.CheckInput) (activities.LaneSelection, error) {
			note("SelectLane")
			return activities.LaneSelection{Lane: policy.LaneGreen, Reasons: []string{"green: test"}}, nil
		})
	clean := func(context.Context, activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{}, nil
	}
	env.OnActivity(a.CheckDocuments, mock.Anything, mock.Anything).Return(clean)
	env.OnActivity(a.VerifyCertificates, mock.Anything, mock.Anything).Return(clean)
	env.OnActivity(a.IssueReleaseNotice, mock.Anything, mock.Anything).Return(
		activities.ReleaseNotice{Number: "RN-2020-00000001", DeclarationID: decl.ID}, nil).Once()
	env.OnActivity(a.NotifyExporter, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.RegisterDeclaration, mock.Anything, mock.Anything).Return(
		activities.Registered{Number: "ED-2020-00000001"}, nil).Once()

	id, err := WorkflowID(decl.Exporter.Code, decl.ID)
	require.NoError(t, err)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue})
	env.ExecuteWorkflow(WorkflowName, Input{Declaration: decl})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var r Result
	require.NoError(t, env.GetWorkflowResult(&r))
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, []string{screenSanctionsList, "LoadConfiguration", "SelectLane"}, order,
		"the new path screens the exporter first")
	env.AssertExpectations(t)
}

// countEvents counts the events of each type in a golden history.
func countEvents(t *testing.T, file string) map[enumspb.EventType]int {
	t.Helper()
	h, err := client.HistoryFromJSON(mustOpen(t, file), client.HistoryJSONOptions{})
	require.NoError(t, err)
	n := map[enumspb.EventType]int{}
	for _, e := range h.GetEvents() {
		n[e.GetEventType()]++
	}
	return n
}

func mustOpen(t *testing.T, file string) *os.File {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestQuietAutomatedStagesRecorded compares the green path as the first release recorded it and
// as this one does: the same activity tasks (the registration of the declaration is a local
// activity), one search attribute upsert (plus the version's own) instead of eight, and no
// allowance timer instead of three.
func TestQuietAutomatedStagesRecorded(t *testing.T) {
	before := countEvents(t, filepath.Join(releasedDir, "before-quiet-automated-stages", "green-release.json"))
	now := countEvents(t, filepath.Join(goldenDir, "green-release.json"))
	upsert, timer := enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, enumspb.EVENT_TYPE_TIMER_STARTED
	activity, marker := enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_MARKER_RECORDED
	require.Equal(t, 8, before[upsert])
	require.Equal(t, 3, before[timer])
	require.Equal(t, 2, now[upsert], "the version's TemporalChangeVersion and the final one")
	require.Equal(t, 0, now[timer])
	require.Equal(t, before[activity], now[activity])
	require.Equal(t, 2, now[marker], "the version marker of %s and the registration's local activity", ChangeQuietAutomatedStages)
}
