package workflows

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

var (
	schedulesFlag = flag.Int("schedules", 300, "how many randomized schedules TestRandomSchedules runs")
	seedFlag      = flag.Int64("seed", 1, "the seed of TestRandomSchedules' first schedule; schedule i uses seed+i")
)

// regressionSeeds are schedules that once found a defect; they run on every test.
var regressionSeeds = []int64{
	21651, // the release officers off the roster and the supervisor barred: nobody could decide
}

// Bounds every schedule must stay within, whatever its requests: what one clearance may schedule
// and hold, so that its history stays far below Temporal's limits (51,200 events, 50 MB).
const (
	maxActivitiesPerClearance = 150
	maxTimersPerClearance     = 60
	maxStatusBytes            = 256 << 10
)

// TestRandomSchedules runs clearances through the real workflow under random interleavings of
// right and wrong decisions (by update and by signal), reroutes, supplies, withdrawals, roster
// changes, check, notice and notification failures, and allowance timers and information
// deadlines firing, and checks after every schedule that what was accepted was carried out.
// A failing schedule names its seed: go test -run TestRandomSchedules ./workflows/ -seed=N -schedules=1
// runs it again; add the seed to regressionSeeds.
func TestRandomSchedules(t *testing.T) {
	n := *schedulesFlag
	if testing.Short() {
		n = min(n, 50)
	}
	var total scheduleStats
	seeds := append([]int64(nil), regressionSeeds...)
	for i := 0; i < n; i++ {
		seeds = append(seeds, *seedFlag+int64(i))
	}
	for _, seed := range seeds {
		st := runSchedule(t, seed)
		total.add(st)
		if t.Failed() {
			t.Fatalf("schedule with seed %d failed: go test -run TestRandomSchedules ./workflows/ -seed=%d -schedules=1", seed, seed)
		}
	}
	t.Logf("covered: %d schedules from seed %d, %d steps, %d requests accepted, %d refused, %d signals, %d continuations; "+
		"ended %v; at most %d activities and %d timers in one clearance, largest status %d bytes",
		len(seeds), *seedFlag, total.steps, total.accepted, total.refused, total.signals, total.continued, total.ended,
		total.maxActivities, total.maxTimers, total.maxStatus)
}

type scheduleStats struct {
	steps, accepted, refused, signals int
	continued                         int
	maxActivities, maxTimers          int
	maxStatus                         int
	ended                             map[State]int
}

func (s *scheduleStats) add(o scheduleStats) {
	s.steps += o.steps
	s.accepted += o.accepted
	s.refused += o.refused
	s.signals += o.signals
	s.continued += o.continued
	s.maxActivities = max(s.maxActivities, o.maxActivities)
	s.maxTimers = max(s.maxTimers, o.maxTimers)
	s.maxStatus = max(s.maxStatus, o.maxStatus)
	if s.ended == nil {
		s.ended = map[State]int{}
	}
	for k, v := range o.ended {
		s.ended[k] += v
	}
}

// request is one update or signal a schedule sent, and how the clearance answered it.
type request struct {
	id, name string
	at       time.Duration
	decision Decision
	// accepted and refused are set by the update's callbacks; signals are matched at the end.
	accepted bool
	refused  error
	record   *DecisionRecord
	lane     policy.Lane
	reason   string
	// undelivered is set for a request the run it was sent to ended without answering.
	undelivered bool
}

type schedule struct {
	t     *testing.T
	h     *harness
	rng   *rand.Rand
	seed  int64
	steps int
	limit int
	reqs  []*request
	// removed is the officer the schedule took off the roster, if any.
	removed string
	stats   scheduleStats
	// runs are the environments of the clearance's runs that continued as new.
	runs []*harness
}

func runSchedule(t *testing.T, seed int64) scheduleStats {
	rng := rand.New(rand.NewSource(seed))
	lanes := []policy.Lane{policy.LaneGreen, policy.LaneYellow, policy.LaneRed}
	h := newHarness(t, lanes[rng.Intn(len(lanes))])
	s := &schedule{t: t, h: h, rng: rng, seed: seed, limit: 4 + rng.Intn(24)}
	d := fixture()
	if rng.Intn(2) == 0 {
		d = biological(d)
	}
	if rng.Intn(5) == 0 {
		h.cfg.Policy.Calendar = policy.Calendar{Counting: policy.CountingBusinessDays, Holidays: []string{"2020-04-06"}}
	}
	s.configureFailures()
	in := Input{Declaration: d}
	for {
		s.h.env.RegisterDelayedCallback(s.step, s.delay())
		s.h.env.SetTestTimeout(time.Minute)
		s.h.execute(in)
		if !s.h.env.IsWorkflowCompleted() {
			t.Errorf("seed %d: the clearance did not complete", seed)
			return s.stats
		}
		var can *workflow.ContinueAsNewError
		if !errors.As(s.h.env.GetWorkflowError(), &can) {
			break
		}
		// The clearance continued as new: its next run goes on in a fresh environment, from the
		// time the last one ended, with the same activities; requests the ended run never
		// answered were not delivered (a client sends them again).
		s.stats.continued++
		in = Input{}
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil || in.Carried == nil {
			t.Errorf("seed %d: continue-as-new input: %v", seed, err)
			return s.stats
		}
		for _, q := range s.reqs {
			if q.name != SignalDecision && !q.accepted && q.refused == nil {
				q.undelivered = true
			}
		}
		s.runs = append(s.runs, s.h)
		s.h = s.h.next()
	}
	h = s.h
	if err := h.env.GetWorkflowError(); err != nil {
		t.Errorf("seed %d: the workflow failed: %v", seed, err)
		return s.stats
	}
	var r Result
	if err := h.env.GetWorkflowResult(&r); err != nil {
		t.Errorf("seed %d: result: %v", seed, err)
		return s.stats
	}
	s.verify(r)
	s.stats.ended = map[State]int{r.State: 1}
	return s.stats
}

// configureFailures picks what the automated checks find and how often activities fail first.
func (s *schedule) configureFailures() {
	h, rng := s.h, s.rng
	clean := func(in activities.CheckInput) (activities.CheckResult, error) {
		return activities.CheckResult{CheckedAt: in.On}, nil
	}
	for _, stage := range allStages {
		var fns []func(activities.CheckInput) (activities.CheckResult, error)
		for i := rng.Intn(3); i >= 0; i-- {
			switch rng.Intn(7) {
			case 0, 1, 2:
				fns = append(fns, clean)
			case 3:
				fns = append(fns, findings(activities.SeverityWarning, "packing-list-unclear"))
			case 4:
				fns = append(fns, findings(activities.SeverityError, "invoice-total-mismatch"))
			case 5:
				fns = append(fns, unavailable)
			case 6:
				if stage == policy.StageCertificationCheck {
					fns = append(fns, invalidCertificate)
				} else {
					fns = append(fns, clean)
				}
			}
		}
		if rng.Intn(2) == 0 {
			fns = append(fns, clean) // the last result repeats: never an outage for good
		} else {
			fns = append(fns, findings(activities.SeverityInfo, "documents-complete"))
		}
		h.onCheck(stage, fns...)
	}
	h.noticeFailures = rng.Intn(5)
	for _, k := range []activities.NotificationKind{activities.NotifyRefused, activities.NotifyLapsed,
		activities.NotifyInformationRequest, activities.NotifyReleased} {
		h.notifyFailures[k] = rng.Intn(14) // up to 13 attempts: the hour of retries runs out
	}
	if rng.Intn(6) == 0 {
		h.laneErrs = []error{errors.New("trader registry unavailable")}
	}
	if rng.Intn(30) == 0 {
		h.laneErr = temporal.NewNonRetryableApplicationError("declaration does not validate: lines[0].hsCode: bad",
			activities.ErrInvalidDeclaration, nil)
	}
}

// delay picks when the next step comes: seconds (within activity retries), minutes, hours or days
// (across allowances and deadlines).
func (s *schedule) delay() time.Duration {
	if s.steps > s.limit {
		return time.Hour
	}
	choices := []time.Duration{time.Second, 3 * time.Second, 20 * time.Second, 5 * time.Minute, 2 * time.Hour, 20 * time.Hour, 3 * 24 * time.Hour}
	return choices[s.rng.Intn(len(choices))]
}

// step reads the status, as an officer's or exporter's client would, and sends a request.
func (s *schedule) step() {
	v, err := s.h.env.QueryWorkflow(QueryStatus)
	if err != nil {
		s.t.Errorf("seed %d step %d: the status query failed: %v", s.seed, s.steps, err)
		return
	}
	var st Status
	if err := v.Get(&st); err != nil {
		s.t.Errorf("seed %d step %d: status: %v", s.seed, s.steps, err)
		return
	}
	raw, _ := json.Marshal(st)
	s.stats.maxStatus = max(s.stats.maxStatus, len(raw))
	if st.Phase == PhaseEnded {
		return
	}
	s.steps++
	s.stats.steps++
	if s.steps > s.limit+300 {
		s.t.Errorf("seed %d: the clearance did not end after %d steps (phase %s)", s.seed, s.steps, st.Phase)
		return
	}
	if s.steps <= s.limit && len(s.runs) < 2 && s.rng.Intn(12) == 0 {
		s.h.env.SetContinueAsNewSuggested(true) // as the server does when a history grows long
	}
	s.act(st, s.steps > s.limit)
	s.h.env.RegisterDelayedCallback(s.step, s.delay())
}

var (
	officers = []string{"doc-li", "doc-chen", "hq-wang", "hq-zhao", "cert-liu", "insp-sun", "rel-zhou", "rel-wu", "sup-huang", "nobody"}
	reasons  = []string{"", "  ", "the invoice does not match the packing list", "attach the quality declaration",
		"forged \x1b[2J invoice", strings.Repeat("long ", MaxReasonBytes/4)}
)

// act sends one request: in the finishing part of a schedule the one that moves the clearance on,
// before it a mix of fitting and unfitting ones.
var debugSchedule bool

func (s *schedule) act(st Status, finishing bool) {
	if debugSchedule && s.steps%10 == 0 || debugSchedule && s.steps > s.limit+290 {
		var w any
		if st.Waiting != nil {
			w = *st.Waiting
		}
		s.t.Logf("step %d at %s: phase %s stage %s lane %s waiting %+v timeline %v", s.steps, s.h.env.Now().Sub(start), st.Phase, st.Stage, st.Lane, w, len(st.Timeline))
	}
	rng := s.rng
	if finishing {
		if s.removed != "" {
			s.changeRoster() // the operator puts the officer back and announces it
			return
		}
		s.fitting(st, true)
		return
	}
	switch n := rng.Intn(100); {
	case n < 50:
		s.fitting(st, false)
	case n < 60:
		s.signal(s.anyDecision(st))
	case n < 70:
		lanes := []policy.Lane{policy.LaneGreen, policy.LaneYellow, policy.LaneRed, "blue"}
		sup := "sup-huang"
		if rng.Intn(4) == 0 {
			sup = officers[rng.Intn(len(officers))]
		}
		s.send(UpdateReroute, Reroute{Officer: sup, Lane: lanes[rng.Intn(len(lanes))], Reason: reasons[rng.Intn(len(reasons))]})
	case n < 80:
		s.send(UpdateDecide, s.anyDecision(st))
	case n < 85:
		s.send(UpdateWithdraw, Withdrawal{Reason: reasons[rng.Intn(len(reasons))]})
	case n < 90:
		s.send(UpdateSupplyDocuments, s.anySupply())
	case n < 95:
		s.changeRoster()
	}
}

// fitting sends what the clearance waits for; finishing, it approves and answers.
func (s *schedule) fitting(st Status, finishing bool) {
	rng := s.rng
	switch st.Phase {
	case PhaseAwaitingOfficer:
		if st.Waiting == nil || len(st.Waiting.Officers) == 0 {
			return
		}
		d := Decision{Stage: st.Stage, Officer: st.Waiting.Officers[rng.Intn(len(st.Waiting.Officers))],
			Outcome: OutcomeApprove, Reason: "reviewed: in order"}
		if !finishing {
			switch n := rng.Intn(10); {
			case n < 2:
				d.Outcome, d.Reason = OutcomeRequestInformation, "attach the quality declaration"
				d.Requested = []string{"quality-declaration"}
			case n < 3:
				d.Outcome, d.Reason = OutcomeReject, "the invoice does not match the packing list"
			case n < 5:
				d.Reason = ""
			}
		}
		if !finishing && rng.Intn(4) == 0 {
			s.signal(d)
			return
		}
		s.send(UpdateDecide, d)
	case PhaseAwaitingExporter:
		if !finishing && rng.Intn(8) == 0 {
			s.send(UpdateWithdraw, Withdrawal{Reason: "the buyer cancelled the order"})
			return
		}
		s.send(UpdateSupplyDocuments, Supply{Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration,
			Reference: fmt.Sprintf("QD-%d", s.steps)}}, Note: "attached"})
	default:
		if !finishing && rng.Intn(10) == 0 {
			s.send(UpdateWithdraw, Withdrawal{Reason: "the buyer cancelled the order"})
		}
	}
}

func (s *schedule) anyDecision(st Status) Decision {
	rng := s.rng
	stage := st.Stage
	if rng.Intn(3) == 0 {
		stage = allStages[rng.Intn(len(allStages))]
	}
	outcomes := []Outcome{OutcomeApprove, OutcomeReject, OutcomeRequestInformation, "maybe"}
	return Decision{Stage: stage, Officer: officers[rng.Intn(len(officers))], Outcome: outcomes[rng.Intn(len(outcomes))],
		Reason: reasons[rng.Intn(len(reasons))]}
}

func (s *schedule) anySupply() Supply {
	switch s.rng.Intn(3) {
	case 0:
		return Supply{}
	case 1:
		return Supply{Documents: []declaration.Document{{Type: "nonsense", Reference: "X"}}}
	}
	return Supply{Documents: []declaration.Document{{Type: declaration.DocOther, Reference: fmt.Sprintf("O-%d", s.steps)}}}
}

// changeRoster takes an officer (never the supervisor) off the roster, or puts them back, and
// mostly announces it with the signal roster-changed, as the operator does; unannounced, a
// waiting clearance sees the change at its next officer wait.
func (s *schedule) changeRoster() {
	s.h.mu.Lock()
	full := policy.DefaultRoster()
	if s.removed != "" {
		s.h.cfg.Roster, s.removed = full, ""
	} else {
		i := s.rng.Intn(len(full.Officers) - 1)
		s.removed = full.Officers[i].ID
		s.h.cfg.Roster = policy.Roster{Officers: append(append([]policy.Officer(nil), full.Officers[:i]...), full.Officers[i+1:]...)}
	}
	s.h.mu.Unlock()
	if s.steps > s.limit || s.rng.Intn(10) < 7 {
		s.h.env.SignalWorkflow(SignalRosterChanged, nil)
	}
}

func (s *schedule) send(name string, arg any) {
	r := &request{id: fmt.Sprintf("%s-%d", name, len(s.reqs)), name: name, at: s.h.env.Now().Sub(start)}
	switch v := arg.(type) {
	case Decision:
		r.decision = v
	case Reroute:
		r.lane = v.Lane
	case Withdrawal:
		r.reason = v.Reason
	}
	s.reqs = append(s.reqs, r)
	s.h.env.UpdateWorkflow(name, r.id, &testsuite.TestUpdateCallback{
		OnAccept: func() { r.accepted = true },
		OnReject: func(err error) { r.refused = err },
		OnComplete: func(v any, err error) {
			if err != nil {
				s.t.Errorf("seed %d: %s accepted and then failed: %v", s.seed, r.id, err)
				return
			}
			if name == UpdateDecide {
				var rec DecisionRecord
				raw, _ := json.Marshal(v)
				if json.Unmarshal(raw, &rec) == nil {
					r.record = &rec
				}
			}
		},
	}, arg)
}

func (s *schedule) signal(d Decision) {
	s.stats.signals++
	s.reqs = append(s.reqs, &request{id: fmt.Sprintf("signal-%d", len(s.reqs)), name: SignalDecision, decision: d})
	s.h.env.SignalWorkflow(SignalDecision, d)
}

// verify checks what the clearance did against what it accepted.
func (s *schedule) verify(r Result) {
	t, seed, h := s.t, s.seed, s.h
	fail := func(format string, args ...any) { t.Errorf("seed %d: "+format, append([]any{seed}, args...)...) }

	v, err := h.env.QueryWorkflow(QueryStatus)
	if err != nil {
		fail("the status query failed after the end: %v", err)
		return
	}
	var st Status
	if err := v.Get(&st); err != nil {
		fail("status: %v", err)
		return
	}

	all := append(append([]*harness(nil), s.runs...), h)
	notices := 0
	for _, run := range all {
		notices += run.notices
	}
	// At most one release notice, and one exactly when released.
	if notices > 1 || (r.State == StateReleased) != (notices == 1) || (r.State == StateReleased) != (r.Notice != nil) {
		fail("ended %s with %d notices issued and notice %v", r.State, notices, r.Notice)
	}

	applied := map[string]int{} // officer decisions in the result, by their content
	for _, d := range r.Decisions {
		if d.Via != ViaAutomatic {
			applied[decisionKey(d.Decision, d.Via)]++
		}
	}
	var withdrawals, supplies, updates, lastLane = 0, 0, 0, policy.Lane("")
	var lastOfficer *DecisionRecord
	for _, q := range s.reqs {
		if q.name == SignalDecision || q.undelivered {
			continue
		}
		updates++
		switch {
		case q.accepted && q.refused != nil:
			fail("%s both accepted and refused", q.id)
		case !q.accepted && q.refused == nil:
			fail("%s neither accepted nor refused", q.id)
		case q.refused != nil:
			s.stats.refused++
			if strings.TrimSpace(q.refused.Error()) == "" {
				fail("%s refused without a reason", q.id)
			}
			continue
		}
		s.stats.accepted++
		switch q.name {
		case UpdateDecide:
			if q.record == nil {
				fail("%s accepted without its record", q.id)
				continue
			}
			key := decisionKey(q.record.Decision, ViaUpdate)
			if applied[key] == 0 {
				fail("accepted decision %+v is not in the result's decisions", q.record.Decision)
			}
			applied[key]--
			if lastOfficer == nil || !q.record.At.Before(lastOfficer.At) {
				lastOfficer = q.record
			}
		case UpdateWithdraw:
			withdrawals++
			if r.State != StateWithdrawn || r.Reason != q.reason {
				fail("withdrawal %q accepted, the clearance ended %s: %s", q.reason, r.State, r.Reason)
			}
		case UpdateSupplyDocuments:
			supplies++
		case UpdateReroute:
			lastLane = q.lane
		}
	}
	if withdrawals > 1 {
		fail("%d withdrawals accepted", withdrawals)
	}
	if r.State == StateWithdrawn && withdrawals == 0 {
		fail("withdrawn without an accepted withdrawal")
	}
	if lastLane != "" && r.Lane != lastLane {
		fail("last accepted reroute to %s, the clearance ended in the %s lane", lastLane, r.Lane)
	}
	if len(st.Supplies) != supplies {
		fail("%d supplies accepted, the status records %d", supplies, len(st.Supplies))
	}

	// Signals: each was applied (and is in the result) or refused (and counted).
	signals, fromSignals := 0, 0
	for _, q := range s.reqs {
		if q.name == SignalDecision && !q.undelivered {
			signals++
		}
	}
	for _, d := range r.Decisions {
		if d.Via == ViaSignal {
			fromSignals++
			if lastOfficer == nil || !d.At.Before(lastOfficer.At) {
				dd := d
				lastOfficer = &dd
			}
		}
	}
	// A signal sent as a run ended may be held for an officer wait that never comes, or, in the
	// test environment, not be delivered at all (a real server makes the ending run take it first).
	if fromSignals+st.RefusedCount != signals && (len(s.runs) == 0 || fromSignals+st.RefusedCount > signals) {
		fail("%d signals sent, %d applied and %d refused", signals, fromSignals, st.RefusedCount)
	}
	for k, n := range applied {
		if n > 0 && !strings.HasSuffix(k, "/"+string(ViaSignal)) {
			fail("decision %s is in the result but no update for it was accepted", k)
		}
	}

	// The outcome follows the last officer decision, unless the exporter withdrew or a rule refused.
	if lastOfficer != nil && r.State != StateWithdrawn {
		switch lastOfficer.Outcome {
		case OutcomeReject:
			if r.State != StateRefused || r.Reason != lastOfficer.Reason {
				fail("the last decision rejected (%q); the clearance ended %s: %s", lastOfficer.Reason, r.State, r.Reason)
			}
		case OutcomeRequestInformation:
			if r.State == StateReleased && lastOfficer.Stage == policy.StageRelease {
				fail("released after a request for information at the release with no later approval")
			}
		}
	}
	if r.State == StateLapsed {
		last := r.Decisions[len(r.Decisions)-1]
		if last.Outcome != OutcomeRequestInformation {
			fail("lapsed after a %s decision", last.Outcome)
		}
		for _, sup := range st.Supplies {
			if sup.At.After(last.At) {
				fail("lapsed although the exporter's answer at %s was accepted", sup.At)
			}
		}
	}
	if r.State == StateRefused {
		if last := r.Decisions[len(r.Decisions)-1]; last.Outcome != OutcomeReject {
			fail("refused after a %s decision", last.Outcome)
		}
	}

	// What one clearance schedules and keeps stays bounded, over all its runs.
	activitiesRun, timers := 0, 0
	for _, run := range all {
		activitiesRun += run.noticeCalls
		for _, n := range run.checkCalls {
			activitiesRun += n
		}
		for _, n := range run.notifyCalls {
			activitiesRun += n
		}
		timers += len(run.timers)
	}
	s.stats.maxActivities = max(s.stats.maxActivities, activitiesRun)
	s.stats.maxTimers = max(s.stats.maxTimers, timers)
	if activitiesRun > maxActivitiesPerClearance || timers > maxTimersPerClearance || s.stats.maxStatus > maxStatusBytes {
		fail("%d activity attempts, %d timers, a status of %d bytes: over the bounds", activitiesRun, timers, s.stats.maxStatus)
	}
}

func decisionKey(d Decision, via Via) string {
	return fmt.Sprintf("%s/%s/%s/%q/%q/%s", d.Stage, d.Officer, d.Outcome, d.Reason, d.Requested, via)
}

// next is the environment of the clearance's next run after it continued as new: the same
// activities, configuration and remaining failures, from the time the last run ended.
func (h *harness) next() *harness {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := newHarness(h.t, h.lane)
	n.env.SetStartTime(h.env.Now())
	n.cfg = h.cfg
	for stage, fns := range h.checks {
		n.checks[stage] = fns
	}
	n.noticeFailures = max(0, h.noticeFailures-h.noticeCalls)
	for k, f := range h.notifyFailures {
		n.notifyFailures[k] = max(0, f-h.notifyCalls[k])
	}
	return n
}
