package appeal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// memRegister is a hearings register in memory, safe for concurrent use, and the server as the
// admission asks it whether an appeal run still runs: the runs in running do, every other ended.
type memRegister struct {
	client.Client // only DescribeWorkflowExecution is called

	mu         sync.Mutex
	hearings   map[string]Hearing
	admissions map[string]Admission
	running    map[string]bool
}

func newMemRegister() *memRegister {
	return &memRegister{hearings: map[string]Hearing{}, admissions: map[string]Admission{}, running: map[string]bool{}}
}

func (m *memRegister) Hear(_ context.Context, h Hearing) (Hearing, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if first, ok := m.hearings[h.RefusedRunID]; ok {
		return first, nil
	}
	m.hearings[h.RefusedRunID] = h
	return h, nil
}

func (m *memRegister) Heard(_ context.Context, runID string) (Hearing, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hearings[runID]
	return h, ok, nil
}

func (m *memRegister) Admit(_ context.Context, a Admission, stale string) (Admission, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	held, ok := m.admissions[a.RefusedRunID]
	if !ok || (stale != "" && held.AppealRunID == stale) {
		m.admissions[a.RefusedRunID] = a
		return a, nil
	}
	return held, nil
}

func (m *memRegister) DescribeWorkflowExecution(_ context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
	if m.running[runID] {
		st = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: st}}, nil
}

// earlierHearing is the hearing of the refusal by an earlier appeal: it dismissed it.
func earlierHearing() Hearing {
	return Hearing{RefusedRunID: "run-refused", WorkflowID: "clearance-3205960330-JH-2020-US-0513", Appeal: appealID,
		AppealRunID: "run-appeal-earlier", Outcome: OutcomeDismiss, Supervisor: "sup-huang", Decided: refusedAt.Add(2 * time.Hour),
		Reason: "the cartons hold 20 each: the totals differ"}
}

// earlierAdmission is the earlier appeal's claim on the refused run.
func earlierAdmission() Admission {
	h := earlierHearing()
	return Admission{RefusedRunID: h.RefusedRunID, WorkflowID: h.WorkflowID, Appeal: h.Appeal, AppealRunID: h.AppealRunID,
		Admitted: refusedAt.Add(time.Hour)}
}

const heardByTheEarlierAppeal = "the refusal was appealed already: the appeal was dismissed by sup-huang at 2020-05-12T12:00:00Z " +
	"(the cartons hold 20 each: the totals differ); appeal " + appealID + " (run run-appeal-earlier) heard the refusal of run " +
	"run-refused, and a refusal is heard once"

// An appeal started under any workflow ID but the one of its declaration is not heard: it is
// refused before it loads anything, naming the field and the ID it must have, so that the
// server, which runs one workflow of an ID at a time, runs one appeal of a declaration at a time.
func TestAppealUnderAnotherWorkflowIDIsNotHeard(t *testing.T) {
	for _, id := range []string{"appeal-3205960330-X1", appealID + "-X2", "appeal-3205960330-JH-2020-US-0514",
		"appeal-9999999999-JH-2020-US-0513", "clearance-3205960330-JH-2020-US-0513"} {
		t.Run(id, func(t *testing.T) {
			h := newHarness(t)
			h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id})
			h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "the totals agree"})
			r := h.run(grounds)

			require.Equal(t, OutcomeInadmissible, r.Outcome, "an appeal under %s was heard: %+v", id, r)
			require.Equal(t, fmt.Sprintf("workflowId: %q is not the workflow ID of an appeal of declaration JH-2020-US-0513 "+
				"of exporter 3205960330, which is %q: one ID per declaration, so that one appeal of it runs at a time", id, appealID), r.Reason)
			require.Zero(t, h.loads, "the refusal was loaded")
			require.Empty(t, h.register.admissions)
			require.Empty(t, h.reopened)
			require.Empty(t, h.heard)
			require.Len(t, h.told, 1)
			require.Contains(t, h.told[0].Message, "not admitted: workflowId: ")
		})
	}
	err := wrongWorkflowID("appeal-3205960330-X1", appealID, Input{Exporter: "3205960330", DeclarationID: "JH-2020-US-0513"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrNotAppealable, appErr.Type())
	require.True(t, appErr.NonRetryable())
}

// A refusal that an earlier appeal heard is not heard again, whatever LoadRefusal read a moment
// before: the admission finds the hearing in the register and names it, and no supervisor is
// asked. A refusal an earlier appeal holds, awaiting its decision, is not heard by a second one;
// one that an appeal held but ended without being heard (terminated) is.
func TestRefusalHeardByAnEarlierAppealIsNotAdmitted(t *testing.T) {
	t.Run("heard", func(t *testing.T) {
		h := newHarness(t)
		h.register.admissions["run-refused"] = earlierAdmission()
		h.register.hearings["run-refused"] = earlierHearing()
		h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "the totals agree"})
		r := h.run(grounds)

		require.Equal(t, OutcomeInadmissible, r.Outcome, "%+v", r)
		require.Equal(t, heardByTheEarlierAppeal, r.Reason)
		require.Equal(t, "run-refused", r.RefusedRunID)
		require.Empty(t, h.reopened)
		require.Empty(t, h.heard)
		require.Equal(t, earlierHearing(), h.register.hearings["run-refused"])
		require.Contains(t, h.told[0].Message, "not admitted: the refusal was appealed already")
	})
	t.Run("heard before admissions were claimed", func(t *testing.T) {
		h := newHarness(t)
		h.register.hearings["run-refused"] = earlierHearing()
		h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "the totals agree"})
		r := h.run(grounds)

		require.Equal(t, OutcomeInadmissible, r.Outcome, "%+v", r)
		require.Equal(t, heardByTheEarlierAppeal, r.Reason)
		require.Empty(t, h.reopened)
	})
	t.Run("awaiting its decision", func(t *testing.T) {
		h := newHarness(t)
		h.register.admissions["run-refused"] = earlierAdmission()
		h.register.running["run-appeal-earlier"] = true
		h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "the totals agree"})
		r := h.run(grounds)

		require.Equal(t, OutcomeInadmissible, r.Outcome, "%+v", r)
		require.Equal(t, "the refusal of run run-refused is under appeal already: appeal "+appealID+" (run run-appeal-earlier) "+
			"was admitted at 2020-05-12T11:00:00Z and awaits its decision; a refusal is heard once", r.Reason)
		require.Empty(t, h.reopened)
		require.Empty(t, h.heard)
	})
	t.Run("ended unheard", func(t *testing.T) {
		h := newHarness(t)
		h.register.admissions["run-refused"] = earlierAdmission()
		h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeDismiss, Reason: "the cartons hold 20 each"})
		r := h.run(grounds)

		require.Equal(t, OutcomeDismiss, r.Outcome, "%+v", r)
		require.Equal(t, Admission{RefusedRunID: "run-refused", WorkflowID: "clearance-3205960330-JH-2020-US-0513", Appeal: appealID,
			AppealRunID: "default-test-run-id", Admitted: refusedAt.Add(24 * time.Hour)}, h.register.admissions["run-refused"])
		require.Len(t, h.heard, 1)
	})
}

// Two appeals that load one refusal at the same moment are not both heard: each has loaded the
// refusal before either claims it, and the admission lets one through; the other is refused,
// naming it. The supervisors decide both, one to dismiss, one to uphold: only the admitted one's
// decision is taken and carried out.
func TestTwoAppealsLoadingOneRefusalTogetherOneIsHeard(t *testing.T) {
	register := newMemRegister()
	loaded := &sync.WaitGroup{}
	loaded.Add(2)
	bothLoaded := make(chan struct{})
	go func() { loaded.Wait(); close(bothLoaded) }()
	hs := []*harness{newHarness(t), newHarness(t)}
	outcomes := []string{OutcomeDismiss, OutcomeUphold}
	for i, h := range hs {
		h.register = register
		h.runID = fmt.Sprintf("run-appeal-%d", i+1)
		register.running[h.runID] = true
		h.loaded = func() error {
			loaded.Done()
			select {
			case <-bothLoaded:
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("the other appeal did not load the refusal")
			}
		}
		h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: outcomes[i], Reason: "weighed: " + outcomes[i]})
	}
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.env.ExecuteWorkflow(WorkflowName, Input{Exporter: "3205960330", DeclarationID: "JH-2020-US-0513", Grounds: grounds})
		}()
	}
	wg.Wait()

	var heard, refused []Result
	for _, h := range hs {
		require.True(t, h.env.IsWorkflowCompleted())
		require.NoError(t, h.env.GetWorkflowError())
		var r Result
		require.NoError(t, h.env.GetWorkflowResult(&r))
		require.Equal(t, 1, h.loads)
		if r.Outcome == OutcomeInadmissible {
			refused = append(refused, r)
			require.Empty(t, h.heard)
			require.Empty(t, h.reopened)
			continue
		}
		heard = append(heard, r)
		require.Len(t, h.heard, 1)
	}
	require.Len(t, heard, 1, "appeals heard: %+v", heard)
	require.Len(t, refused, 1)
	held := register.admissions["run-refused"]
	require.Contains(t, refused[0].Reason, "the refusal of run run-refused is under appeal already: appeal "+appealID+
		" (run "+held.AppealRunID+")")
}

// An upheld appeal reopens the clearance; refused again, the reopened clearance is a new refusal,
// which an appeal may be heard against: the hearing of the earlier one does not bar it.
func TestNewRefusalAfterAReopeningIsAppealable(t *testing.T) {
	h := newHarness(t)
	upheld := earlierHearing()
	upheld.Outcome, upheld.Reason = OutcomeUphold, "the totals agree"
	h.register.admissions["run-refused"] = earlierAdmission()
	h.register.hearings["run-refused"] = upheld
	h.refusal.RunID = "run-refused-again"
	h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "the new count agrees too"})
	r := h.run(grounds)

	require.Equal(t, OutcomeUphold, r.Outcome, "%+v", r)
	require.Equal(t, "run-refused-again", r.RefusedRunID)
	require.Len(t, h.reopened, 1)
	require.Equal(t, "run-refused-again", h.reopened[0].Reopened.RefusedRunID)
	require.Equal(t, "default-test-run-id", h.register.admissions["run-refused-again"].AppealRunID)
	require.Equal(t, earlierAdmission(), h.register.admissions["run-refused"])
	require.Len(t, h.heard, 1)
	require.Equal(t, "run-refused-again", h.heard[0].RefusedRunID)
}

// An appeal admitted by the release before the admission claimed the refused run (no marker of
// ChangeHeardOnce) claims it once the supervisor has decided, before the decision is carried
// out: a refusal another appeal heard meanwhile is not heard again, and nothing reopens.
func TestAppealAdmittedBeforeTheChangeClaimsTheRefusalBeforeItsDecision(t *testing.T) {
	t.Run("heard meanwhile", func(t *testing.T) {
		h := newHarness(t)
		h.env.OnGetVersion(ChangeHeardOnce, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		h.env.RegisterDelayedCallback(func() {
			h.register.admissions["run-refused"] = earlierAdmission()
			h.register.hearings["run-refused"] = earlierHearing()
		}, 30*time.Minute)
		h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "the totals agree"})
		r := h.run(grounds)

		require.NoError(t, h.refused["d"])
		require.Equal(t, OutcomeInadmissible, r.Outcome, "%+v", r)
		require.Equal(t, heardByTheEarlierAppeal, r.Reason)
		require.Empty(t, h.reopened)
		require.Empty(t, h.heard)
	})
	t.Run("not heard", func(t *testing.T) {
		h := newHarness(t)
		h.env.OnGetVersion(ChangeHeardOnce, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		h.decide(time.Hour, "d", Decision{Supervisor: "sup-ma", Outcome: OutcomeUphold, Reason: "the totals agree"})
		r := h.run(grounds)

		require.Equal(t, OutcomeUphold, r.Outcome, "%+v", r)
		require.Len(t, h.reopened, 1)
		require.Equal(t, "default-test-run-id", h.register.admissions["run-refused"].AppealRunID)
		require.Len(t, h.heard, 1)
	})
}

// The admission is idempotent for its own appeal run (a retried activity), refuses without a
// refused run, and without a register admits with nothing to claim in.
func TestAdmissionClaimsTheRefusedRunOnce(t *testing.T) {
	ctx := context.Background()
	reg := newMemRegister()
	a := &Activities{Client: reg, Hearings: reg}
	mine := Admission{RefusedRunID: "run-refused", WorkflowID: "clearance-3205960330-JH-2020-US-0513", Appeal: appealID,
		AppealRunID: "run-appeal-1", Admitted: refusedAt}
	for range 2 {
		got, err := a.AdmitAppeal(ctx, mine)
		require.NoError(t, err)
		require.Equal(t, mine, got)
	}
	reg.running["run-appeal-1"] = true
	other := mine
	other.AppealRunID = "run-appeal-2"
	_, err := a.AdmitAppeal(ctx, other)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrNotAppealable, appErr.Type())
	require.Contains(t, appErr.Message(), "is under appeal already: appeal "+appealID+" (run run-appeal-1)")

	_, err = a.AdmitAppeal(ctx, Admission{AppealRunID: "run-appeal-3"})
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrNoHearing, appErr.Type())
	require.True(t, appErr.NonRetryable())
	_, err = (&Activities{}).AdmitAppeal(ctx, mine)
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrNoHearing, appErr.Type())

	// An appeal whose run the server no longer keeps ended long ago.
	gone := &Activities{Client: notFound{reg}, Hearings: reg}
	got, err := gone.AdmitAppeal(ctx, other)
	require.NoError(t, err)
	require.Equal(t, other, got)
}

// notFound is a server that keeps no appeal run.
type notFound struct{ *memRegister }

func (notFound) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return nil, serviceerror.NewNotFound("workflow execution not found")
}
