package workflows

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

var start = time.Date(2020, 4, 1, 9, 0, 0, 0, time.UTC)

// fixture is a valid declaration of surgical masks to the US.
func fixture() declaration.Declaration {
	return declaration.Declaration{
		ID:           "NB2020-0001",
		Exporter:     declaration.Party{Name: "Ningbo Mediguard Export Co., Ltd.", Code: "3302960123", Country: "CN"},
		Manufacturer: declaration.Party{Name: "Ningbo Mediguard Medical Products Co., Ltd.", Code: "91330201MA2AB1234X", Country: "CN"},
		Consignee:    declaration.Party{Name: "Midwest Medical Supply LLC", Country: "US"},
		Destination:  "US",
		Transport:    declaration.TransportAir,
		Lines: []declaration.Line{{
			ID: "1", HSCode: "6307.90", Description: "Disposable surgical masks, 3-ply", Quantity: 200000,
			Unit: "pcs", Value: 4000000, Currency: "USD", Category: declaration.CategoryMedicalMask, DeviceClass: declaration.DeviceClassIIa,
		}},
		Certificates: []declaration.Certificate{{
			Scheme: declaration.SchemeFDA510K, Number: "K200123", Holder: "Ningbo Mediguard Medical Products Co., Ltd.",
			Lines: []string{"1"}, ValidFrom: start.AddDate(-1, 0, 0), ValidTo: start.AddDate(5, 0, 0),
		}},
		Documents: []declaration.Document{
			{Type: declaration.DocCommercialInvoice, Reference: "INV-1", Amount: 4000000, Currency: "USD"},
			{Type: declaration.DocPackingList, Reference: "PL-1"},
		},
	}
}

func biological(d declaration.Declaration) declaration.Declaration {
	d.Lines = append(d.Lines, declaration.Line{
		ID: "2", HSCode: "3822.00", Description: "COVID-19 IgG/IgM antibody rapid test kits", Quantity: 10000, Unit: "kits",
		Value: 5000000, Currency: "USD", Category: declaration.CategoryTestKit, Biological: true, RiskClass: declaration.RiskD,
	})
	d.Documents[0].Amount += 5000000
	d.Certificates[0].Lines = []string{"1", "2"}
	return d
}

// harness runs the workflow in the SDK test environment with mocked activities.
type harness struct {
	testsuite.WorkflowTestSuite
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	cfg activities.Configuration

	mu          sync.Mutex
	lane        policy.Lane
	laneErr     error
	checks      map[policy.Stage][]func(activities.CheckInput) (activities.CheckResult, error)
	checkCalls  map[policy.Stage]int
	notices     int
	noticeCalls int
	// registrations are the declarations register's answers; registrationErr refuses one.
	// priority is the queue priority the lane selection gives.
	priority        string
	registrations   []activities.Registration
	registrationErr error
	releaseRequests []activities.ReleaseRequest
	// noticeFailures is how many release notice attempts fail first.
	noticeFailures int
	notifications  []activities.Notification
	// notifyFailures is how many attempts to tell the exporter of each kind fail first.
	notifyFailures map[activities.NotificationKind]int
	notifyCalls    map[activities.NotificationKind]int
	// laneErrs are the errors of the first lane selection attempts, in order.
	laneErrs   []error
	sa         map[string]any
	upserts    []map[string]any
	timers     []string
	rejections map[string]error
	accepted   map[string]bool
}

func newHarness(t *testing.T, lane policy.Lane) *harness {
	h := &harness{
		t: t, lane: lane,
		cfg:        activities.Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()},
		checks:     map[policy.Stage][]func(activities.CheckInput) (activities.CheckResult, error){},
		checkCalls: map[policy.Stage]int{},
		sa:         map[string]any{},
		rejections: map[string]error{},
		accepted:   map[string]bool{},

		notifyFailures: map[activities.NotificationKind]int{},
		notifyCalls:    map[activities.NotificationKind]int{},
	}
	h.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h.env = h.NewTestWorkflowEnvironment()
	h.env.SetStartTime(start)
	h.env.RegisterWorkflowWithOptions(ExportClearance, workflow.RegisterOptions{Name: WorkflowName})
	h.env.RegisterActivity(&activities.Activities{})
	h.env.OnActivity(a.LoadConfiguration, mock.Anything).Return(
		func(context.Context) (activities.Configuration, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.cfg, nil
		}).Maybe()
	h.env.OnActivity(a.SelectLane, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.CheckInput) (activities.LaneSelection, error) {
			h.mu.Lock()
			if len(h.laneErrs) > 0 {
				err := h.laneErrs[0]
				h.laneErrs = h.laneErrs[1:]
				h.mu.Unlock()
				return activities.LaneSelection{}, err
			}
			h.mu.Unlock()
			if h.laneErr != nil {
				return activities.LaneSelection{}, h.laneErr
			}
			return activities.LaneSelection{Lane: h.lane, Reasons: []string{"test"}, Priority: h.priority}, nil
		}).Maybe()
	for stage, fn := range map[policy.Stage]any{
		policy.StageDocumentCheck:      a.CheckDocuments,
		policy.StageBiologicalReview:   a.PrescreenBiological,
		policy.StageCertificationCheck: a.VerifyCertificates,
		policy.StagePhysicalInspection: a.PlanInspection,
	} {
		stage := stage
		h.env.OnActivity(fn, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.CheckInput) (activities.CheckResult, error) {
				return h.check(stage, in)
			}).Maybe()
	}
	h.env.OnActivity(a.RegisterDeclaration, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.Registration) (activities.Registered, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.registrations = append(h.registrations, r)
			if h.registrationErr != nil {
				return activities.Registered{}, h.registrationErr
			}
			return activities.Registered{Registration: r, Number: "ED-2020-00000001", LodgedAt: start}, nil
		}).Maybe()
	h.env.OnActivity(a.IssueReleaseNotice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.ReleaseRequest) (activities.ReleaseNotice, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.releaseRequests = append(h.releaseRequests, r)
			h.noticeCalls++
			if h.noticeCalls <= h.noticeFailures {
				return activities.ReleaseNotice{}, errors.New("release register unavailable")
			}
			h.notices++
			return activities.ReleaseNotice{Number: "RN-2020-00000001", DeclarationID: r.DeclarationID, IssuedAt: start}, nil
		}).Maybe()
	h.env.OnActivity(a.NotifyExporter, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notification) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notifyCalls[n.Kind]++
			if h.notifyCalls[n.Kind] <= h.notifyFailures[n.Kind] {
				return errors.New("exporter endpoint unavailable")
			}
			h.notifications = append(h.notifications, n)
			return nil
		}).Maybe()
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		u := map[string]any{}
		for k, v := range args.Get(0).(temporal.SearchAttributes).GetUntypedValues() {
			h.sa[k.GetName()] = v
			u[k.GetName()] = v
		}
		h.upserts = append(h.upserts, u)
	}).Maybe()
	h.env.SetOnTimerScheduledListener(func(timerID string, _ time.Duration) { h.timers = append(h.timers, timerID) })
	return h
}

// onCheck queues results for a stage's checks; the last one repeats.
func (h *harness) onCheck(stage policy.Stage, fns ...func(activities.CheckInput) (activities.CheckResult, error)) {
	h.checks[stage] = fns
}

func (h *harness) check(stage policy.Stage, in activities.CheckInput) (activities.CheckResult, error) {
	h.mu.Lock()
	n := h.checkCalls[stage]
	h.checkCalls[stage]++
	fns := h.checks[stage]
	h.mu.Unlock()
	if len(fns) == 0 {
		return activities.CheckResult{Stage: stage, CheckedAt: in.On}, nil
	}
	if n >= len(fns) {
		n = len(fns) - 1
	}
	return fns[n](in)
}

func findings(sev activities.Severity, code string) func(activities.CheckInput) (activities.CheckResult, error) {
	return func(in activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{CheckedAt: in.On, Findings: []activities.Finding{{Code: code, Severity: sev, Message: code}}}, nil
	}
}

// send sends an update after a delay and records whether it was accepted or why it was refused.
func (h *harness) send(after time.Duration, id, name string, arg any) {
	h.env.RegisterDelayedCallback(func() { h.update(id, name, arg) }, after)
}

// update sends an update now (from a delayed callback) and records whether it was accepted or
// why it was refused.
func (h *harness) update(id, name string, arg any) {
	h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() { h.accepted[id] = true },
		OnReject: func(err error) { h.rejections[id] = err },
		OnComplete: func(_ any, err error) {
			if err != nil {
				h.rejections[id] = err
			}
		},
	}, arg)
}

func (h *harness) decide(after time.Duration, id string, d Decision) {
	h.send(after, id, UpdateDecide, d)
}

func (h *harness) status() Status {
	v, err := h.env.QueryWorkflow(QueryStatus)
	require.NoError(h.t, err)
	var s Status
	require.NoError(h.t, v.Get(&s))
	return s
}

// execute runs the clearance workflow under its declaration's workflow ID.
func (h *harness) execute(in Input) {
	id, err := WorkflowID(in.Declaration.Exporter.Code, in.Declaration.ID)
	require.NoError(h.t, err)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue})
	h.env.ExecuteWorkflow(WorkflowName, in)
}

func (h *harness) run(d declaration.Declaration) Result {
	h.execute(Input{Declaration: d})
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var r Result
	require.NoError(h.t, h.env.GetWorkflowResult(&r))
	h.env.AssertExpectations(h.t)
	return r
}

func stages(r Result) []policy.Stage {
	var out []policy.Stage
	for _, s := range r.Timeline {
		out = append(out, s.Stage)
	}
	return out
}

func TestGreenLaneReleasesWithoutOfficers(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.Equal(t, []policy.Stage{policy.StageDocumentCheck, policy.StageCertificationCheck, policy.StageRelease}, stages(r))
	require.NotNil(t, r.Notice)
	require.Equal(t, 1, h.notices)
	for _, d := range r.Decisions {
		require.Equal(t, ViaAutomatic, d.Via)
		require.Equal(t, OutcomeApprove, d.Outcome)
	}
	for _, s := range r.Timeline {
		require.Equal(t, "cleared", s.Outcome)
		require.False(t, s.Overrun)
	}
	require.Equal(t, policy.Duration(2*24*time.Hour), r.Timeline[0].Allowance)
	require.Equal(t, policy.Duration(20*24*time.Hour), r.Standard)
	require.True(t, r.WithinStandard)
	require.Equal(t, r.Standard-r.Elapsed, r.Margin)
	require.Equal(t, "released", h.sa[SAStatus])
	require.Equal(t, "green", h.sa[SALane])
	require.Equal(t, "release", h.sa[SAStage])
	require.Equal(t, "3302960123", h.sa[SAExporterCode])
	require.Equal(t, "US", h.sa[SADestinationCountry])
	require.Equal(t, []string{"medical-mask"}, h.sa[SAProductCategories])
	require.Equal(t, false, h.sa[SAExpedited])
	require.Equal(t, false, h.sa[SASlaBreached])
	require.Len(t, h.notifications, 1)
	require.Equal(t, activities.NotifyReleased, h.notifications[0].Kind)
}

func TestYellowLaneOfficerApprovesDocuments(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var during Status
	h.env.RegisterDelayedCallback(func() { during = h.status() }, time.Hour)
	h.decide(3*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Equal(t, StateAwaitingOfficer, during.State)
	require.Equal(t, policy.StageDocumentCheck, during.Stage)
	require.NotNil(t, during.Waiting)
	require.Equal(t, policy.RoleDocument, during.Waiting.Role)
	require.Equal(t, []string{"doc-li", "doc-chen", "sup-huang"}, during.Waiting.Officers)
	require.Equal(t, start.Add(48*time.Hour), during.Waiting.Due)

	require.Equal(t, StateReleased, r.State)
	require.True(t, h.accepted["d1"])
	require.Equal(t, "approved", r.Timeline[0].Outcome)
	require.Equal(t, policy.Duration(3*time.Hour), r.Timeline[0].Duration)
	require.Equal(t, policy.Duration(3*time.Hour), r.Timeline[0].OfficerWait)
	officer := r.Decisions[0]
	require.Equal(t, "doc-li", officer.Officer)
	require.Equal(t, ViaUpdate, officer.Via)
	require.Equal(t, start.Add(3*time.Hour), officer.At)
}

func TestOfficerRejects(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: OutcomeReject,
		Reason: "invoice does not match the packing list"})
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State)
	require.Equal(t, "invoice does not match the packing list", r.Reason)
	require.Equal(t, policy.StageDocumentCheck, r.Stage)
	require.Len(t, r.Timeline, 1)
	require.Equal(t, "refused", r.Timeline[0].Outcome)
	require.Nil(t, r.Notice)
	require.Zero(t, h.notices)
	require.Equal(t, "refused", h.sa[SAStatus])
	require.Equal(t, activities.NotifyRefused, h.notifications[0].Kind)
}

func TestRequestAndSupplyReRunsChecks(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.onCheck(policy.StageDocumentCheck,
		findings(activities.SeverityError, "missing-quality-declaration"),
		findings(activities.SeverityInfo, "documents-complete"))
	var waiting Status
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation,
		Reason: "attach the manufacturer's quality declaration", Requested: []string{"quality-declaration"}})
	h.env.RegisterDelayedCallback(func() { waiting = h.status() }, 2*time.Hour)
	h.send(26*time.Hour, "s1", UpdateSupplyDocuments, Supply{
		Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-2020-17"}}, Note: "attached"})
	h.decide(30*time.Hour, "d2", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Equal(t, StateAwaitingExporter, waiting.State)
	require.Equal(t, "exporter-documents", waiting.Waiting.For)
	require.Equal(t, "3302960123", waiting.Waiting.Exporter)
	require.Equal(t, start.Add(time.Hour+5*24*time.Hour), waiting.Waiting.Due)
	require.True(t, h.accepted["s1"])
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, 2, h.checkCalls[policy.StageDocumentCheck])
	require.Equal(t, policy.Duration(25*time.Hour), r.Timeline[0].ExporterWait)
	require.Equal(t, policy.Duration(5*time.Hour), r.Timeline[0].OfficerWait)
	require.Equal(t, 2, r.Timeline[0].CheckRuns)
	require.Equal(t, activities.NotifyInformationRequest, h.notifications[0].Kind)
}

func TestSuppliedDocumentsReachTheChecks(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var second activities.CheckInput
	h.onCheck(policy.StageDocumentCheck,
		findings(activities.SeverityError, "missing-quality-declaration"),
		func(in activities.CheckInput) (activities.CheckResult, error) {
			second = in
			return activities.CheckResult{CheckedAt: in.On}, nil
		})
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "quality declaration"})
	h.send(2*time.Hour, "s1", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-9"}}})
	h.decide(3*time.Hour, "d2", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Len(t, second.Declaration.Documents, 3)
	require.Equal(t, "QD-9", second.Declaration.Documents[2].Reference)
}

func TestRequestLapsesWithoutAnswer(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "packing list is illegible"})
	r := h.run(fixture())

	require.Equal(t, StateLapsed, r.State)
	require.Contains(t, r.Reason, "5d")
	require.Equal(t, start.Add(time.Hour+5*24*time.Hour), r.Ended)
	require.Equal(t, "lapsed", r.Timeline[0].Outcome)
	require.Equal(t, "lapsed", h.sa[SAStatus])
	require.Equal(t, activities.NotifyLapsed, h.notifications[len(h.notifications)-1].Kind)
	// Trader time stopped the clock: the exporter's silence did not overrun the allowance.
	require.False(t, r.Timeline[0].Escalated)
	require.Equal(t, policy.Duration(5*24*time.Hour), r.Timeline[0].ClockStopped)
}

// TestTraderTimeCountedOverrunsTheAllowance: with traderTime "count", the exporter's silence
// counts: the document check overruns its 2-day allowance while the exporter is asked.
func TestTraderTimeCountedOverrunsTheAllowance(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.TraderTime = policy.TraderTimeCounts
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "packing list is illegible"})
	r := h.run(fixture())
	require.Equal(t, StateLapsed, r.State)
	require.True(t, r.Timeline[0].Escalated)
	require.Zero(t, r.Timeline[0].ClockStopped)
	require.Equal(t, r.Elapsed, r.Counted)
}

// TestTraderTimeStopsTheClock: while the exporter is asked, the document check's allowance
// stands still: the exporter's three days move its due time on by three days, the officer's
// decision a day and a half into customs time is within it, and the standard counts customs time
// only; the result says how much was trader time.
func TestTraderTimeStopsTheClock(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "quality declaration"})
	h.send(time.Hour+72*time.Hour, "s1", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-9"}}})
	var waiting *Waiting
	h.env.RegisterDelayedCallback(func() { waiting = h.status().Waiting }, 2*time.Hour)
	// 4.5 days after submission: past the 2-day allowance in calendar time, 1.5 days of customs time.
	h.decide(108*time.Hour, "d2", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	doc := r.Timeline[0]
	require.False(t, doc.Escalated, "customs time stayed within the allowance")
	require.Empty(t, r.Escalations)
	require.Equal(t, policy.Duration(72*time.Hour), doc.ClockStopped)
	require.Equal(t, start.Add(48*time.Hour+72*time.Hour), doc.Due, "the due time moved on by the exporter's time")
	require.Equal(t, policy.Duration(72*time.Hour), r.TraderTime)
	require.Equal(t, r.Elapsed-policy.Duration(72*time.Hour), r.Counted)
	require.True(t, r.WithinStandard)
	require.NotNil(t, waiting)
	require.True(t, waiting.ClockStopped, "the status says the allowance stands still while the exporter is asked")
}

// TestTraderTimeStoppedStageStillEscalatesAfterTheAnswer: the allowance is watched again from the
// exporter's answer, to the moved due time, and escalates there.
func TestTraderTimeStoppedStageStillEscalatesAfterTheAnswer(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "quality declaration"})
	h.send(25*time.Hour, "s1", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-9"}}})
	h.decide(10*24*time.Hour, "d2", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())
	require.Len(t, r.Escalations, 1)
	require.Equal(t, start.Add(48*time.Hour+24*time.Hour), r.Escalations[0].At, "escalated at the due time moved on by the day the exporter took")
}

// TestTraderTimeOfAnEarlierReleaseCounts: a clearance started before
// ChangeTraderTimeStopsTheClock keeps counting the exporter's time, as it did.
func TestTraderTimeOfAnEarlierReleaseCounts(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.env.OnGetVersion(ChangeTraderTimeStopsTheClock, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "packing list is illegible"})
	r := h.run(fixture())
	require.True(t, r.Timeline[0].Escalated)
	require.Zero(t, r.Timeline[0].ClockStopped)
}

func TestOverrunEscalatesAndKeepsWaiting(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var overdue Status
	h.env.RegisterDelayedCallback(func() { overdue = h.status() }, 50*time.Hour)
	h.decide(72*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "sup-huang", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Equal(t, StateAwaitingOfficer, overdue.State, "nothing is approved because time ran out")
	require.True(t, overdue.SlaBreached)
	require.Contains(t, overdue.Waiting.Officers, "sup-huang")
	require.Len(t, overdue.Escalations, 1)
	e := overdue.Escalations[0]
	require.Equal(t, policy.StageDocumentCheck, e.Stage)
	require.Equal(t, start.Add(48*time.Hour), e.At)
	require.Equal(t, "sup-huang", e.Supervisor)
	require.True(t, overdue.Timeline[0].Overrun)

	require.Equal(t, StateReleased, r.State)
	require.True(t, r.Timeline[0].Escalated)
	require.True(t, r.Timeline[0].Overrun)
	require.False(t, r.Timeline[1].Escalated)
	require.Equal(t, true, h.sa[SASlaBreached])
}

func TestExpeditedGetsShorterAllowances(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	d := fixture()
	d.Expedited = &declaration.Expedited{Justification: "Emergency supplies for a hospital under the COVID-19 emergency"}
	h.decide(13*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(d)

	require.True(t, r.Expedited)
	require.Equal(t, true, h.sa[SAExpedited])
	require.Equal(t, policy.Duration(12*time.Hour), r.Timeline[0].Allowance)
	require.True(t, r.Timeline[0].Escalated, "13h exceeds the expedited 12h allowance")
	// Every check still runs.
	require.Equal(t, 1, h.checkCalls[policy.StageDocumentCheck])
	require.Equal(t, 1, h.checkCalls[policy.StageCertificationCheck])
}

func TestRedLaneInspectsBeforeRelease(t *testing.T) {
	h := newHarness(t, policy.LaneRed)
	h.decide(1*time.Hour, "doc", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	h.decide(2*time.Hour, "cert", Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove})
	h.decide(3*time.Hour, "insp", Decision{Stage: policy.StagePhysicalInspection, Officer: "insp-sun", Outcome: OutcomeApprove})
	h.decide(4*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Empty(t, h.rejections)
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, []policy.Stage{policy.StageDocumentCheck, policy.StageCertificationCheck,
		policy.StagePhysicalInspection, policy.StageRelease}, stages(r))
	require.Equal(t, 1, h.checkCalls[policy.StagePhysicalInspection])
	require.Equal(t, policy.Duration(4*time.Hour), r.Elapsed)
	require.Equal(t, 1, h.notices)
}

func TestBiologicalReviewAndSeparationOfDuties(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.decide(time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "rel-wu", Outcome: OutcomeApprove})
	h.decide(2*time.Hour, "rel-same", Decision{Stage: policy.StageRelease, Officer: "rel-wu", Outcome: OutcomeApprove})
	h.decide(3*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	var atRelease Status
	h.env.RegisterDelayedCallback(func() { atRelease = h.status() }, 150*time.Minute)
	r := h.run(biological(fixture()))

	require.Equal(t, StateReleased, r.State)
	require.Equal(t, []policy.Stage{policy.StageDocumentCheck, policy.StageBiologicalReview,
		policy.StageCertificationCheck, policy.StageRelease}, stages(r))
	require.ErrorContains(t, h.rejections["rel-same"], "decided the biological review")
	require.NotContains(t, atRelease.Waiting.Officers, "rel-wu")
	require.Contains(t, atRelease.Waiting.Officers, "rel-zhou")
	require.Equal(t, policy.Duration(12*24*time.Hour), r.Timeline[1].Allowance)
	require.Equal(t, []string{"medical-mask", "test-kit"}, h.sa[SAProductCategories])
}

func TestInvalidCertificateRefusedByRule(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.onCheck(policy.StageCertificationCheck, func(in activities.CheckInput) (activities.CheckResult, error) {
		res := activities.CheckResult{Stage: policy.StageCertificationCheck, CheckedAt: in.On, Findings: []activities.Finding{{
			Code: "issuer-not-notified", Severity: activities.SeverityError, Field: "certificates[0].issuer",
			Message: "body 1282 is not notified for the PPE regulation"}}}
		return res, temporal.NewNonRetryableApplicationError("invalid certificate", activities.ErrInvalidCertificate, nil, res)
	})
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State)
	require.Equal(t, policy.StageCertificationCheck, r.Stage)
	require.Equal(t, "body 1282 is not notified for the PPE regulation", r.Reason)
	last := r.Decisions[len(r.Decisions)-1]
	require.Equal(t, ViaAutomatic, last.Via)
	require.Equal(t, OutcomeReject, last.Outcome)
	require.Zero(t, h.notices)
	require.Len(t, h.notifications, 1)
	require.Equal(t, activities.NotifyRefused, h.notifications[0].Kind)
	require.Contains(t, h.notifications[0].Message, "body 1282")
}

func TestRegistryOutageIsRetriedNotFatal(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.onCheck(policy.StageCertificationCheck,
		func(activities.CheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{}, errors.New("registry unavailable")
		},
		func(activities.CheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{}, errors.New("registry unavailable")
		},
		func(in activities.CheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{CheckedAt: in.On}, nil
		})
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, 3, h.checkCalls[policy.StageCertificationCheck])
}

func TestRerouteToRedAddsInspection(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(30*time.Minute, "rr-bad", UpdateReroute, Reroute{Officer: "doc-li", Lane: policy.LaneRed, Reason: "tip-off"})
	h.send(time.Hour, "rr", UpdateReroute, Reroute{Officer: "sup-huang", Lane: policy.LaneRed, Reason: "intelligence on counterfeit masks"})
	h.decide(2*time.Hour, "doc", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	h.decide(3*time.Hour, "cert", Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: OutcomeApprove})
	h.decide(4*time.Hour, "insp", Decision{Stage: policy.StagePhysicalInspection, Officer: "insp-sun", Outcome: OutcomeApprove})
	h.decide(5*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.ErrorContains(t, h.rejections["rr-bad"], "not a supervisor")
	require.True(t, h.accepted["rr"])
	require.Equal(t, policy.LaneRed, r.Lane)
	require.Equal(t, "red", h.sa[SALane])
	require.Contains(t, stages(r), policy.StagePhysicalInspection)
	require.Equal(t, StateReleased, r.State)
}

func TestDecisionValidatorRefusals(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	cases := map[string]struct {
		d    Decision
		want string
	}{
		"wrong-stage":      {Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove}, "not the current stage"},
		"no-stage":         {Decision{Officer: "doc-li", Outcome: OutcomeApprove}, "stage: missing"},
		"unknown-officer":  {Decision{Stage: policy.StageDocumentCheck, Officer: "nobody", Outcome: OutcomeApprove}, `"nobody" is not on the roster`},
		"no-officer":       {Decision{Stage: policy.StageDocumentCheck, Outcome: OutcomeApprove}, "officer: missing"},
		"wrong-role":       {Decision{Stage: policy.StageDocumentCheck, Officer: "hq-wang", Outcome: OutcomeApprove}, "does not hold the role document-officer"},
		"reject-no-reason": {Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeReject}, "reason: required to reject"},
		"request-no-reason": {Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "  "},
			"reason: required to request-information"},
		"bad-outcome": {Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: "maybe"}, `"maybe" is not approve`},
	}
	for id, c := range cases {
		h.decide(time.Hour, id, c.d)
	}
	h.decide(2*time.Hour, "ok", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	// Sent while the certification checks run (green-equivalent automatic stage): not awaiting anyone.
	h.decide(2*time.Hour, "after", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	for id, c := range cases {
		require.ErrorContains(t, h.rejections[id], c.want, id)
		require.False(t, h.accepted[id], id)
	}
	require.Error(t, h.rejections["after"])
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Decisions, 3, "one officer decision and two automatic clearances; refusals change nothing")
}

func TestSignalDecisionAppliesAndRecordsRefusals(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "hq-wang", Outcome: OutcomeApprove})
	}, time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, map[string]any{"stage": "document-check", "colour": "blue"})
	}, 90*time.Minute)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDecision, Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: OutcomeApprove})
	}, 2*time.Hour)
	var s Status
	h.env.RegisterDelayedCallback(func() { s = h.status() }, 100*time.Minute)
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.Len(t, s.Refused, 2)
	require.Contains(t, s.Refused[0].Reason, "does not hold the role")
	require.Contains(t, s.Refused[1].Reason, "malformed decision")
	require.Equal(t, "doc-chen", r.Decisions[0].Officer)
	require.Equal(t, ViaSignal, r.Decisions[0].Via)
	require.Equal(t, StateAwaitingOfficer, s.State, "refused signals change nothing")
}

func TestWithdrawEndsTheClearance(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(time.Hour, "w-empty", UpdateWithdraw, Withdrawal{})
	h.send(2*time.Hour, "w", UpdateWithdraw, Withdrawal{Reason: "order cancelled by the buyer"})
	r := h.run(fixture())
	require.ErrorContains(t, h.rejections["w-empty"], "reason: required")
	require.Equal(t, StateWithdrawn, r.State)
	require.Equal(t, "order cancelled by the buyer", r.Reason)
	require.Equal(t, "withdrawn", h.sa[SAStatus])
	require.Zero(t, h.notices)
}

func TestSupplyRefusedWhenNotAwaitingDocuments(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(time.Hour, "s", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocContract, Reference: "C-1"}}})
	h.decide(2*time.Hour, "d", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())
	require.ErrorContains(t, h.rejections["s"], "not awaiting documents")
	require.Equal(t, StateReleased, r.State)
}

func TestCurrentDetailsSayWhatIsAwaited(t *testing.T) {
	c := &clearance{Carried: Carried{State: StateAwaitingOfficer, Stage: policy.StageBiologicalReview, Lane: policy.LaneYellow},
		phase: PhaseAwaitingOfficer, waiting: &Waiting{Role: policy.RoleHealthQuarantine, Officers: []string{"hq-wang", "hq-zhao"},
			Due: start.Add(12 * 24 * time.Hour)}}
	got := c.details(start.Add(36 * time.Hour))
	require.Equal(t, "Awaiting a decision on **biological-review** from a health-quarantine-officer (hq-wang, hq-zhao). "+
		"Allowance ends 2020-04-13 09:00 UTC: 10d 12h left.\n\nThe automated checks found nothing to weigh.\n\n"+
		"Decide with the update **decide**: `{\"stage\":\"biological-review\",\"officer\":\"hq-wang\",\"outcome\":\"approve\"}`. "+
		"The outcome is approve, reject or request-information; a reject or a request needs a reason. Signed in, leave the officer out: it is you.", got)
	// What the checks found is in sight, with what it asks of an approval, and the decision's
	// input asks for the reason an error needs.
	c.Findings = []StageFindings{{Stage: policy.StageBiologicalReview, Result: activities.CheckResult{Findings: []activities.Finding{
		{Code: "no-quality-declaration", Severity: activities.SeverityError, Field: "documents",
			Message: "no quality declaration for line 1 (announcement No. 5 of 2020)"},
		{Code: "risk-class-a", Severity: activities.SeverityWarning, Message: "risk class A needs an expert risk assessment"}}}}}
	c.Decisions = []DecisionRecord{{Decision: Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang",
		Outcome: OutcomeRequestInformation, Reason: "attach the risk assessment", Requested: []string{"risk-assessment"}}, At: start}}
	c.Supplies = []SupplyRecord{{Stage: policy.StageBiologicalReview, At: start.Add(time.Hour), Documents: 1, Note: "RA-7"}}
	got = c.details(start.Add(36 * time.Hour))
	for _, want := range []string{
		"\n- error: no quality declaration for line 1 (announcement No. 5 of 2020) (`documents`): approving needs a reason",
		"\n- warning: risk class A needs an expert risk assessment: weigh it before approving",
		"Asked of the exporter by hq-wang at 2020-04-01 09:00 UTC: attach the risk assessment (risk-assessment).",
		"Supplied by the exporter at 2020-04-01 10:00 UTC: 1 documents, 0 certificates (RA-7).",
		"`{\"stage\":\"biological-review\",\"officer\":\"hq-wang\",\"outcome\":\"approve\",\"reason\":\"...\"}`",
	} {
		require.Contains(t, got, want)
	}
	c.Findings, c.Decisions, c.Supplies = nil, nil, nil
	c.State, c.phase, c.waiting = StateAwaitingExporter, PhaseAwaitingExporter, &Waiting{Exporter: "3302960123", Reason: "attach the risk assessment", Due: start.Add(time.Hour)}
	require.Contains(t, c.details(start.Add(2*time.Hour)), "the time is up")
	require.True(t, strings.HasPrefix(c.details(start), "Awaiting documents on **biological-review** from exporter 3302960123"))
}

func TestInvalidDeclarationRefusedAtStart(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.laneErr = temporal.NewNonRetryableApplicationError(`declaration does not validate: lines[0].hsCode: "90189" is not a 6-10 digit HS code`,
		activities.ErrInvalidDeclaration, nil)
	d := fixture()
	d.Lines[0].HSCode = "90189"
	r := h.run(d)

	require.Equal(t, StateRefused, r.State)
	require.Contains(t, r.Reason, "lines[0].hsCode")
	require.Equal(t, policy.StageDocumentCheck, r.Stage)
	require.Len(t, r.Timeline, 1)
	require.Zero(t, h.checkCalls[policy.StageDocumentCheck])
	require.Equal(t, "refused", h.sa[SAStatus])
	require.Equal(t, activities.NotifyRefused, h.notifications[0].Kind)
}

func TestBusinessDaysStopTheClockOverWeekendsAndHolidays(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.Calendar = policy.Calendar{Counting: policy.CountingBusinessDays, Holidays: []string{"2020-04-06"}}
	friday := time.Date(2020, 4, 3, 1, 0, 0, 0, time.UTC) // 09:00 in China
	h.env.SetStartTime(friday)
	// Four calendar days later, on Tuesday: past a 2-day calendar allowance, within 2 working days.
	h.decide(4*24*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Equal(t, StateReleased, r.State)
	require.Equal(t, "business-days", r.Counting)
	require.Equal(t, time.Date(2020, 4, 8, 1, 0, 0, 0, time.UTC), r.Timeline[0].Due.UTC())
	require.False(t, r.Timeline[0].Escalated)
	require.False(t, r.Timeline[0].Overrun)
	require.Empty(t, r.Escalations)
	require.Equal(t, false, h.sa[SASlaBreached])
}

func TestBusinessDaysEscalateWhenWorkingTimeRunsOut(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.Calendar = policy.Calendar{Counting: policy.CountingBusinessDays}
	h.env.SetStartTime(time.Date(2020, 4, 3, 1, 0, 0, 0, time.UTC))
	h.decide(6*24*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.Len(t, r.Escalations, 1)
	// Due Tuesday 09:00 China time: Friday's 15 hours, Monday's 24, Tuesday's first 9.
	require.Equal(t, time.Date(2020, 4, 7, 1, 0, 0, 0, time.UTC), r.Escalations[0].At.UTC())
	require.True(t, r.Timeline[0].Overrun)
}

// TestOfficeHoursEscalateWhenOpeningHoursRunOut: with office hours, the document check's two
// days are two office days of opening hours, and the allowance timer fires when they run out.
func TestOfficeHoursEscalateWhenOpeningHoursRunOut(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.Calendar = policy.Calendar{Counting: policy.CountingBusinessDays,
		OfficeHours: &policy.OfficeHours{Open: "09:00", Close: "17:00"}}
	// Lodged on Wednesday 1 April 2020 at 22:00 China time, after closing.
	h.env.SetStartTime(time.Date(2020, 4, 1, 14, 0, 0, 0, time.UTC))
	h.decide(3*24*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	// Thursday's and Friday's opening hours: due Friday 17:00 China time, where whole working
	// days would end at 22:00.
	due := time.Date(2020, 4, 3, 9, 0, 0, 0, time.UTC)
	require.Equal(t, due, r.Timeline[0].Due.UTC())
	require.Len(t, r.Escalations, 1)
	require.Equal(t, r.Timeline[0].Due, r.Escalations[0].At)
	require.True(t, r.Timeline[0].Overrun)
	require.Equal(t, StateReleased, r.State)
}

// A green-lane clearance sets its search attributes once, when it ends, and starts no timer:
// nothing waits on anyone, so nothing needs to be shown or watched on the way.
func TestGreenLaneIsQuietUntilItEnds(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Len(t, h.upserts, 1, "upserts %v", h.upserts)
	require.Equal(t, "released", h.upserts[0][SAStatus])
	require.Equal(t, "release", h.upserts[0][SAStage])
	require.Equal(t, "green", h.upserts[0][SALane])
	require.Empty(t, h.timers, "no allowance timer for stages that wait on no one")
}

// A yellow-lane clearance shows its stage when it starts waiting on the officer and again when
// it stops, and watches the allowance only while it waits.
func TestWaitsAreShownAndWatched(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(3*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Len(t, h.upserts, 3, "upserts %v", h.upserts)
	require.Equal(t, "awaiting-officer", h.upserts[0][SAStatus])
	require.Equal(t, "document-check", h.upserts[0][SAStage])
	require.Equal(t, "yellow", h.upserts[0][SALane])
	require.Equal(t, "checking", h.upserts[1][SAStatus], "the officer's queue drops the clearance once decided")
	require.Equal(t, "certification-check", h.upserts[1][SAStage])
	require.Equal(t, "released", h.upserts[2][SAStatus])
	require.Len(t, h.timers, 1, "one allowance timer, for the stage that waited")
}

// A check that fails its first attempt is shown in its stage and its allowance watched while it
// is retried.
func TestStalledCheckIsShownAndWatched(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	var shownDuringRetry any
	var timersDuringRetry int
	h.onCheck(policy.StageCertificationCheck,
		func(activities.CheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{}, errors.New("registry unavailable")
		},
		func(in activities.CheckInput) (activities.CheckResult, error) {
			shownDuringRetry, timersDuringRetry = h.sa[SAStage], len(h.timers)
			return activities.CheckResult{CheckedAt: in.On}, nil
		})
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, "certification-check", shownDuringRetry)
	require.Equal(t, 1, timersDuringRetry)
	require.Equal(t, 2, h.checkCalls[policy.StageCertificationCheck])
}

// A check that ends after its stage's due time (its workers were away that long) escalates the
// stage at once: its allowance timer fires straight away, so the history shows the escalation as
// every other, and the stage ends after it.
func TestCheckEndingPastDueEscalates(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.cfg.Policy.Allowances.DocumentCheck = 0
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Len(t, r.Escalations, 1)
	require.Equal(t, policy.StageDocumentCheck, r.Escalations[0].Stage)
	require.True(t, r.Timeline[0].Escalated)
	require.Equal(t, true, h.sa[SASlaBreached])
	require.Len(t, h.timers, 1)
	require.Equal(t, "cleared", r.Timeline[0].Outcome)
	require.False(t, r.Timeline[1].Escalated)
}

// The release notice is watched like a check: a register that fails the first attempt shows the
// clearance in the release stage and starts the release allowance while it is retried, and the
// notice is issued once.
func TestStalledReleaseNoticeIsShownAndWatched(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.noticeFailures = 1
	r := h.run(fixture())
	require.Equal(t, StateReleased, r.State)
	require.Equal(t, 2, h.noticeCalls)
	require.Equal(t, 1, h.notices)
	require.Len(t, h.upserts, 2, "upserts %v", h.upserts)
	require.Equal(t, "release", h.upserts[0][SAStage])
	require.Equal(t, "checking", h.upserts[0][SAStatus])
	require.Len(t, h.timers, 1)
}

// Once the release officer's approval is taken, a second decision sent while the release notice
// is still being issued is refused: it would otherwise be recorded and never applied.
func TestDecisionWhileReleasingIsRefused(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	h.noticeFailures = 3 // the notice takes its retries' backoff: 1 s, then 2 s
	h.decide(time.Hour, "bio", Decision{Stage: policy.StageBiologicalReview, Officer: "hq-wang", Outcome: OutcomeApprove})
	h.decide(3*time.Hour, "rel", Decision{Stage: policy.StageRelease, Officer: "rel-zhou", Outcome: OutcomeApprove})
	h.decide(3*time.Hour+1500*time.Millisecond, "late", Decision{Stage: policy.StageRelease, Officer: "rel-wu", Outcome: OutcomeApprove})
	r := h.run(biological(fixture()))

	require.Equal(t, StateReleased, r.State)
	require.True(t, h.accepted["rel"])
	require.False(t, h.accepted["late"], "the late decision was accepted")
	require.ErrorContains(t, h.rejections["late"], "not awaiting an officer")
	var release []string
	for _, d := range r.Decisions {
		if d.Stage == policy.StageRelease {
			release = append(release, d.Officer)
		}
	}
	require.Equal(t, []string{"rel-zhou"}, release)
}

// TestInformationDeadlineCountsWorkingDays: under working-day counting, a request for
// information made on a Friday gives the exporter working days: it lapses on Wednesday, after
// the weekend and the holiday, not on Sunday; the timer says until when.
func TestInformationDeadlineCountsWorkingDays(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.cfg.Policy.Calendar = policy.Calendar{Counting: policy.CountingBusinessDays, Holidays: []string{"2020-04-06"}}
	h.cfg.Policy.InformationDeadline = policy.Duration(2 * 24 * time.Hour)
	friday := time.Date(2020, 4, 3, 1, 0, 0, 0, time.UTC) // 09:00 in China
	h.env.SetStartTime(friday)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "packing list is illegible"})
	var due time.Time
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(QueryStatus)
		require.NoError(t, err)
		var s Status
		require.NoError(t, v.Get(&s))
		require.NotNil(t, s.Waiting)
		due = s.Waiting.Due
	}, 2*time.Hour)
	r := h.run(fixture())

	// Requested Friday 10:00 China time: 14 hours that Friday, Tuesday's 24 (Monday is the
	// holiday), 10 on Wednesday.
	want := time.Date(2020, 4, 8, 2, 0, 0, 0, time.UTC)
	require.Equal(t, StateLapsed, r.State)
	require.Equal(t, want, r.Ended.UTC())
	require.Equal(t, want, due.UTC(), "the status names the deadline")
}

// TestInformationDeadlineOfAnEarlierReleaseCountsCalendarTime: a clearance started before
// ChangeInformationDeadlineOnCalendar keeps counting the deadline in calendar time, as it did.
func TestInformationDeadlineOfAnEarlierReleaseCountsCalendarTime(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.env.OnGetVersion(ChangeInformationDeadlineOnCalendar, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.cfg.Policy.Calendar = policy.Calendar{Counting: policy.CountingBusinessDays, Holidays: []string{"2020-04-06"}}
	h.cfg.Policy.InformationDeadline = policy.Duration(2 * 24 * time.Hour)
	friday := time.Date(2020, 4, 3, 1, 0, 0, 0, time.UTC)
	h.env.SetStartTime(friday)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "packing list is illegible"})
	r := h.run(fixture())
	require.Equal(t, StateLapsed, r.State)
	require.Equal(t, friday.Add(time.Hour+48*time.Hour), r.Ended.UTC())
}

// TestSupervisorExtendsAStageOnce: a supervisor's extension moves the stage's due time on by
// the extension, the allowance is watched to the new time (a decision after the old due time and
// before the new one does not escalate), the exporter is told why, and a second extension is
// refused.
func TestSupervisorExtendsAStageOnce(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	ext := Extension{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang", By: policy.Duration(24 * time.Hour),
		Reason: "the laboratory's report on the masks is due on Thursday"}
	h.send(time.Hour, "x1", UpdateExtend, ext)
	h.send(2*time.Hour, "x2", UpdateExtend, ext)
	// Two and a half days: past the 2-day allowance, within the extended 3 days.
	h.decide(60*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.True(t, h.accepted["x1"])
	require.ErrorContains(t, h.rejections["x2"], "the document-check allowance was extended already, by sup-huang")
	doc := r.Timeline[0]
	require.NotNil(t, doc.Extension)
	require.Equal(t, start.Add(48*time.Hour), doc.Extension.DueWas)
	require.Equal(t, start.Add(72*time.Hour), doc.Extension.DueNow)
	require.Equal(t, start.Add(72*time.Hour), doc.Due)
	require.Equal(t, "sup-huang", doc.Extension.Supervisor)
	require.False(t, doc.Escalated, "the stage ended within its extended allowance")
	require.Empty(t, r.Escalations)
	var told *activities.Notification
	for i := range h.notifications {
		if h.notifications[i].Kind == activities.NotifyExtension {
			told = &h.notifications[i]
		}
	}
	require.NotNil(t, told, "the exporter is told of the extension")
	require.Contains(t, told.Message, "extended by 1d")
	require.Contains(t, told.Message, ext.Reason)
	require.Equal(t, StateReleased, r.State)
}

// TestExtendedStageStillEscalatesAtItsNewDueTime: the allowance is watched to the extended due
// time, and escalated there.
func TestExtendedStageStillEscalatesAtItsNewDueTime(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(time.Hour, "x", UpdateExtend, Extension{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang",
		By: policy.Duration(12 * time.Hour), Reason: "awaiting the laboratory"})
	h.decide(5*24*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())
	require.True(t, h.accepted["x"])
	require.Len(t, r.Escalations, 1)
	require.Equal(t, start.Add(60*time.Hour), r.Escalations[0].At, "escalated at the extended due time, not the first one")
}

func TestExtensionValidatorRefusals(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	ok := Extension{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang", By: policy.Duration(24 * time.Hour), Reason: "laboratory"}
	with := func(f func(*Extension)) Extension { x := ok; f(&x); return x }
	cases := map[string]struct {
		arg  any
		want string
	}{
		"not a supervisor":  {with(func(x *Extension) { x.Supervisor = "doc-li" }), `"doc-li" is not a supervisor`},
		"not on the roster": {with(func(x *Extension) { x.Supervisor = "sup-nobody" }), "not on the roster"},
		"another stage":     {with(func(x *Extension) { x.Stage = policy.StageRelease }), `stage: "release" is not the current stage`},
		"no reason":         {with(func(x *Extension) { x.Reason = "  " }), "reason: required to extend"},
		"too long":          {with(func(x *Extension) { x.By = policy.Duration(49 * time.Hour) }), "is more than the stage's own allowance, 2d"},
		"not positive":      {with(func(x *Extension) { x.By = 0 }), "by: the extension must be positive"},
		"unknown field":     {map[string]any{"stage": "document-check", "supervisor": "sup-huang", "by": "1d", "reason": "x", "days": 3}, "days"},
		"reason too long":   {with(func(x *Extension) { x.Reason = strings.Repeat("x", MaxReasonBytes+1) }), "reason:"},
	}
	for id, c := range cases {
		h.send(time.Hour, id, UpdateExtend, c.arg)
	}
	// While the stage's checks run, nothing is extended.
	h.send(0, "checking", UpdateExtend, ok)
	h.decide(2*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())
	for id, c := range cases {
		require.ErrorContains(t, h.rejections[id], c.want, id)
		require.False(t, h.accepted[id], id)
	}
	require.ErrorContains(t, h.rejections["checking"], "extended only while it waits")
	require.Nil(t, r.Timeline[0].Extension, "a refused extension changes nothing")
}

// TestOverrunStageIsNotExtended: once the allowance ran out and the stage was escalated, an
// extension is refused: it would hide the overrun.
func TestOverrunStageIsNotExtended(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.send(3*24*time.Hour, "late", UpdateExtend, Extension{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang",
		By: policy.Duration(24 * time.Hour), Reason: "laboratory"})
	h.decide(4*24*time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())
	require.ErrorContains(t, h.rejections["late"], "has run out and the stage was escalated")
	require.Len(t, r.Escalations, 1)
}

// TestExtensionWhileTheClockStandsEscalatesNothing: a supervisor extends the document check
// while the exporter is asked (the allowance's clock stands): the extension moves the due time
// on, and nothing escalates while the clock stands; the allowance is watched again from the
// exporter's answer, to the extended due time moved on by the exporter's time.
func TestExtensionWhileTheClockStandsEscalatesNothing(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	h.decide(time.Hour, "d1", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeRequestInformation, Reason: "quality declaration"})
	h.send(2*time.Hour, "x", UpdateExtend, Extension{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang",
		By: policy.Duration(12 * time.Hour), Reason: "the laboratory reports on Friday"})
	h.send(time.Hour+72*time.Hour, "s1", UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-9"}}})
	// Customs time at the decision: 1 hour before the request and 55 hours after the answer, 56
	// hours, within the 48 hours and the 12 of the extension.
	h.decide(time.Hour+72*time.Hour+55*time.Hour, "d2", Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: OutcomeApprove})
	r := h.run(fixture())

	require.True(t, h.accepted["x"])
	require.Equal(t, StateReleased, r.State)
	require.Empty(t, r.Escalations, "nothing escalates while the clock stands or within the extended allowance")
	require.Equal(t, start.Add(48*time.Hour+12*time.Hour+72*time.Hour), r.Timeline[0].Due)
}
