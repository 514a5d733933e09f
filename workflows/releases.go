package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
)

// releases says which released behaviour of the workflow a clearance follows. A clearance keeps
// the behaviour it started with for its whole life, so that its history replays: each change to
// recorded commands is a workflow.GetVersion change ID, asked here and nowhere else.
type releases struct {
	// visibility is how the clearance shows its progress: eager for clearances started before
	// ChangeQuietAutomatedStages, quiet since; asked when the clearance starts.
	visibility
	// phases is ChangeExplicitPhases, asked the first time it makes a difference.
	phases *bool
	// deadlineOnCalendar is ChangeInformationDeadlineOnCalendar, asked the first time it makes
	// a difference.
	deadlineOnCalendar *bool
	// traderClock is ChangeTraderTimeStopsTheClock, asked the first time it makes a difference.
	traderClock *bool
	// extensionClock is ChangeExtensionKeepsTheClockStopped, asked the first time it makes a
	// difference.
	extensionClock *bool
	// rechecksWeighed is ChangeRecheckedFindingsWeighed, asked the first time it makes a
	// difference.
	rechecksWeighed *bool
	// heldLong is ChangeHeldContinues, asked the first time it makes a difference.
	heldLong *bool
	// reopenedOfficer is ChangeReopenedStageKeepsItsOfficer, asked the first time it makes a
	// difference.
	reopenedOfficer *bool
	// window is ChangeSingleWindow, asked the first time it makes a difference.
	window *bool
	// permitsFollow is ChangePermitsFollowAmendments, asked the first time it makes a difference.
	permitsFollow *bool
	// agencyInformation is ChangeAgencyInformationAwaitsTheExporter, asked the first time it makes
	// a difference.
	agencyInformation *bool
	// outcomeFirst is ChangeOutcomeBeforeContinuing, asked the first time it makes a difference.
	outcomeFirst *bool
	// holdsAfterAgencies is ChangeNoticeWaitsForHoldsAfterAgencies, asked the first time it makes
	// a difference.
	holdsAfterAgencies *bool
	// releaseResumes is ChangeReleaseResumesAtItsOfficer, asked the first time it makes a
	// difference.
	releaseResumes *bool
	// outsideAllowance is ChangeApprovedReleaseWaitsOutsideItsAllowance, asked the first time it
	// makes a difference.
	outsideAllowance *bool
	// carriedRefusal is ChangeCarriedRefusalEnds, asked the first time it makes a difference.
	carriedRefusal *bool
	// cancelAsksAgain is ChangeAgencyCancelAsksAgain, asked the first time it makes a difference.
	cancelAsksAgain *bool
	// keepsStudy is VersionStudyMemo of ChangeQuietAutomatedStages: each time the clearance
	// publishes its search attributes it also writes its Study to its memo.
	keepsStudy bool
	// registers is VersionDeclarationsRegister of ChangeQuietAutomatedStages: the clearance is
	// accepted into the declarations register once its lane is selected.
	registers bool
}

// newReleases asks the changes a clearance decides when it starts.
func newReleases(ctx workflow.Context) releases {
	switch v := workflow.GetVersion(ctx, ChangeQuietAutomatedStages, workflow.DefaultVersion, VersionDeclarationsRegister); {
	case v >= VersionDeclarationsRegister:
		return releases{visibility: quiet{}, keepsStudy: true, registers: true}
	case v >= VersionStudyMemo:
		return releases{visibility: quiet{}, keepsStudy: true}
	case v >= 1:
		return releases{visibility: quiet{}}
	}
	return releases{visibility: eager{}}
}

// askOnce asks a change the clearance decides once, the first time it makes a difference, and
// keeps the answer in *answer: every later call, and every replay, returns the same.
func askOnce(ctx workflow.Context, change string, answer **bool) bool {
	if *answer == nil {
		v := workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) >= 1
		*answer = &v
	}
	return **answer
}

// ChangeExplicitPhases is the workflow change after which the phase decides what happens where an
// accepted request met another outcome: a withdrawal accepted while a check or the lane selection
// ran ends the clearance withdrawn even when the check refuses it by rule; a stage allowance that
// runs out after the stage's outcome is fixed (while the refusal or lapse is told) escalates
// nothing; and a decision signal is held to the same bounds and rules as the update "decide".
// It is asked only where the earlier release would have done otherwise, so a clearance that never
// meets such a case records no marker.
const ChangeExplicitPhases = "explicit-phases"

// explicitPhases reports whether the clearance follows ChangeExplicitPhases. Call it only where the
// answer changes the commands the clearance records.
func (r *releases) explicitPhases(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeExplicitPhases, &r.phases)
}

// ChangeInformationDeadlineOnCalendar is the workflow change after which the information
// deadline (how long the exporter has to answer a request) counts on the policy's calendar, as
// the stage allowances do: counted in working days, a request made before a weekend or a holiday
// does not lapse during it. It is asked only when the calendar counts working days, where the
// earlier release counted calendar time.
const ChangeInformationDeadlineOnCalendar = "information-deadline-on-calendar"

// informationDeadlineOnCalendar reports whether the clearance follows
// ChangeInformationDeadlineOnCalendar. Call it only where the answer changes what it records.
func (r *releases) informationDeadlineOnCalendar(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeInformationDeadlineOnCalendar, &r.deadlineOnCalendar)
}

// ChangeTraderTimeStopsTheClock is the workflow change after which the time a clearance waits on
// its exporter stops the stage's allowance and the standard, when the policy says so (traderTime
// "stop", the default): the allowance is not watched while the exporter is asked, the stage's due
// time moves on by the time the wait took (counted as the policy counts), and the time is recorded
// as the stage's ClockStopped, which the result's Counted leaves out. It is asked when a clearance
// first waits on its exporter under such a policy.
const ChangeTraderTimeStopsTheClock = "trader-time-stops-the-clock"

// traderTimeStopsTheClock reports whether the clearance follows ChangeTraderTimeStopsTheClock.
// Call it only where the answer changes what it records.
func (r *releases) traderTimeStopsTheClock(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeTraderTimeStopsTheClock, &r.traderClock)
}

// ChangeExtensionKeepsTheClockStopped is the workflow change after which an extension granted
// while the exporter is asked and the stage's clock stands (ChangeTraderTimeStopsTheClock) moves
// the due time on without watching the allowance: the earlier release started the allowance's
// timer at once and escalated the stage while its clock stood. The exporter's answer watches the
// allowance again, to the extended due time moved on by the exporter's time. It is asked only
// when an extension is granted while the clock stands.
const ChangeExtensionKeepsTheClockStopped = "extension-keeps-the-clock-stopped"

// extensionKeepsTheClockStopped reports whether the clearance follows
// ChangeExtensionKeepsTheClockStopped. Call it only where the answer changes what it records.
func (r *releases) extensionKeepsTheClockStopped(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeExtensionKeepsTheClockStopped, &r.extensionClock)
}

// ChangeRecheckedFindingsWeighed is the workflow change after which what the rechecks of an
// amendment applied at once find is weighed as if the declaration had been lodged that way: while
// a rechecked earlier stage's findings that an officer weighs (an error or a warning) stand
// unweighed, the stage in progress is decided by its officer whatever its own checks find, and an
// approval over an error-level finding needs a reason; a later amendment does not undo it. The
// earlier release let the stage's own clean checks approve it by rule, and a green-lane clearance
// was released with no officer. It is asked only when the stage would otherwise be cleared by rule
// with such findings standing.
const ChangeRecheckedFindingsWeighed = "rechecked-findings-weighed"

// recheckedFindingsWeighed reports whether the clearance follows ChangeRecheckedFindingsWeighed.
// Call it only where the answer changes what it records.
func (r *releases) recheckedFindingsWeighed(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeRecheckedFindingsWeighed, &r.rechecksWeighed)
}

// ChangeHeldContinues is the workflow change after which a clearance whose history grows long while
// a hold stands continues as new and waits on for the hold in the next run, where it stood: before
// a stage begins, or before the release notice of an approved release is issued. The earlier
// release waited in the same run, whose history a flood of requests could grow to the server's
// limit. It is asked only when the history grows long during a hold.
const ChangeHeldContinues = "held-continues"

// heldContinues reports whether the clearance follows ChangeHeldContinues. Call it only where the
// answer changes what it records.
func (r *releases) heldContinues(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeHeldContinues, &r.heldLong)
}

// ChangeReopenedStageKeepsItsOfficer is the workflow change after which the stage an upheld
// appeal reopened is decided by its officer whatever happens in it: an amendment or the
// exporter's answer there runs checks again, and what they find, a refusal by rule included, goes
// to the officer too. The earlier release let clean rechecks after an amendment applied at once
// clear the reopened stage by rule, and let a recheck's refusal by rule end it. It is asked only
// when the reopened stage would otherwise be cleared or refused by rule.
const ChangeReopenedStageKeepsItsOfficer = "reopened-stage-keeps-its-officer"

// reopenedStageKeepsItsOfficer reports whether the clearance follows
// ChangeReopenedStageKeepsItsOfficer. Call it only where the answer changes what it records.
func (r *releases) reopenedStageKeepsItsOfficer(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeReopenedStageKeepsItsOfficer, &r.reopenedOfficer)
}

// ChangeSingleWindow is the workflow change after which a clearance whose lines need a partner
// agency's permit (the policy's singleWindow) asks the agency through its Nexus endpoint once the
// declaration is accepted, and its release waits for every permit. It is asked only when the
// policy names an agency for one of the declaration's lines: a clearance of an earlier release
// never asks, and neither does one whose lines need no agency.
const ChangeSingleWindow = "single-window"

// singleWindow reports whether the clearance follows ChangeSingleWindow. Call it only where the
// answer changes what it records.
func (r *releases) singleWindow(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeSingleWindow, &r.window)
}

// ChangePermitsFollowAmendments is the workflow change after which the permit requests follow the
// exporter's amendments: once an amendment is applied, an agency whose permit the amended
// declaration needs and that was not asked is asked; an amendment of lines or certificates is
// reviewed again by every agency whose permit the amended declaration needs, and one of documents
// only by an agency that asked for more information; an agency no longer needed is withdrawn. And
// an agency whose permit cannot be asked again (the clearance has made MaxPermits requests)
// without having granted it refuses the goods. The earlier release asked only the agencies the
// lodged declaration needed, and released goods whose permit could not be asked again. It is
// asked only where the requests would differ.
const ChangePermitsFollowAmendments = "permits-follow-amendments"

// permitsFollowAmendments reports whether the clearance follows ChangePermitsFollowAmendments.
// Call it only where the answer changes what it records.
func (r *releases) permitsFollowAmendments(ctx workflow.Context) bool {
	return askOnce(ctx, ChangePermitsFollowAmendments, &r.permitsFollow)
}

// ChangeAgencyInformationAwaitsTheExporter is the workflow change after which a partner agency's
// request for more information is the exporter's to answer: the release waits for the exporter's
// documents (supply-documents, the agency's request's deadline the policy's informationDeadline),
// adds them to the declaration and asks the agency again with it; a request left unanswered past
// its deadline lapses the clearance. The earlier release asked the agency again at once, with the
// declaration it had already seen. It is asked only where an agency's latest answer needs more
// information as the release waits for it.
const ChangeAgencyInformationAwaitsTheExporter = "agency-information-awaits-the-exporter"

// agencyInformationAwaitsTheExporter reports whether the clearance follows
// ChangeAgencyInformationAwaitsTheExporter. Call it only where the answer changes what it records.
func (r *releases) agencyInformationAwaitsTheExporter(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeAgencyInformationAwaitsTheExporter, &r.agencyInformation)
}

// ChangeOutcomeBeforeContinuing is the workflow change after which a clearance whose outcome is
// fixed while it continues as new (an agency's refusal, or a withdrawal, taken in while the run
// waits for its handlers and answers to finish) ends with that outcome instead of continuing. The
// earlier release continued: the refusal stayed on the record, but the next run asked the agency
// again and could release the goods. It is asked only when such an outcome meets a continuation.
const ChangeOutcomeBeforeContinuing = "outcome-before-continuing"

// outcomeBeforeContinuing reports whether the clearance follows ChangeOutcomeBeforeContinuing.
// Call it only where the answer changes what it records.
func (r *releases) outcomeBeforeContinuing(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeOutcomeBeforeContinuing, &r.outcomeFirst)
}

// ChangeNoticeWaitsForHoldsAfterAgencies is the workflow change after which the notice of an
// approved release that waited for an agency (ChangePermitsFollowAmendments) waits again for the
// holds placed meanwhile. The earlier release issued the notice on the agency's answer over a
// standing hold. It is asked only when a hold stands as the agencies have answered.
const ChangeNoticeWaitsForHoldsAfterAgencies = "notice-waits-for-holds-after-agencies"

// noticeWaitsForHoldsAfterAgencies reports whether the clearance follows
// ChangeNoticeWaitsForHoldsAfterAgencies. Call it only where the answer changes what it records.
func (r *releases) noticeWaitsForHoldsAfterAgencies(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeNoticeWaitsForHoldsAfterAgencies, &r.holdsAfterAgencies)
}

// ChangeReleaseResumesAtItsOfficer is the workflow change after which a run that takes up the
// release stage where an earlier run stood in it goes on at the stage's officer, as the earlier
// run would have: the agencies were awaited before the stage began, and a request an amendment in
// it sent again (with its request for more information) is awaited before the notice. The
// earlier release awaited the agencies again first, so a continuation turned the clearance to the
// exporter before the officer could decide. It is asked only when an agency would be awaited.
const ChangeReleaseResumesAtItsOfficer = "release-resumes-at-its-officer"

// releaseResumesAtItsOfficer reports whether the clearance follows
// ChangeReleaseResumesAtItsOfficer. Call it only where the answer changes what it records.
func (r *releases) releaseResumesAtItsOfficer(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeReleaseResumesAtItsOfficer, &r.releaseResumes)
}

// ChangeApprovedReleaseWaitsOutsideItsAllowance is the workflow change after which the notice of
// an approved release that waits for partner agencies (and for the exporter's answers they need)
// waits outside the release stage's allowance: its watch stops while it waits, and its due moves
// on by the time waited (StageRecord.PermitWait). The earlier release escalated the stage, whose
// officer had decided, for the agencies' and the exporter's time. Asked only when such a notice
// waits, in a stage not escalated yet.
const ChangeApprovedReleaseWaitsOutsideItsAllowance = "approved-release-waits-outside-its-allowance"

// approvedReleaseWaitsOutsideItsAllowance reports whether the clearance follows
// ChangeApprovedReleaseWaitsOutsideItsAllowance. Call it only where the answer changes what it
// records.
func (r *releases) approvedReleaseWaitsOutsideItsAllowance(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeApprovedReleaseWaitsOutsideItsAllowance, &r.outsideAllowance)
}

// ChangeCarriedRefusalEnds is the workflow change after which a run that an earlier release
// continued as new with an agency's refusal taken and not carried out (before
// ChangeOutcomeBeforeContinuing) carries it out when it starts: it ends refused, naming the agency,
// and asks no agency again. The earlier release asked the agency again and could release the
// goods. It is asked only when a continuation carries such a refusal.
const ChangeCarriedRefusalEnds = "carried-refusal-ends"

// carriedRefusalEnds reports whether the clearance follows ChangeCarriedRefusalEnds. Call it only
// where the answer changes what it records.
func (r *releases) carriedRefusalEnds(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeCarriedRefusalEnds, &r.carriedRefusal)
}

// ChangeAgencyCancelAsksAgain is the workflow change after which a request whose review the agency
// cancelled itself (an agency's administrator, not customs' withdrawal) is asked again, with the
// backoff of a request the agency's endpoint could not take, and the agency starts a new review of
// it. The earlier release took the cancellation for its own withdrawal: it recorded nothing, and the
// clearance waited for an answer that never came. Asked only when such a cancellation comes.
const ChangeAgencyCancelAsksAgain = "agency-cancel-asks-again"

// agencyCancelAsksAgain reports whether the clearance follows ChangeAgencyCancelAsksAgain. Call it
// only where the answer changes what it records.
func (r *releases) agencyCancelAsksAgain(ctx workflow.Context) bool {
	return askOnce(ctx, ChangeAgencyCancelAsksAgain, &r.cancelAsksAgain)
}

// ChangeQuietAutomatedStages is the workflow change (a workflow.GetVersion change ID) after which
// a stage that only runs automated checks writes nothing to visibility and starts no timer: the
// search attributes are published when the clearance starts or stops waiting on someone, when a
// stage's activity (a check, the roster refresh, the release notice) fails its first attempt, on
// escalation and at the end; a stage's allowance is watched from the moment it waits on someone
// or an activity fails its first attempt, and a stage found past its due time when an activity
// ends is escalated then (its allowance timer fires at once). A green-lane clearance writes its
// search attributes once, when it ends, instead of eight times, and starts no timer instead of
// three.
const ChangeQuietAutomatedStages = "quiet-automated-stages"

// VersionStudyMemo is version 2 of ChangeQuietAutomatedStages: at each moment it publishes its
// search attributes, in the same workflow task, the clearance also writes its Study to the memo
// field MemoStudy, so the Time Release Study reads clearances from visibility pages. The same
// spot asked again with a higher maximum, so a new clearance records one marker, not two.
const VersionStudyMemo workflow.Version = 2

// VersionDeclarationsRegister is version 3 of ChangeQuietAutomatedStages: a clearance whose
// declaration validates (its lane is selected) is accepted. It checks that its workflow ID is its
// declaration's and records the acceptance in the declarations register, which gives the
// declaration its registration number and binds it to this clearance; a declaration the register
// holds for another clearance (lodged before, perhaps so long ago that the server no longer keeps
// that clearance) is refused, naming the earlier registration. Asked at the same spot as the
// earlier versions, so a new clearance records one marker and one search attribute upsert for
// all of them.
const VersionDeclarationsRegister workflow.Version = 3

// visibility is how a clearance shows its progress in its search attributes and when it watches a
// stage's allowance. Each release of the workflow that changed it has its own implementation.
type visibility interface {
	// laneSelected runs once the lane is known.
	laneSelected(ctx workflow.Context, c *clearance) error
	// stageShown runs when a stage begins, stageWatched once its context exists.
	stageShown(ctx workflow.Context, c *clearance) error
	stageWatched(ctx workflow.Context, c *clearance)
	// watch starts watching the current stage's allowance when the stage waits on someone.
	watch(ctx workflow.Context, c *clearance)
	// stageActivity runs one of the stage's activities with run, given its activity options.
	stageActivity(ctx workflow.Context, c *clearance, summary string, run func(workflow.Context) error) error
	// stateSet, escalated and rerouted publish what changed.
	stateSet(ctx workflow.Context, c *clearance) error
	escalated(ctx workflow.Context, c *clearance) error
	rerouted(ctx workflow.Context, c *clearance) error
	// decidesWhileActing reports whether the release applied a decision signal received while the
	// clearance acted on an earlier decision of the stage.
	decidesWhileActing() bool
}

// eager is the first release: every step upserts what it changed and every stage's allowance is
// watched from its start; the server retries activities.
type eager struct{}

func (eager) laneSelected(ctx workflow.Context, c *clearance) error {
	u := append(DeclarationAttributes(c.decl), LaneKey.ValueSet(string(c.Lane)), SlaBreachedKey.ValueSet(false))
	if err := workflow.UpsertTypedSearchAttributes(ctx, u...); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	return nil
}

func (eager) stageShown(ctx workflow.Context, c *clearance) error {
	if err := workflow.UpsertTypedSearchAttributes(ctx, StageKey.ValueSet(string(c.Stage))); err != nil {
		return fmt.Errorf("upsert stage: %w", err)
	}
	return nil
}

func (eager) stageWatched(ctx workflow.Context, c *clearance) {
	r := c.Timeline[c.stageIdx]
	c.startWatch(r.Due.Sub(r.Started))
}

func (eager) watch(workflow.Context, *clearance) {}

func (eager) stageActivity(ctx workflow.Context, c *clearance, summary string, run func(workflow.Context) error) error {
	return run(c.activityCtx(ctx, summary))
}

func (eager) stateSet(ctx workflow.Context, c *clearance) error {
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(string(c.State))); err != nil {
		return fmt.Errorf("upsert status: %w", err)
	}
	return nil
}

func (eager) escalated(ctx workflow.Context, _ *clearance) error {
	return workflow.UpsertTypedSearchAttributes(ctx, SlaBreachedKey.ValueSet(true))
}

func (eager) rerouted(ctx workflow.Context, c *clearance) error {
	if err := workflow.UpsertTypedSearchAttributes(ctx, LaneKey.ValueSet(string(c.Lane))); err != nil {
		return fmt.Errorf("upsert lane: %w", err)
	}
	return nil
}

func (eager) decidesWhileActing() bool { return true }

// quiet is ChangeQuietAutomatedStages.
type quiet struct{}

// laneSelected publishes nothing: the lane is published with the stage and status when the
// clearance first waits or ends.
func (quiet) laneSelected(workflow.Context, *clearance) error { return nil }

func (quiet) stageShown(workflow.Context, *clearance) error { return nil }

func (quiet) stageWatched(workflow.Context, *clearance) {}

// watch starts the allowance timer if nothing watches it yet. For a stage already past its due
// time the timer fires at once, so that every escalation is in the history as its stage's
// allowance timer firing.
func (quiet) watch(ctx workflow.Context, c *clearance) {
	c.startWatch(max(c.Timeline[c.stageIdx].Due.Sub(workflow.Now(ctx)), time.Millisecond))
}

// stageActivity runs the first attempt without the server's retries: an activity that passes it,
// as nearly all do, needs nothing else; one that fails it makes the clearance show where it stands
// and watch the stage's allowance while it is retried. A stage found past its due time when the
// activity ends (its workers were away that long) is escalated then.
func (quiet) stageActivity(ctx workflow.Context, c *clearance, summary string, run func(workflow.Context) error) error {
	err := run(c.firstAttemptCtx(ctx, summary))
	if err != nil && retryable(err) {
		workflow.GetLogger(ctx).Warn("stage activity failed its first attempt; retrying", "declarationID", c.decl.ID,
			"stage", c.Stage, "activity", summary, "error", err)
		if perr := c.publish(ctx); perr != nil {
			return perr
		}
		c.watch(ctx)
		err = run(c.activityCtx(ctx, summary))
	}
	if err != nil {
		return err
	}
	if idx := c.stageIdx; c.stageCtx != nil && !workflow.Now(ctx).Before(c.Timeline[idx].Due) && !c.Timeline[idx].Escalated {
		c.watch(ctx)
		// The allowance timer fires at once; the stage ends only after its escalation.
		if err := workflow.Await(ctx, func() bool { return c.Timeline[idx].Escalated }); err != nil {
			return err
		}
	}
	return nil
}

// stateSet publishes when the clearance starts or stops waiting on someone, and when it ends:
// officers' queues list what waits on them.
func (quiet) stateSet(ctx workflow.Context, c *clearance) error {
	if s := c.State; s.Final() || s.Waiting() || State(c.shown.status).Waiting() {
		return c.publish(ctx)
	}
	return nil
}

func (quiet) escalated(ctx workflow.Context, c *clearance) error { return c.publish(ctx) }

func (quiet) rerouted(ctx workflow.Context, c *clearance) error { return c.publish(ctx) }

func (quiet) decidesWhileActing() bool { return false }
