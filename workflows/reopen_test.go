package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// A clearance refused by rule at its certification check, reopened on an upheld appeal: the
// new run begins the stage again, its checks find the same, but the officer decides instead of
// the rule; the release notice stays bound to the clearance's first run, and the result keeps
// the refused stage, the appeal and the stage decided again.
func TestReopenedOnAppealTheOfficerDecidesTheRefusedStage(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.onCheck(policy.StageCertificationCheck, func(in activities.CheckInput) (activities.CheckResult, error) {
		res := activities.CheckResult{CheckedAt: in.On, Findings: []activities.Finding{{Code: "issuer-not-notified",
			Severity: activities.SeverityError, Message: "body 1282 is not notified for PPE"}}}
		return res, temporal.NewNonRetryableApplicationError("invalid certificate", activities.ErrInvalidCertificate, nil, res)
	})
	refused := start.Add(-48 * time.Hour)
	carried := Carried{
		PreviousRunID: "run-refused", Configuration: h.cfg, Lane: policy.LaneYellow,
		Stage: policy.StageCertificationCheck, State: StateChecking, Submitted: start.Add(-72 * time.Hour),
		Registration: &Registration{Number: "ED-2020-00000007", Accepted: start.Add(-72 * time.Hour)},
		Record: Record{
			Timeline: []StageRecord{
				{Stage: policy.StageDocumentCheck, Started: start.Add(-72 * time.Hour), Ended: start.Add(-60 * time.Hour), Outcome: OutcomeApproved},
				{Stage: policy.StageCertificationCheck, Started: start.Add(-60 * time.Hour), Ended: refused, Outcome: OutcomeRefused},
			},
			Decisions: []DecisionRecord{{Decision: Decision{Stage: policy.StageCertificationCheck, Outcome: OutcomeReject,
				Reason: "body 1282 is not notified for PPE"}, At: refused, Via: ViaAutomatic}},
		},
		FirstRunID: "run-first",
	}
	appeal := AppealRecord{Appeal: "appeal-3302960123-NB2020-0001", Stage: policy.StageCertificationCheck,
		Refusal: "body 1282 is not notified for PPE", Grounds: "1282 was notified for PPE on the day of the certificate",
		Supervisor: "sup-huang", Decided: start, Reason: "NANDO lists 1282 for PPE since 2019", RefusedRunID: "run-refused", FirstRunID: "run-first"}
	var during Status
	h.env.RegisterDelayedCallback(func() { during = h.status() }, time.Hour)
	h.decide(2*time.Hour, "cert", Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove,
		Reason: "the notification of 1282 for PPE is confirmed on NANDO"})
	h.execute(Input{Declaration: fixture(), Carried: &carried, Reopened: &appeal})
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var r Result
	require.NoError(t, h.env.GetWorkflowResult(&r))

	require.Equal(t, PhaseAwaitingOfficer, during.Phase, "the officer decides the stage the rule refused")
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, []policy.Stage{policy.StageDocumentCheck, policy.StageCertificationCheck, policy.StageCertificationCheck,
		policy.StageRelease}, stages(r))
	require.Equal(t, OutcomeRefused, r.Timeline[1].Outcome)
	require.Equal(t, OutcomeApproved, r.Timeline[2].Outcome)
	require.Equal(t, []AppealRecord{appeal}, r.Appeals)
	require.Equal(t, "ED-2020-00000007", r.Registration.Number)
	require.Len(t, h.releaseRequests, 1)
	require.Equal(t, "run-first", h.releaseRequests[0].RunID, "the notice stays bound to the clearance's first run")
	require.Empty(t, h.registrations, "a reopened clearance is not registered again")
}

// An upheld appeal survives continue-as-new: a reopened clearance that continues as new while it
// awaits its officer carries the stage the appeal reopened, so its checks' refusal by rule goes to
// the officer in the next run too, and the officer's approval releases it.
func TestReopenedClearanceContinuedAsNewKeepsTheAppealsDecision(t *testing.T) {
	refuseByRule := func(in activities.CheckInput) (activities.CheckResult, error) {
		res := activities.CheckResult{CheckedAt: in.On, Findings: []activities.Finding{{Code: "issuer-not-notified",
			Severity: activities.SeverityError, Message: "body 1282 is not notified for PPE"}}}
		return res, temporal.NewNonRetryableApplicationError("invalid certificate", activities.ErrInvalidCertificate, nil, res)
	}
	h := newHarness(t, policy.LaneYellow)
	h.onCheck(policy.StageCertificationCheck, refuseByRule)
	refused := start.Add(-48 * time.Hour)
	carried := Carried{
		PreviousRunID: "run-refused", Configuration: h.cfg, Lane: policy.LaneYellow,
		Stage: policy.StageCertificationCheck, State: StateChecking, Submitted: start.Add(-72 * time.Hour),
		Registration: &Registration{Number: "ED-2020-00000007", Accepted: start.Add(-72 * time.Hour)},
		Record: Record{Timeline: []StageRecord{
			{Stage: policy.StageDocumentCheck, Started: start.Add(-72 * time.Hour), Ended: start.Add(-60 * time.Hour), Outcome: OutcomeApproved},
			{Stage: policy.StageCertificationCheck, Started: start.Add(-60 * time.Hour), Ended: refused, Outcome: OutcomeRefused},
		}},
		FirstRunID: "run-first",
	}
	appeal := AppealRecord{Appeal: "appeal-3302960123-NB2020-0001", Stage: policy.StageCertificationCheck,
		Refusal: "body 1282 is not notified for PPE", Grounds: "notified since 2019", Supervisor: "sup-huang", Decided: start,
		Reason: "NANDO lists 1282 for PPE", RefusedRunID: "run-refused", FirstRunID: "run-first"}
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageCertificationCheck, Officer: "hq-wang", Outcome: OutcomeApprove})
	}, time.Hour)
	h.execute(Input{Declaration: fixture(), Carried: &carried, Reopened: &appeal})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can, "the reopened clearance continues as new while it awaits its officer")
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.Nil(t, in.Reopened, "the next run is a continuation, not a second reopening")

	next := newHarness(t, policy.LaneYellow)
	next.onCheck(policy.StageCertificationCheck, refuseByRule)
	next.env.SetStartTime(start.Add(time.Hour))
	var during Status
	next.env.RegisterDelayedCallback(func() { during = next.status() }, 30*time.Minute)
	next.decide(time.Hour, "cert", Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove,
		Reason: "the notification of 1282 for PPE is confirmed on NANDO"})
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))
	require.Equal(t, PhaseAwaitingOfficer, during.Phase, "the officer still decides the stage the appeal reopened")
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, []AppealRecord{appeal}, r.Appeals)
}

// An amendment applied at once in a stage reopened on appeal does not take the stage from its
// officer: the green lane's certification check, refused by rule and reopened, runs its checks
// again on the amended declaration and finds nothing, and the officer still decides it, as the
// appeal's decision requires (seed 94 of TestRandomSchedules once found it cleared by rule).
func TestAmendmentInAReopenedStageKeepsItsOfficer(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	refused := start.Add(-48 * time.Hour)
	carried := Carried{
		PreviousRunID: "run-refused", Configuration: h.cfg, Lane: policy.LaneGreen,
		Stage: policy.StageCertificationCheck, State: StateChecking, Submitted: start.Add(-72 * time.Hour),
		Registration: &Registration{Number: "ED-2020-00000007", Accepted: start.Add(-72 * time.Hour)},
		Record: Record{
			Timeline: []StageRecord{
				{Stage: policy.StageDocumentCheck, Started: start.Add(-72 * time.Hour), Ended: start.Add(-72 * time.Hour), Outcome: OutcomeCleared},
				{Stage: policy.StageCertificationCheck, Started: start.Add(-72 * time.Hour), Ended: refused, Outcome: OutcomeRefused},
			},
			Decisions: []DecisionRecord{
				{Decision: Decision{Stage: policy.StageDocumentCheck, Outcome: OutcomeApprove, Reason: "automated checks found nothing to review"},
					At: start.Add(-72 * time.Hour), Via: ViaAutomatic},
				{Decision: Decision{Stage: policy.StageCertificationCheck, Outcome: OutcomeReject, Reason: "body 1282 is not notified for PPE"},
					At: refused, Via: ViaAutomatic},
			},
		},
		OfficerReview: true, FirstRunID: "run-first",
	}
	appeal := AppealRecord{Appeal: "appeal-3302960123-NB2020-0001", Stage: policy.StageCertificationCheck,
		Refusal: "body 1282 is not notified for PPE", Grounds: "1282 was notified for PPE on the day of the certificate",
		Supervisor: "sup-huang", Decided: start, Reason: "NANDO lists 1282 for PPE since 2019", RefusedRunID: "run-refused", FirstRunID: "run-first"}
	var before, after Status
	h.env.RegisterDelayedCallback(func() { before = h.status() }, 30*time.Minute)
	h.send(time.Hour, "amend", UpdateAmend, shortShipment())
	h.env.RegisterDelayedCallback(func() { after = h.status() }, 90*time.Minute)
	h.decide(2*time.Hour, "cert", Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove,
		Reason: "the notification of 1282 for PPE is confirmed on NANDO"})
	h.execute(Input{Declaration: fixture(), Carried: &carried, Reopened: &appeal})
	require.NoError(t, h.env.GetWorkflowError())
	var r Result
	require.NoError(t, h.env.GetWorkflowResult(&r))

	require.Equal(t, PhaseAwaitingOfficer, before.Phase)
	require.True(t, h.accepted["amend"], "%v", h.rejections["amend"])
	require.Equal(t, AmendmentApplied, r.Amendments[0].Status, "no officer had started: applied at once")
	require.Equal(t, PhaseAwaitingOfficer, after.Phase, "the reopened stage still awaits its officer")
	require.True(t, h.accepted["cert"], "%v", h.rejections["cert"])
	require.Equal(t, StateReleased, r.State)
	for _, d := range r.Decisions {
		if d.Stage == policy.StageCertificationCheck && d.At.After(refused) {
			require.Equal(t, ViaUpdate, d.Via, "the reopened stage is decided by its officer: %+v", d)
		}
	}
}

// In a stage reopened on appeal, a refusal by rule found by the rechecks of an amendment goes to
// the stage's officer too: the red lane's physical inspection, refused by its officer and
// reopened, takes an amendment of the certificates with its officer's consent; the certification
// check, run again on it, refuses the certificate, and the inspection officer weighs that (seed 5413 of
// TestRandomSchedules once found the reopened clearance refused by rule instead).
func TestRecheckInAReopenedStageGoesToItsOfficer(t *testing.T) {
	h := newHarness(t, policy.LaneRed)
	h.onCheck(policy.StageCertificationCheck, invalidCertificate)
	refused := start.Add(-24 * time.Hour)
	begun := start.Add(-72 * time.Hour)
	carried := Carried{
		PreviousRunID: "run-refused", Configuration: h.cfg, Lane: policy.LaneRed,
		Stage: policy.StagePhysicalInspection, State: StateChecking, Submitted: begun,
		Registration: &Registration{Number: "ED-2020-00000007", Accepted: begun},
		Record: Record{
			Timeline: []StageRecord{
				{Stage: policy.StageDocumentCheck, Started: begun, Ended: begun.Add(time.Hour), Outcome: OutcomeApproved},
				{Stage: policy.StageCertificationCheck, Started: begun.Add(time.Hour), Ended: begun.Add(2 * time.Hour), Outcome: OutcomeApproved},
				{Stage: policy.StagePhysicalInspection, Started: begun.Add(2 * time.Hour), Ended: refused, Outcome: OutcomeRefused},
			},
			Decisions: []DecisionRecord{
				{Decision: Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove}, At: begun.Add(time.Hour), Via: ViaUpdate},
				{Decision: Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove}, At: begun.Add(2 * time.Hour), Via: ViaUpdate},
				{Decision: Decision{Stage: policy.StagePhysicalInspection, Officer: "insp-sun", Outcome: OutcomeReject,
					Reason: "the cartons are not labelled as declared"}, At: refused, Via: ViaUpdate},
			},
		},
		OfficerReview: true, FirstRunID: "run-first",
	}
	appeal := AppealRecord{Appeal: "appeal-3302960123-NB2020-0001", Stage: policy.StagePhysicalInspection,
		Refusal: "the cartons are not labelled as declared", RefusedBy: "insp-sun", Grounds: "the labels were photographed at loading",
		Supervisor: "sup-huang", Decided: start, Reason: "the photographs show the declared labels", RefusedRunID: "run-refused", FirstRunID: "run-first"}
	reissued := fixture().Certificates[0]
	reissued.ValidTo = start.AddDate(6, 0, 0)
	var after Status
	h.send(time.Hour, "amend", UpdateAmend, Amendment{Certificates: []declaration.Certificate{reissued}, Reason: "the certificate was reissued"})
	h.send(80*time.Minute, "consent", UpdateDecideAmendment, AmendmentDecision{Officer: "insp-sun", Amendment: 1, Outcome: AmendmentConsent})
	h.env.RegisterDelayedCallback(func() { after = h.status() }, 90*time.Minute)
	h.decide(2*time.Hour, "inspect", Decision{Stage: policy.StagePhysicalInspection, Officer: "insp-sun", Outcome: OutcomeApprove,
		Reason: "body 1282 is notified for PPE since 2019; the labels are as declared"})
	h.decide(3*time.Hour, "release", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	h.execute(Input{Declaration: fixture(), Carried: &carried, Reopened: &appeal})
	require.NoError(t, h.env.GetWorkflowError())
	var r Result
	require.NoError(t, h.env.GetWorkflowResult(&r))

	require.True(t, h.accepted["amend"], "%v", h.rejections["amend"])
	require.True(t, h.accepted["consent"], "%v", h.rejections["consent"])
	require.Equal(t, 1, h.checkCalls[policy.StageCertificationCheck], "the amendment's certificates are checked again")
	require.Equal(t, PhaseAwaitingOfficer, after.Phase, "the refusal by rule goes to the inspection officer")
	require.True(t, h.accepted["inspect"], "%v", h.rejections["inspect"])
	require.Equal(t, StateReleased, r.State, r.Reason)
}
