package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// MaxRunEvents is the history length after which a clearance continues as new, unless the server
// suggests it sooner: far below the 51,200 events at which the server would end it, and short
// enough that a worker replays a run quickly. A clearance continues at its next check, or at
// once while it waits on an officer; a wait on the exporter is bounded by its deadline.
const MaxRunEvents = 2000

// historyLong reports whether the clearance should carry its record into a new run now.
func (c *clearance) historyLong(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= MaxRunEvents
}

// continueAsNew hands the clearance's whole record and the step it stands at to a new run of the
// same workflow ID. Requests that arrive meanwhile are refused with the phase's reason; those
// already accepted, and signals already delivered, are taken in first.
func (c *clearance) continueAsNew(ctx workflow.Context, officerReview bool) error {
	c.enter(ctx, PhaseContinuing)
	if err := workflow.Await(ctx, func() bool {
		return workflow.AllHandlersFinished(ctx) && c.signalsTaken()
	}); err != nil {
		return err
	}
	info := workflow.GetInfo(ctx)
	run := 1
	if c.carriedRuns > 0 {
		run = c.carriedRuns + 1
	}
	workflow.GetLogger(ctx).Info("continuing as new", "declarationID", c.decl.ID, "stage", c.stage,
		"events", info.GetCurrentHistoryLength(), "run", run)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, Input{Declaration: c.decl, Carried: &Carried{
		Run: run, PreviousRunID: info.WorkflowExecution.RunID,
		Configuration: c.cfg, Selection: c.selection, Lane: c.lane, Stage: c.stage, State: c.state,
		Submitted: c.submitted, SlaBreached: c.breached, Record: c.recorded(), Weighed: c.weighed,
		OfficerReview: officerReview, HeldSignals: c.held, HeldCallers: c.heldCallers, Registration: c.registration,
		Claim: c.claim, ProposedAmendment: c.proposed, FirstRunID: c.firstRunID,
	}})
}

// restore takes up the record an earlier run carried.
func (c *clearance) restore(k Carried) {
	c.carriedRuns = k.Run
	c.cfg, c.selection, c.lane, c.stage, c.state = k.Configuration, k.Selection, k.Lane, k.Stage, k.State
	c.submitted, c.breached, c.weighed, c.held, c.heldCallers = k.Submitted, k.SlaBreached, k.Weighed, k.HeldSignals, k.HeldCallers
	c.registration, c.claim, c.proposed, c.firstRunID = k.Registration, k.Claim, k.ProposedAmendment, k.FirstRunID
	r := k.Record
	c.workLog, c.holds, c.amendments, c.appeals = r.Work, r.Holds, r.Amendments, r.Appeals
	c.findings, c.decisions, c.refused, c.refusedCount = r.Findings, r.Decisions, r.Refused, r.RefusedCount
	c.reroutes, c.supplies, c.escalations, c.timeline = r.Reroutes, r.Supplies, r.Escalations, r.Timeline
	c.phase = PhaseChecking
}

// resume goes on from the stage an earlier run carried, at its checks.
func (c *clearance) resume(ctx workflow.Context, officerReview bool) (Result, error) {
	workflow.GetLogger(ctx).Info("continued from an earlier run", "declarationID", c.decl.ID, "stage", c.stage,
		"run", c.carriedRuns+1)
	return c.stages(ctx, c.stage, true, officerReview)
}

// recorded is what the clearance has recorded, as the status shows it and a continuation hands on.
func (c *clearance) recorded() Record {
	return Record{Findings: c.findings, Decisions: c.decisions, Refused: c.refused, RefusedCount: c.refusedCount,
		Reroutes: c.reroutes, Supplies: c.supplies, Escalations: c.escalations, Timeline: c.timeline, Work: c.workLog,
		Holds: c.holds, Amendments: c.amendments, Appeals: c.appeals}
}
