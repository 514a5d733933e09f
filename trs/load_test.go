package trs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

const (
	// endingQueue is polled by the test's worker, whose clearances end (or continue as new
	// first); nothing polls idleQueue, whose clearances stay running.
	endingQueue = "trs-read-ending"
	idleQueue   = "trs-read-idle"
)

// endingClearance stands in for the clearance workflow: it continues as new runs times, then
// completes.
func endingClearance(ctx workflow.Context, runs int) error {
	if runs > 0 {
		return workflow.NewContinueAsNewError(ctx, workflows.WorkflowName, runs-1)
	}
	return nil
}

// TestRangesReadWhatOneListingReads starts clearances (running, completed, and one that
// continued as new before it completed) in three batches, cuts ExecutionTime between the
// batches with an empty range among the cuts, and checks that the ranges, read several at once
// in pages of two, return exactly the clearances one listing returns, once each and in the same
// order; so does Read, which chooses its own ranges.
func TestRangesReadWhatOneListingReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	c := srv.GetDefaultClient()
	ns := srv.GetDefaultNamespace()
	if err := connect.RegisterSearchAttributes(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, endingQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(endingClearance, workflow.RegisterOptions{Name: workflows.WorkflowName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	prefix := fmt.Sprintf("T%d", time.Now().UnixNano())
	n := 0
	start := func(queue string, runs int) {
		t.Helper()
		n++
		decl := fmt.Sprintf("%s-%03d", prefix, n)
		study := workflows.Study{State: workflows.StateAwaitingOfficer, Lane: policy.LaneYellow, Stage: policy.StageDocumentCheck,
			Submitted: time.Date(2020, 4, 6, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour), AsOf: time.Date(2020, 4, 7, 0, 0, 0, 0, time.UTC)}
		if queue == endingQueue {
			study.State = workflows.StateReleased
		}
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "clearance-0000000000-" + decl, TaskQueue: queue,
			Memo:                  map[string]any{workflows.MemoStudy: study},
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.DeclarationIDKey.ValueSet(decl), workflows.ProductCategoriesKey.ValueSet([]string{"test-kit"})),
		}, workflows.WorkflowName, runs)
		if err != nil {
			t.Fatal(err)
		}
	}
	cut := func() time.Time {
		time.Sleep(20 * time.Millisecond)
		at := time.Now()
		time.Sleep(20 * time.Millisecond)
		return at
	}
	for range 3 {
		start(idleQueue, 0)
	}
	start(endingQueue, 0)
	cuts := []time.Time{cut(), cut()} // nothing starts between these two: an empty range
	for range 3 {
		start(idleQueue, 0)
	}
	start(endingQueue, 1) // continues as new once, then completes
	cuts = append(cuts, cut())
	for range 2 {
		start(idleQueue, 0)
	}
	start(endingQueue, 0)
	const want = 11 // the continued run is not a clearance of its own

	query := fmt.Sprintf("%s STARTS_WITH '%s-'", workflows.SADeclarationID, prefix)
	q := fmt.Sprintf("WorkflowType = '%s' AND (%s)", workflows.WorkflowName, query)
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns,
			Query: q + " AND ExecutionStatus IN ('Completed', 'Running', 'ContinuedAsNew')"})
		if err != nil {
			t.Fatal(err)
		}
		closed, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns,
			Query: q + " AND ExecutionStatus IN ('Completed', 'ContinuedAsNew')"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetCount() == want+1 && closed.GetCount() == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d listed, %d closed, want %d and 4", resp.GetCount(), closed.GetCount(), want+1)
		}
		time.Sleep(50 * time.Millisecond)
	}

	at := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	plain, plainRead, err := Reader{Client: c, Namespace: ns, PageSize: 2, Now: clock, Plain: true}.Read(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	ids := declarations(plain)
	if len(plain) != want || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != want {
		t.Fatalf("one listing read %d clearances (%v), want %d different ones", len(plain), ids, want)
	}
	if plainRead.Pages != 7 || plainRead.Counts != 0 || plainRead.Ranges != 0 || plainRead.FromMemo != want {
		t.Errorf("one listing: %+v, want 7 pages of 2 (12 runs listed), all from their memo", plainRead)
	}
	running := 0
	for _, c := range plain {
		if c.Running {
			running++
		}
	}
	if running != 8 {
		t.Errorf("%d running, want 8", running)
	}

	progress := 0
	rd := Reader{Client: c, Namespace: ns, PageSize: 2, Now: clock, Streams: 3, Progress: func(n int) {
		if n != progress+1 {
			t.Errorf("progress %d after %d", n, progress)
		}
		progress = n
	}}.reading()
	items, read, err := rd.readRanges(ctx, q, cuts, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ranged []Clearance
	for _, it := range items {
		ranged = append(ranged, it.c)
	}
	if got := declarations(ranged); !slices.Equal(got, ids) {
		t.Errorf("ranges read\n%v\none listing read\n%v", got, ids)
	}
	if !equalClearances(ranged, plain) {
		t.Errorf("ranges read other clearances than one listing")
	}
	if read.Ranges != 4 || read.Pages < 7 || read.FromMemo != want || progress != want {
		t.Errorf("ranges: %+v, progress %d", read, progress)
	}

	for _, size := range []int32{2, 100} {
		got, read, err := Reader{Client: c, Namespace: ns, PageSize: size, Now: clock}.Read(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(declarations(got), ids) || !equalClearances(got, plain) {
			t.Errorf("pages of %d: read\n%v\none listing read\n%v", size, declarations(got), ids)
		}
		if size == 100 && (read.Ranges != 0 || read.Calls() != 1) {
			t.Errorf("pages of %d: %+v, want one page", size, read)
		}
		if size == 2 && (read.Ranges < 2 || read.FromMemo != want) {
			t.Errorf("pages of %d: %+v, want ranges", size, read)
		}
	}
	if _, _, err := (Reader{Client: c, Namespace: ns}).Read(ctx, query+" AND ExecutionStatus = 'Failed'"); err != ErrNoClearances {
		t.Errorf("no clearance: %v", err)
	}
}

func declarations(cs []Clearance) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.DeclarationID)
	}
	return out
}

func equalClearances(a, b []Clearance) bool {
	return len(a) == len(b) && slices.EqualFunc(a, b, func(x, y Clearance) bool {
		return x.DeclarationID == y.DeclarationID && x.State == y.State && x.Running == y.Running &&
			x.Elapsed == y.Elapsed && x.Submitted.Equal(y.Submitted) && strings.Join(x.Categories, ",") == strings.Join(y.Categories, ",")
	})
}

func TestRangeQueriesMeetAtEachCut(t *testing.T) {
	a := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	b := a.Add(1500 * time.Microsecond)
	got := rangeQueries("Q", []time.Time{a, b})
	want := []string{
		"Q AND ExecutionTime < '2026-12-06T10:00:00Z'",
		"Q AND ExecutionTime >= '2026-12-06T10:00:00Z' AND ExecutionTime < '2026-12-06T10:00:00.0015Z'",
		"Q AND ExecutionTime >= '2026-12-06T10:00:00.0015Z'",
	}
	if !slices.Equal(got, want) {
		t.Errorf("%q", got)
	}
	if got := rangeQueries("Q", nil); !slices.Equal(got, []string{"Q"}) {
		t.Errorf("no cuts: %q", got)
	}
}

func TestCutsSpreadTheCountsEvenly(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute), t0.Add(3 * time.Minute)}
	// 100 before t0, none in the first minute, 300 in the second, 100 in the third, 100 after.
	below := []int64{100, 100, 400, 500, 600}
	got := cutsFrom(at, below, 6)
	// 100 per range: the first hundred end at t0; the second minute holds 100 per 20 s; the
	// third minute ends the fifth hundred.
	want := []time.Time{t0, t0.Add(80 * time.Second), t0.Add(100 * time.Second), t0.Add(120 * time.Second), t0.Add(180 * time.Second)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("cuts %v, want %v", got, want)
	}
	if got := cutsFrom(at, []int64{0, 0, 0, 0, 0}, 4); len(got) != 0 {
		t.Errorf("nothing to cut: %v", got)
	}
	if got := cutsFrom(at, []int64{0, 0, 0, 0, 90}, 3); len(got) != 0 {
		t.Errorf("all after the last moment: %v", got)
	}
}
