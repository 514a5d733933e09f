// Package loadgen drives clearances through a Temporal server at a given concurrency or rate,
// with an automatic officer, and measures them beside a bare baseline: a workflow of as many
// no-op activities as a green-lane clearance executes, on the same server. The ratio of the two
// says how close the engine sits to what the server allows.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// GreenLaneActivities is how many activities a green-lane clearance executes: load the
// configuration, select the lane, check documents, verify certificates, issue the notice,
// notify the exporter.
const GreenLaneActivities = 6

// BaselineTaskQueue is the task queue of the bare baseline workflow.
const BaselineTaskQueue = "customs-baseline"

// BaselineWorkflow runs n no-op activities in sequence with the clearance's activity options.
func BaselineWorkflow(ctx workflow.Context, n int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	})
	for i := 0; i < n; i++ {
		if err := workflow.ExecuteActivity(ctx, NoOp, i).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// NoOp is the baseline's activity.
func NoOp(_ context.Context, _ int) error { return nil }

// RegisterBaseline registers the baseline workflow and activity.
func RegisterBaseline(r worker.Registry) {
	r.RegisterWorkflowWithOptions(BaselineWorkflow, workflow.RegisterOptions{Name: "BareBaseline"})
	r.RegisterActivityWithOptions(NoOp, activity.RegisterOptions{Name: "NoOp"})
}

// Options shape a run.
type Options struct {
	// N is how many workflows to run; Concurrency how many may be in flight at once.
	N           int
	Concurrency int
	// Rate limits starts per second; 0 starts as fast as Concurrency allows.
	Rate float64
	// Templates are the declarations to copy, in turn, under generated IDs.
	Templates []declaration.Declaration
	// Prefix starts every generated declaration ID.
	Prefix string
	// OfficerDelay is how long the automatic officer takes to approve a stage that awaits one.
	OfficerDelay time.Duration
	// Progress, when set, is called after each finished workflow.
	Progress func(done, total int)
	// ServerPID, when set, is the server process whose processor time a run reports beside
	// this process's (Result.ServerCPU).
	ServerPID int
}

// Latencies summarise durations.
type Latencies struct {
	P50, P95, P99, Max time.Duration
}

func latencies(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return Latencies{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ds[len(ds)-1]}
}

// Result is what a run measured.
type Result struct {
	Kind       string
	N          int
	Completed  int
	Errors     int
	FirstError string
	Wall       time.Duration
	// PerSecond is completed workflows per second of wall time.
	PerSecond float64
	EndToEnd  Latencies
	// Stages are the clearance stages' durations as the workflow recorded them.
	Stages map[policy.Stage]Latencies
	// Decisions counts the automatic officer's approvals; Decide is the round trip of each (the
	// update "decide" sent until its result returned), under the run's load.
	Decisions int
	Decide    Latencies
	// ServerCPU is the processor time the server process (Options.ServerPID) spent during the
	// run, LoadCPU this process's (its workers, clients and officer); zero when unknown.
	// PerWorkflow divides them by the completed workflows.
	ServerCPU, LoadCPU time.Duration
	// Permits counts the released clearances each partner agency granted a permit through the
	// single window, by agency; AgencyRoundTrip is the round trip of every request an agency
	// answered, from the clearance asking to the answer reaching it, as the clearance recorded
	// them (workflows.PermitRecord's Asked and Answered).
	Permits         map[string]int
	AgencyRoundTrip Latencies

	decides    []time.Duration
	e2e        []time.Duration
	stages     map[policy.Stage][]time.Duration
	roundTrips []time.Duration
}

// result summarises a tally.
func (t *tally) result(kind string, n int, wall time.Duration) Result {
	r := Result{Kind: kind, N: n, Completed: t.completed, Errors: t.errors, FirstError: t.first, Wall: wall,
		Decisions: int(t.decisions.Load()), decides: t.decides, e2e: t.e2e, stages: t.stages,
		Permits: t.permits, roundTrips: t.roundTrips}
	r.summarise()
	return r
}

func (r *Result) summarise() {
	r.PerSecond = 0
	if r.Wall > 0 {
		r.PerSecond = float64(r.Completed) / r.Wall.Seconds()
	}
	r.EndToEnd = latencies(r.e2e)
	r.Decide = latencies(r.decides)
	r.AgencyRoundTrip = latencies(r.roundTrips)
	r.Stages = nil
	if len(r.stages) > 0 {
		r.Stages = map[policy.Stage]Latencies{}
		for s, ds := range r.stages {
			r.Stages[s] = latencies(ds)
		}
	}
}

// Merge adds up runs of one kind: their workflows, errors and wall time, and the latencies of
// all their workflows together.
func Merge(runs ...Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	m := Result{Kind: runs[0].Kind}
	for _, r := range runs {
		m.N += r.N
		m.Completed += r.Completed
		m.Errors += r.Errors
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
		m.Wall += r.Wall
		m.Decisions += r.Decisions
		m.ServerCPU += r.ServerCPU
		m.LoadCPU += r.LoadCPU
		m.e2e = append(m.e2e, r.e2e...)
		m.decides = append(m.decides, r.decides...)
		m.roundTrips = append(m.roundTrips, r.roundTrips...)
		for a, n := range r.Permits {
			if m.Permits == nil {
				m.Permits = map[string]int{}
			}
			m.Permits[a] += n
		}
		for s, ds := range r.stages {
			if m.stages == nil {
				m.stages = map[policy.Stage][]time.Duration{}
			}
			m.stages[s] = append(m.stages[s], ds...)
		}
	}
	m.summarise()
	return m
}

// SideBySide runs the bare baseline and the clearances on the same server in rounds, in the order
// baseline, clearances, clearances, baseline, ... (each round N of each): whatever drifts during
// the run (a database that grows, a neighbour that wakes up) weighs on both alike. It returns
// the merged baseline and the merged clearances.
func SideBySide(ctx context.Context, c client.Client, o Options, rounds int) (baseline, clearances Result, err error) {
	var bs, cs []Result
	prefix := o.Prefix
	for i := 0; i < max(1, rounds); i++ {
		o.Prefix = fmt.Sprintf("%s-r%d", prefix, i)
		order := []string{"baseline", "clearance"}
		if i%2 == 1 {
			order = []string{"clearance", "baseline"}
		}
		for _, kind := range order {
			if kind == "baseline" {
				r, err := Measured(o.ServerPID, func() (Result, error) { return RunBaseline(ctx, c, o, GreenLaneActivities) })
				if err != nil {
					return Result{}, Result{}, err
				}
				bs = append(bs, r)
				continue
			}
			r, err := Measured(o.ServerPID, func() (Result, error) { return RunClearances(ctx, c, o) })
			if err != nil {
				return Result{}, Result{}, err
			}
			cs = append(cs, r)
		}
	}
	return Merge(bs...), Merge(cs...), nil
}

// Measured runs run and adds to its result the processor time this process and the server
// process serverPID (when not 0) spent meanwhile.
func Measured(serverPID int, run func() (Result, error)) (Result, error) {
	server, self := ProcessCPU(serverPID), ProcessCPU(0)
	r, err := run()
	if serverPID != 0 && server > 0 {
		if after := ProcessCPU(serverPID); after >= server {
			r.ServerCPU = after - server
		}
	}
	if self > 0 {
		r.LoadCPU = ProcessCPU(0) - self
	}
	return r, err
}

// PerWorkflow divides a processor time by the completed workflows.
func (r Result) PerWorkflow(cpu time.Duration) time.Duration {
	if r.Completed == 0 {
		return 0
	}
	return cpu / time.Duration(r.Completed)
}

// clockTicks is Linux's USER_HZ, the unit of the times in /proc/PID/stat: 100 on every
// architecture Go supports there.
const clockTicks = 100

// ProcessCPU returns the processor time (user and system) a process has spent, 0 when unknown.
// pid 0 is this process.
func ProcessCPU(pid int) time.Duration {
	b, err := readProc(pid, "stat")
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime from a /proc/PID/stat line. The command name, in
// parentheses, may hold spaces and parentheses, so the fields are counted after its last ')'.
func parseStatCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	// After the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime(14) stime(15).
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// pacer hands out start permits at a rate and a concurrency.
type pacer struct {
	sem  chan struct{}
	tick <-chan time.Time
	stop func()
}

func newPacer(concurrency int, rate float64) *pacer {
	p := &pacer{sem: make(chan struct{}, max(1, concurrency)), stop: func() {}}
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		p.tick, p.stop = t.C, t.Stop
	}
	return p
}

func (p *pacer) acquire(ctx context.Context) error {
	if p.tick != nil {
		select {
		case <-p.tick:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case p.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) release() { <-p.sem }

type tally struct {
	mu        sync.Mutex
	e2e       []time.Duration
	stages    map[policy.Stage][]time.Duration
	errors    int
	first     string
	completed int
	decisions atomic.Int64
	decides   []time.Duration
	// permits and roundTrips are the released clearances' permits (recordPermits).
	permits    map[string]int
	roundTrips []time.Duration
}

func (t *tally) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors++
	if t.first == "" {
		t.first = err.Error()
	}
}

// RunClearances submits N clearances and waits for them. An automatic officer approves whatever
// awaits an officer after OfficerDelay.
func RunClearances(ctx context.Context, c client.Client, o Options) (Result, error) {
	if len(o.Templates) == 0 {
		return Result{}, errors.New("no declaration templates")
	}
	t := &tally{stages: map[policy.Stage][]time.Duration{}}
	p := newPacer(o.Concurrency, o.Rate)
	defer p.stop()
	octx, stopOfficer := context.WithCancel(ctx)
	officerDone := make(chan struct{})
	go func() {
		defer close(officerDone)
		runOfficer(octx, c, o.Prefix, o.OfficerDelay, t)
	}()
	var wg sync.WaitGroup
	start := time.Now()
	done := atomic.Int64{}
	ids := generateIDs(o.Prefix, o.N)
	for i := 0; i < o.N; i++ {
		if err := p.acquire(ctx); err != nil {
			break
		}
		d := o.Templates[i%len(o.Templates)]
		d.ID = ids[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.release()
			began := time.Now()
			run, err := clearance.Submit(ctx, c, d)
			if err != nil {
				t.fail(err)
				return
			}
			var r workflows.Result
			if err := run.Get(ctx, &r); err != nil {
				t.fail(err)
				return
			}
			if r.State != workflows.StateReleased {
				t.fail(fmt.Errorf("%s ended %s: %s", d.ID, r.State, r.Reason))
				return
			}
			e2e := time.Since(began)
			t.mu.Lock()
			t.completed++
			t.e2e = append(t.e2e, e2e)
			for _, s := range r.Timeline {
				t.stages[s.Stage] = append(t.stages[s.Stage], s.Duration.D())
			}
			t.recordPermits(r)
			t.mu.Unlock()
			if o.Progress != nil {
				o.Progress(int(done.Add(1)), o.N)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	stopOfficer()
	<-officerDone
	return t.result("clearance", o.N, wall), nil
}

// awaitingQuery finds the run's clearances that wait on an officer, as an officer's saved view
// in the Web UI does.
func awaitingQuery(prefix string) string {
	return fmt.Sprintf("%s AND %s = '%s' AND ExecutionStatus = 'Running'",
		runQuery(prefix), workflows.SAStatus, workflows.StateAwaitingOfficer)
}

// runQuery finds the clearances of a run: their declaration IDs start with its prefix.
func runQuery(prefix string) string {
	return fmt.Sprintf("%s STARTS_WITH '%s-'", workflows.SADeclarationID, prefix)
}

// runOfficer works the queue of the run's clearances until ctx ends: it lists those awaiting an
// officer, reads each one's status, and approves its stage as an eligible officer once the
// clearance has waited delay. Clearances nobody needs to decide cost it nothing but its share
// of one visibility query per poll.
func runOfficer(ctx context.Context, c client.Client, prefix string, delay time.Duration, t *tally) {
	query := awaitingQuery(prefix)
	every := min(max(delay/4, 50*time.Millisecond), time.Second)
	var mu sync.Mutex
	busy := map[string]bool{}    // workflow IDs being decided
	decided := map[string]bool{} // workflow ID + stage, approved
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000, NextPageToken: token})
			if err != nil {
				break // the next poll tries again
			}
			for _, e := range resp.GetExecutions() {
				wid := e.GetExecution().GetWorkflowId()
				mu.Lock()
				if busy[wid] {
					mu.Unlock()
					continue
				}
				busy[wid] = true
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { mu.Lock(); delete(busy, wid); mu.Unlock() }()
					s, err := clearance.StatusOf(ctx, c, wid)
					if err != nil || s.State != workflows.StateAwaitingOfficer || s.Waiting == nil || len(s.Waiting.Officers) == 0 {
						return
					}
					key := wid + "/" + string(s.Stage)
					mu.Lock()
					seen := decided[key]
					mu.Unlock()
					if seen {
						return // visibility has not caught up with the approval yet
					}
					if wait := delay - time.Since(s.Waiting.Since); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
					d := workflows.Decision{Stage: s.Stage, Officer: s.Waiting.Officers[0], Outcome: workflows.OutcomeApprove}
					began := time.Now()
					if _, err := clearance.Decide(ctx, c, clearance.Ref{Exporter: s.Exporter, Declaration: s.DeclarationID}, d); err == nil {
						took := time.Since(began)
						mu.Lock()
						decided[key] = true
						mu.Unlock()
						t.decisions.Add(1)
						t.mu.Lock()
						t.decides = append(t.decides, took)
						t.mu.Unlock()
					}
				}()
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
	}
}

// RunBaseline runs N bare workflows of n no-op activities each at the same concurrency and rate.
func RunBaseline(ctx context.Context, c client.Client, o Options, activitiesPerWorkflow int) (Result, error) {
	t := &tally{}
	p := newPacer(o.Concurrency, o.Rate)
	defer p.stop()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < o.N; i++ {
		if err := p.acquire(ctx); err != nil {
			break
		}
		id := fmt.Sprintf("%s-bare-%d", o.Prefix, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.release()
			began := time.Now()
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: BaselineTaskQueue}, "BareBaseline", activitiesPerWorkflow)
			if err == nil {
				err = run.Get(ctx, nil)
			}
			if err != nil {
				t.fail(err)
				return
			}
			e2e := time.Since(began)
			t.mu.Lock()
			t.completed++
			t.e2e = append(t.e2e, e2e)
			t.mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	return t.result("baseline", o.N, wall), nil
}

// generateIDs returns n declaration IDs under prefix, skipping those the random sample would
// send to the yellow lane, so a green template stays green.
func generateIDs(prefix string, n int) []string {
	ids := make([]string, 0, n)
	percent := policy.Default().SamplePercent
	for i := 0; len(ids) < n; i++ {
		id := prefix + "-" + strconv.Itoa(i)
		if !activities.Sampled(id, percent) {
			ids = append(ids, id)
		}
	}
	return ids
}

// PeakRSS returns a process's peak resident set size in bytes (VmHWM), 0 when unknown. pid 0 is
// this process.
func PeakRSS(pid int) uint64 { return procStatus(pid, "VmHWM:") }

// HoldResult is what holding N clearances open on officers measured.
type HoldResult struct {
	N       int
	Waiting int64
	Errors  int
	// Wall is how long it took until all of them waited on an officer.
	Wall time.Duration
	// HeapBefore and HeapAfter are the Go heap in use (after a collection) before the first
	// submission and once all wait; PeakRSS is this process's peak resident set.
	HeapBefore, HeapAfter uint64
	PeakRSS               uint64
}

// RunHold submits N clearances that stop at an officer's decision and nobody decides, then
// waits until visibility counts all of them as awaiting an officer: how many open clearances one
// worker holds, and what memory that takes. Templates must go to the yellow or red lane.
func RunHold(ctx context.Context, c client.Client, namespace string, o Options) (HoldResult, error) {
	if len(o.Templates) == 0 {
		return HoldResult{}, errors.New("no declaration templates")
	}
	res := HoldResult{N: o.N, HeapBefore: heapInUse()}
	t := &tally{}
	p := newPacer(o.Concurrency, o.Rate)
	defer p.stop()
	var wg sync.WaitGroup
	start := time.Now()
	ids := generateIDs(o.Prefix, o.N)
	for i := 0; i < o.N; i++ {
		if err := p.acquire(ctx); err != nil {
			break
		}
		d := o.Templates[i%len(o.Templates)]
		d.ID = ids[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.release()
			if _, err := clearance.Submit(ctx, c, d); err != nil {
				t.fail(err)
			}
		}()
	}
	wg.Wait()
	query := awaitingQuery(o.Prefix)
	for {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err != nil {
			return res, fmt.Errorf("count waiting clearances: %w", err)
		}
		res.Waiting = resp.GetCount()
		if o.Progress != nil {
			o.Progress(int(res.Waiting), o.N)
		}
		if res.Waiting >= int64(o.N-t.errors) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	res.Wall = time.Since(start)
	res.Errors = t.errors
	res.HeapAfter = heapInUse()
	res.PeakRSS = PeakRSS(0)
	return res, nil
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
