package agency

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	updatepb "go.temporal.io/api/update/v1"

	"github.com/nexus-rpc/sdk-go/nexus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/registry"
)

// The test's caller stands in for customs' clearance: it asks an agency through the single
// window, from customs' namespace, as the clearance does.
const (
	callerQueue = "customs-test"
	// signalWithdraw cancels the request; signalContinue continues the caller as new while the
	// request is pending, and the next run asks again with the same request ID.
	signalWithdraw = "withdraw"
	signalContinue = "continue"
)

// askAgency asks req's agency for its permit and returns the disposition.
func askAgency(ctx workflow.Context, req PermitRequest) (PermitResult, error) {
	c := workflow.NewNexusClient(EndpointName(req.Agency), ServiceName)
	octx, cancel := workflow.WithCancel(ctx)
	f := c.ExecuteOperation(octx, OperationReview, req, OperationOptions(req))
	withdraw := workflow.GetSignalChannel(ctx, signalWithdraw)
	again := workflow.GetSignalChannel(ctx, signalContinue)
	var res PermitResult
	var err error
	done, continued := false, false
	for !done && !continued {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f, func(f workflow.Future) { err, done = f.Get(ctx, &res), true })
		sel.AddReceive(withdraw, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(ctx, nil); cancel() })
		sel.AddReceive(again, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(ctx, nil); continued = true })
		sel.Select(ctx)
	}
	if continued {
		// The pending operation is left as it is, not cancelled: the next run attaches to it.
		return PermitResult{}, workflow.NewContinueAsNewError(ctx, askAgency, req)
	}
	return res, err
}

// window is one test's single window: an agency's worker in its namespace and the caller's in
// customs'.
type window struct {
	t       testing.TB
	agency  string
	customs client.Client
	ac      client.Client
	w       worker.Worker
}

func newWindow(t testing.TB, agency string) *window {
	t.Helper()
	sw := &window{t: t, agency: agency, customs: realServer(t).client(t, customs), ac: realServer(t).client(t, Namespace(agency))}
	cw := worker.New(sw.customs, callerQueue, worker.Options{})
	cw.RegisterWorkflow(askAgency)
	if err := cw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cw.Stop)
	sw.startAgency()
	return sw
}

// startAgency starts the agency's worker: its review workflow, its checks over the engine's
// built-in registry, and its Nexus service for customs' namespace.
func (sw *window) startAgency() {
	sw.t.Helper()
	acts, err := NewActivities(sw.agency, registry.Default(), nil)
	if err != nil {
		sw.t.Fatal(err)
	}
	w := NewWorker(sw.ac, acts, []string{customs}, worker.Options{})
	if err := w.Start(); err != nil {
		sw.t.Fatal(err)
	}
	sw.w = w
	sw.t.Cleanup(w.Stop)
}

// ask starts the caller under its own workflow ID.
func (sw *window) ask(callerID string, req PermitRequest) client.WorkflowRun {
	sw.t.Helper()
	id := fmt.Sprintf("%s-%d", callerID, requests.Add(1))
	run, err := sw.customs.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: callerQueue}, askAgency, req)
	if err != nil {
		sw.t.Fatal(err)
	}
	return run
}

// result waits for the caller's disposition.
func (sw *window) result(run client.WorkflowRun) (PermitResult, error) {
	sw.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res PermitResult
	err := sw.customs.GetWorkflow(ctx, run.GetID(), "").Get(ctx, &res)
	return res, err
}

// status waits until the agency's review of req is in phase p, and returns its status.
func (sw *window) status(req PermitRequest, p Phase) Status {
	sw.t.Helper()
	var st Status
	eventually(sw.t, fmt.Sprintf("review %s %s", WorkflowID(req), p), func(ctx context.Context) (bool, error) {
		v, err := sw.ac.QueryWorkflow(ctx, WorkflowID(req), "", QueryStatus)
		if err != nil {
			return false, nil // not started yet, or its worker is away
		}
		if err := v.Get(&st); err != nil {
			return false, err
		}
		return st.Phase == p, nil
	})
	return st
}

// decide sends an officer's decision on req's review as the Web UI does, and returns it as
// recorded, or why it was refused.
func (sw *window) decide(req PermitRequest, d Decision) (DecisionRecord, error) {
	sw.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := sw.ac.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: WorkflowID(req), UpdateName: UpdateDecide,
		Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return DecisionRecord{}, err
	}
	var rec DecisionRecord
	err = h.Get(ctx, &rec)
	return rec, err
}

// runs counts the agency's review runs of req.
func (sw *window) runs(req PermitRequest) int {
	sw.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	var token []byte
	for {
		resp, err := sw.ac.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: Namespace(sw.agency),
			Query: fmt.Sprintf("WorkflowId = '%s'", WorkflowID(req)), NextPageToken: token})
		if err != nil {
			sw.t.Fatal(err)
		}
		n += len(resp.GetExecutions())
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return n
		}
	}
}

// closed waits until req's review has closed and returns its status.
func (sw *window) closed(req PermitRequest) enumspb.WorkflowExecutionStatus {
	sw.t.Helper()
	var s enumspb.WorkflowExecutionStatus
	eventually(sw.t, "review "+WorkflowID(req)+" closed", func(ctx context.Context) (bool, error) {
		d, err := sw.ac.DescribeWorkflowExecution(ctx, WorkflowID(req), "")
		if err != nil {
			return false, err
		}
		s = d.GetWorkflowExecutionInfo().GetStatus()
		return s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
	})
	return s
}

// inQueue waits until the visibility query q of the agency's namespace lists req's review, as
// an officer's saved view in the Web UI does.
func (sw *window) inQueue(req PermitRequest, q string) {
	sw.t.Helper()
	eventually(sw.t, "review in "+q, func(ctx context.Context) (bool, error) {
		resp, err := sw.ac.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: Namespace(sw.agency),
			Query: q + fmt.Sprintf(" AND WorkflowId = '%s'", WorkflowID(req))})
		if err != nil {
			return false, err
		}
		return len(resp.GetExecutions()) == 1, nil
	})
}

// eventually polls f until it reports true, failing the test at a deadline.
func eventually(t testing.TB, what string, f func(ctx context.Context) (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, err := f(ctx)
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not by the deadline (last error: %v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testKits is an exporter's declaration of COVID-19 antibody test kits whose NMPA registration
// is on the register.
func testKits(t testing.TB) declaration.Declaration {
	t.Helper()
	b, err := os.ReadFile("testdata/test-kits.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// withoutRegistration is d without its NMPA certificates.
func withoutRegistration(d declaration.Declaration) declaration.Declaration {
	var certs []declaration.Certificate
	for _, c := range d.Certificates {
		if c.Scheme != declaration.SchemeNMPA {
			certs = append(certs, c)
		}
	}
	d.Certificates = certs
	return d
}

// requests numbers the requests of this test process: a test asks afresh each time it runs.
var requests atomic.Int64

// request is customs' request of agency about d's first line, its ID unique to the test's run.
func request(t testing.TB, agency string, d declaration.Declaration) PermitRequest {
	clearance := "clearance-" + d.Exporter.Code + "-" + d.ID
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return PermitRequest{Agency: agency, RequestID: fmt.Sprintf("%s/%s-%d/%s/1", clearance, name, requests.Add(1), agency), ClearanceID: clearance,
		Declaration: d, Lines: []string{d.Lines[0].ID},
		Reason: "announcement No. 5 of 2020: test kits need the NMPA's registration certificate"}
}

func TestSingleWindowGrantsByTheAgencysRules(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, testKits(t))
	res, err := sw.result(sw.ask("caller-"+t.Name(), req))
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != Granted || res.Officer != "" || res.Agency != NMPA || res.RequestID != req.RequestID {
		t.Fatalf("result %+v: want granted by NMPA's rules on request %s", res, req.RequestID)
	}
	if want := PermitNumber(NMPA, req.RequestID, res.Decided); res.Permit != want {
		t.Errorf("permit %q, want %q, the number the request gives", res.Permit, want)
	}
	if want := res.Decided.Add(profiles[NMPA].Validity); !res.ValidUntil.Equal(want) {
		t.Errorf("valid until %s, want %s: NMPA's validity from the grant (the registration runs to 2030)", res.ValidUntil, want)
	}
	if s := sw.closed(req); s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("the review ended %v, want completed", s)
	}
	sw.keep(req, "granted-by-rule")
	sw.inQueue(req, "PermitStatus = 'granted' AND ClearanceId = '"+req.ClearanceID+"'")
}

func TestSingleWindowRefusedByTheAgencysOfficer(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	run := sw.ask("caller-"+t.Name(), req)
	st := sw.status(req, PhaseAwaitingOfficer)
	if len(st.Findings) != 1 || st.Findings[0].Code != "no-registration" || st.Findings[0].Line != "1" {
		t.Fatalf("findings %+v: want no-registration on line 1", st.Findings)
	}
	// The NMPA officers' queue in the Web UI of the agency's namespace lists it.
	sw.inQueue(req, "PermitStatus = 'awaiting-officer' AND DeclarationId = '"+req.Declaration.ID+"'")

	for name, c := range map[string]struct {
		d    Decision
		want string
	}{
		"another agency's officer": {Decision{Officer: "samr-lin", Outcome: OutcomeRefuse, Reason: "r"}, "not a permit-officer on NMPA's roster"},
		"a clerk":                  {Decision{Officer: "nmpa-qian", Outcome: OutcomeRefuse, Reason: "r"}, "not a permit-officer on NMPA's roster"},
		"no reason":                {Decision{Officer: "nmpa-gao", Outcome: OutcomeRefuse}, "reason: required to refuse"},
	} {
		if _, err := sw.decide(req, c.d); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: decision refused with %v, want %q", name, err, c.want)
		}
	}
	rec, err := sw.decide(req, Decision{Officer: "nmpa-gao", Outcome: OutcomeRefuse,
		Reason: "the kits hold no NMPA registration: they may not be exported under announcement No. 5"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Officer != "nmpa-gao" || rec.At.IsZero() {
		t.Errorf("decision recorded as %+v", rec)
	}
	res, err := sw.result(run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != Refused || res.Officer != "nmpa-gao" || !strings.Contains(res.Reason, "no NMPA registration") ||
		res.Permit != "" || len(res.Findings) != 1 {
		t.Fatalf("result %+v: want refused by nmpa-gao with the reason and the finding", res)
	}
	sw.inQueue(req, "PermitStatus = 'refused' AND PermitOfficer = 'nmpa-gao'")
	sw.keep(req, "refused-by-officer")
}

func TestSingleWindowAgencyNeedsInformation(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	run := sw.ask("caller-"+t.Name(), req)
	sw.status(req, PhaseAwaitingOfficer)
	if _, err := sw.decide(req, Decision{Officer: "nmpa-tang", Outcome: OutcomeRequestInformation, Reason: "attach the registration"}); err == nil ||
		!strings.Contains(err.Error(), "requested: name the documents") {
		t.Errorf("a request for information without documents: %v", err)
	}
	if _, err := sw.decide(req, Decision{Officer: "nmpa-tang", Outcome: OutcomeRequestInformation, Reason: "attach the registration",
		Requested: []string{"registration-certificate"}}); err != nil {
		t.Fatal(err)
	}
	res, err := sw.result(run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != InformationNeeded || res.Officer != "nmpa-tang" || len(res.Requested) != 1 ||
		res.Requested[0] != "registration-certificate" || res.Reason != "attach the registration" {
		t.Fatalf("result %+v: want information-needed, registration-certificate, by nmpa-tang", res)
	}
	sw.keep(req, "information-needed")
}

func TestSingleWindowWithdrawalCancelsTheReview(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	run := sw.ask("caller-"+t.Name(), req)
	sw.status(req, PhaseAwaitingOfficer)
	if err := sw.customs.SignalWorkflow(context.Background(), run.GetID(), "", signalWithdraw, nil); err != nil {
		t.Fatal(err)
	}
	_, err := sw.result(run)
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("the caller's request ended %v, want cancelled", err)
	}
	if s := sw.closed(req); s != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("the review ended %v, want cancelled", s)
	}
	sw.inQueue(req, "PermitStatus = 'cancelled'")
	sw.keep(req, "withdrawn")
	if _, err := sw.decide(req, Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant, Reason: "late"}); err == nil {
		t.Error("a cancelled review took a decision")
	}
}

func TestSingleWindowSurvivesTheAgencysWorkerStopping(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	run := sw.ask("caller-"+t.Name(), req)
	sw.status(req, PhaseAwaitingOfficer)
	sw.w.Stop()
	sw.startAgency()
	if _, err := sw.decide(req, Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant,
		Reason: "registration seen on the register under its ASCII form"}); err != nil {
		t.Fatal(err)
	}
	res, err := sw.result(run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != Granted || res.Officer != "nmpa-gao" || res.Permit != PermitNumber(NMPA, req.RequestID, res.Decided) {
		t.Fatalf("result %+v: want granted by nmpa-gao", res)
	}
	if n := sw.runs(req); n != 1 {
		t.Errorf("%d review runs, want 1", n)
	}
	sw.keep(req, "granted-after-worker-restart")
}

func TestSingleWindowSameRequestIsOneReview(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	first := sw.ask("caller-1-"+t.Name(), req)
	sw.status(req, PhaseAwaitingOfficer)
	// A second ask of the same request (a customs worker's retry, a clearance run that asks
	// again) attaches to the review that runs.
	second := sw.ask("caller-2-"+t.Name(), req)
	eventually(t, "the second caller attached", func(ctx context.Context) (bool, error) {
		d, err := sw.ac.DescribeWorkflowExecution(ctx, WorkflowID(req), "")
		if err != nil {
			return false, err
		}
		return len(d.GetCallbacks()) == 2, nil
	})
	if _, err := sw.decide(req, Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant, Reason: "registration checked by hand"}); err != nil {
		t.Fatal(err)
	}
	a, err := sw.result(first)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sw.result(second)
	if err != nil {
		t.Fatal(err)
	}
	if a.Permit == "" || a.Permit != b.Permit || !a.Decided.Equal(b.Decided) {
		t.Fatalf("the two callers got %+v and %+v: want one grant", a, b)
	}
	// Asked again once the review has ended, the agency answers with its disposition at once.
	c, err := sw.result(sw.ask("caller-3-"+t.Name(), req))
	if err != nil {
		t.Fatal(err)
	}
	if c.Permit != a.Permit || c.Officer != "nmpa-gao" || !c.Decided.Equal(a.Decided) {
		t.Fatalf("asked after the review ended: %+v, want the grant %+v", c, a)
	}
	if n := sw.runs(req); n != 1 {
		t.Errorf("%d review runs of one request, want 1", n)
	}
	sw.keep(req, "granted-to-two-callers")
}

// TestCallerContinuingAsNewLeavesTheReviewRunning establishes what happens to a pending
// operation when the calling workflow continues as new: the server neither cancels nor ends the
// agency's review; the old run's callback stays attached (and fails, harmlessly, once the review
// ends: its run is gone); the next run, asking again with the same request ID, attaches to the
// same review and gets its disposition.
func TestCallerContinuingAsNewLeavesTheReviewRunning(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	first := sw.ask("caller-"+t.Name(), req)
	sw.status(req, PhaseAwaitingOfficer)
	if err := sw.customs.SignalWorkflow(context.Background(), first.GetID(), first.GetRunID(), signalContinue, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next run attached", func(ctx context.Context) (bool, error) {
		d, err := sw.ac.DescribeWorkflowExecution(ctx, WorkflowID(req), "")
		if err != nil {
			return false, err
		}
		return len(d.GetCallbacks()) == 2, nil
	})
	d, err := sw.ac.DescribeWorkflowExecution(context.Background(), WorkflowID(req), "")
	if err != nil {
		t.Fatal(err)
	}
	if s := d.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the review is %v after the caller continued as new, want running", s)
	}
	if sw.cancelRequested(req) {
		t.Fatal("the caller's continue-as-new asked the agency to cancel the review")
	}
	if _, err := sw.decide(req, Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant, Reason: "checked by hand"}); err != nil {
		t.Fatal(err)
	}
	res, err := sw.result(first) // follows the caller's chain to its last run
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != Granted || res.Officer != "nmpa-gao" {
		t.Fatalf("the next run got %+v, want the grant", res)
	}
	if n := sw.runs(req); n != 1 {
		t.Errorf("%d review runs, want 1", n)
	}
	sw.keep(req, "granted-across-continue-as-new")
	eventually(t, "the callbacks settled", func(ctx context.Context) (bool, error) {
		d, err := sw.ac.DescribeWorkflowExecution(ctx, WorkflowID(req), "")
		if err != nil {
			return false, err
		}
		states := map[enumspb.CallbackState]int{}
		for _, cb := range d.GetCallbacks() {
			states[cb.GetState()]++
		}
		return states[enumspb.CALLBACK_STATE_SUCCEEDED] == 1 && states[enumspb.CALLBACK_STATE_FAILED] == 1, nil
	})
}

// cancelRequested reports whether the review's history records a cancellation request.
func (sw *window) cancelRequested(req PermitRequest) bool {
	sw.t.Helper()
	it := sw.ac.GetWorkflowHistory(context.Background(), WorkflowID(req), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			sw.t.Fatal(err)
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED {
			return true
		}
	}
	return false
}

func TestSingleWindowGrantsByTheMarketRegulatorsList(t *testing.T) {
	sw := newWindow(t, SAMR)
	d := testKits(t)
	d.Manufacturer = declaration.Party{Name: "Ningbo Kangrun Medical Instruments Co., Ltd.", Code: "91330212MA2CK7QX4N", Country: "CN"}
	d.Lines[0].Category = declaration.CategoryFaceMask
	req := request(t, SAMR, d)
	res, err := sw.result(sw.ask("caller-"+t.Name(), req))
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != Granted || !strings.HasPrefix(res.Permit, "SAMR-") {
		t.Fatalf("result %+v: want granted by SAMR's rules", res)
	}
	sw.keep(req, "granted-by-the-market-regulators-list")
	// Test kits are not what the listing covers: the market regulator's officer decides.
	d.Lines[0].Category = declaration.CategoryTestKit
	req = request(t, SAMR, d)
	req.RequestID += "-kits"
	sw.ask("caller-kits-"+t.Name(), req)
	st := sw.status(req, PhaseAwaitingOfficer)
	if len(st.Findings) != 1 || st.Findings[0].Code != "category-not-listed" || strings.Join(st.Officers, ",") != "samr-lin,samr-he" {
		t.Fatalf("status %+v: want category-not-listed, decided by samr-lin or samr-he", st)
	}
}

func TestSingleWindowRefusesARequestItDoesNotTake(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, testKits(t))
	req.Lines = []string{"9"}
	_, err := sw.result(sw.ask("caller-"+t.Name(), req))
	var he *nexus.HandlerError
	if !errors.As(err, &he) || he.Type != nexus.HandlerErrorTypeBadRequest || !strings.Contains(err.Error(), `lines[0]: "9" is not a line`) {
		t.Fatalf("an invalid request ended %v, want a BAD_REQUEST naming lines[0]", err)
	}
	if n := sw.runs(req); n != 0 {
		t.Errorf("%d reviews of a request refused, want none", n)
	}

	// A namespace other than customs' may not ask.
	other := "elsewhere-" + fmt.Sprint(time.Now().UnixNano())
	if _, err := sw.customs.WorkflowService().RegisterNamespace(context.Background(), &workflowservice.RegisterNamespaceRequest{
		Namespace: other, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	oc := realServer(t).client(t, other)
	var ow worker.Worker
	eventually(t, "a worker in "+other, func(context.Context) (bool, error) {
		ow = worker.New(oc, callerQueue, worker.Options{})
		ow.RegisterWorkflow(askAgency)
		return ow.Start() == nil, nil
	})
	t.Cleanup(ow.Stop)
	req = request(t, NMPA, testKits(t))
	req.RequestID += "-elsewhere"
	var run client.WorkflowRun
	eventually(t, "a start in "+other, func(ctx context.Context) (bool, error) {
		run, err = oc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("caller-%s-%d", t.Name(), requests.Add(1)),
			TaskQueue: callerQueue}, askAgency, req)
		return err == nil, err
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = run.Get(ctx, nil)
	if !errors.As(err, &he) || he.Type != nexus.HandlerErrorTypeUnauthorized || !strings.Contains(err.Error(), "from namespace customs only") {
		t.Fatalf("a request from %s ended %v, want UNAUTHORIZED", other, err)
	}
	if n := sw.runs(req); n != 0 {
		t.Errorf("%d reviews of a request from another namespace, want none", n)
	}
}

// signedIn writes the caller into every request's header, as the frontend's interceptor does on a
// cluster that verifies its callers (package auth).
type signedIn struct{ p Principal }

func (s signedIn) Inject(_ context.Context, w workflow.HeaderWriter) error {
	pl, err := converter.GetDefaultDataConverter().ToPayload(s.p)
	if err != nil {
		return err
	}
	w.Set(HeaderPrincipal, pl)
	return nil
}

func (signedIn) Extract(ctx context.Context, _ workflow.HeaderReader) (context.Context, error) {
	return ctx, nil
}

func (signedIn) InjectFromWorkflow(workflow.Context, workflow.HeaderWriter) error { return nil }

func (signedIn) ExtractToWorkflow(ctx workflow.Context, _ workflow.HeaderReader) (workflow.Context, error) {
	return ctx, nil
}

func TestSingleWindowOfficerDecidesAsThemself(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	run := sw.ask("caller-"+t.Name(), req)
	sw.status(req, PhaseAwaitingOfficer)
	c, err := client.NewClientFromExisting(sw.ac, client.Options{Namespace: Namespace(NMPA),
		ContextPropagators: []workflow.ContextPropagator{signedIn{Principal{Subject: "nmpa-tang", Roles: []string{"officer"}, Agency: NMPA}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	officer := &window{t: t, agency: NMPA, ac: c}
	if _, err := officer.decide(req, Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant, Reason: "r"}); err == nil ||
		!strings.Contains(err.Error(), `officer: "nmpa-gao" is not the caller: you are signed in as "nmpa-tang"`) {
		t.Fatalf("deciding as another officer: %v", err)
	}
	rec, err := officer.decide(req, Decision{Outcome: OutcomeRefuse, Reason: "no registration"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Officer != "nmpa-tang" || !rec.Verified {
		t.Fatalf("decision recorded as %+v: want nmpa-tang's, verified", rec)
	}
	res, err := sw.result(run)
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != Refused || res.Officer != "nmpa-tang" {
		t.Fatalf("result %+v: want refused by nmpa-tang", res)
	}
	sw.keep(req, "refused-verified")
}

func TestTheOperationTakesOnlyItsAgencysRequestsFromItsCallers(t *testing.T) {
	req := request(t, SAMR, testKits(t))
	var he *nexus.HandlerError
	err := newReviewOperation(NMPA, nil).admit(req, nexus.StartOperationOptions{})
	if !errors.As(err, &he) || he.Type != nexus.HandlerErrorTypeBadRequest || !strings.Contains(err.Error(), "SAMR's request reached NMPA's single window") {
		t.Errorf("another agency's request: %v", err)
	}
	err = newReviewOperation(SAMR, []string{customs}).admit(req, nexus.StartOperationOptions{})
	if !errors.As(err, &he) || he.Type != nexus.HandlerErrorTypeUnauthorized || !strings.Contains(err.Error(), "not from no namespace") {
		t.Errorf("a request that names no calling namespace: %v", err)
	}
	if err := newReviewOperation(SAMR, nil).admit(req, nexus.StartOperationOptions{}); err != nil {
		t.Errorf("a worker that takes any caller: %v", err)
	}
}

// The review carries no link back into customs' namespace: the agency's officers may not read
// there, and the Web UI, following a link to the caller's event, fetches customs' history and on
// its refusal sends the officer back to the sign-in page. Customs keeps its link to the review
// (its operation's started event), and its callback still brings the disposition back.
func TestTheReviewLinksNothingOfCustoms(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, testKits(t))
	run := sw.ask("caller-"+t.Name(), req)
	if res, err := sw.result(run); err != nil || res.Disposition != Granted {
		t.Fatalf("result %+v, %v: want granted", res, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := sw.ac.GetWorkflowHistory(ctx, WorkflowID(req), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		links := ev.GetLinks()
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			if len(a.GetCompletionCallbacks()) == 0 {
				t.Error("the review has no completion callback: customs would never hear its disposition")
			}
			for _, cb := range a.GetCompletionCallbacks() {
				links = append(links, cb.GetLinks()...)
			}
		}
		for _, l := range links {
			if we := l.GetWorkflowEvent(); we != nil && we.GetNamespace() == customs {
				t.Errorf("event %d (%s) links to %s/%s in customs' namespace", ev.GetEventId(), ev.GetEventType(), we.GetNamespace(), we.GetWorkflowId())
			}
		}
	}
	// Customs' side still links to the review.
	citer := sw.customs.GetWorkflowHistory(ctx, run.GetID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	forward := false
	for citer.HasNext() {
		ev, err := citer.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ev.GetLinks() {
			if we := l.GetWorkflowEvent(); we != nil && we.GetNamespace() == Namespace(NMPA) && we.GetWorkflowId() == WorkflowID(req) {
				forward = true
			}
		}
	}
	if !forward {
		t.Error("customs' history has no link to NMPA's review")
	}
}

// A decision that reaches the review in the workflow task that brings customs' withdrawal is
// refused, and the review ends cancelled: customs recorded the request withdrawn. Before, the
// decision was taken and the review ended with a disposition customs never heard. The agency's
// workflow worker is away while customs withdraws (its Nexus service answers the cancellation)
// and while the officer decides, so both wait for the same workflow task.
func TestADecisionAfterTheWithdrawalIsRefused(t *testing.T) {
	sw := newWindow(t, NMPA)
	req := request(t, NMPA, withoutRegistration(testKits(t)))
	run := sw.ask("caller-"+t.Name(), req)
	sw.status(req, PhaseAwaitingOfficer)
	sw.w.Stop()
	acts, err := NewActivities(NMPA, registry.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	nexusOnly := worker.New(sw.ac, TaskQueue, worker.Options{DisableWorkflowWorker: true})
	nexusOnly.RegisterNexusService(NewService(acts.Agency, customs))
	if err := nexusOnly.Start(); err != nil {
		t.Fatal(err)
	}
	if err := sw.customs.SignalWorkflow(context.Background(), run.GetID(), "", signalWithdraw, nil); err != nil {
		t.Fatal(err)
	}
	var canceled *temporal.CanceledError
	if _, err := sw.result(run); !errors.As(err, &canceled) {
		t.Fatalf("customs' request ended %v, want withdrawn (cancelled)", err)
	}
	const updateID = "decision-after-withdrawal"
	decided := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h, err := sw.ac.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: WorkflowID(req), UpdateID: updateID,
			UpdateName: UpdateDecide, Args: []any{Decision{Officer: "nmpa-gao", Outcome: OutcomeGrant, Reason: "checked by hand"}},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		decided <- err
	}()
	// The decision is admitted by the server before the workflow worker comes back.
	eventually(t, "the decision admitted", func(ctx context.Context) (bool, error) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := sw.ac.WorkflowService().PollWorkflowExecutionUpdate(pctx, &workflowservice.PollWorkflowExecutionUpdateRequest{
			Namespace:  Namespace(NMPA),
			UpdateRef:  &updatepb.UpdateRef{WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: WorkflowID(req)}, UpdateId: updateID},
			WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED},
		})
		return err == nil, nil
	})
	nexusOnly.Stop()
	sw.startAgency()
	if err := <-decided; err == nil || !strings.Contains(err.Error(), "customs withdrew") {
		t.Fatalf("the decision after customs' withdrawal: %v, want it refused, naming the withdrawal", err)
	}
	if s := sw.closed(req); s != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("the review ended %v, want cancelled", s)
	}
}
