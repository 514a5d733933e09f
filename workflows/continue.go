package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/policy"
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
// same workflow ID: the carried stage's checks (its officer's review when officerReview), or the
// hold it waits for (held). Requests that arrive meanwhile are refused with the phase's reason;
// those already accepted, and signals already delivered, are taken in first.
//
// An outcome fixed meanwhile (an agency's refusal, or a withdrawal, taken in) is not carried: ended
// says the run ends with it instead (ChangeOutcomeBeforeContinuing), as c.withdrawn() says.
func (c *clearance) continueAsNew(ctx workflow.Context, officerReview bool, held *HeldBefore) (ended bool, err error) {
	c.enter(ctx, PhaseContinuing)
	if err := workflow.Await(ctx, func() bool {
		return workflow.AllHandlersFinished(ctx) && c.signalsTaken() && c.permitsTaken()
	}); err != nil {
		return false, err
	}
	if c.withdrawal != nil && c.rel.outcomeBeforeContinuing(ctx) {
		workflow.GetLogger(ctx).Info("not continuing as new: the clearance ends", "declarationID", c.decl.ID,
			"reason", c.withdrawal.Reason)
		return true, nil
	}
	info := workflow.GetInfo(ctx)
	k := c.Carried
	k.Run, k.PreviousRunID, k.OfficerReview, k.HeldBefore = c.Run+1, info.WorkflowExecution.RunID, officerReview, held
	workflow.GetLogger(ctx).Info("continuing as new", "declarationID", c.decl.ID, "stage", c.Stage,
		"events", info.GetCurrentHistoryLength(), "run", k.Run)
	return false, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{Declaration: c.decl, Carried: &k})
}

// continueRun continues the clearance as new from the stage loop, or ends it with the outcome
// fixed meanwhile.
func (c *clearance) continueRun(ctx workflow.Context, officerReview bool, held *HeldBefore) (Result, error) {
	if ended, err := c.continueAsNew(ctx, officerReview, held); !ended {
		return Result{}, err
	}
	return c.finish(ctx, c.withdrawn())
}

// continueStage continues the clearance as new from within a stage, or says the stage ends with
// the outcome fixed meanwhile.
func (c *clearance) continueStage(ctx workflow.Context, officerReview bool, held *HeldBefore) (State, string, error) {
	if ended, err := c.continueAsNew(ctx, officerReview, held); !ended {
		return "", "", err
	}
	return c.withdrawn(), OutcomeWithdrawn, nil
}

// restore takes up the state an earlier run carried, at the carried stage's checks.
func (c *clearance) restore(k Carried) {
	c.Carried = k
	c.phase = PhaseChecking
}

// resume goes on from where an earlier run stood: the carried stage's checks, or the hold it
// waited for before a stage began (the release notice's hold is the release stage's own).
func (c *clearance) resume(ctx workflow.Context, officerReview bool) (Result, error) {
	workflow.GetLogger(ctx).Info("continued from an earlier run", "declarationID", c.decl.ID, "stage", c.Stage,
		"run", c.Run+1)
	if p := c.refusalLeftBehind(); p != nil && c.rel.carriedRefusalEnds(ctx) {
		// An earlier release continued as new with the agency's refusal taken and not carried
		// out: this run carries it out, as the run that took it would have.
		reason := refusedByAgency(p.Agency, p.Result.Reason)
		workflow.GetLogger(ctx).Info("carrying out an agency's refusal an earlier run left behind", "declarationID", c.decl.ID,
			"agency", p.Agency, "request", p.RequestID)
		c.withdrawal, c.refusedBy = &Withdrawal{Reason: reason}, p.Agency
		c.enter(ctx, PhaseRefusing)
	} else {
		c.askAgain(ctx, false)
	}
	if h := c.HeldBefore; h != nil && h.Next != "" {
		c.HeldBefore = nil
		return c.stages(ctx, h.Next, h.Resume, officerReview)
	}
	c.releaseInProgress = c.Stage == policy.StageRelease
	return c.stages(ctx, c.Stage, true, officerReview)
}

// refusalLeftBehind returns an agency's latest request that stands refused with no appeal upheld
// since, which a continuation never carries (ChangeOutcomeBeforeContinuing): only an earlier
// release's run left one behind. A clearance an upheld appeal reopened asks such an agency again
// at its release.
func (c *clearance) refusalLeftBehind() *PermitRecord {
	for _, i := range c.latestPermits() {
		p := &c.Permits[i]
		if p.Superseded || p.Result == nil || p.Result.Disposition != agency.Refused {
			continue
		}
		if !slices.ContainsFunc(c.Appeals, func(a AppealRecord) bool { return !a.Decided.Before(p.Answered) }) {
			return p
		}
	}
	return nil
}

// recorded is what the clearance has recorded, as the status shows it and a continuation hands on.
func (c *clearance) recorded() Record { return c.Record }
