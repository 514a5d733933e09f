package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// The tests in this file each reproduce one way an earlier release lost or broke a request
// between its own states; docs/faults.md lists them.

var (
	docApprove = Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove}
	docReject  = Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeReject,
		Reason: "the invoice does not match the packing list"}
	docRequest = Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation,
		Reason: "attach the quality declaration", Requested: []string{"quality-declaration"}}
	withdrawal = Withdrawal{Reason: "the buyer cancelled the order"}
)

// invalidCertificate is the certification check refusing by rule.
func invalidCertificate(in activities.CheckInput) (activities.CheckResult, error) {
	res := activities.CheckResult{Stage: policy.StageCertificationCheck, CheckedAt: in.On, Findings: []activities.Finding{{
		Code: "issuer-not-notified", Severity: activities.SeverityError, Message: "body 1282 is not notified for PPE"}}}
	return res, temporal.NewNonRetryableApplicationError("invalid certificate", activities.ErrInvalidCertificate, nil, res)
}

func unavailable(activities.CheckInput) (activities.CheckResult, error) {
	return activities.CheckResult{}, errors.New("registry unavailable")
}

// A supervisor's reroute sent while a refusal notice is retried used to make the current-details
// sentence read a waiting that was gone: the panic failed every workflow task.
func TestRerouteWhileRefusalIsToldIsRefusedWithoutPanic(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.notifyFailures[activities.NotifyRefused] = 4 // retried after 1, 2, 4 and 8 s
	h.decide(time.Hour, "reject", docReject)
	h.send(time.Hour+2*time.Second, "reroute", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneRed, Reason: "tip-off"})
	var during Status
	h.env.RegisterDelayedCallback(func() { during = h.status() }, time.Hour+3*time.Second)
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State)
	require.Equal(t, policy.LaneYellow, r.Lane, "the refused reroute changed nothing")
	require.False(t, h.accepted["reroute"])
	require.ErrorContains(t, h.rejections["reroute"], "the lane cannot be changed now (it is ending")
	require.Equal(t, PhaseEnding, during.Phase)
	require.Equal(t, []string{UpdateNote}, during.Accepts, "only a note, while the refusal is told")
	require.Equal(t, 5, h.notifyCalls[activities.NotifyRefused])
}

// A stage allowance that ran out while the refusal was told escalated a decided stage, and its
// current-details sentence panicked.
func TestAllowanceEndingWhileRefusalIsToldEscalatesNothing(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.notifyFailures[activities.NotifyRefused] = 8 // about 4 minutes of retries
	h.decide(48*time.Hour-time.Minute, "reject", docReject)
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State)
	require.Empty(t, r.Escalations, "the stage was decided within its allowance")
	require.Equal(t, false, h.sa[SASlaBreached])
}

// The release allowance running out while an approved release notice is retried is an overrun:
// it escalates, and the current-details sentence says the release is being issued.
func TestAllowanceEndingWhileReleaseNoticeIsRetriedEscalates(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.noticeFailures = 8
	h.decide(time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.decide(time.Hour+48*time.Hour-time.Minute, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(biological(fixture()))

	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Escalations, 1)
	require.Equal(t, policy.StageRelease, r.Escalations[0].Stage)
	require.Equal(t, 1, h.notices)
}

// A withdrawal sent while the refusal was told was answered "withdrawn" and the clearance ended
// refused: it is refused now, with the reason.
func TestWithdrawalWhileRefusalIsToldIsRefused(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.notifyFailures[activities.NotifyRefused] = 3
	h.decide(time.Hour, "reject", docReject)
	h.send(time.Hour+2*time.Second, "withdraw", UpdateWithdraw, withdrawal)
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State)
	require.False(t, h.accepted["withdraw"])
	require.ErrorContains(t, h.rejections["withdraw"], "cannot be withdrawn now (it is ending")
}

// Documents supplied while the lapse was told got a receipt and the clearance ended lapsed.
func TestSupplyWhileLapseIsToldIsRefused(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.notifyFailures[activities.NotifyLapsed] = 3
	h.decide(time.Hour, "request", docRequest)
	deadline := time.Hour + policy.Default().InformationDeadline.D()
	h.send(deadline+2*time.Second, "supply", UpdateSupplyDocuments, Supply{
		Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-1"}}})
	r := h.run(fixture())

	require.Equal(t, StateLapsed, r.State)
	require.False(t, h.accepted["supply"])
	require.ErrorContains(t, h.rejections["supply"], "not awaiting documents (it is ending")
}

// A withdrawal accepted while a check was retried, followed by a refusal by rule, ended refused.
func TestWithdrawalDuringCheckRetriesWinsOverARefusalByRule(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.onCheck(policy.StageCertificationCheck, unavailable, unavailable, invalidCertificate)
	h.send(500*time.Millisecond, "withdraw", UpdateWithdraw, withdrawal)
	r := h.run(fixture())

	require.True(t, h.accepted["withdraw"])
	require.Equal(t, StateWithdrawn, r.State, "the accepted withdrawal was not carried out")
	require.Equal(t, withdrawal.Reason, r.Reason)
	require.Equal(t, "withdrawn", r.Timeline[len(r.Timeline)-1].Outcome)
	for _, n := range h.notifications {
		require.NotEqual(t, activities.NotifyRefused, n.Kind, "the exporter was told of a refusal")
	}
}

// The same at the start: a withdrawal accepted while the lane selection was retried, and the
// declaration then found invalid.
func TestWithdrawalDuringLaneSelectionWinsOverAnInvalidDeclaration(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.laneErrs = []error{errors.New("trader registry unavailable")}
	h.laneErr = temporal.NewNonRetryableApplicationError("declaration does not validate: lines[0].hsCode: bad",
		activities.ErrInvalidDeclaration, nil)
	h.send(500*time.Millisecond, "withdraw", UpdateWithdraw, withdrawal)
	r := h.run(fixture())

	require.True(t, h.accepted["withdraw"])
	require.Equal(t, StateWithdrawn, r.State)
	require.Empty(t, h.notifications)
}

// Long texts are refused by the validator, naming the field, before they can make a workflow
// task write more than a payload may hold.
func TestOversizedAndHostileTextsAreRefused(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.onCheck(policy.StageDocumentCheck, findings(activities.SeverityWarning, "packing-list-unclear"))
	huge := strings.Repeat("x", 1<<20)
	h.decide(time.Hour, "huge", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: huge})
	h.decide(time.Hour, "long", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeReject,
		Reason: strings.Repeat("y", MaxReasonBytes+1)})
	h.decide(time.Hour, "escape", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeReject,
		Reason: "forged \x1b[2J invoice"})
	many := make([]string, MaxRequested+1)
	for i := range many {
		many[i] = "document"
	}
	h.decide(time.Hour, "many", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation,
		Reason: "more", Requested: many})
	h.decide(2*time.Hour, "request", docRequest)
	docs := make([]declaration.Document, MaxSuppliedDocuments+1)
	for i := range docs {
		docs[i] = declaration.Document{Type: declaration.DocOther, Reference: "D-" + string(rune('a'+i))}
	}
	h.send(3*time.Hour, "docs", UpdateSupplyDocuments, Supply{Documents: docs})
	h.send(3*time.Hour, "note", UpdateSupplyDocuments, Supply{Documents: docs[:1], Note: strings.Repeat("n", MaxReasonBytes+1)})
	h.send(3*time.Hour, "nul", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD\x00"}}})
	h.send(4*time.Hour, "w-long", UpdateWithdraw, Withdrawal{Reason: strings.Repeat("w", MaxReasonBytes+1)})
	h.send(5*time.Hour, "w", UpdateWithdraw, withdrawal)
	r := h.run(fixture())

	want := map[string]string{
		"huge":   "bytes is larger than the 65536 a request may carry",
		"long":   "reason: 4097 bytes is longer than the 4096 this field may hold",
		"escape": `reason: holds the control character '\x1b' at byte 7`,
		"many":   "requested: 21 documents are more than the 20 a request may name",
		"docs":   "documents: 11 are more than the 10 one answer may carry",
		"note":   "note: 4097 bytes is longer than the 4096 this field may hold",
		"nul":    `documents[2].reference: holds the control character '\x00' at byte 2`,
		"w-long": "reason: 4097 bytes is longer than the 4096 this field may hold",
	}
	for id, msg := range want {
		require.False(t, h.accepted[id], id)
		require.ErrorContains(t, h.rejections[id], msg, id)
	}
	require.Equal(t, StateWithdrawn, r.State)
}

// Unknown fields in an update's payload are refused, naming the field, as the signal refuses them.
func TestUnknownFieldsInUpdatesAreRefused(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(time.Hour, "outcom", UpdateDecide, map[string]any{"stage": "document-check", "officer": "doc-li", "outcom": "approve"})
	h.send(time.Hour, "reson", UpdateDecide, map[string]any{"stage": "document-check", "officer": "doc-li", "outcome": "approve", "reson": "fine"})
	h.send(time.Hour, "lanes", UpdateReroute, map[string]any{"officer": "sup-huang", "lanes": "red", "reason": "tip-off"})
	h.send(time.Hour, "docs", UpdateSupplyDocuments, map[string]any{"document": []any{}})
	h.send(time.Hour, "why", UpdateWithdraw, map[string]any{"why": "cancelled"})
	h.send(time.Hour, "list", UpdateDecide, []string{"approve"})
	h.decide(2*time.Hour, "ok", docApprove)
	r := h.run(fixture())

	for id, field := range map[string]string{"outcom": "outcom", "reson": "reson", "lanes": "lanes", "docs": "document", "why": "why"} {
		require.False(t, h.accepted[id], id)
		require.ErrorContains(t, h.rejections[id], `unknown field "`+field+`"`, id)
	}
	require.ErrorContains(t, h.rejections["list"], "malformed decision")
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Decisions, 3)
}

// An approval over an error-level finding needs a reason, as the decision's documentation says.
func TestApprovalOverAnErrorFindingNeedsAReason(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.onCheck(policy.StageDocumentCheck, findings(activities.SeverityError, "invoice-total-mismatch"))
	h.decide(time.Hour, "bare", docApprove)
	withReason := docApprove
	withReason.Reason = "the second invoice page carries the freight; totals agree"
	h.decide(2*time.Hour, "reasoned", withReason)
	r := h.run(fixture())

	require.ErrorContains(t, h.rejections["bare"], `reason: required to approve over the error-level finding "invoice-total-mismatch"`)
	require.True(t, h.accepted["reasoned"])
	require.Equal(t, StateReleased, r.State)
}

// A stage asks the exporter at most MaxInformationRequests times: each round re-records the
// declaration, so an endless dialogue would grow the history without bound.
func TestInformationRequestsPerStageAreBounded(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	at := time.Hour
	for i := 0; i < MaxInformationRequests+1; i++ {
		id := "request-" + string(rune('0'+i))
		h.decide(at, id, docRequest)
		h.send(at+time.Hour, "supply-"+string(rune('0'+i)), UpdateSupplyDocuments, Supply{
			Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-" + string(rune('0'+i))}}})
		at += 2 * time.Hour
	}
	h.decide(at, "approve", docApprove)
	r := h.run(fixture())

	for i := 0; i < MaxInformationRequests; i++ {
		require.True(t, h.accepted["request-"+string(rune('0'+i))], i)
	}
	last := "request-" + string(rune('0'+MaxInformationRequests))
	require.ErrorContains(t, h.rejections[last], "has asked the exporter for information 5 times")
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Timeline, 3)
	require.Equal(t, MaxInformationRequests+1, r.Timeline[0].CheckRuns)
}

// Refused decision signals are kept up to MaxRefusedKept, the latest, and all counted.
func TestRefusedSignalsAreBoundedAndCounted(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	for i := 0; i < MaxRefusedKept+10; i++ {
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "hq-wang", Outcome: OutcomeApprove,
				Reason: strings.Repeat("r", 2*MaxReasonBytes)})
		}, time.Hour+time.Duration(i)*time.Minute)
	}
	var s Status
	h.env.RegisterDelayedCallback(func() { s = h.status() }, 2*time.Hour)
	h.decide(3*time.Hour, "ok", docApprove)
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.Len(t, s.Refused, MaxRefusedKept)
	require.Equal(t, MaxRefusedKept+10, s.RefusedCount)
	require.Equal(t, start.Add(time.Hour+time.Duration(MaxRefusedKept+9)*time.Minute), s.Refused[MaxRefusedKept-1].At, "the latest are kept")
	require.LessOrEqual(t, len(s.Refused[0].Decision.Reason), MaxReasonBytes)
}

// A decision signal is held to the update's bounds: a clearance started with this release records
// the change's marker when a signal would have been applied before it.
func TestSignalHeldToTheUpdatesBounds(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeReject,
			Reason: "bad \x1b[31m invoice"})
	}, time.Hour)
	var s Status
	h.env.RegisterDelayedCallback(func() { s = h.status() }, 2*time.Hour)
	h.decide(3*time.Hour, "ok", docApprove)
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.Len(t, s.Refused, 1)
	require.Contains(t, s.Refused[0].Reason, "control character")
}

// The status says the phase and what the clearance accepts in it.
func TestStatusSaysWhatTheClearanceAccepts(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var officer, exporter Status
	h.env.RegisterDelayedCallback(func() { officer = h.status() }, 30*time.Minute)
	h.decide(time.Hour, "request", docRequest)
	h.env.RegisterDelayedCallback(func() { exporter = h.status() }, 90*time.Minute)
	h.send(2*time.Hour, "w", UpdateWithdraw, withdrawal)
	h.run(fixture())

	require.Equal(t, PhaseAwaitingOfficer, officer.Phase)
	require.Equal(t, []string{UpdateDecide, SignalDecision, UpdateWithdraw, UpdateReroute, UpdateExtend,
		UpdateClaim, UpdateUnclaim, UpdateReassign, UpdateNote, UpdateHold, UpdateLift, UpdateAmend, UpdateDecideAmendment}, officer.Accepts)
	require.Equal(t, PhaseAwaitingExporter, exporter.Phase)
	require.Equal(t, []string{UpdateSupplyDocuments, UpdateWithdraw, UpdateReroute, UpdateExtend, UpdateUnclaim, UpdateReassign, UpdateNote,
		UpdateHold, UpdateLift}, exporter.Accepts)
	raw, err := json.Marshal(exporter)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"phase":"awaiting-exporter"`)
}

func outcomes(r Result) []string {
	var out []string
	for _, s := range r.Timeline {
		out = append(out, string(s.Stage)+":"+s.Outcome)
	}
	return out
}

// A supervisor's reroute to yellow after the document check was cleared without an officer used
// to change the lane shown and nothing else: the documentary check the yellow lane asks for now
// runs before the next stage.
func TestRerouteToYellowAfterAnAutomaticDocumentCheckRunsIt(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.send(time.Hour, "reroute", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneYellow, Reason: "a tip-off on the invoices"})
	h.decide(2*time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.decide(3*time.Hour, "doc", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	h.decide(4*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(biological(fixture()))

	require.True(t, h.accepted["reroute"])
	require.True(t, h.accepted["doc"], "no documentary check was awaited: %v", h.rejections["doc"])
	require.Equal(t, []string{"document-check:cleared", "biological-review:approved", "document-check:approved",
		"certification-check:cleared", "release:approved"}, outcomes(r))
	require.Equal(t, StateReleased, r.State)
}

// A reroute to red while the release awaits its officer used to be refused: a last-minute stop
// before the notice was impossible. The release stage now gives way to what the red lane asks
// first (the certification officer, the physical inspection) and then runs again.
func TestRerouteToRedDuringTheReleaseInspectsFirst(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "doc", docApprove)
	h.decide(2*time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.send(3*time.Hour, "reroute", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneRed, Reason: "intelligence on this consignment"})
	h.decide(3*time.Hour+time.Minute, "rel-too-early", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	h.decide(4*time.Hour, "cert", Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove})
	h.decide(5*time.Hour, "insp", Decision{Stage: policy.StagePhysicalInspection, Officer: "insp-sun", Outcome: OutcomeApprove})
	h.decide(6*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(biological(fixture()))

	require.True(t, h.accepted["reroute"])
	require.ErrorContains(t, h.rejections["rel-too-early"], "not the current stage")
	require.Equal(t, []string{"document-check:approved", "biological-review:approved", "certification-check:cleared",
		"release:rerouted", "certification-check:approved", "physical-inspection:approved", "release:approved"}, outcomes(r))
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, policy.LaneRed, r.Lane)
	require.Equal(t, 1, h.notices)
}

// A reroute during the release to a lane that asks nothing more changes the lane and leaves the
// release where it is; once the notice is being issued, nothing changes the lane.
func TestRerouteDuringTheReleaseToALighterLane(t *testing.T) {
	h := newHarness(t, policy.LaneRed)
	h.noticeFailures = 3
	for i, d := range []Decision{docApprove,
		{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove},
		{Stage: policy.StagePhysicalInspection, Officer: "insp-sun", Outcome: OutcomeApprove}} {
		h.decide(time.Duration(i+1)*time.Hour, d.Officer, d)
	}
	h.send(4*time.Hour, "to-yellow", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneYellow, Reason: "inspection found nothing"})
	h.decide(5*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	h.send(5*time.Hour+time.Second, "late", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneRed, Reason: "second thoughts"})
	r := h.run(fixture())

	require.True(t, h.accepted["to-yellow"])
	require.ErrorContains(t, h.rejections["late"], "the lane cannot be changed now (it is releasing")
	require.Equal(t, "release:approved", outcomes(r)[len(r.Timeline)-1])
	require.Len(t, r.Timeline, 4)
	require.Equal(t, policy.LaneYellow, r.Lane)
}

// An officer taken off the roster could still decide a clearance already waiting, and one added
// could not take the backlog: the roster-changed signal makes the waiting clearance read it again.
func TestRosterChangesReachWaitingClearances(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var before, after Status
	h.env.RegisterDelayedCallback(func() {
		before = h.status()
		h.mu.Lock()
		h.cfg.Roster = policy.Roster{Officers: []policy.Officer{
			{ID: "doc-ma", Name: "Ma Lin", Roles: []policy.Role{policy.RoleDocument}},
			{ID: "sup-huang", Name: "Huang Wei", Roles: []policy.Role{policy.RoleSupervisor}},
		}}
		h.mu.Unlock()
		h.env.SignalWorkflow(SignalRosterChanged, nil)
	}, time.Hour)
	h.env.RegisterDelayedCallback(func() { after = h.status() }, 2*time.Hour)
	h.decide(3*time.Hour, "removed", docApprove)
	h.decide(4*time.Hour, "added", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-ma", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Equal(t, []string{"doc-li", "doc-chen", "sup-huang"}, before.Waiting.Officers)
	require.Equal(t, []string{"doc-ma", "sup-huang"}, after.Waiting.Officers)
	require.ErrorContains(t, h.rejections["removed"], `"doc-li" is not on the roster`)
	require.True(t, h.accepted["added"])
	require.Equal(t, "doc-ma", r.Decisions[0].Officer)
	require.Equal(t, StateReleased, r.State)
}

// An escalation offered a supervisor whom the separation of duties bars from the stage: the
// clearance then waited on someone who could not decide it.
func TestEscalationOffersOnlyASupervisorWhoMayDecide(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Roster.Officers = append(h.cfg.Roster.Officers,
		policy.Officer{ID: "sup-qian", Name: "Qian Yu", Roles: []policy.Role{policy.RoleSupervisor}})
	h.decide(time.Hour, "doc", docApprove)
	h.decide(2*time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "sup-huang", Outcome: OutcomeApprove})
	var overdue Status
	h.env.RegisterDelayedCallback(func() { overdue = h.status() }, 2*time.Hour+49*time.Hour)
	h.decide(2*time.Hour+50*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "sup-qian", Outcome: OutcomeApprove})
	d := biological(fixture())
	// A declaration whose escalation of the release would fall to sup-huang, the first supervisor.
	for i := 0; ; i++ {
		d.ID = fmt.Sprintf("NB2020-%04d", i)
		f := fnv.New32a()
		_, _ = f.Write([]byte(d.ID + "/" + string(policy.StageRelease)))
		if f.Sum32()%2 == 0 {
			break
		}
	}
	r := h.run(d)

	require.Len(t, overdue.Escalations, 1)
	require.Equal(t, "sup-qian", overdue.Escalations[0].Supervisor, "sup-huang decided the biological review")
	require.NotContains(t, overdue.Waiting.Officers, "sup-huang")
	require.Equal(t, StateReleased, r.State)
}

// A corrected invoice with the reference of the wrong one used to be appended beside it, so an
// invoice-total mismatch could never be cured: it replaces it now.
func TestCorrectedDocumentReplacesTheOneWithItsReference(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var second activities.CheckInput
	h.onCheck(policy.StageDocumentCheck,
		findings(activities.SeverityError, "invoice-total-mismatch"),
		func(in activities.CheckInput) (activities.CheckResult, error) {
			second = in
			return activities.CheckResult{CheckedAt: in.On}, nil
		})
	h.decide(time.Hour, "request", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation,
		Reason: "the invoice total does not match the lines", Requested: []string{"commercial-invoice"}})
	h.send(2*time.Hour, "supply", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{
		Type: declaration.DocCommercialInvoice, Reference: "INV-1", Amount: 4000001, Currency: "USD"}}})
	h.decide(3*time.Hour, "approve", docApprove)
	r := h.run(fixture())

	require.True(t, h.accepted["supply"])
	var invoices []declaration.Document
	for _, d := range second.Declaration.Documents {
		if d.Type == declaration.DocCommercialInvoice {
			invoices = append(invoices, d)
		}
	}
	require.Len(t, invoices, 1)
	require.Equal(t, int64(4000001), invoices[0].Amount)
	require.Equal(t, StateReleased, r.State)
}

// An answer that does not carry what the officer asked for is refused, naming what is missing.
func TestAnswerMustCarryWhatWasRequested(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "request", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation,
		Reason: "attach the quality declaration and the NMPA registration", Requested: []string{"quality-declaration", "NMPA", "the label photos"}})
	h.send(2*time.Hour, "partial", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-1"}}})
	h.send(3*time.Hour, "whole", UpdateSupplyDocuments, Supply{
		Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-1"}},
		Certificates: []declaration.Certificate{{Scheme: declaration.SchemeNMPA, Number: "国械注准20203400001", Holder: "Ningbo Mediguard Medical Products Co., Ltd.",
			Lines: []string{"1"}, ValidFrom: start.AddDate(-1, 0, 0), ValidTo: start.AddDate(4, 0, 0)}}})
	h.decide(4*time.Hour, "approve", docApprove)
	r := h.run(fixture())

	require.ErrorContains(t, h.rejections["partial"], "documents: the officer asked for NMPA, which this answer does not carry")
	require.True(t, h.accepted["whole"])
	require.Equal(t, StateReleased, r.State)
}

// Documents supplied at a later stage used to reach only that stage's checks: the document
// check's rules run again on them, and what they find is the later officer's to weigh.
func TestDocumentsSuppliedLaterAreCheckedByTheDocumentCheckAgain(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.onCheck(policy.StageDocumentCheck,
		func(in activities.CheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{CheckedAt: in.On}, nil
		},
		findings(activities.SeverityError, "invoice-total-mismatch"))
	h.decide(time.Hour, "request", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeRequestInformation,
		Reason: "attach the risk assessment", Requested: []string{"risk-assessment"}})
	h.send(2*time.Hour, "supply", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{
		{Type: declaration.DocRiskAssessment, Reference: "RA-1"}, {Type: declaration.DocCommercialInvoice, Reference: "INV-1", Amount: 1, Currency: "USD"}}})
	h.decide(3*time.Hour, "bare", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.decide(4*time.Hour, "reasoned", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove,
		Reason: "the invoice is the freight-only part; the goods invoice stands"})
	h.decide(5*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(biological(fixture()))

	require.Equal(t, 2, h.checkCalls[policy.StageDocumentCheck], "the document check ran again on the answer")
	require.ErrorContains(t, h.rejections["bare"], `required to approve over the error-level finding "invoice-total-mismatch"`)
	require.True(t, h.accepted["reasoned"])
	require.Equal(t, StateReleased, r.State)
}

// A clearance that keeps the release before explicit-phases (the change answered its default, as
// when it asked while replaying its history) keeps that release's rules where they decide
// commands: a malformed decision signal is refused as it was, and a reroute during the release,
// which that release refused, is refused.
func TestClearanceOfTheEarlierReleaseKeepsItsRules(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.env.OnGetVersion(ChangeExplicitPhases, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, map[string]any{"stage": "document-check", "officer": "doc-li", "outcome": "approve", "colour": "blue"})
	}, time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: OutcomeApprove,
			Reason: "a reason with \x1b an escape, which that release accepted"})
	}, 2*time.Hour)
	h.decide(3*time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.send(4*time.Hour, "reroute", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneRed, Reason: "intelligence"})
	h.decide(5*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(biological(fixture()))

	require.Equal(t, "doc-chen", r.Decisions[0].Officer, "the malformed signal was applied")
	require.Equal(t, start.Add(2*time.Hour), r.Decisions[0].At)
	require.ErrorContains(t, h.rejections["reroute"], "the release stage has begun")
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, 1, h.notices)
}

// A withdrawal accepted while an earlier stage's checks ran again on the exporter's answer wins
// over a refusal by rule of those checks, as it does over the stage's own.
func TestWithdrawalDuringARecheckWinsOverARefusalByRule(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	refuse := func(activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{}, temporal.NewNonRetryableApplicationError("invoice forged", activities.ErrInvalidDeclaration, nil)
	}
	clean := func(in activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{CheckedAt: in.On}, nil
	}
	h.onCheck(policy.StageDocumentCheck, clean, unavailable, unavailable, refuse)
	h.decide(time.Hour, "request", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeRequestInformation,
		Reason: "attach the risk assessment", Requested: []string{"risk-assessment"}})
	h.send(2*time.Hour, "supply", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{
		{Type: declaration.DocRiskAssessment, Reference: "RA-1"}, {Type: declaration.DocCommercialInvoice, Reference: "INV-1", Amount: 1, Currency: "USD"}}})
	h.send(2*time.Hour+500*time.Millisecond, "withdraw", UpdateWithdraw, withdrawal)
	r := h.run(biological(fixture()))

	require.True(t, h.accepted["withdraw"])
	require.Equal(t, StateWithdrawn, r.State)
	require.Equal(t, withdrawal.Reason, r.Reason)
}

// TestPathsOverStandard: the default allowances of the red lane with a biological review add up
// to 22 days against the 20-day standard; nothing else in the default policy exceeds it, and a
// standard raised to 22 days flags nothing.
func TestPathsOverStandard(t *testing.T) {
	over := PathsOverStandard(policy.Default())
	if len(over) != 1 || over[0].Lane != policy.LaneRed || !over[0].Biological || over[0].Expedited || over[0].Total.D() != 22*24*time.Hour {
		t.Fatalf("over the standard: %+v", over)
	}
	if got := over[0].String(); got != "red lane with biological review, standard procedure: the stages' allowances add up to 22d" {
		t.Errorf("%q", got)
	}
	p := policy.Default()
	p.Standard = policy.Duration(22 * 24 * time.Hour)
	if over := PathsOverStandard(p); len(over) != 0 {
		t.Errorf("at 22 days: %+v", over)
	}
}

// A clearance of the release before explicit-phases still holds its decision signal to the
// rules added since for every clearance: a signal while a supervisor's hold stands, or from an
// officer while another holds the stage by claim, is refused and recorded, not applied.
func TestLegacyDecisionSignalKeepsTheRulesOfEveryClearance(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	// Asked only where the earlier release would apply the signal; the later rules refuse first.
	h.env.OnGetVersion(ChangeExplicitPhases, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion).Maybe()
	h.send(30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Reason: "intelligence on counterfeit kits"})
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: OutcomeApprove})
	}, time.Hour)
	h.send(90*time.Minute, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "cleared"})
	h.send(100*time.Minute, "claim", UpdateClaim, ClaimRequest{Officer: "doc-li"})
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: OutcomeApprove})
	}, 2*time.Hour)
	var before Status
	h.env.RegisterDelayedCallback(func() { before = h.status() }, 150*time.Minute)
	h.decide(3*time.Hour, "li", docApprove)
	r := h.run(fixture())

	require.Empty(t, before.Decisions, "neither signal was applied")
	require.True(t, h.accepted["hold"], "%v", h.rejections["hold"])
	require.True(t, h.accepted["claim"], "%v", h.rejections["claim"])
	require.Equal(t, 2, before.RefusedCount)
	require.Contains(t, before.Refused[0].Reason, "hold")
	require.Contains(t, before.Refused[1].Reason, "held by doc-li")
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, "doc-li", r.Decisions[0].Officer)
}
