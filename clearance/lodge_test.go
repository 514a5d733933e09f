package clearance_test

import (
	"context"
	"errors"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// calls counts the calls a client makes of the workflow service, by method.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker,
	opts ...grpc.CallOption) error {
	c.mu.Lock()
	c.n[path.Base(method)]++
	c.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
}

// take returns the calls counted since the last take, and starts counting again.
func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// lodgeStack is an in-process Temporal server with the engine's search attributes and a
// clearance worker, and a client of it that counts its calls.
type lodgeStack struct {
	c     client.Client
	calls *calls
}

// startLodgeStack starts a lodgeStack, stopped when tb ends. serverOpts configure the server;
// workerOpts, when set, the worker (its interceptors after the engine's).
func startLodgeStack(tb testing.TB, workerInterceptors []interceptor.WorkerInterceptor, serverOpts ...temporal.ServerOption) *lodgeStack {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := temporaltest.NewServer(temporaltest.WithBaseServerOptions(serverOpts...))
	tb.Cleanup(srv.Stop)
	ns := srv.GetDefaultNamespace()
	if err := connect.RegisterSearchAttributes(ctx, srv.GetDefaultClient(), ns); err != nil {
		tb.Fatal(err)
	}
	s := &lodgeStack{calls: &calls{n: map[string]int{}}}
	c, err := client.Dial(client.Options{HostPort: srv.GetFrontendHostPort(), Namespace: ns, Logger: logging.NewSDKLogger(zap.NewNop()),
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(s.calls.intercept)}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	s.c = c
	cfg := engine.Config{DataDir: tb.TempDir(), Notifications: "-", ShutdownTimeout: 5 * time.Second}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Error(err)
		}
	})
	opts := cfg.SDKWorkerOptions()
	opts.Interceptors = append(opts.Interceptors, workerInterceptors...)
	w := worker.New(srv.GetDefaultClient(), workflows.TaskQueue, opts)
	engine.Register(w, e.Activities)
	if err := w.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Stop)
	return s
}

// TestLodgeAnswersInOneCall: a declaration is lodged, and its answer read, in one call of the
// workflow service: accepted, its registration number, lane and why, its queue priority, and what
// happens next; for a yellow-lane declaration, a document officer's decision.
func TestLodgeAnswersInOneCall(t *testing.T) {
	s := startLodgeStack(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json") // yellow lane: a document officer decides first
	s.calls.take()
	l, err := clearance.Lodge(ctx, s.c, d)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.calls.take(); n["ExecuteMultiOperation"] != 1 || len(n) != 1 {
		t.Errorf("the lodgement made the calls %v; want one ExecuteMultiOperation", n)
	}
	id, _ := clearance.RefOf(d).WorkflowID()
	switch {
	case !l.Answered || l.Polled:
		t.Fatalf("answered %v, polled %v: want the update's answer", l.Answered, l.Polled)
	case !l.Accepted || l.Reason != "":
		t.Errorf("accepted %v, reason %q", l.Accepted, l.Reason)
	case l.WorkflowID != id || l.RunID == "":
		t.Errorf("clearance %s run %q, want %s", l.WorkflowID, l.RunID, id)
	case l.Registration == nil || !strings.HasPrefix(l.Registration.Number, "ED-"):
		t.Errorf("registration %+v", l.Registration)
	case l.Lane != policy.LaneYellow || len(l.LaneReasons) == 0:
		t.Errorf("lane %s for %v, want yellow with its reasons", l.Lane, l.LaneReasons)
	case l.Priority != policy.PriorityNormal:
		t.Errorf("priority %q", l.Priority)
	case !strings.HasPrefix(l.Next, "waiting for a document officer's decision on the document check, due "):
		t.Errorf("next: %q", l.Next)
	}
	// The answer is what the status says.
	st, err := clearance.Status(ctx, s.c, clearance.RefOf(d))
	if err != nil {
		t.Fatal(err)
	}
	if st.Registration == nil || st.Registration.Number != l.Registration.Number || st.State != workflows.StateAwaitingOfficer {
		t.Errorf("status %s, registration %+v; the lodgement answered %+v", st.State, st.Registration, l.Registration)
	}
	// The start of the one call carries the priority a start on its own does.
	desc, err := s.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	want := clearance.StartPriority(d.Exporter.Code, d.IsExpedited())
	if p := desc.GetWorkflowExecutionInfo().GetPriority(); p.GetPriorityKey() != int32(want.PriorityKey) || p.GetFairnessKey() != want.FairnessKey {
		t.Errorf("priority %v, want %+v", p, want)
	}
	// The auditor's trail shows the exporter's question and the answer.
	h := &historypb.History{}
	iter := s.c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	trail, err := audit.BuildTrail(h, audit.Converters{})
	if err != nil {
		t.Fatal(err)
	}
	var row *audit.Row
	for i := range trail.Rows {
		if trail.Rows[i].What == "lodgement (update, with the start)" {
			row = &trail.Rows[i]
		}
	}
	if row == nil || row.Kind != audit.RowSubmission || row.Actor != "exporter "+d.Exporter.Code || row.Outcome != "answered: accepted" ||
		row.Reason != l.Next {
		t.Errorf("the trail's lodgement row: %+v", row)
	}
}

// TestLodgeRefusesADuplicate: a declaration lodged again is refused, naming the earlier clearance
// and how it stands; nothing else starts.
func TestLodgeRefusesADuplicate(t *testing.T) {
	s := startLodgeStack(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := example(t, "us-n95-respirators-niosh.json")
	first, err := clearance.Lodge(ctx, s.c, d)
	if err != nil {
		t.Fatal(err)
	}
	_, err = clearance.Lodge(ctx, s.c, d)
	var dup *clearance.DuplicateError
	if !errors.As(err, &dup) || dup.WorkflowID != first.WorkflowID || dup.RunID != first.RunID || dup.State != clearance.StateRunning {
		t.Fatalf("second lodgement: %v; want the duplicate of %s run %s, running", err, first.WorkflowID, first.RunID)
	}
	desc, err := s.c.DescribeWorkflowExecution(ctx, first.WorkflowID, "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() != first.RunID {
		t.Errorf("the clearance runs %v (%v), want the first run %s", desc.GetWorkflowExecutionInfo().GetExecution(), err, first.RunID)
	}
}

// TestLodgeAnswersARefusalAsLodged: a declaration the register holds for an earlier clearance (one
// under the legacy workflow ID) is answered refused as lodged, naming that clearance, and the
// refusal stays on record.
func TestLodgeAnswersARefusalAsLodged(t *testing.T) {
	s := startLodgeStack(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := example(t, "us-nasal-cannulas-anaesthesia-masks.json")
	opts, err := clearance.StartOptions(d)
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := workflows.LegacyWorkflowID(d.ID)
	opts.ID = legacy
	run, err := s.c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: d})
	if err != nil {
		t.Fatal(err)
	}
	var earlier workflows.Result
	if err := run.Get(ctx, &earlier); err != nil || earlier.State != workflows.StateReleased {
		t.Fatalf("the earlier clearance: %s, %v", earlier.State, err)
	}

	l, err := clearance.Lodge(ctx, s.c, d)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Answered || l.Accepted || !l.RefusedAsLodged || !strings.Contains(l.Reason, "was lodged before") ||
		!strings.Contains(l.Reason, legacy) || !strings.Contains(l.Next, "refused as lodged") {
		t.Fatalf("answered %v, accepted %v, as lodged %v, reason %q, next %q; want refused as lodged naming %s",
			l.Answered, l.Accepted, l.RefusedAsLodged, l.Reason, l.Next, legacy)
	}
	res, err := clearance.Wait(ctx, s.c, clearance.RefOf(d))
	if err != nil || res.State != workflows.StateRefused || !res.RefusedAsLodged || res.Reason != l.Reason {
		t.Errorf("on record: %s, as lodged %v, %q, %v", res.State, res.RefusedAsLodged, res.Reason, err)
	}
}

// TestLodgeWithoutUpdateWithStart: a server that does not take Update-with-Start (it answers
// Unimplemented, as one without the API does) is lodged as before: the clearance is started and its
// status asked until it gives the same answer.
func TestLodgeWithoutUpdateWithStart(t *testing.T) {
	refused := make(chan string, 10)
	s := startLodgeStack(t, nil, temporal.WithChainedFrontendGrpcInterceptors(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if path.Base(info.FullMethod) == "ExecuteMultiOperation" {
				refused <- info.FullMethod
				return nil, serviceerror.NewUnimplemented("unknown method ExecuteMultiOperation")
			}
			return handler(ctx, req)
		}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json")
	s.calls.take()
	l, err := clearance.Lodge(ctx, s.c, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 1 {
		t.Errorf("the server was asked Update-with-Start %d times, want once", len(refused))
	}
	n := s.calls.take()
	if n["StartWorkflowExecution"] != 1 || n["QueryWorkflow"] < 1 {
		t.Errorf("calls %v; want one start and the status asked", n)
	}
	if !l.Answered || !l.Polled || !l.Accepted || l.Registration == nil || l.Lane != policy.LaneYellow ||
		!strings.HasPrefix(l.Next, "waiting for a document officer's decision") {
		t.Fatalf("answered %v, polled %v, accepted %v, registration %+v, lane %s, next %q", l.Answered, l.Polled, l.Accepted,
			l.Registration, l.Lane, l.Next)
	}
	if _, err := clearance.Lodge(ctx, s.c, d); !errors.As(err, new(*clearance.DuplicateError)) {
		t.Errorf("second lodgement without Update-with-Start: %v, want a duplicate", err)
	}
}

// earlierRelease refuses the update "lodgement" as the SDK refuses an update a workflow does not
// know: the clearance of a worker of an earlier release.
type earlierRelease struct {
	interceptor.WorkerInterceptorBase
}

func (*earlierRelease) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &withoutLodgement{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type withoutLodgement struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (w *withoutLodgement) ValidateUpdate(ctx workflow.Context, in *interceptor.UpdateInput) error {
	if in.Name == workflows.UpdateLodgement {
		return errors.New("unknown update lodgement")
	}
	return w.Next.ValidateUpdate(ctx, in)
}

// TestLodgeOnAnEarlierWorker: a clearance whose worker does not take the update (an earlier
// release) is started by the call and refuses the update; the lodgement asks its status instead.
func TestLodgeOnAnEarlierWorker(t *testing.T) {
	s := startLodgeStack(t, []interceptor.WorkerInterceptor{&earlierRelease{}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := example(t, "us-nasal-cannulas-anaesthesia-masks.json") // green lane: no officer
	s.calls.take()
	l, err := clearance.Lodge(ctx, s.c, d)
	if err != nil {
		t.Fatal(err)
	}
	n := s.calls.take()
	if n["ExecuteMultiOperation"] != 1 || n["StartWorkflowExecution"] != 0 || n["QueryWorkflow"] < 1 {
		t.Errorf("calls %v; want Update-with-Start, then the status asked, and no second start", n)
	}
	if !l.Answered || !l.Polled || !l.Accepted || l.Lane != policy.LaneGreen || l.Registration == nil {
		t.Fatalf("answered %v, polled %v, accepted %v, lane %s, registration %+v", l.Answered, l.Polled, l.Accepted, l.Lane, l.Registration)
	}
	res, err := clearance.Wait(ctx, s.c, clearance.RefOf(d))
	if err != nil || res.State != workflows.StateReleased {
		t.Errorf("the clearance: %s, %v", res.State, err)
	}
}

// TestLodgeWithoutAWorkerStands: with no worker to answer, the lodgement stands unanswered once the
// time it waits is up: the clearance was started, and its status will say where it stands.
func TestLodgeWithoutAWorkerStands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, ns := srv.GetDefaultClient(), srv.GetDefaultNamespace()
	if err := connect.RegisterSearchAttributes(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	d := example(t, "de-antibody-test-kits.json")
	l, err := clearance.LodgeWithin(ctx, c, d, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := clearance.RefOf(d).WorkflowID()
	if l.Answered || l.WorkflowID != id {
		t.Fatalf("answered %v for %s; want it unanswered for %s", l.Answered, l.WorkflowID, id)
	}
	if _, err := c.DescribeWorkflowExecution(ctx, id, ""); err != nil {
		t.Errorf("the clearance was not started: %v", err)
	}
}
