package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// a is used only to name activity methods; the worker registers the real one.
var a *activities.Activities

// ExportClearance carries one export declaration through the clearance stages and returns how
// it ended, with its timeline set against the 20-day standard.
func ExportClearance(ctx workflow.Context, in Input) (Result, error) {
	c := &clearance{decl: in.Declaration, Carried: Carried{Submitted: workflow.Now(ctx)}, phase: PhaseStarting,
		permitCalls: map[string]*permitCall{}}
	c.rel = newReleases(ctx)
	c.shown = shownAtStart(workflow.GetTypedSearchAttributes(ctx))
	if in.Carried != nil {
		c.restore(*in.Carried)
	}
	if err := c.setup(ctx); err != nil {
		return Result{}, err
	}
	if in.Reopened != nil && in.Carried != nil {
		return c.reopen(ctx, *in.Reopened)
	}
	if in.Carried != nil {
		return c.resume(ctx, in.Carried.OfficerReview)
	}
	return c.run(ctx)
}

// clearance is one run of the workflow. Everything the clearance must remember is its Carried
// state, which a continue-as-new and an upheld appeal's reopening hand to the next run whole; the
// rest belongs to this run alone: the step it is taking, and the handles the SDK gives it. Update
// and signal handlers change it; run reads it.
type clearance struct {
	decl declaration.Declaration
	Carried

	// phase is where the run's state machine stands, and says what it accepts; the run starts
	// its carried stage at its checks.
	phase   Phase
	waiting *Waiting
	// reason, ended, notice and result are the outcome, once the run has one; refusedAsLodged
	// says the declaration was refused as lodged (Result.RefusedAsLodged).
	reason          string
	refusedAsLodged bool
	ended           time.Time
	notice          *activities.ReleaseNotice
	result          *Result
	// pending is the accepted officer decision (PhaseDecided) that run has not taken up yet.
	pending *DecisionRecord
	// withdrawal is the exporter's accepted withdrawal (PhaseWithdrawing), or another agency's
	// refusal (PhaseRefusing), which the run carries out the same way; refusedBy names the agency.
	withdrawal *Withdrawal
	refusedBy  string
	// releaseInProgress says the run took up the release stage where an earlier run stood in it:
	// its agencies were awaited before it began (ChangeReleaseResumesAtItsOfficer).
	releaseInProgress bool

	// decisionSignals and rosterSignals are the signal channels, read by their own coroutines.
	decisionSignals, rosterSignals workflow.ReceiveChannel
	// rel says which released behaviour the clearance follows.
	rel releases
	// shown is what the clearance's search attributes hold.
	shown shownAttributes
	// stageCtx is cancelled when the current stage ends; stageIdx is its timeline entry and
	// watching says whether its allowance is watched.
	stageCtx workflow.Context
	stageIdx int
	watching bool
	// watchCancel stops the current watch of the stage's allowance.
	watchCancel workflow.CancelFunc
	// heldNext is the stage a standing hold keeps from beginning, while the run waits for it.
	heldNext policy.Stage
	// permitCalls are the permit requests this run is asking partner agencies, by request ID,
	// each with what withdraws it.
	permitCalls map[string]*permitCall
}

func (c *clearance) logger(ctx workflow.Context) interface {
	Info(string, ...interface{})
	Warn(string, ...interface{})
} {
	return workflow.GetLogger(ctx)
}

func (c *clearance) run(ctx workflow.Context) (Result, error) {
	log := c.logger(ctx)
	if err := workflow.ExecuteActivity(c.activityCtx(ctx, "Load the clearance policy and officer roster"),
		a.LoadConfiguration).Get(ctx, &c.Configuration); err != nil {
		return Result{}, fmt.Errorf("load configuration: %w", err)
	}
	err := workflow.ExecuteActivity(c.activityCtx(ctx, "Select the risk lane"), a.SelectLane,
		activities.CheckInput{Declaration: c.decl, On: workflow.Now(ctx)}).Get(ctx, &c.Selection)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrInvalidDeclaration {
		// Started without the starter's validation: refuse, naming the problems.
		return c.refuseInvalid(ctx, appErr.Message())
	}
	if err != nil {
		return Result{}, fmt.Errorf("select lane: %w", err)
	}
	c.Lane = c.Selection.Lane
	log.Info("lane selected", "declarationID", c.decl.ID, "lane", c.Lane, "reasons", c.Selection.Reasons)
	switch refusal, err := c.register(ctx); {
	case err != nil:
		return Result{}, err
	case refusal != "":
		return c.refuseInvalid(ctx, refusal)
	}
	if err := c.rel.laneSelected(ctx, c); err != nil {
		return Result{}, err
	}
	c.askAgencies(ctx)

	return c.stages(ctx, policy.StageDocumentCheck, false, false)
}

// stages runs the stages from first until the clearance ends. resume takes up first where an
// earlier run left it, at its checks (again on the exporter's answer when reviewAfterSupply).
func (c *clearance) stages(ctx workflow.Context, first policy.Stage, resume, reviewAfterSupply bool) (Result, error) {
	for stage := first; stage != ""; stage = c.following(ctx, stage) {
		if stage == policy.StageRelease && !c.resumesReleaseAtItsOfficer(ctx) {
			// The release does not begin before every partner agency asked has granted its permit.
			switch w, err := c.awaitAgencies(ctx); {
			case err != nil:
				return Result{}, err
			case w == wokeWithdrawn:
				return c.finish(ctx, c.withdrawn())
			case w == wokeTimedOut:
				return c.finish(ctx, StateLapsed)
			case w == wokeHistoryLong:
				return c.continueRun(ctx, reviewAfterSupply, &HeldBefore{Next: stage, Resume: resume})
			}
		}
		switch w, err := c.awaitLifted(ctx, stage); {
		case err != nil:
			return Result{}, err
		case w == wokeWithdrawn:
			return c.finish(ctx, c.withdrawn())
		case w == wokeHistoryLong:
			held := c.HeldBefore // the release notice an earlier run approved stays approved
			if held == nil {
				held = &HeldBefore{Next: stage, Resume: resume}
			}
			return c.continueRun(ctx, reviewAfterSupply, held)
		}
		end, err := c.runStage(ctx, stage, resume, reviewAfterSupply)
		if err != nil {
			return Result{}, err
		}
		if end != "" {
			return c.finish(ctx, end)
		}
		resume, reviewAfterSupply = false, false
	}
	return c.finish(ctx, StateReleased)
}

// resumesReleaseAtItsOfficer reports whether the release stage, taken up where an earlier run
// stood in it, goes on without awaiting the agencies again (ChangeReleaseResumesAtItsOfficer):
// they were awaited before it began, and a request an amendment in it sent again is awaited
// before its notice, as it would have been without the continuation. It holds once, for the
// stage the run takes up: a release the run comes to again (after a reroute) awaits them. It is
// asked only when the agencies would be awaited.
func (c *clearance) resumesReleaseAtItsOfficer(ctx workflow.Context) bool {
	inProgress := c.releaseInProgress
	c.releaseInProgress = false
	if !inProgress || (len(c.permitsAwaited()) == 0 && !c.needsInformation()) {
		return false
	}
	return c.rel.releaseResumesAtItsOfficer(ctx)
}

// register accepts the declaration and registers it (VersionDeclarationsRegister). It returns
// why the declaration is refused instead, or "".
func (c *clearance) register(ctx workflow.Context) (string, error) {
	if !c.rel.registers {
		return "", nil
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	var reg activities.Registered
	// A local activity: one short, idempotent write to the register, run in the workflow task,
	// without an activity task's round trip through the server. A worker that dies before its
	// marker is recorded runs it again, and the register returns the same entry.
	// A register that cannot be written is retried, with backoff, for as long as a clearance could
	// wait at all: the clearance waits with it, as it does for a check's registry.
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * 24 * time.Hour,
		RetryPolicy:            retryPolicy(),
		Summary:                "Register the declaration",
	})
	err := workflow.ExecuteLocalActivity(lctx, a.RegisterDeclaration,
		activities.Registration{ExporterCode: c.decl.Exporter.Code, DeclarationID: c.decl.ID, WorkflowID: id, RunID: c.firstRun(ctx)}).
		Get(ctx, &reg)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == activities.ErrDuplicateDeclaration || appErr.Type() == activities.ErrInvalidDeclaration) {
		return appErr.Message(), nil
	}
	if err != nil {
		return "", fmt.Errorf("register declaration: %w", err)
	}
	c.Registration = &Registration{Number: reg.Number, Accepted: reg.LodgedAt}
	workflow.GetLogger(ctx).Info("declaration registered", "declarationID", c.decl.ID, "registration", reg.Number)
	return "", nil
}

// firstRun is the run the clearance started with: a clearance that continues as new keeps it, and
// the registers bind the declaration and its release notice to it.
func (c *clearance) firstRun(ctx workflow.Context) string {
	if c.FirstRunID != "" {
		return c.FirstRunID
	}
	info := workflow.GetInfo(ctx)
	if info.FirstRunID != "" {
		return info.FirstRunID
	}
	return info.WorkflowExecution.RunID
}

// refuseInvalid ends a clearance whose declaration does not validate at its first stage.
func (c *clearance) refuseInvalid(ctx workflow.Context, reason string) (Result, error) {
	now := workflow.Now(ctx)
	c.Stage = policy.StageDocumentCheck
	allowance := c.Configuration.Policy.AllowancesFor(c.decl.IsExpedited()).DocumentCheck
	c.Timeline = append(c.Timeline, StageRecord{Stage: c.Stage, Started: now, Ended: now, Outcome: OutcomeRefused,
		Allowance: allowance, Due: c.Configuration.Policy.Calendar.Due(now, allowance.D())})
	if c.withdrawal != nil && c.rel.explicitPhases(ctx) {
		// The withdrawal was accepted while the lane was selected: it is carried out.
		c.Timeline[0].Outcome = OutcomeWithdrawn
		return c.finish(ctx, c.withdrawn())
	}
	c.reason, c.refusedAsLodged = reason, true
	c.enter(ctx, PhaseEnding)
	c.record(ctx, DecisionRecord{
		Decision: Decision{Stage: c.Stage, Outcome: OutcomeReject, Reason: reason}, At: now, Via: ViaAutomatic})
	if err := c.rel.stageShown(ctx, c); err != nil {
		return Result{}, err
	}
	c.notify(ctx, activities.Notification{Kind: activities.NotifyRefused,
		Message: fmt.Sprintf("Declaration %s refused: %s", c.decl.ID, reason)})
	return c.finish(ctx, StateRefused)
}

// next returns the stage after s for this declaration and its current lane, or "" after release.
func (c *clearance) next(s policy.Stage) policy.Stage {
	switch s {
	case policy.StageDocumentCheck:
		if c.decl.NeedsBiologicalReview() {
			return policy.StageBiologicalReview
		}
		return policy.StageCertificationCheck
	case policy.StageBiologicalReview:
		return policy.StageCertificationCheck
	case policy.StageCertificationCheck:
		if c.Lane == policy.LaneRed {
			return policy.StagePhysicalInspection
		}
		return policy.StageRelease
	case policy.StagePhysicalInspection:
		return policy.StageRelease
	}
	return ""
}

// runStage runs one stage to its end. It returns the final state when the stage ends the
// clearance (refused, lapsed, withdrawn), or "" when the clearance goes on.
func (c *clearance) runStage(ctx workflow.Context, stage policy.Stage, resume, reviewAfterSupply bool) (State, error) {
	c.Stage = stage
	if !resume {
		now := workflow.Now(ctx)
		allowance := c.Configuration.Policy.AllowancesFor(c.decl.IsExpedited()).For(stage)
		due := c.Configuration.Policy.Calendar.Due(now, allowance)
		c.Timeline = append(c.Timeline, StageRecord{Stage: stage, Started: now, Allowance: policy.Duration(allowance), Due: due})
		if err := c.rel.stageShown(ctx, c); err != nil {
			return "", err
		}
		workflow.GetLogger(ctx).Info("stage started", "declarationID", c.decl.ID, "stage", stage, "allowance", allowance)
	}
	idx := len(c.Timeline) - 1

	stageCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	c.stageCtx, c.stageIdx, c.watching = stageCtx, idx, false
	c.rel.stageWatched(ctx, c)

	end, outcome, err := c.decideStage(ctx, stage, idx, reviewAfterSupply)
	if err != nil {
		return "", err
	}
	c.endStage(ctx, idx, outcome)
	return end, nil
}

// decideStage loops over checks, officer decisions and requests for information until the
// stage is approved or the clearance ends. It returns the final state ("" to go on) and the
// stage outcome for the timeline.
func (c *clearance) decideStage(ctx workflow.Context, stage policy.Stage, idx int, reviewAfterSupply bool) (State, string, error) {
	if h := c.HeldBefore; h != nil && h.Notice {
		// An earlier run approved the release and continued as new while a hold stood.
		c.HeldBefore = nil
		return c.releaseApproved(ctx, h.Officer)
	}
	for {
		if c.withdrawal != nil {
			return c.withdrawn(), OutcomeWithdrawn, nil
		}
		if c.phase == PhaseRerouting {
			c.phase = PhaseChecking
			return "", OutcomeRerouted, nil
		}
		if c.historyLong(ctx) && c.rel.explicitPhases(ctx) {
			return c.continueStage(ctx, reviewAfterSupply, nil)
		}
		if err := c.setState(ctx, StateChecking); err != nil {
			return "", "", err
		}
		c.enter(ctx, PhaseChecking)
		started := workflow.Now(ctx)
		res, refusal, err := c.check(ctx, stage)
		c.Timeline[idx].CheckTime += policy.Duration(workflow.Now(ctx).Sub(started))
		c.Timeline[idx].CheckRuns++
		if err != nil {
			return "", "", err
		}
		if res != nil {
			c.Findings = append(c.Findings, StageFindings{Stage: stage, Result: *res})
		}
		if refusal != "" && c.withdrawal != nil && c.rel.explicitPhases(ctx) {
			// The withdrawal was accepted while the checks ran: it is carried out.
			return c.withdrawn(), OutcomeWithdrawn, nil
		}
		if refusal != "" && c.Overrule == stage {
			// The appeal that reopened the stage was upheld against such a refusal: the officer
			// weighs the findings instead.
			workflow.GetLogger(ctx).Info("refusal by rule goes to the officer on appeal", "declarationID", c.decl.ID,
				"stage", stage, "refusal", refusal)
			refusal, reviewAfterSupply = "", true
		}
		if refusal != "" {
			return c.refuseByRule(ctx, stage, refusal), OutcomeRefused, nil
		}
		if c.withdrawal != nil {
			return c.withdrawn(), OutcomeWithdrawn, nil
		}
		if !reviewAfterSupply && !c.needsOfficer(stage, res) && !(c.rechecksToWeigh() && c.rel.recheckedFindingsWeighed(ctx)) &&
			!(c.Overrule == stage && c.rel.reopenedStageKeepsItsOfficer(ctx)) {
			c.record(ctx, DecisionRecord{
				Decision: Decision{Stage: stage, Outcome: OutcomeApprove, Reason: "automated checks found nothing to review"},
				At:       workflow.Now(ctx), Via: ViaAutomatic,
			})
			if stage == policy.StageRelease {
				return c.releaseApproved(ctx, "")
			}
			return "", OutcomeCleared, nil
		}

		d, w, err := c.awaitOfficer(ctx, stage, idx)
		if err != nil {
			return "", "", err
		}
		switch w {
		case wokeWithdrawn:
			return c.withdrawn(), OutcomeWithdrawn, nil
		case wokeRerouted:
			continue
		case wokeHistoryLong:
			// The next run takes the stage up at its checks and asks the officer again.
			return c.continueStage(ctx, true, nil)
		case wokeAmended:
			review := c.AmendedScope != nil && c.AmendedScope.Review
			refusal, err := c.recheckAmended(ctx, stage)
			if err != nil {
				return "", "", err
			}
			if refusal != "" && c.withdrawal != nil {
				return c.withdrawn(), OutcomeWithdrawn, nil
			}
			if refusal != "" && c.overruled(ctx, stage, refusal) {
				refusal, review = "", true
			}
			if refusal != "" {
				return c.refuseByRule(ctx, stage, refusal), OutcomeRefused, nil
			}
			// The stage's own checks run again next; an officer who had started reviews it again.
			reviewAfterSupply = review
			continue
		}
		switch d.Outcome {
		case OutcomeApprove:
			if stage == policy.StageRelease {
				return c.releaseApproved(ctx, d.Officer)
			}
			return "", OutcomeApproved, nil
		case OutcomeReject:
			c.reason = d.Reason
			c.enter(ctx, PhaseEnding)
			c.notify(ctx, activities.Notification{Kind: activities.NotifyRefused,
				Message: fmt.Sprintf("Declaration %s refused at %s: %s", c.decl.ID, stage, d.Reason)})
			return StateRefused, OutcomeRefused, nil
		case OutcomeRequestInformation:
			w, err := c.awaitExporter(ctx, d, idx)
			if err != nil {
				return "", "", err
			}
			switch w {
			case wokeWithdrawn:
				return c.withdrawn(), OutcomeWithdrawn, nil
			case wokeRerouted:
				continue
			}
			if w == wokeTimedOut {
				c.reason = fmt.Sprintf("no answer to the request for information at %s within %s",
					stage, c.Configuration.Policy.InformationDeadline)
				c.enter(ctx, PhaseEnding)
				c.notify(ctx, activities.Notification{Kind: activities.NotifyLapsed,
					Message: fmt.Sprintf("Declaration %s lapsed: %s", c.decl.ID, c.reason)})
				return StateLapsed, OutcomeLapsed, nil
			}
			if refusal, err := c.recheck(ctx, stage); err != nil || refusal != "" {
				if err != nil {
					return "", "", err
				}
				if c.withdrawal != nil {
					// The withdrawal was accepted while the checks ran: it is carried out.
					return c.withdrawn(), OutcomeWithdrawn, nil
				}
				if !c.overruled(ctx, stage, refusal) {
					return c.refuseByRule(ctx, stage, refusal), OutcomeRefused, nil
				}
			}
			reviewAfterSupply = true
		}
	}
}

// overruled reports whether a refusal by rule that the rechecks of an amendment or of the
// exporter's answer found at stage goes to its officer instead: the stage is the one an upheld
// appeal reopened, which its officer decides whatever is found in it
// (ChangeReopenedStageKeepsItsOfficer).
func (c *clearance) overruled(ctx workflow.Context, stage policy.Stage, refusal string) bool {
	if c.Overrule != stage || !c.rel.reopenedStageKeepsItsOfficer(ctx) {
		return false
	}
	workflow.GetLogger(ctx).Info("refusal by rule goes to the officer on appeal", "declarationID", c.decl.ID,
		"stage", stage, "refusal", refusal)
	return true
}

// refuseByRule ends the clearance refused at the stage by its automated checks, and tells the
// exporter why.
func (c *clearance) refuseByRule(ctx workflow.Context, stage policy.Stage, refusal string) State {
	c.record(ctx, DecisionRecord{
		Decision: Decision{Stage: stage, Outcome: OutcomeReject, Reason: refusal},
		At:       workflow.Now(ctx), Via: ViaAutomatic,
	})
	c.reason = refusal
	c.enter(ctx, PhaseEnding)
	c.notify(ctx, activities.Notification{Kind: activities.NotifyRefused,
		Message: fmt.Sprintf("Declaration %s refused at %s: %s", c.decl.ID, stage, refusal)})
	return StateRefused
}

func (c *clearance) withdrawn() State {
	c.reason = c.withdrawal.Reason
	if c.refusedBy != "" {
		return StateRefused
	}
	return StateWithdrawn
}
