package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// History bounds a clearance must stay within whatever its requests: far below the server's
// limits of 51,200 events and 50 MB, where it would terminate the clearance.
const (
	maxHistoryEvents = 2000
	maxHistoryBytes  = 2 << 20
)

var scheduleSeed = flag.Int64("schedule-seed", 0, "the seed of TestRandomSchedulesOnARealServer (0: the time)")

// TestRandomSchedulesOnARealServer runs clearances on the real server under random requests while
// the worker is stopped and started again and again: each new worker has nothing cached and
// replays the histories it picks up. Afterwards every history replays against the workflow with
// the SDK's replayer, stays within the bounds above, and shows what was accepted carried out.
// Allowances and the information deadline are seconds long so that they interleave with the
// requests. The workflows package's TestRandomSchedules covers the same in far more schedules
// without a server.
func TestRandomSchedulesOnARealServer(t *testing.T) {
	const clearances = 12
	seed := time.Now().UnixNano()
	if *scheduleSeed != 0 {
		seed = *scheduleSeed
	}
	t.Logf("seed %d", seed)
	queue := fmt.Sprintf("schedules-%d", seed)
	acts := &scriptedActivities{scripts: map[string]*script{}}

	var mu sync.Mutex
	newWorker := func() worker.Worker { return scriptedWorker(t, queue, acts) }
	w := newWorker()
	restarts := 0
	done := make(chan struct{})
	var restarter sync.WaitGroup
	restarter.Add(1)
	go func() {
		defer restarter.Done()
		rng := rand.New(rand.NewSource(seed))
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(300+rng.Intn(900)) * time.Millisecond):
			}
			mu.Lock()
			w.Stop()
			w = newWorker()
			restarts++
			mu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	drivers := make([]*driver, clearances)
	for i := range drivers {
		d := newDriver(t, acts, queue, seed+int64(i))
		drivers[i] = d
		wg.Add(1)
		go func() { defer wg.Done(); d.run() }()
	}
	wg.Wait()
	close(done)
	restarter.Wait()
	mu.Lock()
	w.Stop()
	mu.Unlock()

	markers, events, largest := 0, 0, 0
	for _, d := range drivers {
		if d.err != nil {
			t.Errorf("%s: %v", d.ref.Declaration, d.err)
			continue
		}
		h := history(t, d.wfID)
		n, size := len(h.GetEvents()), proto.Size(h)
		events += n
		largest = max(largest, size)
		if n > maxHistoryEvents || size > maxHistoryBytes {
			t.Errorf("%s: %d events, %d bytes: over the bounds", d.ref.Declaration, n, size)
		}
		for _, e := range h.GetEvents() {
			if m := e.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "Version" &&
				string(m.GetDetails()["change-id"].GetPayloads()[0].GetData()) == `"`+workflows.ChangeExplicitPhases+`"` {
				markers++
			}
		}
		replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
			Interceptors: []interceptor.WorkerInterceptor{workflows.Interceptor()}})
		if err != nil {
			t.Fatal(err)
		}
		replayer.RegisterWorkflowWithOptions(workflows.ExportClearance, workflow.RegisterOptions{Name: workflows.WorkflowName})
		if err := replayer.ReplayWorkflowHistory(nil, h); err != nil {
			t.Errorf("%s: the history does not replay: %v", d.ref.Declaration, err)
		}
		d.verify(acts)
	}
	holds, extensions, amendments, appeals := 0, 0, 0, 0
	for _, d := range drivers {
		holds, extensions, amendments = holds+len(d.holds), extensions+len(d.extensions), amendments+len(d.amendments)
		appeals += len(d.appeals)
	}
	t.Logf("covered: %d clearances, %d worker restarts, %d requests accepted and %d refused (%d holds, %d extensions, "+
		"%d amendments accepted, %d appeals upheld), %d history events (largest history %d bytes), %d with the %s marker", clearances, restarts,
		accepted(drivers), refused(drivers), holds, extensions, amendments, appeals, events, largest, markers, workflows.ChangeExplicitPhases)
}

func history(t *testing.T, wfID string) *historypb.History { return historyOfRun(t, wfID, "") }

func accepted(ds []*driver) (n int) {
	for _, d := range ds {
		n += d.accepted
	}
	return n
}

func refused(ds []*driver) (n int) {
	for _, d := range ds {
		n += d.refused
	}
	return n
}

// script is what the activities of one clearance do: its lane, how often each activity fails
// first, and what the checks find.
type script struct {
	lane      policy.Lane
	failures  map[string]int
	attempts  map[string]int
	findings  map[policy.Stage]activities.Severity
	notices   int
	notice    activities.ReleaseNotice
	invalidAt policy.Stage
	// roster replaces the built-in roster when it names officers.
	roster policy.Roster
}

// scriptedActivities stand in for the engine's activities, per clearance, under their names.
type scriptedActivities struct {
	mu      sync.Mutex
	scripts map[string]*script
}

// fail reports whether this attempt of the named activity for the clearance fails.
func (a *scriptedActivities) fail(ctx context.Context, name string) (*script, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.scripts[activity.GetInfo(ctx).WorkflowExecution.ID]
	if s == nil {
		return nil, temporal.NewNonRetryableApplicationError("no script", "NoScript", nil)
	}
	s.attempts[name]++
	if s.attempts[name] <= s.failures[name] {
		return s, errors.New(name + " unavailable")
	}
	return s, nil
}

func (a *scriptedActivities) LoadConfiguration(ctx context.Context) (activities.Configuration, error) {
	s, err := a.fail(ctx, "LoadConfiguration")
	if err != nil {
		return activities.Configuration{}, err
	}
	roster := policy.DefaultRoster()
	a.mu.Lock()
	if len(s.roster.Officers) > 0 {
		roster = s.roster
	}
	a.mu.Unlock()
	p := policy.Default()
	second := policy.Duration(time.Second)
	p.Allowances = policy.Allowances{DocumentCheck: 3 * second, BiologicalReview: 4 * second, CertificationCheck: 3 * second,
		PhysicalInspection: 3 * second, Release: 3 * second}
	p.InformationDeadline = 4 * second
	return activities.Configuration{Policy: p, Roster: roster}, nil
}

func (a *scriptedActivities) SelectLane(ctx context.Context, in activities.CheckInput) (activities.LaneSelection, error) {
	s, err := a.fail(ctx, "SelectLane")
	if err != nil {
		return activities.LaneSelection{}, err
	}
	return activities.LaneSelection{Lane: s.lane, Reasons: []string{"scripted"}}, nil
}

func (a *scriptedActivities) check(ctx context.Context, stage policy.Stage, in activities.CheckInput) (activities.CheckResult, error) {
	s, err := a.fail(ctx, string(stage))
	if err != nil {
		return activities.CheckResult{}, err
	}
	res := activities.CheckResult{Stage: stage, CheckedAt: in.On}
	if s.invalidAt == stage {
		res.Findings = []activities.Finding{{Code: "issuer-not-notified", Severity: activities.SeverityError, Message: "body 1282 is not notified"}}
		return res, temporal.NewNonRetryableApplicationError("invalid certificate", activities.ErrInvalidCertificate, nil, res)
	}
	if sev := s.findings[stage]; sev != "" {
		res.Findings = []activities.Finding{{Code: "scripted", Severity: sev, Message: "scripted finding"}}
	}
	return res, nil
}

func (a *scriptedActivities) CheckDocuments(ctx context.Context, in activities.CheckInput) (activities.CheckResult, error) {
	return a.check(ctx, policy.StageDocumentCheck, in)
}

func (a *scriptedActivities) PrescreenBiological(ctx context.Context, in activities.CheckInput) (activities.CheckResult, error) {
	return a.check(ctx, policy.StageBiologicalReview, in)
}

func (a *scriptedActivities) VerifyCertificates(ctx context.Context, in activities.CheckInput) (activities.CheckResult, error) {
	return a.check(ctx, policy.StageCertificationCheck, in)
}

func (a *scriptedActivities) PlanInspection(ctx context.Context, in activities.CheckInput) (activities.CheckResult, error) {
	return a.check(ctx, policy.StagePhysicalInspection, in)
}

func (a *scriptedActivities) IssueReleaseNotice(ctx context.Context, r activities.ReleaseRequest) (activities.ReleaseNotice, error) {
	s, err := a.fail(ctx, "IssueReleaseNotice")
	if err != nil {
		return activities.ReleaseNotice{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.notices == 0 {
		s.notice = activities.ReleaseNotice{Number: "RN-" + r.DeclarationID, DeclarationID: r.DeclarationID, IssuedAt: time.Now()}
	}
	s.notices++ // a retried attempt is given the same notice, as the release register does
	return s.notice, nil
}

func (a *scriptedActivities) RegisterDeclaration(ctx context.Context, r activities.Registration) (activities.Registered, error) {
	return activities.Registered{Registration: r, Number: "ED-" + r.DeclarationID, LodgedAt: time.Now()}, nil
}

func (a *scriptedActivities) NotifyExporter(ctx context.Context, n activities.Notification) error {
	_, err := a.fail(ctx, "Notify "+string(n.Kind))
	return err
}

// driver acts as the officers and the exporter of one clearance, at random.
type driver struct {
	t          *testing.T
	rng        *rand.Rand
	ref        clearance.Ref
	wfID       string
	err        error
	result     workflows.Result
	accepted   int
	refused    int
	decisions  []workflows.DecisionRecord
	withdrawal string
	lastLane   policy.Lane
	// holds, extensions and amendments the clearance accepted.
	holds      []workflows.HoldRecord
	extensions []workflows.ExtensionRecord
	amendments []workflows.AmendmentRecord
	// appeals are the appeals upheld against the clearance's refusals.
	appeals []appeal.Result
}

func newDriver(t *testing.T, acts *scriptedActivities, queue string, seed int64) *driver {
	rng := rand.New(rand.NewSource(seed))
	lanes := []policy.Lane{policy.LaneGreen, policy.LaneYellow, policy.LaneRed}
	s := newScript(lanes[rng.Intn(3)])
	for _, name := range []string{"SelectLane", string(policy.StageDocumentCheck), string(policy.StageCertificationCheck),
		"IssueReleaseNotice", "Notify refused", "Notify lapsed", "Notify information-requested"} {
		if rng.Intn(3) == 0 {
			s.failures[name] = 1 + rng.Intn(2)
		}
	}
	for _, stage := range []policy.Stage{policy.StageDocumentCheck, policy.StageBiologicalReview, policy.StageCertificationCheck} {
		if rng.Intn(3) == 0 {
			s.findings[stage] = []activities.Severity{activities.SeverityWarning, activities.SeverityError}[rng.Intn(2)]
		}
	}
	if rng.Intn(8) == 0 {
		s.invalidAt = policy.StageCertificationCheck
	}
	examples := []string{"us-n95-respirators-niosh.json", "de-antibody-test-kits.json"}
	ref, wfID := startScripted(t, acts, queue, examples[rng.Intn(len(examples))], s)
	return &driver{t: t, rng: rng, ref: ref, wfID: wfID}
}

func newScript(lane policy.Lane) *script {
	return &script{lane: lane, failures: map[string]int{}, attempts: map[string]int{}, findings: map[policy.Stage]activities.Severity{}}
}

// startScripted starts a clearance of a copy of the example on the queue, its activities
// following the script, and returns its Ref and workflow ID.
func startScripted(t *testing.T, acts *scriptedActivities, queue, example string, s *script) (ref clearance.Ref, wfID string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(examplesDir, example))
	if err != nil {
		t.Fatal(err)
	}
	decl, err := declaration.ParseAndValidate(raw)
	if err != nil {
		t.Fatal(err)
	}
	decl.ID = ids.Fresh(decl.ID)
	ref = clearance.RefOf(decl)
	wfID, err = ref.WorkflowID()
	if err != nil {
		t.Fatal(err)
	}
	acts.mu.Lock()
	acts.scripts[wfID] = s
	acts.mu.Unlock()
	opts, err := clearance.StartOptions(decl)
	if err != nil {
		t.Fatal(err)
	}
	opts.TaskQueue = queue
	if _, err := tc.ExecuteWorkflow(testContext(t), opts, workflows.WorkflowName, workflows.Input{Declaration: decl}); err != nil {
		t.Fatal(err)
	}
	return ref, wfID
}

// scriptedWorker starts a worker of the clearance workflow and the scripted activities on queue.
func scriptedWorker(t *testing.T, queue string, acts *scriptedActivities) worker.Worker {
	t.Helper()
	w := worker.New(tc, queue, worker.Options{Interceptors: []interceptor.WorkerInterceptor{workflows.Interceptor()}})
	w.RegisterWorkflowWithOptions(workflows.ExportClearance, workflow.RegisterOptions{Name: workflows.WorkflowName})
	w.RegisterActivity(acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

// run sends requests until the clearance ends: at random for its first steps, then what moves it on.
// A loaded machine (the other packages' servers and builds on the same two cores) slows every
// call: a call that fails or times out is asked again at the next step, and only a clearance
// that does not end within runBudget fails the test.
const runBudget = 5 * time.Minute

func (d *driver) run() {
	ctx, cancel := context.WithTimeout(context.Background(), runBudget)
	defer cancel()
	limit := 3 + d.rng.Intn(10)
	var lastErr error
	for step := 0; ; step++ {
		time.Sleep(time.Duration(50+d.rng.Intn(1500)) * time.Millisecond)
		if ctx.Err() != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			st, serr := clearance.Status(sctx, tc, d.ref)
			scancel()
			d.err = fmt.Errorf("did not end within %s (last error: %v); %d appeals upheld; it stood %s at %s, waiting %+v, holds %+v, claim %+v (%v)",
				runBudget, lastErr, len(d.appeals), st.Phase, st.Stage, st.Waiting, st.Holds, st.Claim, serr)
			return
		}
		dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
		desc, err := tc.DescribeWorkflowExecution(dctx, d.wfID, "")
		dcancel()
		if err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) && strings.Contains(err.Error(), "workflow") {
				d.err = err
				return
			}
			lastErr = err
			continue
		}
		if desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			d.result, d.err = clearance.Wait(ctx, tc, d.ref)
			if d.err != nil || !d.mayAppeal() {
				return
			}
			// The exporter appeals the refusal and a supervisor upholds it: the clearance reopens
			// in a new run, which the schedule drives on.
			if d.err = d.appeal(ctx); d.err != nil {
				return
			}
			limit = step + 2 + d.rng.Intn(6)
			continue
		}
		qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := clearance.Status(qctx, tc, d.ref)
		qcancel()
		if err != nil {
			continue // a worker is starting: the next step asks again
		}
		d.act(ctx, s, step >= limit)
	}
}

func (d *driver) act(ctx context.Context, s workflows.Status, finishing bool) {
	rng := d.rng
	var err error
	standing := standingHold(s)
	switch n := rng.Intn(16); {
	case standing != nil && (finishing || n < 3):
		// A hold stands: nothing moves until it is lifted.
		_, err = clearance.LiftHold(ctx, tc, d.ref, workflows.Lift{Supervisor: "sup-huang", Agency: standing.Agency,
			Disposition: workflows.DispositionMayProceed, Reason: "the lot checked out"})
	case awaitingConsent(s) != nil && (finishing || n < 5) && s.Waiting != nil && len(s.Waiting.Officers) > 0:
		var rec workflows.AmendmentRecord
		rec, err = clearance.DecideAmendment(ctx, tc, d.ref, workflows.AmendmentDecision{Officer: d.officer(s),
			Amendment: awaitingConsent(s).Version, Outcome: workflows.AmendmentConsent})
		if err == nil {
			d.amendments = append(d.amendments, rec)
		}
	case s.Phase == workflows.PhaseAwaitingOfficer && s.Waiting != nil && len(s.Waiting.Officers) > 0 && (finishing || n < 6):
		dec := workflows.Decision{Stage: s.Stage, Officer: d.officer(s),
			Outcome: workflows.OutcomeApprove, Reason: "reviewed"}
		if !finishing && n == 0 {
			dec.Outcome, dec.Reason, dec.Requested = workflows.OutcomeRequestInformation, "attach the quality declaration", []string{"quality-declaration"}
		}
		if !finishing && n == 1 {
			dec.Outcome, dec.Reason = workflows.OutcomeReject, "the invoice does not match the packing list"
		}
		var rec workflows.DecisionRecord
		rec, err = clearance.Decide(ctx, tc, d.ref, dec)
		if err == nil {
			d.decisions = append(d.decisions, rec)
		}
	case s.Phase == workflows.PhaseAwaitingExporter && (finishing || n < 7):
		_, err = clearance.Supply(ctx, tc, d.ref, workflows.Supply{Documents: []declaration.Document{{
			Type: declaration.DocQualityDeclaration, Reference: fmt.Sprintf("QD-%d", rng.Intn(1000))}}})
	case finishing:
		return
	case n == 7:
		reason := "the buyer cancelled the order"
		if err = clearance.Withdraw(ctx, tc, d.ref, reason); err == nil {
			d.withdrawal = reason
		}
	case n == 8:
		lane := []policy.Lane{policy.LaneGreen, policy.LaneYellow, policy.LaneRed}[rng.Intn(3)]
		if _, err = clearance.Reroute(ctx, tc, d.ref, workflows.Reroute{Officer: "sup-huang", Lane: lane, Reason: "intelligence"}); err == nil {
			d.lastLane = lane
		}
	case n == 9:
		var rec workflows.HoldRecord
		if rec, err = clearance.PlaceHold(ctx, tc, d.ref, workflows.Hold{Supervisor: "sup-huang", Reason: "intelligence on this route"}); err == nil {
			d.holds = append(d.holds, rec)
		}
	case n == 10:
		officer := "doc-li"
		if s.Waiting != nil && len(s.Waiting.Officers) > 0 {
			officer = s.Waiting.Officers[rng.Intn(len(s.Waiting.Officers))]
		}
		if s.Claim != nil && rng.Intn(2) == 0 {
			_, err = clearance.Unclaim(ctx, tc, d.ref, workflows.ClaimRequest{Officer: s.Claim.Officer})
		} else {
			_, err = clearance.Claim(ctx, tc, d.ref, workflows.ClaimRequest{Officer: officer})
		}
	case n == 11:
		_, err = clearance.AddNote(ctx, tc, d.ref, workflows.Note{Officer: "doc-li", Text: "seen"})
	case n == 12:
		var rec workflows.ExtensionRecord
		if rec, err = clearance.Extend(ctx, tc, d.ref, workflows.Extension{Stage: s.Stage, Supervisor: "sup-huang",
			By: policy.Duration(time.Second), Reason: "awaiting the laboratory"}); err == nil {
			d.extensions = append(d.extensions, rec)
		}
	case n == 13:
		var rec workflows.AmendmentRecord
		if rec, err = clearance.Amend(ctx, tc, d.ref, workflows.Amendment{Documents: []declaration.Document{{
			Type: declaration.DocPackingList, Reference: fmt.Sprintf("PL-%d", rng.Intn(1000))}},
			Reason: "the packing list with the carton numbers"}); err == nil {
			d.amendments = append(d.amendments, rec)
		}
	default:
		_, err = clearance.Decide(ctx, tc, d.ref, workflows.Decision{Stage: policy.StageRelease, Officer: "rel-zhou",
			Outcome: workflows.OutcomeApprove})
	}
	var refusal *clearance.RefusedError
	switch {
	case err == nil:
		d.accepted++
	case errors.As(err, &refusal):
		d.refused++
	default:
		d.err = fmt.Errorf("a request had no answer: %w", err)
	}
}

// mayAppeal says whether the exporter appeals the clearance's refusal now: a refusal of the
// declaration as lodged is not appealable, the one supervisor on the roster may not hear an appeal
// against their own refusal, and a schedule appeals once.
func (d *driver) mayAppeal() bool {
	r := d.result
	if r.State != workflows.StateRefused || r.RefusedAsLodged || len(d.appeals) > 0 || len(r.Decisions) == 0 {
		return false
	}
	if last := r.Decisions[len(r.Decisions)-1]; last.Via != workflows.ViaAutomatic && last.Officer == "sup-huang" {
		return false
	}
	return true
}

// appeal lodges the exporter's appeal, waits until it awaits a supervisor, and upholds it.
func (d *driver) appeal(ctx context.Context) error {
	if _, err := clearance.Appeal(ctx, tc, d.ref, "the documents were in order"); err != nil {
		return fmt.Errorf("appeal: %w", err)
	}
	for {
		s, err := clearance.AppealStatus(ctx, tc, d.ref)
		if err == nil && s.Phase == appeal.PhaseAwaitingSupervisor {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the appeal did not await a supervisor within %s: %+v, %v", runBudget, s, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := clearance.DecideAppeal(ctx, tc, d.ref, appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeUphold,
		Reason: "upheld on the documents"}); err != nil {
		return fmt.Errorf("uphold the appeal: %w", err)
	}
	res, err := clearance.AwaitAppeal(ctx, tc, d.ref)
	if err != nil || res.Outcome != appeal.OutcomeUphold {
		return fmt.Errorf("the appeal ended %+v, %v; want upheld", res, err)
	}
	d.appeals = append(d.appeals, res)
	return nil
}

// officer picks who decides the stage awaiting an officer: the one who claimed it, when someone
// did and the schedule is finishing or the draw says so, or any officer it waits on.
func (d *driver) officer(s workflows.Status) string {
	if s.Claim != nil && s.Claim.Stage == s.Stage && d.rng.Intn(4) > 0 {
		return s.Claim.Officer
	}
	return s.Waiting.Officers[d.rng.Intn(len(s.Waiting.Officers))]
}

// verify checks the clearance carried out what it accepted.
func (d *driver) verify(acts *scriptedActivities) {
	t, r := d.t, d.result
	acts.mu.Lock()
	notices := acts.scripts[d.wfID].notices
	acts.mu.Unlock()
	// A clearance reopened on appeal runs on the engine's own queue and activities.
	if (r.State == workflows.StateReleased) != (r.Notice != nil) || (len(d.appeals) == 0 && (notices == 0) != (r.Notice == nil)) {
		t.Errorf("%s ended %s with notice %v after %d notice attempts", d.ref.Declaration, r.State, r.Notice, notices)
	}
	for _, rec := range d.decisions {
		found := false
		for _, got := range r.Decisions {
			found = found || (got.At.Equal(rec.At) && got.Officer == rec.Officer && got.Stage == rec.Stage && got.Outcome == rec.Outcome)
		}
		if !found {
			t.Errorf("%s: the accepted decision %+v is not in the result", d.ref.Declaration, rec.Decision)
		}
	}
	if d.withdrawal != "" && (r.State != workflows.StateWithdrawn || r.Reason != d.withdrawal) {
		t.Errorf("%s: the withdrawal was accepted; the clearance ended %s: %s", d.ref.Declaration, r.State, r.Reason)
	}
	if d.lastLane != "" && r.Lane != d.lastLane {
		t.Errorf("%s: rerouted to %s; ended in the %s lane", d.ref.Declaration, d.lastLane, r.Lane)
	}
	// Every accepted hold is in the result, and none stood when the notice was issued.
	for _, h := range d.holds {
		found := false
		for _, got := range r.Holds {
			if got.At.Equal(h.At) {
				found = true
				if r.State == workflows.StateReleased && (got.Lifted == nil || got.LiftedAt.After(r.Notice.IssuedAt)) {
					t.Errorf("%s: released under notice %s at %s while the hold of %s stood (lifted %v)", d.ref.Declaration,
						r.Notice.Number, r.Notice.IssuedAt, h.At, got.LiftedAt)
				}
			}
		}
		if !found {
			t.Errorf("%s: the accepted hold of %s is not in the result", d.ref.Declaration, h.At)
		}
	}
	// Every upheld appeal is in the result, and the stage it reopened was decided by an officer.
	if len(r.Appeals) != len(d.appeals) {
		t.Errorf("%s: %d appeals upheld, the result keeps %d", d.ref.Declaration, len(d.appeals), len(r.Appeals))
	}
	for _, a := range r.Appeals {
		for _, dec := range r.Decisions {
			if dec.Stage == a.Stage && dec.At.After(a.Decided) {
				if dec.Via == workflows.ViaAutomatic {
					t.Errorf("%s: %s reopened on appeal was decided by rule: %s %s", d.ref.Declaration, a.Stage, dec.Outcome, dec.Reason)
				}
				break
			}
		}
	}
	// Every accepted extension is in the timeline; every accepted amendment in the result.
	for _, x := range d.extensions {
		found := false
		for _, st := range r.Timeline {
			found = found || (st.Extension != nil && st.Extension.At.Equal(x.At))
		}
		if !found {
			t.Errorf("%s: the accepted extension of %s at %s is not in the timeline", d.ref.Declaration, x.Stage, x.At)
		}
	}
	for _, a := range d.amendments {
		found := false
		for _, got := range r.Amendments {
			found = found || got.Version == a.Version
		}
		if !found {
			t.Errorf("%s: the accepted amendment %d is not in the result", d.ref.Declaration, a.Version)
		}
	}
}

// standingHold returns the hold that stands on the clearance, if one does.
func standingHold(s workflows.Status) *workflows.HoldRecord {
	for i := range s.Holds {
		if s.Holds[i].Lifted == nil {
			return &s.Holds[i]
		}
	}
	return nil
}

// awaitingConsent returns the amendment that awaits an officer's consent, if one does.
func awaitingConsent(s workflows.Status) *workflows.AmendmentRecord {
	for i := range s.Amendments {
		if s.Amendments[i].Status == workflows.AmendmentAwaitingConsent {
			return &s.Amendments[i]
		}
	}
	return nil
}

// An officer taken off the roster, and the roster change announced as the operator does with
// setup --roster-changed: the waiting clearance refuses that officer's decision and takes the
// decision of the officer added.
func TestRosterChangeAnnouncedToWaitingClearances(t *testing.T) {
	queue := fmt.Sprintf("roster-%d", time.Now().UnixNano())
	acts := &scriptedActivities{scripts: map[string]*script{}}
	defer scriptedWorker(t, queue, acts).Stop()
	s := newScript(policy.LaneYellow)
	ref, _ := startScripted(t, acts, queue, "us-n95-respirators-niosh.json", s)
	awaitOfficer(t, ref, policy.StageDocumentCheck)

	acts.mu.Lock()
	s.roster = policy.Roster{Officers: []policy.Officer{
		{ID: "doc-ma", Name: "Ma Lin", Roles: []policy.Role{policy.RoleDocument}},
		{ID: "sup-huang", Name: "Huang Wei", Roles: []policy.Role{policy.RoleSupervisor}},
	}}
	acts.mu.Unlock()
	told, err := clearance.AnnounceRosterChange(testContext(t), tc, namespace)
	if err != nil || told < 1 {
		t.Fatalf("announce: told %d, %v", told, err)
	}
	eventually(t, "the roster change reaching "+ref.Declaration, func() error {
		st, err := clearance.Status(testContext(t), tc, ref)
		if err != nil {
			return err
		}
		if st.Waiting == nil || !slices.Equal(st.Waiting.Officers, []string{"doc-ma", "sup-huang"}) {
			return fmt.Errorf("waiting %+v", st.Waiting)
		}
		return nil
	})
	_, err = decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: workflows.OutcomeApprove})
	var refusal *clearance.RefusedError
	if !errors.As(err, &refusal) || !strings.Contains(refusal.Reason, `"doc-li" is not on the roster`) {
		t.Fatalf("decision of the removed officer: %v", err)
	}
	if _, err := decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-ma", Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatalf("decision of the added officer: %v", err)
	}
}

// A client that keeps signalling a clearance waiting on an officer grows its history: past
// workflows.MaxRunEvents the clearance continues as new with its whole record and waits on, so
// the server never reaches its own limit and ends it. Each run replays; the last run's history
// alone carries every decision for the auditor; the result follows the runs.
func TestSignalFloodContinuesAsNew(t *testing.T) {
	queue := fmt.Sprintf("flood-%d", time.Now().UnixNano())
	acts := &scriptedActivities{scripts: map[string]*script{}}
	defer scriptedWorker(t, queue, acts).Stop()
	ref, wfID := startScripted(t, acts, queue, "us-n95-respirators-niosh.json", newScript(policy.LaneYellow))
	awaitOfficer(t, ref, policy.StageDocumentCheck)

	ctx := testContext(t)
	first, err := tc.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatal(err)
	}
	firstRun := first.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	wrong := workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "hq-wang", Outcome: workflows.OutcomeApprove}
	sent, continued := 0, false
	for sent < 4000 && !continued {
		for i := 0; i < 100; i++ {
			if err := tc.SignalWorkflow(ctx, wfID, "", workflows.SignalDecision, wrong); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		d, err := tc.DescribeWorkflowExecution(ctx, wfID, "")
		if err != nil {
			t.Fatal(err)
		}
		continued = d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != firstRun
	}
	if !continued {
		t.Fatalf("%d signals sent and the clearance did not continue as new", sent)
	}
	awaitOfficer(t, ref, policy.StageDocumentCheck)
	if _, err := decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatal(err)
	}
	r, err := clearance.Wait(ctx, tc, ref)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != workflows.StateReleased || len(r.Decisions) == 0 || r.Decisions[0].Officer != "doc-li" {
		t.Fatalf("ended %s with decisions %+v", r.State, r.Decisions)
	}

	h1 := historyOfRun(t, wfID, firstRun)
	last := h1.GetEvents()[len(h1.GetEvents())-1]
	if last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW || len(h1.GetEvents()) > workflows.MaxRunEvents+200 {
		t.Errorf("first run: %d events ending %s", len(h1.GetEvents()), last.GetEventType())
	}
	h2 := history(t, wfID)
	for i, h := range []*historypb.History{h1, h2} {
		replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
			Interceptors: []interceptor.WorkerInterceptor{workflows.Interceptor()}})
		if err != nil {
			t.Fatal(err)
		}
		replayer.RegisterWorkflowWithOptions(workflows.ExportClearance, workflow.RegisterOptions{Name: workflows.WorkflowName})
		if err := replayer.ReplayWorkflowHistory(nil, h); err != nil {
			t.Errorf("run %d does not replay: %v", i+1, err)
		}
	}
	st, err := clearance.Status(ctx, tc, ref)
	if err == nil {
		t.Logf("status after the end: %d refused signals counted", st.RefusedCount)
	}
	tr, err := audit.BuildTrail(h2, audit.Converters{})
	if err != nil {
		t.Fatal(err)
	}
	var carried, continues int
	for _, row := range tr.Rows {
		if strings.Contains(row.What, "carried from an earlier run") {
			carried++
		}
		if row.Outcome == "continued" {
			continues++
		}
	}
	if carried == 0 || continues != 1 {
		t.Errorf("the last run's trail has %d carried rows and %d continuations", carried, continues)
	}
	t.Logf("covered: %d signals sent; the first run continued as new after %d events (%d bytes); the second run has %d events",
		sent, len(h1.GetEvents()), proto.Size(h1), len(h2.GetEvents()))
}

func historyOfRun(t *testing.T, wfID, runID string) *historypb.History {
	t.Helper()
	it := tc.GetWorkflowHistory(testContext(t), wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	return h
}
