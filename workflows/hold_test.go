package workflows

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// TestHoldStopsDecisionsUntilLifted: a supervisor holds a clearance whose document check awaits
// an officer; OnHold shows it and the officer's decision is refused naming the hold; once
// lifted, the decision is taken. The result keeps the hold and its 90 minutes as customs' own
// held time.
func TestHoldStopsDecisionsUntilLifted(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var during Status
	h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Reason: "intelligence: counterfeit respirators on this route"})
	h.env.RegisterDelayedCallback(func() { during = h.status() }, 45*time.Minute)
	h.decide(time.Hour, "early", docApprove)
	h.send(2*time.Hour, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "the lot checked out"})
	h.decide(3*time.Hour, "approve", docApprove)
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.True(t, h.accepted["hold"])
	require.True(t, h.accepted["lift"])
	require.ErrorContains(t, h.rejections["early"], "the clearance is on hold by customs since")
	require.True(t, h.accepted["approve"])
	require.Len(t, during.Holds, 1)
	require.Equal(t, policy.Duration(15*time.Minute), during.Holds[0].Held, "a standing hold's time so far")
	require.Len(t, r.Holds, 1)
	require.Equal(t, policy.Duration(90*time.Minute), r.Holds[0].Held)
	require.Equal(t, policy.Duration(90*time.Minute), r.HeldTime)
	require.Zero(t, r.OtherAgencyTime)
	var shown []any
	for _, u := range h.upserts {
		if v, ok := u[SAOnHold]; ok {
			shown = append(shown, v)
		}
	}
	require.Equal(t, []any{true, false}, shown)
}

// TestAgencyHoldStopsTheNextStage: a hold on behalf of NMPA placed as the document officer
// approves keeps the next stage from beginning until NMPA's hold is lifted; its hour is
// other-agency time, and the clearance is released after it.
func TestAgencyHoldStopsTheNextStage(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var during Status
	h.decide(30*time.Minute, "approve", docApprove)
	h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Agency: "NMPA", Reason: "white-list check of the manufacturer"})
	h.env.RegisterDelayedCallback(func() { during = h.status() }, time.Hour)
	h.send(80*time.Minute, "customs lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "x"})
	h.send(90*time.Minute, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Agency: "NMPA", Disposition: DispositionMayProceed,
		Reason: "NMPA: the manufacturer is on the white list"})
	r := h.run(fixture())

	require.True(t, h.accepted["hold"], "%v", h.rejections["hold"])
	require.Equal(t, PhaseHeld, during.Phase)
	require.Equal(t, []string{UpdateLift, UpdateHold, UpdateWithdraw, UpdateNote}, during.Accepts)
	require.ErrorContains(t, h.rejections["customs lift"], "no hold of customs stands")
	require.True(t, h.accepted["lift"])
	require.Equal(t, StateReleased, r.State)
	require.True(t, h.accepted["approve"])
	require.Equal(t, policy.Duration(time.Hour), r.OtherAgencyTime)
	require.Zero(t, r.HeldTime)
	// No stage began while the hold stood: the next one began when it was lifted.
	began := false
	for _, st := range r.Timeline {
		require.False(t, st.Started.After(start.Add(30*time.Minute)) && st.Started.Before(start.Add(90*time.Minute)),
			"%s began at %s, while the hold stood", st.Stage, st.Started)
		began = began || st.Started.Equal(start.Add(90*time.Minute))
	}
	require.True(t, began, "a stage began when the hold was lifted: %+v", r.Timeline)
}

// TestHoldRefusals: every refusal of hold and lift names its field and reason.
func TestHoldRefusals(t *testing.T) {
	awaiting := func() *clearance { return fuzzClearance(2, 0, 0) }
	held := func(agency string) *clearance {
		c := awaiting()
		c.Holds = []HoldRecord{{Hold: Hold{Supervisor: "sup-huang", Agency: agency, Reason: "x"}, At: start}}
		return c
	}
	releasing := func() *clearance { return fuzzClearance(8, 4, 0) }
	officer := &Principal{Subject: "doc-li", Roles: []string{RoleOfficer}}
	for _, tc := range []struct {
		name   string
		c      *clearance
		update string
		body   string
		caller *Principal
		want   string
	}{
		{"hold by an officer", awaiting(), UpdateHold, `{"supervisor":"doc-li","reason":"x"}`, nil, "only a supervisor holds"},
		{"hold as someone else", awaiting(), UpdateHold, `{"supervisor":"sup-huang","reason":"x"}`, officer, "is not the caller"},
		{"hold without a reason", awaiting(), UpdateHold, `{"supervisor":"sup-huang"}`, nil, "reason: required to hold"},
		{"hold while the notice is issued", releasing(), UpdateHold, `{"supervisor":"sup-huang","reason":"x"}`, nil, "cannot be held now (it is releasing"},
		{"hold twice by customs", held(""), UpdateHold, `{"supervisor":"sup-huang","reason":"again"}`, nil, "customs holds the clearance already"},
		{"hold twice by NMPA", held("NMPA"), UpdateHold, `{"supervisor":"sup-huang","agency":"NMPA","reason":"again"}`, nil, "NMPA holds the clearance already"},
		{"hold for an agency with spaces", awaiting(), UpdateHold, `{"supervisor":"sup-huang","agency":" NMPA","reason":"x"}`, nil, "agency:"},
		{"hold with an unknown field", awaiting(), UpdateHold, `{"supervisor":"sup-huang","reason":"x","until":"tomorrow"}`, nil, `unknown field "until"`},
		{"hold with a long reason", awaiting(), UpdateHold, `{"supervisor":"sup-huang","reason":"` + strings.Repeat("r", MaxReasonBytes+1) + `"}`, nil, "reason:"},
		{"lift of no hold", awaiting(), UpdateLift, `{"supervisor":"sup-huang","disposition":"may-proceed","reason":"x"}`, nil, "no hold of customs stands"},
		{"lift of another party's hold", held("NMPA"), UpdateLift, `{"supervisor":"sup-huang","disposition":"may-proceed","reason":"x"}`, nil, "no hold of customs stands"},
		{"customs' own hold refused", held(""), UpdateLift, `{"supervisor":"sup-huang","disposition":"refused","reason":"x"}`, nil,
			"disposition: customs' own hold is lifted may-proceed"},
		{"lift with an unknown disposition", held("NMPA"), UpdateLift, `{"supervisor":"sup-huang","agency":"NMPA","disposition":"rejected","reason":"x"}`, nil,
			`disposition: "rejected" is not may-proceed or refused`},
		{"lift without a reason", held(""), UpdateLift, `{"supervisor":"sup-huang","disposition":"may-proceed"}`, nil, "reason: required to lift"},
		{"lift by an officer", held(""), UpdateLift, `{"supervisor":"doc-li","disposition":"may-proceed","reason":"x"}`, nil, "only a supervisor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			validate := map[string]func(json.RawMessage, *Principal) error{UpdateHold: tc.c.validateHold, UpdateLift: tc.c.validateLift}[tc.update]
			err := validate(json.RawMessage(tc.body), tc.caller)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	// A decision while held is refused, naming the hold.
	c := held("NMPA")
	require.ErrorContains(t, c.validateDecision(docApprove, UpdateDecide), "on hold by NMPA since")
	// Accepted: a second party's hold beside a standing one, and the lift of each.
	require.NoError(t, held("").validateHold(json.RawMessage(`{"supervisor":"sup-huang","agency":"NMPA","reason":"white list"}`), nil))
	require.NoError(t, held("NMPA").validateLift(json.RawMessage(`{"supervisor":"sup-huang","agency":"NMPA","disposition":"may-proceed","reason":"ok"}`), nil))
}

// An agency that refuses the goods ends the clearance refused with its reason, wherever the
// clearance waits: on the stage's officer (the stage is refused) or before its next stage. The
// refusal is recorded as the supervisor's decision and the exporter is told; no notice is issued.
func TestAgencyRefusalEndsTheClearanceRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness)
		stage policy.Stage
	}{
		{"while the officer is awaited", func(h *harness) {
			h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Agency: "NMPA", Reason: "white-list check"})
		}, policy.StageDocumentCheck},
		{"before the next stage", func(h *harness) {
			h.decide(30*time.Minute, "approve", docApprove)
			h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Agency: "NMPA", Reason: "white-list check"})
		}, policy.StageRelease}, // the certification check is cleared by its checks; the hold keeps the release from beginning
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, policy.LaneYellow)
			tc.setup(h)
			h.send(time.Hour, "refuse", UpdateLift, Lift{Supervisor: "sup-huang", Agency: "NMPA", Disposition: DispositionRefused,
				Reason: "the manufacturer is not on the white list"})
			r := h.run(fixture())

			require.True(t, h.accepted["refuse"], "%v", h.rejections["refuse"])
			require.Equal(t, StateRefused, r.State)
			require.Equal(t, "NMPA refused the goods: the manufacturer is not on the white list", r.Reason)
			require.Equal(t, tc.stage, r.Stage)
			require.Nil(t, r.Notice)
			require.Zero(t, h.notices)
			last := r.Decisions[len(r.Decisions)-1]
			require.Equal(t, "NMPA", last.Agency, "the decision is the agency's")
			require.Equal(t, "sup-huang", last.Officer, "relayed by the supervisor")
			require.Equal(t, OutcomeReject, last.Outcome)
			require.Equal(t, tc.stage, last.Stage, "the refusal is at the stage where the clearance stood")
			for _, st := range r.Timeline[:len(r.Timeline)-1] {
				require.NotEqual(t, OutcomeRefused, st.Outcome, "%s ended before the agency refused", st.Stage)
			}
			require.Equal(t, start.Add(time.Hour), r.Ended, "it ends when the agency refuses")
			require.Equal(t, DispositionRefused, r.Holds[0].Lifted.Disposition)
			for _, st := range r.Timeline {
				require.NotEqual(t, OutcomeWithdrawn, st.Outcome, "an agency's refusal is no withdrawal")
			}
			var refused int
			for _, n := range h.notifications {
				if n.Kind == activities.NotifyRefused {
					refused++
				}
			}
			require.Equal(t, 1, refused, "the exporter is told once")
		})
	}
}

// TestWithdrawalWhileHeld: the exporter withdraws while the clearance waits on a hold before its
// next stage: it ends withdrawn, no further stage begins and no notice is issued.
func TestWithdrawalWhileHeld(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(30*time.Minute, "approve", docApprove)
	h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Agency: "NMPA", Reason: "white-list check"})
	h.send(time.Hour, "withdraw", UpdateWithdraw, withdrawal)
	r := h.run(fixture())

	require.True(t, h.accepted["hold"])
	require.True(t, h.accepted["withdraw"])
	require.Equal(t, StateWithdrawn, r.State)
	require.Empty(t, h.releaseRequests)
	require.Equal(t, policy.Duration(30*time.Minute), r.OtherAgencyTime, "the hold stood until the clearance ended")
	for _, st := range r.Timeline {
		require.False(t, st.Started.After(start.Add(30*time.Minute)), "%s began while held", st.Stage)
	}
}

// TestExporterIsNotToldCustomsWork: the exporter's status keeps the holds, by whom and since
// when, without their reasons, and leaves out officers' claims and notes; its result keeps the
// holds without reasons.
func TestExporterIsNotToldCustomsWork(t *testing.T) {
	lift := Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "source checked"}
	s := Status{Claim: &Claim{Officer: "doc-li"}, Record: Record{Work: []WorkRecord{{Kind: WorkNoted, Text: "tip-off"}},
		Holds: []HoldRecord{{Hold: Hold{Supervisor: "sup-huang", Reason: "intelligence"}, At: start, Lifted: &lift}}}}
	e := s.forExporter()
	require.Nil(t, e.Claim)
	require.Empty(t, e.Work)
	require.Len(t, e.Holds, 1)
	require.Empty(t, e.Holds[0].Reason)
	require.Empty(t, e.Holds[0].Lifted.Reason)
	require.Equal(t, DispositionMayProceed, e.Holds[0].Lifted.Disposition)
	require.Equal(t, "intelligence", s.Holds[0].Reason, "the status itself is unchanged")
	require.Equal(t, "source checked", lift.Reason)
	r := Result{Holds: s.Holds}.forExporter()
	require.Empty(t, r.Holds[0].Reason)
}

// A standing hold survives continue-as-new: the next run refuses decisions while it stands and
// takes them once it is lifted; the hold's time counts across the runs.
func TestHoldStandsAcrossContinueAsNew(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Reason: "intelligence: counterfeit respirators on this route"})
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "hq-wang", Outcome: OutcomeApprove})
	}, time.Hour)
	in := h.continued(fixture())
	require.True(t, h.accepted["hold"])
	require.Len(t, in.Carried.Holds, 1)

	next := newHarness(t, policy.LaneYellow)
	next.env.SetStartTime(start.Add(time.Hour))
	next.decide(time.Hour, "early", docApprove)
	next.send(2*time.Hour, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "the lot checked out"})
	next.decide(3*time.Hour, "approve", docApprove)
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))
	require.ErrorContains(t, next.rejections["early"], "on hold")
	require.True(t, next.accepted["lift"])
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, policy.Duration(150*time.Minute), r.Holds[0].Held, "from the hold in the first run to the lift in the next")
}

// A clearance held between stages whose history grows long (notes keep being taken) continues as
// new, still held before the stage that has not begun; the next run waits for the hold, begins
// that stage when it is lifted and checks nothing twice.
func TestHeldBetweenStagesContinuesAsNew(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(30*time.Minute, "approve", docApprove)
	h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Agency: "NMPA", Reason: "white-list check of the manufacturer"})
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, time.Hour)
	h.send(time.Hour, "note", UpdateNote, Note{Officer: "doc-chen", Text: "NMPA asked for the producer's licence"})
	in := h.continued(fixture())
	require.True(t, h.accepted["hold"], "%v", h.rejections["hold"])
	require.Equal(t, &HeldBefore{Next: policy.StageRelease}, in.Carried.HeldBefore)
	require.Equal(t, []policy.Stage{policy.StageDocumentCheck, policy.StageCertificationCheck}, stagesOf(in.Carried.Timeline),
		"the release has not begun")

	next := newHarness(t, policy.LaneYellow)
	next.env.SetStartTime(start.Add(time.Hour))
	var during Status
	next.env.RegisterDelayedCallback(func() { during = next.status() }, 10*time.Minute)
	next.send(30*time.Minute, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Agency: "NMPA", Disposition: DispositionMayProceed,
		Reason: "NMPA: the manufacturer is on the white list"})
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))
	require.Equal(t, PhaseHeld, during.Phase)
	require.True(t, next.accepted["lift"], "%v", next.rejections["lift"])
	require.Equal(t, StateReleased, r.State)
	require.Zero(t, next.checkCalls[policy.StageDocumentCheck]+next.checkCalls[policy.StageCertificationCheck], "ended stages are not checked again")
	require.Equal(t, []policy.Stage{policy.StageDocumentCheck, policy.StageCertificationCheck, policy.StageRelease}, stagesOf(r.Timeline))
	require.Equal(t, start.Add(90*time.Minute), r.Timeline[2].Started, "the release began when the hold was lifted")
	require.Equal(t, policy.Duration(time.Hour), r.OtherAgencyTime, "the hold's time counts across the runs")
	require.Len(t, next.releaseRequests, 1)
}

// A release approved while a hold stands (the hold reached the clearance with the approval) keeps
// its notice back. When the history grows long meanwhile, the clearance continues as new with the
// approval, as often as it must; the run in which the hold is lifted issues the notice in the
// approving officer's name, without asking anyone again or checking anything again.
func TestHeldReleaseNoticeContinuesAsNew(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(30*time.Minute, "doc", docApprove)
	h.decide(time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.send(90*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Reason: "intelligence: the consignee is under investigation"})
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, 2*time.Hour)
	h.send(2*time.Hour, "note", UpdateNote, Note{Officer: "doc-chen", Text: "consignee file requested"})
	in := h.continued(biological(fixture()))
	for _, id := range []string{"doc", "bio", "hold"} {
		require.True(t, h.accepted[id], "%s: %v", id, h.rejections[id])
	}
	require.Equal(t, policy.StageRelease, in.Carried.Stage)
	// The state releaseApproved carries when the approval and the hold arrive in one workflow task.
	approvedAt := start.Add(2 * time.Hour)
	in.Carried.Decisions = append(in.Carried.Decisions, DecisionRecord{
		Decision: Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove}, At: approvedAt, Via: ViaUpdate})
	in.Carried.HeldBefore = &HeldBefore{Notice: true, Officer: "rel-zhou"}

	again := newHarness(t, policy.LaneYellow)
	again.env.SetStartTime(approvedAt)
	var during Status
	again.env.RegisterDelayedCallback(func() { during = again.status() }, 5*time.Minute)
	again.env.RegisterDelayedCallback(func() { again.env.SetContinueAsNewSuggested(true) }, 10*time.Minute)
	again.send(10*time.Minute, "note", UpdateNote, Note{Officer: "doc-chen", Text: "file received"})
	in = again.continuedFrom(in)
	require.Equal(t, PhaseHeld, during.Phase)
	require.Equal(t, &HeldBefore{Notice: true, Officer: "rel-zhou"}, in.Carried.HeldBefore, "the approval is carried again")
	require.Empty(t, again.releaseRequests, "no notice while the hold stands")

	last := newHarness(t, policy.LaneYellow)
	last.env.SetStartTime(approvedAt.Add(10 * time.Minute))
	last.send(20*time.Minute, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "cleared by the investigators"})
	last.execute(in)
	require.NoError(t, last.env.GetWorkflowError())
	var r Result
	require.NoError(t, last.env.GetWorkflowResult(&r))
	require.True(t, last.accepted["lift"], "%v", last.rejections["lift"])
	require.Equal(t, StateReleased, r.State)
	for _, stage := range []policy.Stage{policy.StageDocumentCheck, policy.StageBiologicalReview, policy.StageCertificationCheck, policy.StageRelease} {
		require.Zero(t, again.checkCalls[stage]+last.checkCalls[stage], "%s checked again", stage)
	}
	require.Len(t, last.releaseRequests, 1)
	require.Equal(t, "rel-zhou", last.releaseRequests[0].Officer)
	require.Len(t, r.Decisions, 4, "the release was decided once: %+v", r.Decisions)
	end := r.Timeline[len(r.Timeline)-1]
	require.Equal(t, policy.StageRelease, end.Stage)
	require.Equal(t, OutcomeApproved, end.Outcome)
	require.Equal(t, approvedAt.Add(30*time.Minute), end.Ended)
	require.Equal(t, policy.Duration(time.Hour), r.HeldTime)
}

func stagesOf(ts []StageRecord) []policy.Stage {
	var out []policy.Stage
	for _, s := range ts {
		out = append(out, s.Stage)
	}
	return out
}
