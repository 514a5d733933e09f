package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// Phase is the step of a clearance's state machine. It alone says which requests the clearance
// can carry out now: every update's validator and the decision signal ask it, and only the
// workflow's run and the handlers of accepted requests move it, one transition each.
type Phase string

// Phases of a clearance, in the order a clearance usually passes them.
const (
	// PhaseStarting: the policy is loaded and the risk lane selected.
	PhaseStarting Phase = "starting"
	// PhaseChecking: a stage's automated checks (or the roster refresh before an officer is asked) run.
	PhaseChecking Phase = "checking"
	// PhaseAwaitingOfficer: an officer's decision on the current stage is awaited.
	PhaseAwaitingOfficer Phase = "awaiting-officer"
	// PhaseDecided: an officer's decision has been accepted and the clearance is applying it.
	PhaseDecided Phase = "decided"
	// PhaseAwaitingExporter: the exporter's answer to a request for information is awaited.
	PhaseAwaitingExporter Phase = "awaiting-exporter"
	// PhaseSupplied: the exporter's answer has been accepted; the stage's checks run again next.
	PhaseSupplied Phase = "supplied"
	// PhaseWithdrawing: the exporter's withdrawal has been accepted; the clearance ends withdrawn.
	PhaseWithdrawing Phase = "withdrawing"
	// PhaseRerouting: a reroute has interrupted the release stage; the stages the new lane asks
	// for come first.
	PhaseRerouting Phase = "rerouting"
	// PhaseReleasing: the release is approved and the release notice is being issued.
	PhaseReleasing Phase = "releasing"
	// PhaseContinuing: the clearance is carrying its record into a new run (its history grew
	// long); it accepts nothing for that moment.
	PhaseContinuing Phase = "continuing"
	// PhaseEnding: the outcome is fixed (refused or lapsed) and the exporter is being told.
	PhaseEnding Phase = "ending"
	// PhaseEnded: the clearance has ended; it accepts nothing.
	PhaseEnded Phase = "ended"
)

// Requests a clearance may accept, by the name of their update or signal.
var (
	// phaseAccepts lists, for each phase, the requests it can carry out. A request a phase does
	// not list is refused with the phase's reason.
	phaseAccepts = map[Phase][]string{
		PhaseStarting: {UpdateWithdraw, UpdateNote},
		PhaseChecking: {UpdateWithdraw, UpdateReroute, UpdateNote, UpdateHold, UpdateLift},
		PhaseAwaitingOfficer: {UpdateDecide, SignalDecision, UpdateWithdraw, UpdateReroute, UpdateExtend,
			UpdateClaim, UpdateUnclaim, UpdateReassign, UpdateNote, UpdateHold, UpdateLift, UpdateAmend, UpdateDecideAmendment},
		PhaseDecided: {UpdateNote, UpdateHold, UpdateLift},
		PhaseAwaitingExporter: {UpdateSupplyDocuments, UpdateWithdraw, UpdateReroute, UpdateExtend, UpdateUnclaim, UpdateReassign, UpdateNote,
			UpdateHold, UpdateLift},
		PhaseSupplied:                  {UpdateWithdraw, UpdateReroute, UpdateNote, UpdateHold, UpdateLift},
		PhaseAmended:                   {UpdateWithdraw, UpdateReroute, UpdateNote, UpdateHold, UpdateLift},
		PhaseHeld:                      {UpdateLift, UpdateHold, UpdateWithdraw, UpdateNote},
		PhaseAwaitingAgency:            {UpdateWithdraw, UpdateNote, UpdateHold, UpdateLift},
		PhaseAwaitingAgencyInformation: {UpdateSupplyDocuments, UpdateWithdraw, UpdateNote, UpdateHold, UpdateLift},
		PhaseWithdrawing:               {UpdateNote},
		PhaseRefusing:                  {UpdateNote},
		PhaseRerouting:                 {UpdateNote, UpdateHold, UpdateLift},
		PhaseReleasing:                 {UpdateNote},
		PhaseContinuing:                nil,
		PhaseEnding:                    {UpdateNote},
		PhaseEnded:                     nil,
	}
	// phaseMeaning says what the clearance is doing in each phase, for refusals.
	phaseMeaning = map[Phase]string{
		PhaseStarting:                  "its lane is being selected",
		PhaseChecking:                  "the stage's automated checks are running",
		PhaseAwaitingOfficer:           "an officer's decision is awaited",
		PhaseDecided:                   "an officer's decision on the stage has been taken and is being applied",
		PhaseAwaitingExporter:          "documents are awaited from the exporter",
		PhaseSupplied:                  "the exporter's documents have been received and the stage's checks run again",
		PhaseAmended:                   "the exporter's amendment has been applied and the checks it bears on run again",
		PhaseWithdrawing:               "the declaration is being withdrawn",
		PhaseRefusing:                  "another agency refused the goods and the clearance is ending refused",
		PhaseRerouting:                 "a reroute has interrupted the release stage: the stages the new lane asks for come first",
		PhaseHeld:                      "it is on hold: no stage begins and no release notice is issued until the hold is lifted",
		PhaseAwaitingAgency:            "its release waits for partner agencies' permits, asked through the single window",
		PhaseAwaitingAgencyInformation: "its release waits for the exporter's answer to a partner agency's request for more information",
		PhaseReleasing:                 "the release has been approved and the release notice is being issued",
		PhaseContinuing:                "it is carrying its record into a new run; try again in a moment",
		PhaseEnding:                    "its outcome is decided and the exporter is being told",
		PhaseEnded:                     "it has ended",
	}
	// requestRefusal says what a refused request could not find.
	requestRefusal = map[string]string{
		UpdateDecide:          "stage: not awaiting an officer's decision",
		SignalDecision:        "stage: not awaiting an officer's decision",
		UpdateSupplyDocuments: "the clearance is not awaiting documents",
		UpdateWithdraw:        "the declaration cannot be withdrawn now",
		UpdateReroute:         "the lane cannot be changed now",
		UpdateExtend:          "stage: the allowance of a stage is extended only while it waits on an officer or the exporter",
		UpdateClaim:           "stage: only a stage that awaits an officer's decision is claimed",
		UpdateUnclaim:         "stage: no stage is held now",
		UpdateReassign:        "stage: a stage is reassigned only while it waits on an officer or the exporter",
		UpdateNote:            "the clearance takes no notes now",
		UpdateHold:            "the clearance cannot be held now",
		UpdateLift:            "no hold can be lifted now",
		UpdateAmend:           "the declaration is amended only while the clearance awaits an officer's decision",
		UpdateDecideAmendment: "amendment: an amendment is decided only while the clearance awaits an officer's decision",
	}
)

// Accepts reports whether the phase can carry out the named update or signal.
func (p Phase) Accepts(request string) bool {
	for _, r := range phaseAccepts[p] {
		if r == request {
			return true
		}
	}
	return false
}

// Accepting lists the requests the phase can carry out, never nil.
func (p Phase) Accepting() []string {
	return append([]string{}, phaseAccepts[p]...)
}

// admit returns nil when the clearance's phase accepts the request, or the refusal naming why.
func (c *clearance) admit(request string) error {
	if c.phase.Accepts(request) {
		return nil
	}
	meaning := phaseMeaning[c.phase]
	if c.phase == PhaseEnded {
		meaning = string(c.State)
	}
	return fmt.Errorf("%s (it is %s: %s)", requestRefusal[request], c.phase, meaning)
}

// enter moves the clearance to phase p and tells the Web UI what it now waits for. An accepted
// withdrawal stays the phase until the clearance ends, an interrupting reroute until the run
// leaves the release stage or a rule ends the clearance: the run carries them out at its next
// step.
func (c *clearance) enter(ctx workflow.Context, p Phase) {
	switch {
	case (c.phase == PhaseWithdrawing || c.phase == PhaseRefusing) && p != PhaseEnded:
		return
	case c.phase == PhaseRerouting && p != PhaseEnding && p != PhaseEnded:
		return // a refusal by rule still ends the clearance
	}
	c.phase = p
	workflow.SetCurrentDetails(ctx, c.details(workflow.Now(ctx)))
}
