package workflows

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
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
	c := &clearance{decl: in.Declaration, Carried: Carried{Submitted: workflow.Now(ctx)}, phase: PhaseStarting}
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
}

// shownAttributes are the values of the clearance's search attributes as last set.
type shownAttributes struct {
	// identity is set when the exporter, destination, categories and procedure are set.
	identity            bool
	lane, stage, status string
	registration        string
	claimedBy           string
	priority            string
	onHold              *bool
	breached            *bool
}

// shownAtStart reads the search attributes the clearance was started with (the starter sets the
// exporter, destination, categories, procedure, status and SlaBreached).
func shownAtStart(sa temporal.SearchAttributes) shownAttributes {
	var s shownAttributes
	_, exporter := sa.GetKeyword(ExporterCodeKey)
	_, destination := sa.GetKeyword(DestinationCountryKey)
	_, categories := sa.GetKeywordList(ProductCategoriesKey)
	_, expedited := sa.GetBool(ExpeditedKey)
	s.identity = exporter && destination && categories && expedited
	s.lane, _ = sa.GetKeyword(LaneKey)
	s.stage, _ = sa.GetKeyword(StageKey)
	s.status, _ = sa.GetKeyword(StatusKey)
	s.registration, _ = sa.GetKeyword(RegistrationKey)
	s.claimedBy, _ = sa.GetKeyword(ClaimedByKey)
	s.priority, _ = sa.GetKeyword(PriorityKey)
	if b, ok := sa.GetBool(OnHoldKey); ok {
		s.onHold = &b
	}
	if b, ok := sa.GetBool(SlaBreachedKey); ok {
		s.breached = &b
	}
	return s
}

// publish sets the search attributes whose values differ from what they hold, in one upsert, and
// under VersionStudyMemo writes the clearance's study to its memo.
func (c *clearance) publish(ctx workflow.Context) error {
	next := c.shown
	var u []temporal.SearchAttributeUpdate
	if !next.identity {
		u = append(u, DeclarationAttributes(c.decl)...)
		next.identity = true
	}
	if c.Registration != nil && c.Registration.Number != next.registration {
		u = append(u, RegistrationKey.ValueSet(c.Registration.Number))
		next.registration = c.Registration.Number
	}
	if _, held := c.onHold(); (next.onHold == nil && held) || (next.onHold != nil && *next.onHold != held) {
		u = append(u, OnHoldKey.ValueSet(held))
		next.onHold = &held
	}
	if p := c.Selection.Priority; p != "" && p != next.priority {
		u = append(u, PriorityKey.ValueSet(p))
		next.priority = p
	}
	if h := c.holder(); h != next.claimedBy {
		if h == "" {
			u = append(u, ClaimedByKey.ValueUnset())
		} else {
			u = append(u, ClaimedByKey.ValueSet(h))
		}
		next.claimedBy = h
	}
	if c.Lane != "" && string(c.Lane) != next.lane {
		u = append(u, LaneKey.ValueSet(string(c.Lane)))
		next.lane = string(c.Lane)
	}
	if c.Stage != "" && string(c.Stage) != next.stage {
		u = append(u, StageKey.ValueSet(string(c.Stage)))
		next.stage = string(c.Stage)
	}
	if c.State != "" && string(c.State) != next.status {
		u = append(u, StatusKey.ValueSet(string(c.State)))
		next.status = string(c.State)
	}
	if next.breached == nil || *next.breached != c.SlaBreached {
		u = append(u, SlaBreachedKey.ValueSet(c.SlaBreached))
		breached := c.SlaBreached
		next.breached = &breached
	}
	if len(u) > 0 {
		// Set first: an interceptor may yield inside the upsert, and another coroutine publish meanwhile.
		c.shown = next
		if err := workflow.UpsertTypedSearchAttributes(ctx, u...); err != nil {
			return fmt.Errorf("upsert search attributes: %w", err)
		}
	}
	if c.rel.keepsStudy {
		// Written even when no search attribute changed: an escalation or a retried check
		// changes the study.
		return c.keepStudy(ctx)
	}
	return nil
}

// errWithdrawn ends a stage early when the exporter withdraws; errRerouted when a reroute
// interrupts the release stage.
var (
	errWithdrawn = errors.New("withdrawn")
	errRerouted  = errors.New("rerouted")
	errContinue  = errors.New("continue as new")
	errAmended   = errors.New("amended")
)

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

	return c.stages(ctx, policy.StageDocumentCheck, false, false)
}

// stages runs the stages from first until the clearance ends. resume takes up first where an
// earlier run left it, at its checks (again on the exporter's answer when reviewAfterSupply).
func (c *clearance) stages(ctx workflow.Context, first policy.Stage, resume, reviewAfterSupply bool) (Result, error) {
	for stage := first; stage != ""; stage = c.following(ctx, stage) {
		switch withdrawn, err := c.awaitLifted(ctx); {
		case err != nil:
			return Result{}, err
		case withdrawn:
			return c.finish(ctx, c.withdrawn())
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
	for {
		if c.withdrawal != nil {
			return c.withdrawn(), OutcomeWithdrawn, nil
		}
		if c.phase == PhaseRerouting {
			c.phase = PhaseChecking
			return "", OutcomeRerouted, nil
		}
		if c.historyLong(ctx) && c.rel.explicitPhases(ctx) {
			return "", "", c.continueAsNew(ctx, reviewAfterSupply)
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
		if !reviewAfterSupply && !c.needsOfficer(stage, res) {
			c.record(ctx, DecisionRecord{
				Decision: Decision{Stage: stage, Outcome: OutcomeApprove, Reason: "automated checks found nothing to review"},
				At:       workflow.Now(ctx), Via: ViaAutomatic,
			})
			if stage == policy.StageRelease {
				switch withdrawn, err := c.awaitLifted(ctx); {
				case err != nil:
					return "", "", err
				case withdrawn:
					return c.withdrawn(), OutcomeWithdrawn, nil
				}
				if err := c.release(ctx, ""); err != nil {
					return "", "", err
				}
			}
			return "", OutcomeCleared, nil
		}

		d, err := c.awaitOfficer(ctx, stage, idx)
		if errors.Is(err, errWithdrawn) {
			return c.withdrawn(), OutcomeWithdrawn, nil
		}
		if errors.Is(err, errRerouted) {
			continue
		}
		if errors.Is(err, errAmended) {
			review := c.AmendedScope != nil && c.AmendedScope.Review
			refusal, weigh, err := c.recheckAmended(ctx, stage)
			if err != nil {
				return "", "", err
			}
			if refusal != "" && c.withdrawal != nil {
				return c.withdrawn(), OutcomeWithdrawn, nil
			}
			if refusal != "" {
				return c.refuseByRule(ctx, stage, refusal), OutcomeRefused, nil
			}
			// The stage's own checks run again next; an officer who had started reviews it again,
			// and so does the stage's officer when the rechecks found what an officer weighs.
			reviewAfterSupply = review || (weigh && c.rel.recheckedFindingsWeighed(ctx))
			continue
		}
		if errors.Is(err, errContinue) {
			// The next run takes the stage up at its checks and asks the officer again.
			return "", "", c.continueAsNew(ctx, true)
		}
		if err != nil {
			return "", "", err
		}
		switch d.Outcome {
		case OutcomeApprove:
			if stage == policy.StageRelease {
				switch withdrawn, err := c.awaitLifted(ctx); {
				case err != nil:
					return "", "", err
				case withdrawn:
					return c.withdrawn(), OutcomeWithdrawn, nil
				}
				if err := c.release(ctx, d.Officer); err != nil {
					return "", "", err
				}
			}
			return "", OutcomeApproved, nil
		case OutcomeReject:
			c.reason = d.Reason
			c.enter(ctx, PhaseEnding)
			c.notify(ctx, activities.Notification{Kind: activities.NotifyRefused,
				Message: fmt.Sprintf("Declaration %s refused at %s: %s", c.decl.ID, stage, d.Reason)})
			return StateRefused, OutcomeRefused, nil
		case OutcomeRequestInformation:
			supplied, err := c.awaitExporter(ctx, d, idx)
			if errors.Is(err, errWithdrawn) {
				return c.withdrawn(), OutcomeWithdrawn, nil
			}
			if errors.Is(err, errRerouted) {
				continue
			}
			if err != nil {
				return "", "", err
			}
			if !supplied {
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
				return c.refuseByRule(ctx, stage, refusal), OutcomeRefused, nil
			}
			reviewAfterSupply = true
		}
	}
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

// recheck runs again the checks of the earlier stages that the exporter's answer at stage bears
// on (documents: the document check; certificates: the certification check), so that new
// evidence is checked where its rules live. It returns a refusal by rule, if one is found.
func (c *clearance) recheck(ctx workflow.Context, stage policy.Stage) (string, error) {
	last := c.Supplies[len(c.Supplies)-1]
	var earlier []policy.Stage
	for _, s := range c.path() {
		if s == stage {
			break
		}
		if (s == policy.StageDocumentCheck && last.Documents > 0) || (s == policy.StageCertificationCheck && last.Certificates > 0) {
			earlier = append(earlier, s)
		}
	}
	if len(earlier) == 0 || !c.rel.explicitPhases(ctx) {
		return "", nil
	}
	for _, s := range earlier {
		res, refusal, err := c.check(ctx, s)
		if err != nil {
			return "", err
		}
		if res != nil {
			c.Findings = append(c.Findings, StageFindings{Stage: s, Result: *res, Recheck: true})
		}
		if refusal != "" {
			return refusal, nil
		}
	}
	return "", nil
}

func (c *clearance) withdrawn() State {
	c.reason = c.withdrawal.Reason
	if c.refusedBy != "" {
		return StateRefused
	}
	return StateWithdrawn
}

// needsOfficer reports whether an officer must decide the stage: the lane asks for it, the
// stage always has one, or the automated checks found something.
func (c *clearance) needsOfficer(stage policy.Stage, res *activities.CheckResult) bool {
	if res != nil && res.NeedsOfficer() {
		return true
	}
	return c.laneNeedsOfficer(stage)
}

// checkSummaries are the Web UI's summaries of each stage's checks.
var checkSummaries = map[policy.Stage]string{
	policy.StageDocumentCheck:      "Check documents are complete and consistent",
	policy.StageBiologicalReview:   "Pre-screen biological products",
	policy.StageCertificationCheck: "Verify certificates for",
	policy.StagePhysicalInspection: "Plan the physical inspection",
}

// RecheckSummaryPrefix starts the summary of an earlier stage's checks run again on an amended
// declaration, so that the Web UI and the auditor's trail tell them from the stage's own.
const RecheckSummaryPrefix = "Check again on the amendment: "

// check runs the stage's automated checks. A refusal by rule (an invalid certificate) comes back
// as a reason, with the findings that caused it.
func (c *clearance) check(ctx workflow.Context, stage policy.Stage) (*activities.CheckResult, string, error) {
	return c.checkAs(ctx, stage, "")
}

// checkAs is check with the activity's summary after prefix.
func (c *clearance) checkAs(ctx workflow.Context, stage policy.Stage, prefix string) (*activities.CheckResult, string, error) {
	in := activities.CheckInput{Declaration: c.decl, On: workflow.Now(ctx)}
	fn := activities.CheckActivity(stage)
	if fn == "" {
		return nil, "", nil
	}
	summary := prefix + checkSummaries[stage]
	if stage == policy.StageCertificationCheck {
		summary += " " + c.decl.Destination
	}
	var res activities.CheckResult
	err := c.stageActivity(ctx, summary, fn, in, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrInvalidDeclaration {
		return &res, appErr.Message(), nil
	}
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrInvalidCertificate {
		if appErr.HasDetails() {
			if derr := appErr.Details(&res); derr != nil {
				return nil, "", fmt.Errorf("read certificate findings: %w", derr)
			}
		}
		res.Stage = stage
		return &res, refusalReason(appErr.Message(), res), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s checks: %w", stage, err)
	}
	res.Stage = stage
	return &res, "", nil
}

// stageActivity runs one of the current stage's activities (a check, the roster refresh, the
// release notice) and returns its result in out. Retryable failures are retried without limit,
// as the clearance's release does it (see quiet.stageActivity).
func (c *clearance) stageActivity(ctx workflow.Context, summary string, fn, in, out any) error {
	run := func(actx workflow.Context) error {
		if in == nil {
			return workflow.ExecuteActivity(actx, fn).Get(actx, out)
		}
		return workflow.ExecuteActivity(actx, fn, in).Get(actx, out)
	}
	return c.rel.stageActivity(ctx, c, summary, run)
}

// retryable reports whether a stage activity's failure is worth another attempt: not a refusal by rule
// and not a cancellation.
func retryable(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == activities.ErrInvalidCertificate || appErr.Type() == activities.ErrInvalidDeclaration) {
		return false
	}
	var canceled *temporal.CanceledError
	return !errors.As(err, &canceled)
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

// restartWatch watches the current stage's allowance anew, for wait from now: an extension
// moved its due time.
func (c *clearance) restartWatch(wait time.Duration) {
	if c.watchCancel != nil {
		c.watchCancel()
	}
	c.watching = false
	c.startWatch(wait)
}

// refusalReason builds the reason an exporter reads from the blocking findings.
func refusalReason(msg string, res activities.CheckResult) string {
	var parts []string
	for _, f := range res.Findings {
		if f.Severity == activities.SeverityError {
			parts = append(parts, f.Message)
		}
	}
	if len(parts) == 0 {
		return msg
	}
	return strings.Join(parts, "; ")
}

// awaitOfficer waits for an officer's decision on the stage, or a withdrawal.
func (c *clearance) awaitOfficer(ctx workflow.Context, stage policy.Stage, idx int) (DecisionRecord, error) {
	var cfg activities.Configuration
	if err := c.stageActivity(ctx, "Refresh the officer roster", a.LoadConfiguration, nil, &cfg); err != nil {
		return DecisionRecord{}, fmt.Errorf("refresh roster: %w", err)
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
		return DecisionRecord{}, err
	}
	c.enter(ctx, PhaseAwaitingOfficer)
	c.takeHeld(ctx)
	// A wait on an officer has no end of its own: when the history grows long meanwhile (signals
	// keep arriving), the clearance continues as new and waits on in the next run.
	long := true
	err := workflow.Await(ctx, func() bool { return c.phase != PhaseAwaitingOfficer || (long && c.historyLong(ctx)) })
	for err == nil && c.phase == PhaseAwaitingOfficer {
		if c.rel.explicitPhases(ctx) {
			c.Timeline[idx].OfficerWait += policy.Duration(workflow.Now(ctx).Sub(since))
			c.waiting = nil
			return DecisionRecord{}, errContinue
		}
		long = false
		err = workflow.Await(ctx, func() bool { return c.phase != PhaseAwaitingOfficer })
	}
	if err != nil {
		return DecisionRecord{}, err
	}
	c.Timeline[idx].OfficerWait += policy.Duration(workflow.Now(ctx).Sub(since))
	c.waiting = nil
	switch c.phase {
	case PhaseWithdrawing, PhaseRefusing:
		return DecisionRecord{}, errWithdrawn
	case PhaseRerouting:
		return DecisionRecord{}, errRerouted
	case PhaseAmended:
		return DecisionRecord{}, errAmended
	}
	d := *c.pending
	c.pending = nil
	workflow.GetLogger(ctx).Info("officer decided", "declarationID", c.decl.ID, "stage", stage,
		"officer", d.Officer, "outcome", d.Outcome, "via", d.Via)
	return d, nil
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
// It reports whether the exporter answered.
func (c *clearance) awaitExporter(ctx workflow.Context, d DecisionRecord, idx int) (bool, error) {
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
		if c.watchCancel != nil {
			c.watchCancel()
		}
		c.watching = false
	} else {
		c.watch(ctx)
	}
	if err := c.setState(ctx, StateAwaitingExporter); err != nil {
		return false, err
	}
	c.enter(ctx, PhaseAwaitingExporter)
	c.notify(ctx, activities.Notification{Kind: activities.NotifyInformationRequest, Due: c.waiting.Due,
		Message: fmt.Sprintf("Declaration %s: information requested at %s: %s", c.decl.ID, d.Stage, d.Reason)})
	ok, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
		Timeout:      due.Sub(since),
		TimerOptions: workflow.TimerOptions{Summary: ExporterDeadlineTimerSummary(c.Configuration.Policy.InformationDeadline, onCalendar, due)},
	}, func() bool { return c.phase != PhaseAwaitingExporter })
	if err != nil {
		return false, err
	}
	now := workflow.Now(ctx)
	c.Timeline[idx].ExporterWait += policy.Duration(now.Sub(since))
	if stopped {
		st := &c.Timeline[idx]
		st.ClockStopped += policy.Duration(now.Sub(since))
		st.Due = c.Configuration.Policy.Calendar.Due(st.Due, c.Configuration.Policy.Calendar.Worked(since, now))
		if ok && c.phase == PhaseSupplied {
			c.restartWatch(max(st.Due.Sub(now), time.Millisecond))
		}
	}
	c.waiting = nil
	switch c.phase {
	case PhaseWithdrawing, PhaseRefusing:
		return false, errWithdrawn
	case PhaseRerouting:
		return false, errRerouted
	}
	return ok, nil
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

// release issues the release notice (once per declaration) and tells the exporter.
func (c *clearance) release(ctx workflow.Context, officer string) error {
	c.enter(ctx, PhaseReleasing)
	var n activities.ReleaseNotice
	// The release register issues one notice per declaration, however many attempts it takes.
	req := activities.ReleaseRequest{DeclarationID: c.decl.ID, ExporterCode: c.decl.Exporter.Code, Lane: c.Lane, Officer: officer,
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, RunID: c.firstRun(ctx)}
	if c.Registration != nil {
		req.Registration = c.Registration.Number
	}
	if err := c.stageActivity(ctx, "Issue the release notice", a.IssueReleaseNotice, req, &n); err != nil {
		return fmt.Errorf("issue release notice: %w", err)
	}
	c.notice = &n
	registered := ""
	if c.Registration != nil {
		registered = " (registration " + c.Registration.Number + ")"
	}
	c.notify(ctx, activities.Notification{Kind: activities.NotifyReleased, Notice: n.Number,
		Message: fmt.Sprintf("Declaration %s%s released under notice %s; the goods may be loaded", c.decl.ID, registered, n.Number)})
	return nil
}

// notify tells the exporter. A notification that cannot be delivered after its retries is
// logged and does not hold up the clearance: the status and result carry the same facts.
func (c *clearance) notify(ctx workflow.Context, n activities.Notification) {
	n.DeclarationID, n.ExporterCode = c.decl.ID, c.decl.Exporter.Code
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            retryPolicy(),
		Summary:                "Notify the exporter: " + string(n.Kind),
	})
	if err := workflow.ExecuteActivity(actx, a.NotifyExporter, n).Get(actx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("exporter notification failed", "declarationID", c.decl.ID,
			"kind", n.Kind, "error", err)
	}
}

func retryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        5 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrInvalidCertificate, activities.ErrInvalidDeclaration},
	}
}

// activityCtx gives automated checks their options: retried without limit (a registry that is
// down delays the clearance, it does not end it), each attempt bounded at 10 s, so an attempt
// lost with a crashed worker is retried on another within seconds; the checks take milliseconds.
func (c *clearance) activityCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         retryPolicy(),
		Summary:             summary,
	})
}

// firstAttemptCtx gives a stage activity's first attempt its options: the same as activityCtx's, but a
// failure comes back to the workflow instead of being retried by the server.
func (c *clearance) firstAttemptCtx(ctx workflow.Context, summary string) workflow.Context {
	rp := retryPolicy()
	rp.MaximumAttempts = 1
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         rp,
		Summary:             summary,
	})
}

// setState records the clearance's state in the search attributes and the current details.
func (c *clearance) setState(ctx workflow.Context, s State) error {
	c.State = s
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
	return c.rel.stateSet(ctx, c)
}

func (c *clearance) endStage(ctx workflow.Context, idx int, outcome string) {
	now := workflow.Now(ctx)
	r := &c.Timeline[idx]
	r.Ended = now
	r.Duration = policy.Duration(now.Sub(r.Started))
	if outcome == OutcomeWithdrawn && c.refusedBy != "" {
		outcome = OutcomeRefused // another agency refused the goods
	}
	r.Outcome = outcome
	r.Overrun = r.Ended.After(r.Due)
	if c.Overrule == r.Stage {
		c.Overrule = ""
	}
	if c.Claim != nil && c.Claim.Stage == r.Stage {
		c.Claim = nil // the next stage is another queue's
	}
	c.metrics(ctx, map[string]string{"stage": string(r.Stage), "outcome": outcome}).
		Timer(MetricStageDuration).Record(r.Duration.D())
	workflow.GetLogger(ctx).Info("stage ended", "declarationID", c.decl.ID, "stage", r.Stage,
		"outcome", outcome, "duration", r.Duration.D())
}

// finish ends the clearance in state s.
func (c *clearance) finish(ctx workflow.Context, s State) (Result, error) {
	c.ended = workflow.Now(ctx)
	c.phase = PhaseEnded
	if p := c.awaitingConsent(); p != nil {
		p.Status = AmendmentUndecided
		c.ProposedAmendment = nil
	}
	if err := c.setState(ctx, s); err != nil {
		return Result{}, err
	}
	// Let handlers that are still running (a late decision's update) answer their callers.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return Result{}, err
	}
	elapsed := c.ended.Sub(c.Submitted)
	std := c.Configuration.Policy.Standard.D()
	counted, trader := elapsed, time.Duration(0)
	for _, st := range c.Timeline {
		counted -= st.ClockStopped.D()
		trader += st.ExporterWait.D()
	}
	h := c.metrics(ctx, map[string]string{"state": string(s)})
	h.Timer(MetricClearanceDuration).Record(elapsed)
	h.Counter(MetricClearancesEnded).Inc(1)
	workflow.GetLogger(ctx).Info("clearance ended", "declarationID", c.decl.ID, "state", s,
		"elapsed", elapsed, "standard", std)
	heldByCustoms, heldByAgencies := c.heldTimes(c.ended)
	c.result = &Result{
		Amendments: c.Amendments, Appeals: c.Appeals,
		Holds: c.Holds, HeldTime: policy.Duration(heldByCustoms), OtherAgencyTime: policy.Duration(heldByAgencies),
		DeclarationID: c.decl.ID, State: s, Lane: c.Lane, Expedited: c.decl.IsExpedited(),
		Notice: c.notice, Stage: c.Stage, Reason: c.reason, RefusedAsLodged: c.refusedAsLodged, Registration: c.Registration,
		Submitted: c.Submitted, Ended: c.ended,
		Timeline: c.Timeline, Decisions: c.Decisions, Escalations: c.Escalations,
		Elapsed: policy.Duration(elapsed), Standard: policy.Duration(std),
		Counted: policy.Duration(counted), TraderTime: policy.Duration(trader),
		WithinStandard: counted <= std, Margin: policy.Duration(std - counted), Counting: c.Configuration.Policy.Calendar.Name(),
	}
	return *c.result, nil
}

// Metric names. The SDK's handler drops them while a workflow replays, so each is recorded once.
const (
	// MetricStageDuration is a histogram of stage durations by stage, lane, procedure, outcome.
	MetricStageDuration = "clearance_stage_duration"
	// MetricClearanceDuration is a histogram of total durations by final state, lane, procedure.
	MetricClearanceDuration = "clearance_duration"
	// MetricClearancesEnded counts ended clearances by final state, lane, procedure.
	MetricClearancesEnded = "clearance_ended"
	// MetricDecisions counts decisions by stage, outcome and channel (update, signal, automatic).
	MetricDecisions = "clearance_decisions"
	// MetricSLABreaches counts stages that overran their allowance, by stage, lane, procedure.
	MetricSLABreaches = "clearance_sla_breaches"
)

// metrics returns the replay-safe metrics handler tagged with the clearance's lane and
// procedure and the given tags.
func (c *clearance) metrics(ctx workflow.Context, tags map[string]string) client.MetricsHandler {
	procedure := "standard"
	if c.decl.IsExpedited() {
		procedure = "expedited"
	}
	tags["lane"], tags["procedure"] = string(c.Lane), procedure
	return workflow.GetMetricsHandler(ctx).WithTags(tags)
}

// record keeps a decision and counts it.
func (c *clearance) record(ctx workflow.Context, r DecisionRecord) {
	c.Decisions = append(c.Decisions, r)
	c.metrics(ctx, map[string]string{"stage": string(r.Stage), "outcome": string(r.Outcome), "via": string(r.Via)}).
		Counter(MetricDecisions).Inc(1)
}
