package faults

import (
	"context"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// startEmbedded starts the file-backed embedded server on dir with a free gRPC port and no Web
// UI; it is stopped when the test ends.
func startEmbedded(t *testing.T, dir string) *embedded.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := embedded.Start(ctxFor(t, time.Minute), embedded.Config{DataDir: dir, GRPCPort: port, DisableUI: true,
		Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	return s
}

// waitingView is what must survive a restart of a waiting clearance.
type waitingView struct {
	State     workflows.State
	Stage     policy.Stage
	Lane      policy.Lane
	For       string
	Role      policy.Role
	Requested string
	Due       string
	Decisions int
	Findings  int
}

func viewOf(s workflows.Status) waitingView {
	v := waitingView{State: s.State, Stage: s.Stage, Lane: s.Lane, Decisions: len(s.Decisions), Findings: len(s.Findings)}
	if w := s.Waiting; w != nil {
		v.For, v.Role, v.Due = w.For, w.Role, w.Due.UTC().Format(time.RFC3339Nano)
		v.Requested = fmt.Sprint(w.Requested)
	}
	return v
}

// listQueue lists the workflow IDs with a clearance status, as an officer's queue does.
func listQueue(ctx context.Context, c client.Client, ns string, state workflows.State) ([]string, error) {
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: ns, Query: fmt.Sprintf("%s = '%s' AND ExecutionStatus = 'Running'", workflows.SAStatus, state),
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	sort.Strings(ids)
	return ids, nil
}

// awaitQueue waits until the officers' or exporters' queue lists exactly want.
func awaitQueue(t *testing.T, c client.Client, ns string, state workflows.State, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	eventually(t, conditionTimeout, "queue "+string(state), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := listQueue(ctx, c, ns, state)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("lists %v, want %v", got, want)
		}
		return nil
	})
}

// TestServerRestart stops the file-backed embedded server with clearances waiting on officers
// (document check, biological review) and on exporters (a request for information), and with
// green clearances just submitted; it starts the server again on the same data directory and new
// ports with a new worker process. Every waiting clearance must be there in the same state,
// stage and deadline and in the same queue, and must then run to release on the decisions and
// documents that follow, with one notice each.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	began := time.Now()
	dir := t.TempDir()
	serverDir, workerDir := filepath.Join(dir, "server"), filepath.Join(dir, "worker")

	s := startEmbedded(t, serverDir)
	ns := s.Namespace()
	c := dial(t, s.FrontendAddress(), ns, "")
	w := startWorker(t, s.FrontendAddress(), ns, workerDir, "before-restart")
	awaitPolling(t, c, w)

	const officerWaits, reviews, requests = 3, 2, 3
	// Green clearances in flight at the stop can leave an activity started that the stopped
	// worker could not report; it is retried after its minute's timeout, which -short skips.
	green := 4
	if testing.Short() {
		green = 0
	}
	var decls []declaration.Declaration
	for range officerWaits {
		decls = append(decls, fresh(t, exN95))
	}
	for range reviews {
		decls = append(decls, fresh(t, exAntibody))
	}
	for range requests {
		decls = append(decls, fresh(t, exThermometers))
	}
	ids := submitAll(t, c, decls...)
	atDocuments, atReview, atRequest := ids[:officerWaits], ids[officerWaits:officerWaits+reviews], ids[officerWaits+reviews:]

	for _, ref := range atReview {
		awaitOfficer(t, c, ref, policy.StageDocumentCheck)
		decide(t, c, ref, approval(policy.StageDocumentCheck, "doc-li"))
	}
	for _, ref := range atRequest {
		awaitOfficer(t, c, ref, policy.StageDocumentCheck)
		decide(t, c, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li",
			Outcome: workflows.OutcomeRequestInformation, Reason: "attach the manufacturer's quality declaration",
			Requested: []string{string(declaration.DocQualityDeclaration)}})
	}
	before := map[clearance.Ref]waitingView{}
	for _, ref := range atDocuments {
		before[ref] = viewOf(awaitOfficer(t, c, ref, policy.StageDocumentCheck))
	}
	for _, ref := range atReview {
		before[ref] = viewOf(awaitOfficer(t, c, ref, policy.StageBiologicalReview))
	}
	for _, ref := range atRequest {
		before[ref] = viewOf(awaitState(t, c, ref, "awaiting the exporter", func(s workflows.Status) bool {
			return s.State == workflows.StateAwaitingExporter
		}))
	}
	var officerQueue, exporterQueue []string
	for _, ref := range append(slices.Clone(atDocuments), atReview...) {
		officerQueue = append(officerQueue, workflowID(t, ref))
	}
	for _, ref := range atRequest {
		exporterQueue = append(exporterQueue, workflowID(t, ref))
	}
	awaitQueue(t, c, ns, workflows.StateAwaitingOfficer, officerQueue)
	awaitQueue(t, c, ns, workflows.StateAwaitingExporter, exporterQueue)

	// Green clearances in flight when the server goes away.
	var greens []declaration.Declaration
	for i := range green {
		greens = append(greens, fresh(t, greenExamples[i%len(greenExamples)]))
	}
	inFlight := submitAll(t, c, greens...)

	stopBegan := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("stop server: %v", err)
	}
	serverStopped := time.Since(stopBegan)
	// The worker loses its server first, as it would in an outage, then is stopped.
	workerBegan := time.Now()
	w.stop(t)
	workerStopped := time.Since(workerBegan)
	reg := openRegister(t, filepath.Join(workerDir, "releases.db"))
	releasedBefore, err := reg.Count(ctxFor(t, conditionTimeout))
	if err != nil {
		t.Fatal(err)
	}

	restartBegan := time.Now()
	s2 := startEmbedded(t, serverDir)
	restarted := time.Since(restartBegan)
	c2 := dial(t, s2.FrontendAddress(), ns, "")
	// Activities the stopped worker had started and could not report to the stopped server are
	// retried only when their start-to-close timeout runs out.
	_, stranded := heldBy(t, c2, inFlight, w)
	w2 := startWorker(t, s2.FrontendAddress(), ns, workerDir, "after-restart")
	awaitPolling(t, c2, w2)

	for _, ref := range slices.SortedFunc(maps.Keys(before), compareRefs) {
		st := awaitState(t, c2, ref, "answering after the restart", func(workflows.Status) bool { return true })
		if got := viewOf(st); got != before[ref] {
			t.Errorf("%s after the restart: %+v, before: %+v", ref.Declaration, got, before[ref])
		}
	}
	awaitQueue(t, c2, ns, workflows.StateAwaitingOfficer, officerQueue)
	awaitQueue(t, c2, ns, workflows.StateAwaitingExporter, exporterQueue)

	all := append(slices.Clone(ids), inFlight...)
	out := awaitResults(c2, all, recoveryTimeout)
	for _, ref := range atDocuments {
		decide(t, c2, ref, approval(policy.StageDocumentCheck, "doc-chen"))
	}
	for _, ref := range atReview {
		decide(t, c2, ref, approval(policy.StageBiologicalReview, "hq-wang"))
		awaitOfficer(t, c2, ref, policy.StageRelease)
		decide(t, c2, ref, approval(policy.StageRelease, "rel-zhou"))
	}
	for _, ref := range atRequest {
		if _, err := clearance.Supply(ctxFor(t, conditionTimeout), c2, ref, workflows.Supply{
			Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-RESTART-" + ref.Declaration}},
		}); err != nil {
			t.Fatalf("%s: supply after the restart: %v", ref.Declaration, err)
		}
		awaitOfficer(t, c2, ref, policy.StageDocumentCheck)
		decide(t, c2, ref, approval(policy.StageDocumentCheck, "doc-li"))
	}
	results := out.wait(t)
	assertReleasedOnce(t, reg, all, results)

	t.Logf("covered: 1 server restart (server stopped in %s, its worker in %s with %v; started again on the same data "+
		"directory in %s) with %d clearances waiting (%d on the document officer, %d on the biological review, %d on the "+
		"exporter) and %d green submitted just before (%d of them released before the stop, %d activities left started by the stopped "+
		"worker)", serverStopped.Round(time.Millisecond), workerStopped.Round(time.Millisecond), exitStatus(w),
		restarted.Round(time.Millisecond), len(ids), officerWaits, reviews, requests, green, releasedBefore, stranded)
	t.Logf("covered: every waiting clearance in the same state, stage, deadline and queue after it; "+
		"all %d released afterwards, %d notices, none twice; %s", len(all), len(all), since(began))
}
