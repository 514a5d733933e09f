package workflows

import (
	"fmt"
	"hash/fnv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// woke says why a wait on a person ended: the run's next step depends on it, and on nothing else.
type woke int

const (
	// wokeDecided: an officer's decision was accepted (PhaseDecided).
	wokeDecided woke = iota
	// wokeSupplied: the exporter answered a request for information (PhaseSupplied).
	wokeSupplied
	// wokeTimedOut: the exporter's deadline passed without an answer.
	wokeTimedOut
	// wokeWithdrawn: the exporter withdrew, or an agency refused the goods; the stage ends.
	wokeWithdrawn
	// wokeRerouted: a supervisor rerouted the clearance during the release stage.
	wokeRerouted
	// wokeAmended: an amendment was applied; the checks it bears on run again.
	wokeAmended
	// wokeHistoryLong: the history grew long while waiting; the clearance continues as new and
	// waits on in the next run.
	wokeHistoryLong
	// wokeLifted: no hold stands; the clearance goes on where it stood.
	wokeLifted
	// wokeAnswered: every partner agency asked has answered.
	wokeAnswered
)

// wait is what a clearance waits for. Every wait of a clearance on a person (an officer's
// decision, the exporter's answer, a supervisor's lifting of a hold) is one of these and ends the
// same way: by an accepted request that moves the clearance on, by its deadline, or by a history
// grown long, after which the clearance continues as new and waits on in the next run.
type wait struct {
	// phase is the phase the wait holds: an accepted request that moves the clearance out of it
	// ends the wait, and wokeBy says why.
	phase Phase
	// lifted makes it a hold's wait instead: it ends when no hold stands (wokeLifted), or when the
	// exporter withdraws or an agency refuses the goods (wokeWithdrawn).
	lifted bool
	// answered makes it a wait for partner agencies: it ends when every one asked has answered
	// (wokeAnswered), or when the exporter withdraws or an agency refuses (wokeWithdrawn).
	answered bool
	// timeout, unless zero, ends the wait wokeTimedOut; timer is its timer's summary.
	timeout time.Duration
	timer   string
	// continues asks whether the clearance's release continues as new when its history grows
	// long during the wait; nil for a wait its timeout bounds.
	continues func(workflow.Context) bool
}

// await waits until w ends, and says why.
func (c *clearance) await(ctx workflow.Context, w wait) (woke, error) {
	over := func() bool {
		switch {
		case w.lifted:
			_, held := c.onHold()
			return !held || c.withdrawal != nil
		case w.answered:
			// An agency that needs more information ends the wait too: the exporter answers it.
			return len(c.permitsAwaited()) == 0 || c.withdrawal != nil || len(c.asking()) > 0
		}
		return c.phase != w.phase
	}
	long := w.continues != nil
	until := func() bool { return over() || (long && c.historyLong(ctx)) }
	for {
		if w.timeout > 0 {
			ok, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
				Timeout: w.timeout, TimerOptions: workflow.TimerOptions{Summary: w.timer},
			}, until)
			if err != nil {
				return 0, err
			}
			if !ok {
				return wokeTimedOut, nil
			}
		} else if err := workflow.Await(ctx, until); err != nil {
			return 0, err
		}
		if over() {
			break
		}
		// The history grew long: the clearance continues as new where its release does so, and
		// otherwise waits on in this run.
		if w.continues(ctx) {
			return wokeHistoryLong, nil
		}
		long = false
	}
	switch {
	case (w.lifted || w.answered) && c.withdrawal != nil:
		return wokeWithdrawn, nil
	case w.lifted:
		return wokeLifted, nil
	case w.answered:
		return wokeAnswered, nil
	}
	wk, _ := wokeBy(c.phase)
	return wk, nil
}

// wokeBy is why a wait on a person ended in phase p, the phase an accepted request entered; ok
// is false while the wait goes on (the phase is still the wait's own).
func wokeBy(p Phase) (w woke, ok bool) {
	switch p {
	case PhaseWithdrawing, PhaseRefusing:
		return wokeWithdrawn, true
	case PhaseRerouting:
		return wokeRerouted, true
	case PhaseAmended:
		return wokeAmended, true
	case PhaseDecided:
		return wokeDecided, true
	case PhaseSupplied:
		return wokeSupplied, true
	case PhaseAwaitingAgency:
		// The exporter answered an agency's request for more information: the release waits for
		// the agency again.
		return wokeSupplied, true
	}
	return 0, false
}

// watch starts watching the current stage's allowance, as the clearance's release does it.
func (c *clearance) watch(ctx workflow.Context) { c.rel.watch(ctx, c) }

// startWatch escalates the current stage if it is still running after wait, unless its allowance
// is already watched.
func (c *clearance) startWatch(wait time.Duration) {
	if c.watching || c.stageCtx == nil || c.Timeline[c.stageIdx].Escalated {
		return
	}
	c.watching = true
	idx := c.stageIdx
	wctx, cancel := workflow.WithCancel(c.stageCtx)
	c.watchCancel = cancel
	workflow.Go(wctx, func(gctx workflow.Context) { c.watchAllowance(gctx, idx, wait) })
}

// stopWatch stops watching the current stage's allowance.
func (c *clearance) stopWatch() {
	if c.watchCancel != nil {
		c.watchCancel()
	}
	c.watching = false
}

// restartWatch watches the current stage's allowance anew, for wait from now: an extension
// moved its due time.
func (c *clearance) restartWatch(wait time.Duration) {
	c.stopWatch()
	c.startWatch(wait)
}

// awaitOfficer waits for an officer's decision on the stage, and says why the wait ended: the
// decision (wokeDecided, with the decision), a withdrawal, a reroute, an amendment, or a history
// grown long.
func (c *clearance) awaitOfficer(ctx workflow.Context, stage policy.Stage, idx int) (DecisionRecord, woke, error) {
	var cfg activities.Configuration
	if err := c.stageActivity(ctx, "Refresh the officer roster", a.LoadConfiguration, nil, &cfg); err != nil {
		return DecisionRecord{}, 0, fmt.Errorf("refresh roster: %w", err)
	}
	c.Configuration.Roster = cfg.Roster
	since := workflow.Now(ctx)
	role := policy.StageRole(stage)
	c.waiting = &Waiting{
		For: WaitingForOfficer, Role: role, Officers: c.eligible(stage),
		Since: since, Due: c.Timeline[idx].Due,
	}
	c.watch(ctx)
	if err := c.setState(ctx, StateAwaitingOfficer); err != nil {
		return DecisionRecord{}, 0, err
	}
	c.enter(ctx, PhaseAwaitingOfficer)
	c.takeHeld(ctx)
	// A wait on an officer has no end of its own: when the history grows long meanwhile (signals
	// keep arriving), the clearance continues as new and waits on in the next run.
	w, err := c.await(ctx, wait{phase: PhaseAwaitingOfficer, continues: c.rel.explicitPhases})
	if err != nil {
		return DecisionRecord{}, 0, err
	}
	c.Timeline[idx].OfficerWait += policy.Duration(workflow.Now(ctx).Sub(since))
	c.waiting = nil
	if w != wokeDecided {
		return DecisionRecord{}, w, nil
	}
	d := *c.pending
	c.pending = nil
	workflow.GetLogger(ctx).Info("officer decided", "declarationID", c.decl.ID, "stage", stage,
		"officer", d.Officer, "outcome", d.Outcome, "via", d.Via)
	return d, wokeDecided, nil
}

// refreshRoster reads the roster again and offers the awaited decision to whom it now names: an
// officer taken off it can no longer decide, one added can. The supervisor of an escalation stays
// offered while on the roster.
func (c *clearance) refreshRoster(ctx workflow.Context) error {
	var cfg activities.Configuration
	actx := c.activityCtx(ctx, "Refresh the officer roster (the roster changed)")
	if err := workflow.ExecuteActivity(actx, a.LoadConfiguration).Get(ctx, &cfg); err != nil {
		return fmt.Errorf("refresh roster: %w", err)
	}
	c.Configuration.Roster = cfg.Roster
	if w := c.waiting; w != nil && w.For == WaitingForOfficer {
		w.Officers = c.eligible(c.Stage)
		for _, e := range c.Escalations {
			if _, ok := c.Configuration.Roster.Find(e.Supervisor); ok && e.Stage == c.Stage && !contains(w.Officers, e.Supervisor) {
				w.Officers = append(w.Officers, e.Supervisor)
			}
		}
	}
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
	return nil
}

// eligible lists the officers who may decide the stage now.
func (c *clearance) eligible(stage policy.Stage) []string {
	var ids []string
	for _, o := range c.Configuration.Roster.Officers {
		if o.Has(policy.StageRole(stage)) && c.separationOfDuties(stage, o.ID) == "" {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

// separationOfDuties returns why the officer may not decide the stage, or "".
func (c *clearance) separationOfDuties(stage policy.Stage, officer string) string {
	if stage != policy.StageRelease {
		return ""
	}
	for _, d := range c.Decisions {
		if d.Stage == policy.StageBiologicalReview && d.Officer == officer && d.Via != ViaAutomatic {
			return fmt.Sprintf("officer: %q decided the biological review and may not also decide the release", officer)
		}
	}
	return ""
}

// awaitExporter asks the exporter for information and waits for the answer until the deadline.
// It says why the wait ended: the answer (wokeSupplied), the deadline (wokeTimedOut), a
// withdrawal or a reroute.
func (c *clearance) awaitExporter(ctx workflow.Context, d DecisionRecord, idx int) (woke, error) {
	since := workflow.Now(ctx)
	deadline := c.Configuration.Policy.InformationDeadline.D()
	due := since.Add(deadline)
	onCalendar := c.Configuration.Policy.Calendar.BusinessDays() && c.rel.informationDeadlineOnCalendar(ctx)
	if onCalendar {
		due = c.Configuration.Policy.Calendar.Due(since, deadline)
	}
	c.waiting = &Waiting{
		For: WaitingForExporter, Exporter: c.decl.Exporter.Code, Requested: d.Requested,
		Reason: d.Reason, Since: since, Due: due,
	}
	stopped := c.Configuration.Policy.TraderTimeStopsTheClock() && !c.Timeline[idx].Escalated && c.rel.traderTimeStopsTheClock(ctx)
	c.waiting.ClockStopped = stopped
	if stopped {
		// Trader time: the allowance is not watched while the exporter is asked.
		c.stopWatch()
	} else {
		c.watch(ctx)
	}
	if err := c.setState(ctx, StateAwaitingExporter); err != nil {
		return 0, err
	}
	c.enter(ctx, PhaseAwaitingExporter)
	c.notify(ctx, activities.Notification{Kind: activities.NotifyInformationRequest, Due: c.waiting.Due,
		Message: fmt.Sprintf("Declaration %s: information requested at %s: %s", c.decl.ID, d.Stage, d.Reason)})
	w, err := c.await(ctx, wait{phase: PhaseAwaitingExporter, timeout: due.Sub(since),
		timer: ExporterDeadlineTimerSummary(c.Configuration.Policy.InformationDeadline, onCalendar, due)})
	if err != nil {
		return 0, err
	}
	now := workflow.Now(ctx)
	c.Timeline[idx].ExporterWait += policy.Duration(now.Sub(since))
	if stopped {
		st := &c.Timeline[idx]
		st.ClockStopped += policy.Duration(now.Sub(since))
		st.Due = c.Configuration.Policy.Calendar.Due(st.Due, c.Configuration.Policy.Calendar.Worked(since, now))
		if w == wokeSupplied {
			c.restartWatch(max(st.Due.Sub(now), time.Millisecond))
		}
	}
	c.waiting = nil
	return w, nil
}

// watchAllowance escalates the stage if it is still running when its allowance ends, after
// wait (the allowance, or longer when weekends and holidays stop the clock). The stage keeps
// waiting: nothing is approved because time ran out.
func (c *clearance) watchAllowance(ctx workflow.Context, idx int, wait time.Duration) {
	stage := c.Timeline[idx].Stage
	allowance := c.Timeline[idx].Allowance.D()
	summary := AllowanceTimerSummary(stage, policy.Duration(allowance), c.Configuration.Policy.Calendar.BusinessDays(), c.Timeline[idx].Due)
	timer := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: summary})
	if err := timer.Get(ctx, nil); err != nil {
		return // the stage ended in time
	}
	if c.phase == PhaseEnding && c.rel.explicitPhases(ctx) {
		return // the stage's outcome was fixed in time; the exporter is being told
	}
	if err := c.escalate(ctx, idx); err != nil {
		workflow.GetLogger(ctx).Warn("upsert SlaBreached failed", "declarationID", c.decl.ID, "error", err)
	}
}

// escalate records that the stage overran its allowance and adds a supervisor to those who may
// decide it. The stage keeps waiting: nothing is approved because time ran out.
func (c *clearance) escalate(ctx workflow.Context, idx int) error {
	stage := c.Timeline[idx].Stage
	allowance := c.Timeline[idx].Allowance.D()
	// A supervisor the separation of duties bars from the stage could not decide it.
	var supervisors []string
	for _, id := range c.Configuration.Roster.WithRole(policy.RoleSupervisor) {
		if c.separationOfDuties(stage, id) == "" {
			supervisors = append(supervisors, id)
		}
	}
	supervisor := ""
	if len(supervisors) > 0 {
		h := fnv.New32a()
		_, _ = h.Write([]byte(c.decl.ID + "/" + string(stage)))
		supervisor = supervisors[int(h.Sum32()%uint32(len(supervisors)))]
	}
	c.Escalations = append(c.Escalations, Escalation{Stage: stage, At: workflow.Now(ctx),
		Allowance: policy.Duration(allowance), Supervisor: supervisor})
	c.Timeline[idx].Escalated = true
	c.SlaBreached = true
	c.metrics(ctx, map[string]string{"stage": string(stage)}).Counter(MetricSLABreaches).Inc(1)
	if c.waiting != nil && c.waiting.For == WaitingForOfficer && supervisor != "" && !contains(c.waiting.Officers, supervisor) {
		c.waiting.Officers = append(c.waiting.Officers, supervisor)
	}
	workflow.GetLogger(ctx).Warn("stage overran its allowance; escalated", "declarationID", c.decl.ID,
		"stage", stage, "allowance", allowance, "supervisor", supervisor)
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
	return c.rel.escalated(ctx, c)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
