package workflows

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// continued runs the clearance until it continues as new and returns the next run's input.
func (h *harness) continued(d declaration.Declaration) Input {
	h.t.Helper()
	return h.continuedFrom(Input{Declaration: d})
}

// continuedFrom runs the clearance from in until it continues as new and returns the next run's
// input.
func (h *harness) continuedFrom(in Input) Input {
	h.t.Helper()
	h.execute(in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(h.t, errors.As(h.env.GetWorkflowError(), &can), "want a continue-as-new, got %v", h.env.GetWorkflowError())
	require.Equal(h.t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(h.t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return next
}

// A clearance whose history grows long carries its whole record into a new run at its next step
// and goes on from there: decisions, supplies, findings and the timeline of the stage in progress
// are the same as if it had not.
func TestLongHistoryContinuesAsNewWithTheWholeRecord(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "request", docRequest)
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, 90*time.Minute)
	h.send(2*time.Hour, "supply", UpdateSupplyDocuments, Supply{
		Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-1"}}, Note: "attached"})
	in := h.continued(fixture())
	require.True(t, h.accepted["request"])
	require.True(t, h.accepted["supply"])

	k := in.Carried
	require.NotNil(t, k)
	require.Equal(t, 1, k.Run)
	require.Equal(t, policy.StageDocumentCheck, k.Stage)
	require.True(t, k.OfficerReview, "the answer is still to be checked and reviewed")
	require.Len(t, k.Decisions, 1)
	require.Len(t, k.Supplies, 1)
	require.Len(t, k.Timeline, 1)
	require.Equal(t, start, k.Submitted)
	require.Equal(t, &Registration{Number: "ED-2020-00000001", Accepted: start}, k.Registration)
	require.Len(t, in.Declaration.Documents, len(fixture().Documents)+1, "the amended declaration is carried")

	next := newHarness(t, policy.LaneYellow)
	next.env.SetStartTime(start.Add(2 * time.Hour))
	var resumed Status
	next.env.RegisterDelayedCallback(func() { resumed = next.status() }, time.Minute)
	next.decide(time.Hour, "approve", docApprove)
	next.execute(in)
	require.True(t, next.env.IsWorkflowCompleted())
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))

	require.Equal(t, PhaseAwaitingOfficer, resumed.Phase, "the answer goes to the officer whatever the checks find")
	require.Zero(t, next.checkCalls[policy.StageBiologicalReview])
	require.Equal(t, 1, next.checkCalls[policy.StageDocumentCheck], "the checks run again on the answer, once")
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, start, r.Submitted)
	require.Equal(t, []string{"request-information", "approve", "approve", "approve"}, outcomesOf(r.Decisions))
	require.Equal(t, 2, r.Timeline[0].CheckRuns)
	require.Equal(t, policy.Duration(3*time.Hour), r.Timeline[0].Duration)
	require.Equal(t, k.Registration, r.Registration, "the registration is carried")
	require.Empty(t, next.registrations, "a continued clearance registers nothing again")
	require.Len(t, next.releaseRequests, 1)
	require.Equal(t, "ED-2020-00000001", next.releaseRequests[0].Registration)
}

func outcomesOf(ds []DecisionRecord) []string {
	var out []string
	for _, d := range ds {
		out = append(out, string(d.Outcome))
	}
	return out
}

// A wait on an officer has no end of its own, and a client may keep signalling meanwhile: when
// the history grows long the clearance continues as new at once and waits on in the next run,
// with the officer still asked whatever the checks find there.
func TestLongHistoryWhileAwaitingAnOfficerContinuesAsNew(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	wrong := Decision{Stage: policy.StageDocumentCheck, Officer: "hq-wang", Outcome: OutcomeApprove}
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalDecision, wrong) }, 59*time.Minute)
	h.env.RegisterDelayedCallback(func() {
		h.env.SetContinueAsNewSuggested(true)
		h.env.SignalWorkflow(SignalDecision, wrong)
	}, time.Hour)
	in := h.continued(fixture())
	k := in.Carried
	require.Equal(t, policy.StageDocumentCheck, k.Stage)
	require.True(t, k.OfficerReview)
	require.GreaterOrEqual(t, k.RefusedCount, 1, "the refused signals are carried")
	require.Equal(t, policy.Duration(time.Hour), k.Timeline[0].OfficerWait)

	next := newHarness(t, policy.LaneGreen) // the lane is carried: yellow, whatever this one selects
	next.env.SetStartTime(start.Add(time.Hour))
	next.decide(time.Hour, "approve", docApprove)
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, policy.LaneYellow, r.Lane)
	require.True(t, next.accepted["approve"])
	require.Equal(t, policy.Duration(2*time.Hour), r.Timeline[0].OfficerWait)
}

// A decision signal that arrives while the clearance moves to its next run is held and taken up
// there once an officer is awaited: a signal's sender cannot be told to send it again.
func TestDecisionSignalHeldAcrossTheContinuation(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "hq-wang", Outcome: OutcomeApprove})
	}, time.Hour)
	in := h.continued(fixture())
	raw, err := json.Marshal(Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	require.NoError(t, err)
	in.Carried.HeldSignals = append(in.Carried.HeldSignals, raw)

	next := newHarness(t, policy.LaneYellow)
	next.env.SetStartTime(start.Add(time.Hour))
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, "doc-li", r.Decisions[0].Officer)
	require.Equal(t, ViaSignal, r.Decisions[0].Via)
}
