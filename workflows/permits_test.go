package workflows

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nexus-rpc/sdk-go/nexus"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// The partner agencies' side of these tests: the agency's operation mocked at the Nexus boundary,
// answering each request after a delay.

var reviewOp = nexus.NewOperationReference[agency.PermitRequest, agency.PermitResult](agency.OperationReview)

// nmpaRule makes NMPA's registration certificate needed for the fixture's medical masks.
var nmpaRule = policy.AgencyRule{Agency: agency.NMPA, Categories: []declaration.Category{"medical-mask"},
	Reason: "registration certificate of a medical device (announcement No. 5 of 2020)"}

// firstRequest is the request ID of a clearance's first permit request of NMPA.
const firstRequest = "clearance-3302960123-NB2020-0001/NMPA/1"

// samrRule makes SAMR's permit needed for the fixture's medical masks too; samrRequest is a
// clearance's first request of it.
var samrRule = policy.AgencyRule{Agency: agency.SAMR, Categories: []declaration.Category{"medical-mask"},
	Reason: "list of qualified producers (announcement No. 12 of 2020)"}

const samrRequest = "clearance-3302960123-NB2020-0001/SAMR/1"

// agencyAnswers makes the agency's operation take the first request and answer it with answer,
// after delay; it returns the requests the clearance asked.
func (h *harness) agencyAnswers(delay time.Duration, answer func(agency.PermitRequest) agency.PermitResult) *[]agency.PermitRequest {
	return h.agenciesAnswer(map[string]answered{firstRequest: {delay, answer(agency.PermitRequest{Agency: agency.NMPA, RequestID: firstRequest})}})
}

func granted(req agency.PermitRequest) agency.PermitResult {
	return agency.PermitResult{Agency: req.Agency, RequestID: req.RequestID, Disposition: agency.Granted,
		Permit: "NMPA-2020-0042", ValidUntil: start.AddDate(1, 0, 0), Decided: start.Add(2 * time.Hour)}
}

// A yellow-lane clearance of masks that need NMPA's permit asks NMPA once its declaration is
// accepted and goes on with its own stages; its release waits for the grant and the clearance is
// released once it comes. The time it waited on NMPA alone is NMPA's time.
func TestReleaseWaitsForTheAgencysPermit(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	asked := h.agencyAnswers(2*time.Hour, granted)
	var during Status
	h.decide(30*time.Minute, "approve", docApprove)
	h.env.RegisterDelayedCallback(func() { during = h.status() }, time.Hour)
	r := h.run(fixture())

	require.Len(t, *asked, 1)
	req := (*asked)[0]
	require.Equal(t, agency.NMPA, req.Agency)
	require.Equal(t, "clearance-3302960123-NB2020-0001/NMPA/1", req.RequestID)
	require.Equal(t, []string{"1"}, req.Lines)
	require.Equal(t, PhaseAwaitingAgency, during.Phase)
	require.Equal(t, StateAwaitingAgency, during.State)
	require.Equal(t, []string{agency.NMPA}, during.Waiting.Agencies)
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Permits, 1)
	require.Equal(t, agency.Granted, r.Permits[0].Result.Disposition)
	require.Equal(t, "NMPA-2020-0042", r.Permits[0].Result.Permit)
	release := r.Timeline[len(r.Timeline)-1]
	require.Equal(t, policy.StageRelease, release.Stage)
	require.Equal(t, start.Add(2*time.Hour), release.Started, "the release began when NMPA granted its permit")
	require.Equal(t, policy.Duration(90*time.Minute), r.Permits[0].Waited)
	require.Equal(t, map[string]policy.Duration{agency.NMPA: policy.Duration(90 * time.Minute)}, r.AgencyTime)
	require.Equal(t, policy.Duration(90*time.Minute), r.OtherAgencyTime)
}

// An agency's refusal ends the clearance refused whenever it comes, naming the agency: here while
// the document officer is still awaited, whose later decision is refused.
func TestAgencysRefusalEndsTheClearance(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	h.agencyAnswers(time.Hour, func(req agency.PermitRequest) agency.PermitResult {
		return agency.PermitResult{Agency: req.Agency, RequestID: req.RequestID, Disposition: agency.Refused,
			Reason: "the masks' registration certificate was cancelled", Officer: "nmpa-zhang", Decided: start.Add(time.Hour)}
	})
	h.decide(2*time.Hour, "late", docApprove)
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State)
	require.Equal(t, "NMPA refused the goods: the masks' registration certificate was cancelled", r.Reason)
	require.Equal(t, start.Add(time.Hour), r.Ended)
	last := r.Decisions[len(r.Decisions)-1]
	require.Equal(t, agency.NMPA, last.Agency)
	require.Equal(t, "nmpa-zhang", last.Officer)
	require.Equal(t, ViaAgency, last.Via)
	require.Equal(t, policy.StageDocumentCheck, last.Stage)
	require.NotContains(t, h.accepted, "late")
	require.Zero(t, h.notices)
}

// The exporter's withdrawal while the release waits for the agency ends the clearance withdrawn
// and withdraws the request: the agency's operation is cancelled.
func TestWithdrawalWithdrawsTheAgencysRequest(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	h.agencyAnswers(10*24*time.Hour, granted)
	var cancelled []string
	h.env.SetOnNexusOperationCanceledListener(func(service, operation string) {
		cancelled = append(cancelled, service+"/"+operation)
	})
	h.send(time.Hour, "withdraw", UpdateWithdraw, withdrawal)
	r := h.run(fixture())

	require.True(t, h.accepted["withdraw"], "%v", h.rejections["withdraw"])
	require.Equal(t, StateWithdrawn, r.State)
	require.Equal(t, []string{agency.ServiceName + "/" + agency.OperationReview}, cancelled)
	require.Nil(t, r.Permits[0].Result)
	require.Equal(t, policy.Duration(time.Hour), r.Permits[0].Waited, "the green clearance waited on NMPA from its first hour")
}

// A clearance whose lines need no agency asks none and records no marker of the single window.
func TestNoAgencyAskedWhenNoLineNeedsOne(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{{Agency: agency.NMPA, Categories: []declaration.Category{"test-kit"}, Reason: "IVD registration"}}
	asked := h.agencyAnswers(time.Hour, granted)
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Empty(t, *asked)
	require.Empty(t, r.Permits)
	require.Nil(t, r.AgencyTime)
}

// A clearance whose history grows long while its release waits for the agency continues as new
// there; the next run asks the same request again, so the agency's review goes on and its grant
// releases the clearance.
func TestAwaitingAnAgencyContinuesAsNew(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	first := h.agencyAnswers(10*24*time.Hour, granted)
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, time.Hour)
	h.send(time.Hour, "note", UpdateNote, Note{Officer: "doc-chen", Text: "NMPA called: the review takes a day"})
	in := h.continued(fixture())
	require.Len(t, *first, 1)
	require.Equal(t, &HeldBefore{Next: policy.StageRelease}, in.Carried.HeldBefore)
	require.Len(t, in.Carried.Permits, 1)
	require.Nil(t, in.Carried.Permits[0].Result)

	next := newHarness(t, policy.LaneGreen)
	next.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	next.env.SetStartTime(start.Add(time.Hour))
	again := next.agencyAnswers(time.Hour, granted)
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))
	require.Len(t, *again, 1)
	require.Equal(t, (*first)[0].RequestID, (*again)[0].RequestID, "the same request: the agency's review goes on")
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, agency.Granted, r.Permits[0].Result.Disposition)
	require.Zero(t, next.checkCalls[policy.StageDocumentCheck]+next.checkCalls[policy.StageCertificationCheck], "nothing is checked again")
}

// An answer that is not a disposition of the request is not taken: the request is asked again.
func TestAnAnswerThatIsNoDispositionIsNotTaken(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func(agency.PermitResult) agency.PermitResult
		want string
	}{
		{"another request's", func(r agency.PermitResult) agency.PermitResult { r.RequestID = "other"; return r }, "not NMPA's to"},
		{"no disposition", func(r agency.PermitResult) agency.PermitResult { r.Disposition = "maybe"; return r }, "disposition:"},
		{"a grant without a permit", func(r agency.PermitResult) agency.PermitResult { r.Permit = ""; return r }, "permit:"},
		{"a refusal without a reason", func(r agency.PermitResult) agency.PermitResult {
			r.Disposition, r.Permit = agency.Refused, ""
			return r
		}, "reason:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := agency.PermitRequest{Agency: agency.NMPA, RequestID: "r/NMPA/1"}
			err := checkPermit(req, tc.bad(granted(req)))
			require.ErrorContains(t, err, tc.want)
		})
	}
	require.NoError(t, checkPermit(agency.PermitRequest{Agency: agency.NMPA, RequestID: "r"}, granted(agency.PermitRequest{Agency: agency.NMPA, RequestID: "r"})))
}

// An amendment that adds a line the policy says needs an agency's permit asks the agency for it:
// the release waits for the grant as it does for the lines lodged. Without it, the added test
// thermometers would be released without NMPA's permit.
func TestAmendmentAddingALineAsksTheAgency(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{{Agency: agency.NMPA, Categories: []declaration.Category{declaration.CategoryThermometer},
		Reason: "NMPA registration (announcement No. 5 of 2020)"}}
	asked := h.agencyAnswers(6*time.Hour, granted)
	d := fixture()
	kits := d.Lines[0]
	kits.ID, kits.Category, kits.HSCode, kits.Description = "2", declaration.CategoryThermometer, "9025.19", "Infrared forehead thermometers"
	cert := d.Certificates[0]
	cert.Lines = []string{"1", "2"}
	inv := d.Documents[0]
	require.Equal(t, declaration.DocCommercialInvoice, inv.Type)
	inv.Amount += kits.Value
	h.send(time.Hour, "amend", UpdateAmend, Amendment{Lines: []declaration.Line{kits}, Certificates: []declaration.Certificate{cert},
		Documents: []declaration.Document{inv}, Reason: "thermometers added to the shipment"})
	h.decide(3*time.Hour, "approve", docApproveAt)
	r := h.run(d)

	require.True(t, h.accepted["amend"], "%v", h.rejections["amend"])
	require.Len(t, *asked, 1, "NMPA is asked for the added thermometers")
	require.Equal(t, []string{"2"}, (*asked)[0].Lines)
	require.Len(t, (*asked)[0].Declaration.Lines, 2, "NMPA reviews the amended declaration")
	require.Equal(t, StateReleased, r.State)
	release := r.Timeline[len(r.Timeline)-1]
	require.False(t, release.Started.Before(start.Add(7*time.Hour)), "the release began at %s, before NMPA granted", release.Started)
}

// answered is an agency's answer to a request, given after its delay from the moment the
// clearance asks.
type answered struct {
	after time.Duration
	res   agency.PermitResult
}

// agenciesAnswer makes the agencies' operation take each request under its own ID, and answer
// those in answers (by request ID), each after its delay; it returns the requests the clearance
// asked.
func (h *harness) agenciesAnswer(answers map[string]answered) *[]agency.PermitRequest {
	asked := &[]agency.PermitRequest{}
	h.env.SetOnNexusOperationStartedListener(func(_, _ string, input converter.EncodedValue) {
		var req agency.PermitRequest
		require.NoError(h.t, input.Get(&req))
		*asked = append(*asked, req)
	})
	started := &nexus.HandlerStartOperationResultAsync{}
	h.env.OnNexusOperation(agency.ServiceName, reviewOp, mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		for _, a := range args {
			if req, ok := a.(agency.PermitRequest); ok {
				started.OperationToken = req.RequestID
			}
		}
	}).Return(started, nil).Maybe()
	for id, a := range answers {
		require.NoError(h.t, h.env.RegisterNexusAsyncOperationCompletion(agency.ServiceName, agency.OperationReview, id, a.res, nil, a.after))
	}
	return asked
}

// Two agencies asked at once hold the release together: the span both held it is shared between
// them, so that their times add up to the time the release waited on agencies, as the report
// counts it, not to more than the clearance took.
func TestTwoAgenciesAtOnceShareTheirTime(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule, samrRule}
	samr := func(req agency.PermitRequest) agency.PermitResult {
		r := granted(req)
		r.Permit = "SAMR-2020-0007"
		return r
	}
	asked := h.agenciesAnswer(map[string]answered{
		firstRequest: {2 * time.Hour, granted(agency.PermitRequest{Agency: agency.NMPA, RequestID: firstRequest})},
		samrRequest:  {3 * time.Hour, samr(agency.PermitRequest{Agency: agency.SAMR, RequestID: samrRequest})},
	})
	h.decide(30*time.Minute, "approve", docApprove)
	r := h.run(fixture())

	require.Len(t, *asked, 2)
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, start.Add(3*time.Hour), r.Timeline[len(r.Timeline)-1].Started, "the release began when SAMR granted")
	// The release waited from 30 minutes: NMPA and SAMR together until NMPA granted at 2 hours,
	// SAMR alone until 3 hours.
	require.Equal(t, map[string]policy.Duration{
		agency.NMPA: policy.Duration(45 * time.Minute),
		agency.SAMR: policy.Duration(45*time.Minute + time.Hour),
	}, r.AgencyTime)
	require.Equal(t, policy.Duration(150*time.Minute), r.OtherAgencyTime)
	require.Equal(t, r.AgencyTime, AgencyTimesApart(r.Holds, r.Permits, nil, r.Ended), "the result and the report count alike")
}

// needsTestReport is NMPA's answer to request id that it needs the lot's test report.
func needsTestReport(id string) agency.PermitResult {
	return agency.PermitResult{Agency: agency.NMPA, RequestID: id, Disposition: agency.InformationNeeded,
		Reason: "the test report of the lot", Requested: []string{"the lot's test report"}, Officer: "nmpa-zhang", Decided: start.Add(time.Hour)}
}

// testReport is the exporter's answer to NMPA's request for the lot's test report.
var testReport = Supply{Documents: []declaration.Document{{Type: declaration.DocOther, Reference: "TR-2020-0815",
	Issued: time.Date(2020, 5, 6, 0, 0, 0, 0, time.UTC)}}, Note: "the lot's test report"}

// secondRequest is the request ID of a clearance's second permit request of NMPA.
const secondRequest = "clearance-3302960123-NB2020-0001/NMPA/2"

// An agency's request for more information is the exporter's to answer: the release waits for
// the exporter (the status says what the agency asked and by when), takes the documents into the
// declaration and asks the agency again with it; the agency's grant then releases the goods. The
// time the exporter took is trader time, not the agency's.
func TestAgencysRequestForInformationAwaitsTheExporter(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	asked := h.agenciesAnswer(map[string]answered{
		firstRequest:  {time.Hour, needsTestReport(firstRequest)},
		secondRequest: {time.Hour, granted(agency.PermitRequest{Agency: agency.NMPA, RequestID: secondRequest})},
	})
	h.decide(30*time.Minute, "approve", docApprove)
	var waiting, supplied Status
	askedBefore := 0
	h.env.RegisterDelayedCallback(func() { waiting, askedBefore = h.status(), len(*asked) }, 2*time.Hour)
	h.send(45*time.Minute, "early", UpdateSupplyDocuments, testReport)
	h.send(3*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	h.env.RegisterDelayedCallback(func() { supplied = h.status() }, 3*time.Hour+time.Minute)
	r := h.run(fixture())

	require.Equal(t, PhaseAwaitingAgencyInformation, waiting.Phase)
	require.Equal(t, StateAwaitingExporter, waiting.State)
	require.Equal(t, WaitingForExporter, waiting.Waiting.For)
	require.Equal(t, []string{agency.NMPA}, waiting.Waiting.Agencies)
	require.Equal(t, []string{"the lot's test report"}, waiting.Waiting.Requested)
	require.Equal(t, "NMPA: the test report of the lot", waiting.Waiting.Reason)
	require.Equal(t, start.Add(time.Hour).Add(h.cfg.Policy.InformationDeadline.D()), waiting.Waiting.Due)
	require.Contains(t, waiting.Accepts, UpdateSupplyDocuments)
	require.NotContains(t, waiting.Accepts, UpdateDecide)
	require.Equal(t, 1, askedBefore, "NMPA is not asked again before the exporter answers")

	require.ErrorContains(t, h.rejections["early"], "the clearance is not awaiting documents (it is awaiting-agency",
		"no agency has asked anything yet")
	require.True(t, h.accepted["supply"], "%v", h.rejections["supply"])
	require.Equal(t, PhaseAwaitingAgency, supplied.Phase, "NMPA reviews the answer")
	require.Len(t, *asked, 2)
	again := (*asked)[1]
	require.Equal(t, secondRequest, again.RequestID)
	require.True(t, slices.ContainsFunc(again.Declaration.Documents, func(d declaration.Document) bool { return d.Reference == "TR-2020-0815" }),
		"NMPA is asked again with the test report: %+v", again.Declaration.Documents)

	require.Equal(t, StateReleased, r.State)
	require.Equal(t, start.Add(4*time.Hour), r.Timeline[len(r.Timeline)-1].Started, "the release began when NMPA granted")
	require.Len(t, supplied.Supplies, 1)
	require.Equal(t, []string{agency.NMPA}, supplied.Supplies[0].Agencies)
	require.Equal(t, policy.Duration(2*time.Hour), r.TraderTime, "the exporter took two hours to answer NMPA")
	require.Equal(t, map[string]policy.Duration{agency.NMPA: policy.Duration(90 * time.Minute)}, r.AgencyTime,
		"NMPA held the release from 30 minutes to an hour, and for the hour of its second review")
	require.Len(t, r.Permits, 2)
	require.Equal(t, agency.InformationNeeded, r.Permits[0].Result.Disposition)
	require.Equal(t, agency.Granted, r.Permits[1].Result.Disposition)
	var told []activities.Notification
	for _, n := range h.notifications {
		if n.Kind == activities.NotifyInformationRequest {
			told = append(told, n)
		}
	}
	require.Len(t, told, 2, "told of NMPA's request as it came, and as the release waits for the answer")
	require.True(t, slices.ContainsFunc(told, func(n activities.Notification) bool { return n.Due.Equal(waiting.Waiting.Due) }),
		"the exporter is told the deadline: %+v", told)
}

// An agency's request for more information the exporter leaves unanswered lapses the clearance at
// its deadline, naming the agency; NMPA is not asked again. An answer that lacks a document type
// the agency named is refused, naming it.
func TestAgencysRequestForInformationLapses(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	needs := needsTestReport(firstRequest)
	needs.Requested = []string{string(declaration.DocQualityDeclaration)}
	asked := h.agenciesAnswer(map[string]answered{firstRequest: {time.Hour, needs}})
	h.send(2*time.Hour, "wrong", UpdateSupplyDocuments, testReport)
	r := h.run(fixture())

	require.ErrorContains(t, h.rejections["wrong"], "documents: NMPA asked for quality-declaration, which this answer does not carry")
	require.Equal(t, StateLapsed, r.State)
	deadline := h.cfg.Policy.InformationDeadline
	require.Equal(t, fmt.Sprintf("no answer to NMPA's request for information within %s", deadline), r.Reason)
	require.Equal(t, start.Add(time.Hour).Add(deadline.D()), r.Ended)
	require.Len(t, *asked, 1)
	require.Equal(t, deadline, r.TraderTime, "the exporter's time")
	require.Zero(t, h.notices)
	require.Equal(t, 1, h.notifyCalls[activities.NotifyLapsed])
}

// The exporter's withdrawal while the release waits for the answer to an agency's request ends
// the clearance withdrawn; the agency is not asked again.
func TestWithdrawalWhileAnAgencyAwaitsInformation(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	asked := h.agenciesAnswer(map[string]answered{firstRequest: {time.Hour, needsTestReport(firstRequest)}})
	h.send(2*time.Hour, "withdraw", UpdateWithdraw, withdrawal)
	r := h.run(fixture())

	require.True(t, h.accepted["withdraw"], "%v", h.rejections["withdraw"])
	require.Equal(t, StateWithdrawn, r.State)
	require.Equal(t, start.Add(2*time.Hour), r.Ended)
	require.Len(t, *asked, 1)
	require.Equal(t, policy.Duration(time.Hour), r.TraderTime)
}

// An agency that needs more information while another still decides turns the release to the
// exporter at once: the exporter answers NMPA while SAMR reviews, and the release begins once both
// have granted.
func TestAgencyInformationWhileAnotherAgencyDecides(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule, samrRule}
	asked := h.agenciesAnswer(map[string]answered{
		firstRequest:  {time.Hour, needsTestReport(firstRequest)},
		secondRequest: {time.Hour, granted(agency.PermitRequest{Agency: agency.NMPA, RequestID: secondRequest})},
		samrRequest:   {10 * time.Hour, granted(agency.PermitRequest{Agency: agency.SAMR, RequestID: samrRequest})},
	})
	h.decide(30*time.Minute, "approve", docApprove)
	var waiting Status
	h.env.RegisterDelayedCallback(func() { waiting = h.status() }, 2*time.Hour)
	h.send(3*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	r := h.run(fixture())

	require.Equal(t, PhaseAwaitingAgencyInformation, waiting.Phase, "NMPA's request goes to the exporter while SAMR decides")
	require.Equal(t, []string{agency.NMPA}, waiting.Waiting.Agencies)
	require.True(t, h.accepted["supply"], "%v", h.rejections["supply"])
	require.Len(t, *asked, 3)
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, start.Add(10*time.Hour), r.Timeline[len(r.Timeline)-1].Started, "the release began when SAMR granted")
	require.Equal(t, policy.Duration(2*time.Hour), r.TraderTime)
	require.Equal(t, policy.Duration(2*time.Hour), r.Permits[0].ExporterWait)
	// The release waited for NMPA and SAMR from 30m to 1h, for the exporter to 3h, for both again
	// to 4h and for SAMR alone to 10h: an agency's time is its own stretches, none of them the
	// exporter's. Before, SAMR's 7h were laid out as one stretch from 3h back, over the exporter's.
	require.Equal(t, map[string]policy.Duration{agency.NMPA: policy.Duration(45 * time.Minute),
		agency.SAMR: policy.Duration(6*time.Hour + 45*time.Minute)}, r.AgencyTime)
	require.Equal(t, policy.Duration(7*time.Hour+30*time.Minute), r.OtherAgencyTime)
}

// An amendment in the release stage adds a line NMPA's permit covers; NMPA needs more information
// while the release officer still decides, and the officer approves. The release notice waits for
// the exporter's answer and NMPA's grant: without it, the notice went out with NMPA's request
// unanswered and no permit.
func TestReleaseApprovedWaitsForTheAnswerAnAgencyNeeds(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	asked, d := thermometersAddedInTheRelease(h)
	releaseApprovedAt(h, 5*time.Hour)
	var waiting Status
	h.env.RegisterDelayedCallback(func() { waiting = h.status() }, 5*time.Hour+30*time.Minute)
	h.send(6*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	r := h.run(d)

	require.True(t, h.accepted["amend"], "%v", h.rejections["amend"])
	require.True(t, h.accepted["consent"], "%v", h.rejections["consent"])
	require.True(t, h.accepted["rel"], "%v", h.rejections["rel"])
	require.Equal(t, PhaseAwaitingAgencyInformation, waiting.Phase, "the approved release waits for the exporter's answer to NMPA")
	require.True(t, h.accepted["supply"], "%v", h.rejections["supply"])
	require.Len(t, *asked, 2)
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, agency.Granted, r.Permits[len(r.Permits)-1].Result.Disposition)
	require.Len(t, h.releaseRequests, 1)
	require.False(t, r.Ended.Before(start.Add(7*time.Hour)), "released at %s, before NMPA granted", r.Ended)
}

// thermometersAddedInTheRelease: the biological kits of fixture() pass the document check and the
// biological review; at 3h the exporter adds infrared thermometers, which need NMPA's permit, and
// rel-zhou consents at 3h30. NMPA needs the lot's test report an hour after it is asked (the
// first request), and grants the second request an hour after it is asked.
func thermometersAddedInTheRelease(h *harness) (*[]agency.PermitRequest, declaration.Declaration) {
	return thermometersAddedInTheReleaseAnswered(h, map[string]answered{
		firstRequest:  {time.Hour, needsTestReport(firstRequest)},
		secondRequest: {time.Hour, granted(agency.PermitRequest{Agency: agency.NMPA, RequestID: secondRequest})},
	})
}

// thermometersAddedInTheReleaseAnswered is thermometersAddedInTheRelease with NMPA's answers.
func thermometersAddedInTheReleaseAnswered(h *harness, answers map[string]answered) (*[]agency.PermitRequest, declaration.Declaration) {
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{{Agency: agency.NMPA, Categories: []declaration.Category{declaration.CategoryThermometer},
		Reason: "NMPA registration (announcement No. 5 of 2020)"}}
	asked := h.agenciesAnswer(answers)
	d := biological(fixture())
	kits := d.Lines[0]
	kits.ID, kits.Category, kits.HSCode, kits.Description = "3", declaration.CategoryThermometer, "9025.19", "Infrared forehead thermometers"
	cert := d.Certificates[0]
	cert.Lines = []string{"1", "2", "3"}
	inv := d.Documents[slices.IndexFunc(d.Documents, func(x declaration.Document) bool { return x.Type == declaration.DocCommercialInvoice })]
	inv.Amount += kits.Value
	h.decide(time.Hour, "doc", docApproveAt)
	h.decide(2*time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.send(3*time.Hour, "amend", UpdateAmend, Amendment{Lines: []declaration.Line{kits}, Certificates: []declaration.Certificate{cert},
		Documents: []declaration.Document{inv}, Reason: "thermometers added to the shipment"})
	h.send(3*time.Hour+30*time.Minute, "consent", UpdateDecideAmendment, AmendmentDecision{Officer: "rel-zhou", Amendment: 1, Outcome: AmendmentConsent})
	return asked, d
}

// releaseApprovedAt: rel-zhou approves the release after after.
func releaseApprovedAt(h *harness, after time.Duration) {
	h.decide(after, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove, Reason: "reviewed"})
}

// A customs hold placed while an approved release waits for an agency (here for the exporter's
// answer to NMPA, then for NMPA) stops the notice until it is lifted, as every hold does
// (ChangeNoticeWaitsForHoldsAfterAgencies). Before, NMPA's grant issued the notice at 7h over
// the standing hold.
func TestApprovedReleaseWaitingForAnAgencyKeepsAHold(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	_, d := thermometersAddedInTheRelease(h)
	releaseApprovedAt(h, 5*time.Hour)
	h.send(5*time.Hour+30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Reason: "intelligence: counterfeit thermometers"})
	h.send(6*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	var held Status
	h.env.RegisterDelayedCallback(func() { held = h.status() }, 8*time.Hour)
	h.send(9*time.Hour, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "the lot checked"})
	r := h.run(d)

	for _, name := range []string{"hold", "supply", "lift"} {
		require.True(t, h.accepted[name], "%s: %v", name, h.rejections[name])
	}
	require.Equal(t, PhaseHeld, held.Phase, "NMPA granted at 7h; the hold stands")
	require.Equal(t, StateReleased, r.State)
	require.Len(t, h.releaseRequests, 1)
	require.False(t, r.Ended.Before(start.Add(9*time.Hour)), "released at %s, before the hold was lifted", r.Ended)
}

// An agency's refusal taken while the clearance continues as new ends it refused
// (ChangeOutcomeBeforeContinuing). Before, the run continued all the same: the refusal stayed on
// the record, but the next run asked the agency again and could release the goods.
func TestAnAgencysRefusalWhileContinuingEndsTheClearance(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	h.agenciesAnswer(map[string]answered{firstRequest: {time.Hour, agency.PermitResult{Agency: agency.NMPA, RequestID: firstRequest,
		Disposition: agency.Refused, Reason: "the masks' registration certificate was cancelled", Officer: "nmpa-zhang", Decided: start.Add(time.Hour)}}})
	// The server suggests continuing as new in the workflow task that brings NMPA's refusal.
	h.env.SetOnNexusOperationCompletedListener(func(_, _ string, _ converter.EncodedValue, _ error) { h.env.SetContinueAsNewSuggested(true) })
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State, "NMPA refused the goods")
	require.Equal(t, "NMPA refused the goods: the masks' registration certificate was cancelled", r.Reason)
	require.Empty(t, h.releaseRequests)
}

// A request an amendment superseded is not waited for after the request that replaced it was
// asked: its time is not the agency's twice. Before, the request superseded at 1h and never
// answered gathered the release's whole wait for its successor as NMPA's time, 2h for 1h, and
// it was recorded as not withdrawn once the clearance ended.
func TestASupersededRequestIsNotWaitedFor(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	h.agenciesAnswer(map[string]answered{
		// The first request is never answered; the second, asked on the amendment at 1h, is granted at 3h.
		secondRequest: {2 * time.Hour, granted(agency.PermitRequest{Agency: agency.NMPA, RequestID: secondRequest})},
	})
	h.send(time.Hour, "amend", UpdateAmend, shortShipment())
	h.decide(2*time.Hour, "approve", docApproveAt)
	h.send(150*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Reason: "intelligence"})
	h.send(6*time.Hour, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "checked"})
	r := h.run(fixture())

	require.True(t, h.accepted["amend"], "%v", h.rejections["amend"])
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Permits, 2)
	first := r.Permits[0]
	require.True(t, first.Superseded && first.Withdrawn, "the first request: superseded %v, withdrawn %v", first.Superseded, first.Withdrawn)
	require.Equal(t, policy.Duration(time.Hour), r.AgencyTime[agency.NMPA], "the release waited on NMPA from 2h to 3h")
}

// A clearance that continues as new while its release officer decides, with an agency's request
// for more information standing, goes on in the same wait: the officer decides, and the notice
// waits for the exporter's answer, as it would have without the continuation
// (ChangeReleaseResumesAtItsOfficer). Before, the next run turned to the exporter at once, and the
// officer could not decide until the answer came.
func TestReleaseInProgressResumesAtItsOfficer(t *testing.T) {
	in, before, next := continuedWhileTheReleaseOfficerDecides(t)
	var resumed, waiting Status
	next.env.RegisterDelayedCallback(func() { resumed = next.status() }, time.Minute)
	next.decide(time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove, Reason: "reviewed"})
	next.env.RegisterDelayedCallback(func() { waiting = next.status() }, 90*time.Minute)
	next.send(2*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	next.execute(in)
	require.Equal(t, before.Phase, resumed.Phase, "the next run goes on in the wait the last one stood in")
	require.Equal(t, before.Stage, resumed.Stage)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))

	require.True(t, next.accepted["rel"], "%v", next.rejections["rel"])
	require.Equal(t, PhaseAwaitingAgencyInformation, waiting.Phase, "the approved release waits for the exporter's answer to NMPA")
	require.True(t, next.accepted["supply"], "%v", next.rejections["supply"])
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, agency.Granted, r.Permits[len(r.Permits)-1].Result.Disposition)
	require.Len(t, next.releaseRequests, 1)
}

// continuedWhileTheReleaseOfficerDecides: thermometersAddedInTheRelease, NMPA needing more
// information at 4h30 while the release officer decides, and the clearance continuing as new at
// 5h. It returns the next run's input, the last status before, and the next run's harness, from
// 5h, in which NMPA grants its second request an hour after it is asked.
func continuedWhileTheReleaseOfficerDecides(t *testing.T) (Input, Status, *harness) {
	h := newHarness(t, policy.LaneYellow)
	_, d := thermometersAddedInTheRelease(h)
	var before Status
	h.env.RegisterDelayedCallback(func() { before = h.status() }, 4*time.Hour+40*time.Minute)
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, 4*time.Hour+45*time.Minute)
	h.send(5*time.Hour, "note", UpdateNote, Note{Officer: "rel-zhou", Text: "NMPA asked for the lot's test report"})
	in := h.continued(d)
	require.Equal(t, PhaseAwaitingOfficer, before.Phase, "NMPA needs more information; the release officer decides meanwhile")
	require.Equal(t, policy.StageRelease, before.Stage)

	next, _ := nextRun(t, h, 5*time.Hour)
	return in, before, next
}

// A release taken up where an earlier run stood in it goes on at its officer once: rerouted to red
// and come back to the release, the clearance awaits the agencies before the release begins, as
// it would have without the continuation. Before, the flag held for the whole run, and the
// release officer approved while NMPA's request for information stood unanswered.
func TestAReleaseComeBackToAfterAResumeAwaitsTheAgencies(t *testing.T) {
	in, _, next := continuedWhileTheReleaseOfficerDecides(t)
	next.send(10*time.Minute, "reroute", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneRed, Reason: "intelligence on this consignment"})
	next.decide(20*time.Minute, "cert", Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove})
	next.decide(30*time.Minute, "insp", Decision{Stage: policy.StagePhysicalInspection, Officer: "insp-sun", Outcome: OutcomeApprove})
	var st Status
	next.env.RegisterDelayedCallback(func() { st = next.status() }, 40*time.Minute)
	next.decide(50*time.Minute, "rel-early", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove, Reason: "reviewed"})
	next.send(2*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	next.decide(4*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove, Reason: "reviewed"})
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))

	require.True(t, next.accepted["reroute"], "%v", next.rejections["reroute"])
	require.Equal(t, PhaseAwaitingAgencyInformation, st.Phase, "back at the release, NMPA's request for information is the exporter's to answer first")
	require.False(t, next.accepted["rel-early"], "the release officer approved before the release began")
	require.True(t, next.accepted["rel"], "%v", next.rejections["rel"])
	require.Equal(t, StateReleased, r.State)
	require.Len(t, next.releaseRequests, 1)
}

// A request a run of an earlier release waited for kept its wait in Waited only; a later run
// adds stretches. Its agency's time is both: the earlier wait comes before the stretches.
func TestAgencyTimeOfARequestWaitedForBeforeStretchesWereKept(t *testing.T) {
	p := PermitRecord{Agency: agency.NMPA, RequestID: firstRequest, Asked: start, Answered: start.Add(2 * time.Hour),
		Waited: policy.Duration(2 * time.Hour), Waits: []Stretch{{From: start.Add(time.Hour), Until: start.Add(2 * time.Hour)}},
		Result: &agency.PermitResult{Agency: agency.NMPA, RequestID: firstRequest, Disposition: agency.Granted, Permit: "NMPA-1"}}
	got := AgencyTimesApart(nil, []PermitRecord{p}, nil, start.Add(3*time.Hour))
	require.Equal(t, map[string]policy.Duration{agency.NMPA: policy.Duration(2 * time.Hour)}, got)
}

// The notice of an approved release that waits for an agency, and for the exporter's answer it
// needs, waits outside the release stage's allowance (ChangeApprovedReleaseWaitsOutsideItsAllowance):
// the release officer has decided, and the wait is the agency's and the exporter's time. Before,
// the release stage was escalated to the supervisor two days in, and recorded as overrun.
func TestApprovedReleaseWaitsForAnAgencyOutsideItsAllowance(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	_, d := thermometersAddedInTheRelease(h)
	releaseApprovedAt(h, 5*time.Hour)
	h.send(77*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	r := h.run(d)

	require.True(t, h.accepted["supply"], "%v", h.rejections["supply"])
	require.Equal(t, StateReleased, r.State)
	require.Empty(t, r.Escalations, "customs' release stage escalated for NMPA's and the exporter's time")
	rel := r.Timeline[len(r.Timeline)-1]
	require.Equal(t, policy.StageRelease, rel.Stage)
	require.False(t, rel.Overrun, "the release stage: %s for an allowance of %s, due %s", rel.Duration.D(), rel.Allowance.D(), rel.Due)
	require.Equal(t, policy.Duration(73*time.Hour), rel.PermitWait, "from the approval at 5h to NMPA's grant at 78h")
}

// A run that an earlier release continued with an agency's refusal left behind (before
// ChangeOutcomeBeforeContinuing) carries it out when it starts (ChangeCarriedRefusalEnds): it ends
// refused, naming the agency, and asks the agency nothing again. Before, it asked the agency again
// and could release the goods the agency had refused.
func TestACarriedRefusalEndsTheNextRun(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.SingleWindow = []policy.AgencyRule{nmpaRule}
	h.agenciesAnswer(map[string]answered{firstRequest: {time.Hour, agency.PermitResult{Agency: agency.NMPA, RequestID: firstRequest,
		Disposition: agency.Refused, Reason: "the masks' registration certificate was cancelled", Officer: "nmpa-zhang", Decided: start.Add(time.Hour)}}})
	h.env.OnGetVersion(ChangeOutcomeBeforeContinuing, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.env.SetOnNexusOperationCompletedListener(func(_, _ string, _ converter.EncodedValue, _ error) { h.env.SetContinueAsNewSuggested(true) })
	in := h.continued(fixture())
	require.Equal(t, agency.Refused, in.Carried.Permits[0].Result.Disposition, "the earlier release continued with NMPA's refusal")

	next, asked := nextRun(t, h, time.Hour)
	next.decide(2*time.Hour, "approve", docApproveAt)
	r := refusedRun(t, next, in, "NMPA refused the goods: the masks' registration certificate was cancelled")

	require.Empty(t, *asked, "NMPA is asked nothing again")
	require.Len(t, r.Decisions, 1, "the refusal is recorded once")
	require.Equal(t, OutcomeRefused, r.Timeline[len(r.Timeline)-1].Outcome)
}

// The same, where the earlier release continued while the approved release's notice waited for
// NMPA, which refused: the next run issues no notice.
func TestACarriedRefusalEndsTheNoticeWait(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	_, d := thermometersAddedInTheReleaseAnswered(h, map[string]answered{firstRequest: {3 * time.Hour, agency.PermitResult{
		Agency: agency.NMPA, RequestID: firstRequest, Disposition: agency.Refused, Reason: "the thermometers hold no NMPA registration",
		Officer: "nmpa-zhang", Decided: start.Add(6*time.Hour + 30*time.Minute)}}})
	releaseApprovedAt(h, 5*time.Hour)
	h.env.OnGetVersion(ChangeOutcomeBeforeContinuing, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.env.SetOnNexusOperationCompletedListener(func(_, _ string, _ converter.EncodedValue, _ error) { h.env.SetContinueAsNewSuggested(true) })
	in := h.continued(d)
	require.NotNil(t, in.Carried.HeldBefore)
	require.True(t, in.Carried.HeldBefore.Notice, "the earlier release continued in the approved release's wait for NMPA")

	next, _ := nextRun(t, h, 6*time.Hour+30*time.Minute)
	refusedRun(t, next, in, "NMPA refused the goods: the thermometers hold no NMPA registration")
}

// A hold that stands once the agencies have answered is customs' time: the release stage's
// allowance is watched again, from the due time the agencies' wait moved on, and the stage is
// escalated when the hold outlasts it.
func TestAHoldAfterTheAgenciesIsWatchedAgainstTheAllowance(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	_, d := thermometersAddedInTheRelease(h)
	releaseApprovedAt(h, 5*time.Hour)
	h.send(5*time.Hour+30*time.Minute, "hold", UpdateHold, Hold{Supervisor: "sup-huang", Reason: "intelligence: counterfeit thermometers"})
	h.send(6*time.Hour, "supply", UpdateSupplyDocuments, testReport)
	h.send(7*time.Hour+4*24*time.Hour, "lift", UpdateLift, Lift{Supervisor: "sup-huang", Disposition: DispositionMayProceed, Reason: "the lot checked"})
	r := h.run(d)

	require.True(t, h.accepted["lift"], "%v", h.rejections["lift"])
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Escalations, 1, "the hold outlasted the release stage's allowance")
	require.Equal(t, policy.StageRelease, r.Escalations[0].Stage)
	require.True(t, r.Timeline[len(r.Timeline)-1].Overrun)
}

// nextRun is the harness of the run that continues h's clearance, from after: the same policy,
// and NMPA granting its second request an hour after it is asked. asked are the requests it asks.
func nextRun(t *testing.T, h *harness, after time.Duration) (*harness, *[]agency.PermitRequest) {
	next := newHarness(t, policy.LaneYellow)
	next.cfg.Policy.SingleWindow = h.cfg.Policy.SingleWindow
	next.env.SetStartTime(start.Add(after))
	return next, next.agenciesAnswer(map[string]answered{secondRequest: {time.Hour, granted(agency.PermitRequest{Agency: agency.NMPA, RequestID: secondRequest})}})
}

// refusedRun runs next from in to its end, and says it ended refused for reason, with no
// release notice asked for.
func refusedRun(t *testing.T, next *harness, in Input, reason string) Result {
	next.execute(in)
	require.NoError(t, next.env.GetWorkflowError())
	var r Result
	require.NoError(t, next.env.GetWorkflowResult(&r))
	require.Equal(t, StateRefused, r.State)
	require.Equal(t, reason, r.Reason)
	require.Empty(t, next.releaseRequests, "no notice for goods the agency refused")
	return r
}
