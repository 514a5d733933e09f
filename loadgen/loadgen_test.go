package loadgen

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/policy"
)

func TestLatenciesAndIDs(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := latencies(ds)
	if l.P50 != 51*time.Millisecond || l.P95 != 96*time.Millisecond || l.P99 != 100*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Errorf("%+v", l)
	}
	ids := generateIDs("x", 200)
	seen := map[string]bool{}
	for _, id := range ids {
		if activities.Sampled(id, policy.Default().SamplePercent) || seen[id] {
			t.Fatalf("id %s sampled or repeated", id)
		}
		seen[id] = true
	}
	if len(ids) != 200 {
		t.Fatalf("%d ids", len(ids))
	}
}

func TestMerge(t *testing.T) {
	a := Result{Kind: "baseline", N: 2, Completed: 2, Wall: time.Second,
		e2e: []time.Duration{1 * time.Millisecond, 2 * time.Millisecond}}
	b := Result{Kind: "baseline", N: 3, Completed: 2, Errors: 1, FirstError: "boom", Wall: 3 * time.Second,
		e2e:    []time.Duration{3 * time.Millisecond, 4 * time.Millisecond},
		stages: map[policy.Stage][]time.Duration{policy.StageRelease: {5 * time.Millisecond}}}
	m := Merge(a, b)
	if m.N != 5 || m.Completed != 4 || m.Errors != 1 || m.FirstError != "boom" || m.Wall != 4*time.Second {
		t.Fatalf("%+v", m)
	}
	if m.PerSecond != 1 {
		t.Errorf("rate %v, want 4 completed / 4 s", m.PerSecond)
	}
	if m.EndToEnd.Max != 4*time.Millisecond || m.EndToEnd.P50 != 3*time.Millisecond {
		t.Errorf("latencies %+v, want them over both runs", m.EndToEnd)
	}
	if m.Stages[policy.StageRelease].Max != 5*time.Millisecond {
		t.Errorf("stages %+v", m.Stages)
	}
	a.ServerCPU, a.LoadCPU, b.ServerCPU, b.LoadCPU = 10*time.Millisecond, time.Millisecond, 30*time.Millisecond, 3*time.Millisecond
	m = Merge(a, b)
	if m.ServerCPU != 40*time.Millisecond || m.LoadCPU != 4*time.Millisecond || m.PerWorkflow(m.ServerCPU) != 10*time.Millisecond {
		t.Errorf("processor time %v and %v (%v per workflow), want 40 ms and 4 ms over both runs, 10 ms per workflow", m.ServerCPU, m.LoadCPU, m.PerWorkflow(m.ServerCPU))
	}
	if (Result{}).PerWorkflow(time.Second) != 0 {
		t.Error("a run that completed nothing has no processor time per workflow")
	}
}

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks: 3 s. The name holds a space and a parenthesis.
	stat := "4242 (load (x) 2) S 1 4242 4242 0 -1 4194560 9000 0 12 0 250 50 0 0 20 0 14 0 1000 1000000 5000"
	if got := parseStatCPU(stat); got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, want 3s", got)
	}
	for _, bad := range []string{"", "4242 (load) S 1", "4242 (load) S 1 4242 4242 0 -1 4194560 9000 0 12 0 x 50"} {
		if got := parseStatCPU(bad); got != 0 {
			t.Errorf("parseStatCPU(%q) = %v, want 0", bad, got)
		}
	}
	if ProcessCPU(0) <= 0 {
		t.Error("no processor time for this process")
	}
	if ProcessCPU(1<<30) != 0 {
		t.Error("processor time for a process that does not exist")
	}
	r, err := Measured(0, func() (Result, error) {
		for began := ProcessCPU(0); ProcessCPU(0)-began < 30*time.Millisecond; {
		}
		return Result{Completed: 1}, nil
	})
	if err != nil || r.LoadCPU < 30*time.Millisecond || r.ServerCPU != 0 {
		t.Errorf("Measured: %v, this process %v and server %v, want at least 30 ms and none", err, r.LoadCPU, r.ServerCPU)
	}
}

// TestRunAgainstARealServer runs a few clearances (one needing an officer) and the baseline.
func TestRunAgainstARealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	c := srv.GetDefaultClient()
	if err := connect.RegisterSearchAttributes(ctx, c, srv.GetDefaultNamespace()); err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{DataDir: t.TempDir(), Notifications: "-"}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}()
	w := e.NewWorker(c, cfg)
	bw := worker.New(c, BaselineTaskQueue, worker.Options{})
	RegisterBaseline(bw)
	for _, x := range []worker.Worker{w, bw} {
		if err := x.Start(); err != nil {
			t.Fatal(err)
		}
		defer x.Stop()
	}
	var templates []declaration.Declaration
	for _, f := range []string{"us-nasal-cannulas-anaesthesia-masks.json", "us-n95-respirators-niosh.json"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		d, err := declaration.ParseAndValidate(b)
		if err != nil {
			t.Fatal(err)
		}
		templates = append(templates, d)
	}
	// Search attributes become usable a moment after registration: retry the first run.
	o := Options{N: 6, Concurrency: 3, Templates: templates, Prefix: "lt", OfficerDelay: 10 * time.Millisecond}
	var r Result
	for attempt := 0; ; attempt++ {
		o.Prefix = "lt" + string(rune('a'+attempt))
		if r, err = RunClearances(ctx, c, o); err != nil {
			t.Fatal(err)
		}
		if r.Errors == 0 || attempt == 20 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.Completed != 6 || r.Errors != 0 {
		t.Fatalf("clearances: %+v", r)
	}
	if r.Decisions != 3 || len(r.decides) != 3 || r.Decide.Max <= 0 || r.Decide.P50 > r.Decide.Max {
		t.Errorf("officer approvals %d (round trips %v, %+v), want 3 (one per yellow clearance)", r.Decisions, r.decides, r.Decide)
	}
	if _, ok := r.Stages[policy.StageRelease]; !ok || r.PerSecond <= 0 {
		t.Errorf("stages %v, rate %v", r.Stages, r.PerSecond)
	}
	o.Prefix += "-side"
	o.ServerPID = os.Getpid() // the test server runs in this process
	b, cl, err := SideBySide(ctx, c, o, 2)
	if err != nil {
		t.Fatal(err)
	}
	if b.Kind != "baseline" || b.N != 12 || b.Completed != 12 || b.Errors != 0 || len(b.e2e) != 12 {
		t.Errorf("baseline over two rounds: %+v", b)
	}
	if cl.Kind != "clearance" || cl.N != 12 || cl.Completed != 12 || cl.Errors != 0 || cl.Decisions != 6 || len(cl.decides) != 6 {
		t.Errorf("clearances over two rounds: %+v", cl)
	}
	if b.ServerCPU <= 0 || cl.ServerCPU <= 0 || cl.LoadCPU <= 0 {
		t.Errorf("processor time: server %v and %v, this process %v, want each measured", b.ServerCPU, cl.ServerCPU, cl.LoadCPU)
	}
	if PeakRSS(0) == 0 {
		t.Error("no peak RSS for this process")
	}
}

// TestRunScaleMeasuresEachSize holds clearances open at two sizes on a real server and checks
// that each size's figures are of that size: every clearance open and in the study, read from
// one visibility page, the sampled decisions taken and a replay measured.
func TestRunScaleMeasuresEachSize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, c := serveClearances(t)
	d := examples(t, "us-n95-respirators-niosh.json")[0]
	var points []ScalePoint
	o := ScaleOptions{Options: Options{Concurrency: 4, Templates: []declaration.Declaration{d}, Prefix: "scale"},
		Sizes: []int{4, 8}, Samples: 2, Officer: "doc-li", ServerPID: os.Getpid()}
	// Search attributes become usable a moment after registration: retry a run that could not
	// start its clearances.
	for attempt := 0; ; attempt++ {
		points = nil
		o.Prefix = "scale" + string(rune('a'+attempt))
		if err := RunScale(ctx, c, srv.GetDefaultNamespace(), o, func(p ScalePoint) { points = append(points, p) }); err != nil {
			t.Fatal(err)
		}
		if points[len(points)-1].Errors == 0 || attempt == 20 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(points) != 2 {
		t.Fatalf("%d points", len(points))
	}
	for i, p := range points {
		size := o.Sizes[i]
		if p.Submitted != size || p.Errors != 0 || p.StudyEntries != size || p.Decided != 2 {
			t.Errorf("size %d: %+v", size, p)
		}
		// The decided clearances release without another officer: they leave the open ones.
		if want := int64(size - 2*(i+1)); p.Open < want || p.Open > int64(size-2*i) {
			t.Errorf("size %d: %d open, want %d to %d", size, p.Open, want, size-2*i)
		}
		if p.StudyRead.Pages != 1 || p.StudyRead.FromMemo != size || p.StudyRead.Calls() != 1 {
			t.Errorf("size %d: study read %+v, want every clearance from one page", size, p.StudyRead)
		}
		if p.Queue.Max <= 0 || p.Decide.Max <= 0 || p.Replay.Max <= 0 || p.Events == 0 {
			t.Errorf("size %d: queue %+v decide %+v replay %+v over %d events", size, p.Queue, p.Decide, p.Replay, p.Events)
		}
		if p.WorkerRSS == 0 || p.ServerPeak < p.ServerRSS || p.WorkerHeap == 0 {
			t.Errorf("size %d: memory %+v", size, p)
		}
	}
	if points[1].Elapsed <= points[0].Elapsed {
		t.Errorf("elapsed %s then %s", points[0].Elapsed, points[1].Elapsed)
	}
}

// TestRunStudyVolumeReadsEveryCopy clears two real clearances, copies them to three and then
// five, and checks that each read finds them all from their memos in one page.
func TestRunStudyVolumeReadsEveryCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, c := serveClearances(t)
	templates := examples(t, "us-nasal-cannulas-anaesthesia-masks.json", "it-ffp2-respirators.json")
	var err error
	var points []StudyPoint
	for attempt := 0; ; attempt++ {
		points = nil
		err = RunStudyVolume(ctx, c, srv.GetDefaultNamespace(), Options{Concurrency: 2, Templates: templates, Prefix: "study" + string(rune('a'+attempt))},
			[]int{3, 5}, 2, true, func(p StudyPoint) { points = append(points, p) })
		// Search attributes become usable a moment after registration.
		if err == nil || attempt == 20 || !strings.Contains(err.Error(), "submit") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 2 || points[0].Clearances != 3 || points[1].Clearances != 5 {
		t.Fatalf("points %+v", points)
	}
	for _, p := range points {
		if p.Reading.FromMemo != p.Clearances || p.Reading.Calls() != 1 || p.Fastest > p.Read || p.Read > p.Slowest || p.PerSecond <= 0 {
			t.Errorf("%+v", p)
		}
		if p.Plain == nil || p.Plain.Reading != p.Reading || p.Plain.PerSecond <= 0 {
			t.Errorf("plain reads %+v beside %+v", p.Plain, p.StudyReads)
		}
	}
}

// serveClearances starts an in-process server with the search attributes registered and a
// clearance worker on it, both stopped when the test ends.
func serveClearances(t *testing.T) (*temporaltest.TestServer, client.Client) {
	t.Helper()
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	c := srv.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := connect.RegisterSearchAttributes(ctx, c, srv.GetDefaultNamespace()); err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{DataDir: t.TempDir(), Notifications: "-"}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	w := e.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return srv, c
}

// examples reads declarations from examples/.
func examples(t *testing.T, files ...string) []declaration.Declaration {
	t.Helper()
	var out []declaration.Declaration
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("..", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		d, err := declaration.ParseAndValidate(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}
