// Package sim is the staffing simulator: it runs synthetic declarations through the real
// ExportClearance workflow and the real activities in the SDK's time-skipping test environment,
// with officers who take sampled times over each decision and exporters who take sampled times
// to answer requests for information, and studies the outcome as the Time Release Study does.
// It answers: with this staffing, how often do clearances beat the 20-day standard, and what does
// the expedited procedure buy?
//
// One test environment runs a parent "simulation" workflow. It starts each clearance as a child
// workflow at its sampled arrival time and keeps one queue per officer role, worked by as many
// officer coroutines as the role has officers. A worker interceptor watches each clearance's
// search attributes: when ClearanceStatus becomes awaiting-officer it signals the simulation
// with the clearance's workflow ID, its stage (from its checks and ClearanceStage) and the error findings of the
// stage's checks. An officer takes the clearance from the queue, works on it for a sampled time
// (a durable timer, so the time is skipped, not waited), and sends the decision with the
// workflow's own "decision" signal, which validates it as the "decide" update does. When an
// officer requests information, the interceptor sees awaiting-exporter, and after the sampled
// exporter time the test environment delivers the exporter's answer with the real
// "supply-documents" update.
//
// Partner agencies on the single window (Config.Agencies) answer the clearances' permit requests
// through the test environment's Nexus service: each request starts a review workflow that takes
// the agency's sampled time (a durable timer) and grants the permit, and the clearance's release
// waits for it as it waits on a real agency's endpoint.
//
// The simulation workflow draws from seeded random sources. That is not replay-safe and need not
// be: the test environment never replays, and this workflow runs nowhere else.
package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/register"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// WorkflowName is the registered name of the simulation's parent workflow.
const WorkflowName = "StaffingSimulation"

// workflowID is the parent workflow's ID.
const workflowID = "staffing-simulation"

// Outcome is what a simulation produced.
type Outcome struct {
	// Results are the clearances' results, in arrival order; Clearances the same as the Time
	// Release Study sees them, and Report the study over all of them.
	Results    []workflows.Result
	Clearances []trs.Clearance
	Report     trs.Report
	Headline   Headline
	Stats      Stats
}

// Stats describe the run itself.
type Stats struct {
	// FirstArrival and LastEnd bound the simulated period.
	FirstArrival time.Time `json:"firstArrival"`
	LastArrival  time.Time `json:"lastArrival"`
	LastEnd      time.Time `json:"lastEnd"`
	// Decisions counts the officers' decisions sent; Requests those that requested information.
	Decisions int `json:"decisions"`
	Requests  int `json:"requests"`
	// Supplies counts exporters' answers the workflows accepted; LateSupplies answers that came
	// after the clearance had lapsed; RefusedSupplies answers the workflows' validator refused.
	Supplies        int `json:"supplies"`
	LateSupplies    int `json:"lateSupplies"`
	RefusedSupplies int `json:"refusedSupplies"`
	// Officers describes each role's work; Agencies each partner agency's.
	Officers []RoleStats   `json:"officers"`
	Agencies []AgencyStats `json:"agencies,omitempty"`
	// Wall is how long the simulation took in real time.
	Wall time.Duration `json:"wall"`
}

// RoleStats is the work of one officer role.
type RoleStats struct {
	Role      policy.Role `json:"role"`
	Officers  int         `json:"officers"`
	Decisions int         `json:"decisions"`
	// Busy is the officers' total working time; Utilisation is Busy over the officers' time
	// from the first arrival to the last clearance's end.
	Busy        time.Duration `json:"busy"`
	Utilisation float64       `json:"utilisation"`
	// MaxQueue is the longest queue of clearances waiting for the role's officers.
	MaxQueue int `json:"maxQueue"`
}

// AgencyStats is the work of one partner agency on the single window.
type AgencyStats struct {
	Agency string `json:"agency"`
	// Requests counts the permit requests the clearances asked of it; ByOfficer those its
	// officers reviewed after its checks; Withdrawn those its clearance withdrew unanswered as it
	// ended (refused by rule, lapsed).
	Requests  int `json:"requests"`
	ByOfficer int `json:"byOfficer"`
	Withdrawn int `json:"withdrawn"`
	// MeanReview is the mean time from a request to its permit, of those granted.
	MeanReview time.Duration `json:"meanReview"`
	granted    int
	reviewed   time.Duration
}

// arrival is one declaration of the plan.
type arrival struct {
	gap        time.Duration // after the previous arrival
	decl       declaration.Declaration
	workflowID string
	// rng draws everything about this clearance after its arrival: officers' service times,
	// their decisions, the exporter's answer time. One source per clearance keeps a run
	// reproducible even where the test environment interleaves clearances differently.
	rng *rand.Rand
	// asked marks the stages at which an officer has requested information; lastRequest is
	// what the latest request asked for.
	asked       map[policy.Stage]bool
	lastRequest []string
}

type simulation struct {
	cfg     Config
	env     *testsuite.TestWorkflowEnvironment
	plan    []arrival
	byID    map[string]int
	results []workflows.Result
	stats   Stats
	roles   map[policy.Role]*RoleStats
	// agencies holds each agency's model and its work, by name.
	agencies map[string]*agencyModel
	// studied is what each clearance's latest study memo said of other agencies, by workflow ID.
	studied map[string]studied
	err     error
	updates int
}

// Run simulates cfg and studies the outcome.
func Run(ctx context.Context, cfg Config) (_ *Outcome, err error) {
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Policy.Standard == 0 {
		cfg.Policy = policy.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Policy.SingleWindow = cfg.singleWindow()
	began := time.Now()
	s := &simulation{cfg: cfg, byID: make(map[string]int, cfg.N), roles: map[policy.Role]*RoleStats{}, agencies: map[string]*agencyModel{},
		studied: map[string]studied{}}
	for _, r := range cfg.Policy.SingleWindow {
		m, _ := cfg.agency(r.Agency)
		s.agencies[r.Agency] = &agencyModel{Agency: m, stats: AgencyStats{Agency: r.Agency}}
	}
	if s.plan, err = plan(cfg); err != nil {
		return nil, err
	}
	for i, a := range s.plan {
		s.byID[a.workflowID] = i
	}
	s.results = make([]workflows.Result, cfg.N)
	for _, r := range OfficerRoles {
		s.roles[r] = &RoleStats{Role: r, Officers: cfg.Officers[r]}
	}

	dir, cleanup, err := registerDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, cleanup()) }()
	releases, err := register.OpenSQLite(filepath.Join(dir, "releases.db"))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, releases.Close()) }()

	if err := s.execute(ctx, releases); err != nil {
		return nil, err
	}
	s.stats.Wall = time.Since(began)
	return s.outcome(), nil
}

// plan draws the arrivals: when each declaration arrives, which one of the mix it is, and
// whether it asks for the expedited procedure.
func plan(cfg Config) ([]arrival, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	var total float64
	for _, m := range cfg.Mix {
		total += m.Weight
	}
	out := make([]arrival, cfg.N)
	for i := range out {
		if i > 0 {
			out[i].gap = cfg.Arrivals.Sample(rng)
		}
		pick, x := -1, rng.Float64()*total
		for j, m := range cfg.Mix {
			if m.Weight <= 0 {
				continue
			}
			pick = j // the last with a weight, should rounding leave x past them all
			if x < m.Weight {
				break
			}
			x -= m.Weight
		}
		d := cfg.Mix[pick].Declaration
		d.ID = syntheticID(i, d.ID)
		expedite := rng.Float64() < cfg.ExpeditedShare
		switch {
		case cfg.ExpeditedShare < 0: // as lodged
		case expedite:
			d.Expedited = &declaration.Expedited{Justification: "Emergency supplies for the COVID-19 response (simulated request)"}
		default:
			d.Expedited = nil
		}
		wid, err := workflows.WorkflowID(d.Exporter.Code, d.ID)
		if err != nil {
			return nil, fmt.Errorf("mix: %s: %w", cfg.Mix[pick].Name, err)
		}
		out[i] = arrival{gap: out[i].gap, decl: d, workflowID: wid,
			rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)), asked: map[policy.Stage]bool{}}
	}
	return out, nil
}

// syntheticID makes a declaration ID unique to its place in the run. The ID decides the lane's
// random sample, so a realistic share of otherwise green declarations goes yellow.
func syntheticID(i int, orig string) string {
	id := fmt.Sprintf("SIM%06d-%s", i+1, orig)
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}

func registerDir(dir string) (string, func() error, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", nil, fmt.Errorf("release register directory: %w", err)
		}
		return dir, func() error { return nil }, nil
	}
	// The register syncs every notice to disk; in memory-backed /dev/shm, where there is one,
	// that costs nothing, and nothing of it needs to outlive the run.
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	tmp, err := os.MkdirTemp(base, "customs-sim-")
	if err != nil {
		return "", nil, fmt.Errorf("release register directory: %w", err)
	}
	return tmp, func() error { return os.RemoveAll(tmp) }, nil
}

// roster is one officer per ID, each holding one role, and a supervisor for escalations.
func (s *simulation) roster() policy.Roster {
	var r policy.Roster
	for _, role := range OfficerRoles {
		for k := 1; k <= s.cfg.Officers[role]; k++ {
			id := officerID(role, k)
			r.Officers = append(r.Officers, policy.Officer{ID: id, Name: id, Roles: []policy.Role{role}})
		}
	}
	r.Officers = append(r.Officers, policy.Officer{ID: "supervisor-1", Name: "supervisor-1", Roles: []policy.Role{policy.RoleSupervisor}})
	return r
}

func officerID(role policy.Role, k int) string { return fmt.Sprintf("%s-%d", role, k) }

// discard is the exporter notifier of a simulation: nobody is told.
type discard struct{}

func (discard) Notify(context.Context, activities.Notification) error { return nil }

// execute runs the simulation workflow to its end in a fresh test environment.
func (s *simulation) execute(ctx context.Context, releases *register.SQLite) (err error) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	s.env = env
	env.SetStartTime(s.cfg.Start)
	// Idle is wall time with nothing to do; only a stuck simulation is idle for long.
	env.SetTestTimeout(5 * time.Minute)
	// The clearances are attached children that the simulation awaits. Without this, the test
	// environment scans every child it has ever started on each turn of its event loop, which
	// makes a run quadratic in its size.
	env.SetDetachedChildWait(false)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID, TaskQueue: workflows.TaskQueue})
	env.SetWorkerOptions(worker.Options{
		Interceptors: []interceptor.WorkerInterceptor{&watcher{s: s}},
		// A parent that starts thousands of children can take longer than the default second
		// in one workflow task on a busy machine; nothing here deadlocks for real.
		DeadlockDetectionTimeout: time.Minute,
	})
	env.RegisterWorkflowWithOptions(workflows.ExportClearance, workflow.RegisterOptions{Name: workflows.WorkflowName})
	env.RegisterWorkflowWithOptions(s.run, workflow.RegisterOptions{Name: WorkflowName})
	if len(s.agencies) > 0 {
		svc, err := s.singleWindow()
		if err != nil {
			return err
		}
		env.RegisterNexusService(svc)
		env.RegisterWorkflowWithOptions(s.review, workflow.RegisterOptions{Name: ReviewWorkflowName})
	}
	env.RegisterActivity(&activities.Activities{
		Registry:     registry.Default(),
		Releases:     releases,
		Declarations: releases,
		Notifier:     discard{},
		Config:       activities.StaticConfig(activities.Configuration{Policy: s.cfg.Policy, Roster: s.roster()}),
		Now:          env.Now,
	})

	if ctx.Err() != nil {
		return ctx.Err()
	}
	defer func() {
		// The test environment panics when the workflow is stuck (test timeout).
		if p := recover(); p != nil {
			err = fmt.Errorf("simulation stuck: %v\n%s", p, debug.Stack())
		}
	}()
	// Cancelling ctx cancels the simulation workflow, which ends the run.
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			env.CancelWorkflow()
		case <-finished:
		}
	}()
	env.ExecuteWorkflow(WorkflowName)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !env.IsWorkflowCompleted() {
		return errors.New("simulation did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		return fmt.Errorf("simulation: %w", err)
	}
	return s.check()
}

// studied is what a clearance's study memo says of other agencies: the time they held it, and
// by agency.
type studied struct {
	other    time.Duration
	agencies map[string]policy.Duration
}

// check cross-checks the run: every decision the officers sent was applied, and each clearance's
// last study memo, which the report reads from visibility, tells the agencies' time as its result
// does.
func (s *simulation) check() error {
	applied := 0
	for i, r := range s.results {
		for _, d := range r.Decisions {
			if d.Via == workflows.ViaSignal {
				applied++
			}
		}
		if r.AgencyTime == nil {
			continue
		}
		fromResult := trs.FromResult(r, nil)
		memo := s.studied[s.plan[i].workflowID]
		fromMemo := trs.FromStudy(workflows.Study{State: r.State, AgencyTime: memo.agencies, OtherAgency: policy.Duration(memo.other)}, r.DeclarationID, nil, r.Ended)
		if !maps.Equal(fromMemo.Agencies, fromResult.Agencies) || fromMemo.OtherAgency != fromResult.OtherAgency {
			return fmt.Errorf("simulation: %s: its study memo says other agencies held it %s (%v), its result %s (%v)",
				r.DeclarationID, fromMemo.OtherAgency, fromMemo.Agencies, fromResult.OtherAgency, fromResult.Agencies)
		}
	}
	if applied != s.stats.Decisions {
		return fmt.Errorf("simulation: officers sent %d decisions, the clearances applied %d", s.stats.Decisions, applied)
	}
	return nil
}

// run is the simulation workflow: arrivals, officer queues, and the collection of results.
func (s *simulation) run(ctx workflow.Context) error {
	n := len(s.plan)
	incoming := map[policy.Role]workflow.Channel{}
	for _, role := range OfficerRoles {
		incoming[role] = workflow.NewBufferedChannel(ctx, n)
		work := workflow.NewChannel(ctx)
		workflow.Go(ctx, func(ctx workflow.Context) { s.queue(ctx, role, incoming[role], work) })
		for k := 1; k <= s.cfg.Officers[role]; k++ {
			workflow.Go(ctx, func(ctx workflow.Context) { s.officer(ctx, role, officerID(role, k), work) })
		}
	}

	// Route each clearance that awaits an officer to the queue of the stage's role.
	awaiting := workflow.GetSignalChannel(ctx, SignalAwaiting)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var a Awaiting
			awaiting.Receive(ctx, &a)
			q, ok := incoming[policy.StageRole(a.Stage)]
			if !ok {
				s.fail(fmt.Errorf("%s awaits an officer at unknown stage %q", a.WorkflowID, a.Stage))
				return
			}
			q.Send(ctx, a)
		}
	})

	// Collect the results in arrival order while clearances keep arriving.
	started := workflow.NewBufferedChannel(ctx, n)
	done := 0
	workflow.Go(ctx, func(ctx workflow.Context) {
		for i := range n {
			var f workflow.ChildWorkflowFuture
			started.Receive(ctx, &f)
			if err := f.Get(ctx, &s.results[i]); err != nil {
				s.fail(fmt.Errorf("clearance %s: %w", s.plan[i].workflowID, err))
				return
			}
			done++
			if s.cfg.Progress != nil {
				s.cfg.Progress(done, n)
			}
		}
	})

	s.stats.FirstArrival = workflow.Now(ctx).In(s.cfg.Start.Location())
	for i, a := range s.plan {
		if a.gap > 0 {
			if err := workflow.Sleep(ctx, a.gap); err != nil {
				return err
			}
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: a.workflowID})
		started.Send(ctx, workflow.ExecuteChildWorkflow(cctx, workflows.WorkflowName, workflows.Input{Declaration: s.plan[i].decl}))
		if s.err != nil {
			return s.err
		}
	}
	s.stats.LastArrival = workflow.Now(ctx)
	if err := workflow.Await(ctx, func() bool { return done == n || s.err != nil }); err != nil {
		return err
	}
	return s.err
}

// queue holds the clearances that await the role's officers and hands the first in the queue's
// order to the next free officer. Until an officer takes it, a newcomer that goes before it
// (an earlier due time) takes its place at the head.
func (s *simulation) queue(ctx workflow.Context, role policy.Role, incoming workflow.ReceiveChannel, work workflow.SendChannel) {
	q := &jobs{due: s.cfg.Queue == QueueDue}
	st := s.roles[role]
	seq := 0
	for {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(incoming, func(c workflow.ReceiveChannel, _ bool) {
			var a Awaiting
			c.Receive(ctx, &a)
			seq++
			heap.Push(q, job{Awaiting: a, seq: seq})
			st.MaxQueue = max(st.MaxQueue, q.Len())
		})
		if q.Len() > 0 {
			sel.AddSend(work, q.items[0].Awaiting, func() { heap.Pop(q) })
		}
		sel.Select(ctx)
	}
}

// job is a clearance in an officer queue.
type job struct {
	Awaiting
	seq int
}

// jobs is a queue in arrival order, or by due time (then arrival) when due is set.
type jobs struct {
	items []job
	due   bool
}

func (q *jobs) Len() int { return len(q.items) }
func (q *jobs) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if q.due && !a.Due.Equal(b.Due) {
		return a.Due.Before(b.Due)
	}
	return a.seq < b.seq
}
func (q *jobs) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *jobs) Push(x any)    { q.items = append(q.items, x.(job)) }
func (q *jobs) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}

func (s *simulation) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// officer works the role's queue: takes the clearance that has waited longest, works on it for
// a sampled time and decides.
func (s *simulation) officer(ctx workflow.Context, role policy.Role, id string, queue workflow.ReceiveChannel) {
	st := s.roles[role]
	dist := s.cfg.officerTime(role)
	for {
		var a Awaiting
		queue.Receive(ctx, &a)
		c := &s.plan[s.byID[a.WorkflowID]]
		work := dist.Sample(c.rng)
		st.Busy += work
		if err := workflow.Sleep(ctx, work); err != nil {
			s.fail(err)
			return
		}
		d := s.decide(c, id, a)
		if err := workflow.SignalExternalWorkflow(ctx, a.WorkflowID, "", workflows.SignalDecision, d).Get(ctx, nil); err != nil {
			s.fail(fmt.Errorf("officer %s deciding %s of %s: %w", id, a.Stage, a.WorkflowID, err))
			return
		}
		st.Decisions++
		s.stats.Decisions++
	}
}

// decide approves, or, when the checks found errors and the officer has not asked yet at this
// stage, requests information with the chance RequestShare.
func (s *simulation) decide(c *arrival, officer string, a Awaiting) workflows.Decision {
	d := workflows.Decision{Stage: a.Stage, Officer: officer, Outcome: workflows.OutcomeApprove}
	if len(a.Errors) == 0 {
		return d
	}
	if !c.asked[a.Stage] && c.rng.Float64() < s.cfg.RequestShare {
		c.asked[a.Stage], c.lastRequest = true, a.Errors
		d.Outcome = workflows.OutcomeRequestInformation
		d.Reason = "the automated checks found: " + strings.Join(a.Errors, ", ")
		d.Requested = a.Errors
		s.stats.Requests++
		return d
	}
	d.Reason = "approved on the officer's responsibility despite: " + strings.Join(a.Errors, ", ")
	return d
}

// exporterAwaited schedules the exporter's answer to the clearance's open request for
// information after a sampled time. A workflow cannot send an update, so the test environment
// delivers it, as the starter's "supply" command would.
func (s *simulation) exporterAwaited(wid string) {
	i, ok := s.byID[wid]
	if !ok {
		return
	}
	c := &s.plan[i]
	supply := supplyFor(c.decl.ID, c.lastRequest)
	s.updates++
	updateID := fmt.Sprintf("supply-%s-%d", wid, s.updates)
	s.env.RegisterDelayedCallback(func() {
		err := s.env.UpdateWorkflowByID(wid, workflows.UpdateSupplyDocuments, updateID, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(error) { s.stats.RefusedSupplies++ },
			OnComplete: func(_ any, err error) {
				if err == nil {
					s.stats.Supplies++
				}
			},
		}, supply)
		if err != nil {
			s.stats.LateSupplies++ // the clearance has ended: it lapsed
		}
	}, s.cfg.ExporterTime.Sample(c.rng))
}

// supplyFor is the exporter's answer to a request for the findings codes: the document each
// finding asks for, or a letter of explanation where no document answers it.
func supplyFor(declID string, codes []string) workflows.Supply {
	var docs []declaration.Document
	seen := map[declaration.DocumentType]bool{}
	for _, c := range codes {
		t := declaration.DocOther
		switch c {
		case "missing-quality-declaration":
			t = declaration.DocQualityDeclaration
		case "missing-registration-certificate":
			t = declaration.DocRegistrationCertificate
		}
		if !seen[t] {
			seen[t] = true
			docs = append(docs, declaration.Document{Type: t, Reference: fmt.Sprintf("%s-%s", declID, t)})
		}
	}
	if len(docs) == 0 {
		docs = append(docs, declaration.Document{Type: declaration.DocOther, Reference: declID + "-explanation"})
	}
	return workflows.Supply{Documents: docs, Note: "simulated answer to the request for information"}
}

func (s *simulation) outcome() *Outcome {
	o := &Outcome{Results: s.results, Stats: s.stats}
	o.Clearances = make([]trs.Clearance, len(s.results))
	for i, r := range s.results {
		o.Clearances[i] = trs.FromResult(r, s.plan[i].decl.CategoryList())
		if r.Ended.After(o.Stats.LastEnd) {
			o.Stats.LastEnd = r.Ended
		}
	}
	span := o.Stats.LastEnd.Sub(o.Stats.FirstArrival)
	for _, role := range OfficerRoles {
		st := *s.roles[role]
		if span > 0 {
			st.Utilisation = float64(st.Busy) / (float64(span) * float64(st.Officers))
		}
		o.Stats.Officers = append(o.Stats.Officers, st)
	}
	for _, r := range s.cfg.Policy.SingleWindow {
		st := s.agencies[r.Agency].stats
		if st.granted > 0 {
			st.MeanReview = st.reviewed / time.Duration(st.granted)
		}
		o.Stats.Agencies = append(o.Stats.Agencies, st)
	}
	std := s.cfg.Policy.Standard.D()
	o.Report = trs.Build(o.Clearances, std, s.describe(), time.Now())
	o.Headline = headline(o.Clearances, s.results, std)
	return o
}

// describe is the report's query line: what was simulated.
func (s *simulation) describe() string {
	var officers []string
	for _, r := range OfficerRoles {
		officers = append(officers, fmt.Sprintf("%s=%d", r, s.cfg.Officers[r]))
	}
	exp := "as lodged"
	if s.cfg.ExpeditedShare >= 0 {
		exp = fmt.Sprintf("%.0f%%", 100*s.cfg.ExpeditedShare)
	}
	agencies := "none"
	if len(s.cfg.Policy.SingleWindow) > 0 {
		var names []string
		for _, r := range s.cfg.Policy.SingleWindow {
			names = append(names, s.agencies[r.Agency].String())
		}
		agencies = strings.Join(names, ",")
	}
	return fmt.Sprintf("simulation: n=%d seed=%d arrivals=%s expedited=%s officers=%s officer-time=%s exporter-time=%s request-share=%.2f agencies=%s",
		s.cfg.N, s.cfg.Seed, s.cfg.Arrivals, exp, strings.Join(officers, ","), s.cfg.OfficerTime, s.cfg.ExporterTime, s.cfg.RequestShare, agencies)
}
