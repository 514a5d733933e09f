// Package workflows holds the ExportClearance workflow: it carries an export declaration through
// document check, biological product review, certification check, physical inspection (red
// lane) and release, waits for officers and exporters where it must, and measures every stage
// against its allowance and the whole clearance against the 20-day standard.
package workflows

import (
	"encoding/json"
	"time"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// Input starts a clearance.
type Input struct {
	Declaration declaration.Declaration `json:"declaration"`
	// Carried is the record of the clearance's earlier runs when it continued as new; a new
	// clearance has none.
	Carried *Carried `json:"carried,omitempty"`
	// Reopened is the upheld appeal that reopens a refused clearance: the new run takes up the
	// stage it was refused at, with the record Carried holds.
	Reopened *AppealRecord `json:"reopened,omitempty"`
}

// ExporterCode is the code of the exporter whose declaration the clearance is.
func (in Input) ExporterCode() string { return in.Declaration.Exporter.Code }

// Carried is the clearance's state: everything it must remember, in one value. A run keeps it
// (the clearance embeds it) and hands it whole to the next run when its history grows long (it
// continues as new) or an upheld appeal reopens it, so that the next run goes on from the same
// step and its history alone tells the auditor everything decided before. What a run does not
// carry is its own step and the SDK's handles (clearance); TestCarriedRoundTripsWhole keeps the
// two apart.
type Carried struct {
	// Run counts the runs before this one; PreviousRunID is the run that continued as new.
	Run           int                      `json:"run"`
	PreviousRunID string                   `json:"previousRunId"`
	Configuration activities.Configuration `json:"configuration"`
	Selection     activities.LaneSelection `json:"laneSelection"`
	Lane          policy.Lane              `json:"lane"`
	// Stage is the stage in progress: its timeline entry is the last one, not ended, and the
	// next run takes it up at its checks.
	Stage       policy.Stage `json:"stage"`
	State       State        `json:"state"`
	Submitted   time.Time    `json:"submitted"`
	SlaBreached bool         `json:"slaBreached"`
	Record
	// Weighed counts the findings an officer's approval has weighed: rechecked findings of
	// earlier stages before it no longer need a reason to approve over.
	Weighed int `json:"weighed"`
	// OfficerReview is set when an officer reviews the stage whatever its checks find when they
	// run again: they run on the exporter's answer, or the stage was already awaiting an officer.
	OfficerReview bool `json:"officerReview"`
	// HeldSignals are decision signals received while the run ended, taken up when the next run
	// awaits an officer.
	HeldSignals []json.RawMessage `json:"heldSignals,omitempty"`
	// HeldCallers are the held signals' verified senders, one each (empty without one).
	HeldCallers []Principal `json:"heldCallers,omitempty"`
	// Registration is the declaration's registration, when it has one.
	Registration *Registration `json:"registration,omitempty"`
	// Claim is who holds the stage in progress, when someone does.
	Claim *Claim `json:"claim,omitempty"`
	// ProposedAmendment is the exporter's amendment that awaits an officer's consent, if one does.
	ProposedAmendment *Amendment `json:"proposedAmendment,omitempty"`
	// FirstRunID is the first run of a clearance reopened on appeal: its registration and release
	// notice stay bound to it. Empty otherwise (the run's own first run then).
	FirstRunID string `json:"firstRunId,omitempty"`
	// Overrule is the stage an upheld appeal reopened, until it ends: a refusal by rule there goes
	// to an officer instead.
	Overrule policy.Stage `json:"overrule,omitempty"`
	// AmendedScope is what an applied amendment changed, until the run checks it again.
	AmendedScope *AmendedScope `json:"amendedScope,omitempty"`
	// HeldBefore is where the run stood when it continued as new during a hold, if it did: the
	// next run waits for the hold there.
	HeldBefore *HeldBefore `json:"heldBefore,omitempty"`
}

// Registration is a declaration's entry in the declarations register: the number customs gave it
// when it accepted the declaration, and when. Clearances started before the register have none.
type Registration struct {
	Number   string    `json:"number"`
	Accepted time.Time `json:"accepted"`
}

// State is where a clearance stands; it is the value of the ClearanceStatus search attribute.
type State string

// States of a clearance. The last four are final.
const (
	StateChecking         State = "checking"
	StateAwaitingOfficer  State = "awaiting-officer"
	StateAwaitingExporter State = "awaiting-exporter"
	StateReleased         State = "released"
	StateRefused          State = "refused"
	StateLapsed           State = "lapsed"
	StateWithdrawn        State = "withdrawn"
)

// Final reports whether s ends the clearance.
func (s State) Final() bool {
	return s == StateReleased || s == StateRefused || s == StateLapsed || s == StateWithdrawn
}

// Waiting reports whether the clearance waits on someone: an officer or the exporter.
func (s State) Waiting() bool {
	return s == StateAwaitingOfficer || s == StateAwaitingExporter || s == StateAwaitingAgency
}

// Outcome is what an officer decides on a stage.
type Outcome string

// Decision outcomes.
const (
	OutcomeApprove            Outcome = "approve"
	OutcomeReject             Outcome = "reject"
	OutcomeRequestInformation Outcome = "request-information"
)

// Decision is an officer's decision on a stage, sent as the update "decide" or the signal
// "decision".
type Decision struct {
	// Stage is the stage decided; it must be the current one.
	Stage policy.Stage `json:"stage"`
	// Officer is the deciding officer's roster ID.
	Officer string  `json:"officer"`
	Outcome Outcome `json:"outcome"`
	// Reason is required to reject or to request information; the exporter sees it.
	Reason string `json:"reason,omitempty"`
	// Requested lists the documents or certificates asked for, with request-information.
	Requested []string `json:"requested,omitempty"`
}

// Via says how a decision reached the workflow.
type Via string

// Channels of a decision.
const (
	ViaUpdate    Via = "update"
	ViaSignal    Via = "signal"
	ViaAutomatic Via = "automatic"
)

// DecisionRecord is a decision as recorded, with when and how it arrived. Automatic decisions
// (a stage cleared without findings, a refusal by rule) have no officer.
type DecisionRecord struct {
	Decision
	At  time.Time `json:"at"`
	Via Via       `json:"via"`
	// Verified says the officer is the request's verified caller, from a signed token, not only
	// what the payload said.
	Verified bool `json:"verified,omitempty"`
	// Agency is the other agency whose decision the officer (the supervisor who lifted its hold)
	// relayed: the decision is the agency's. Empty for customs' own.
	Agency string `json:"agency,omitempty"`
}

// RefusedDecision is a decision signal the workflow refused, with the reason. Refused updates
// are answered to their caller and leave no trace in the history.
type RefusedDecision struct {
	Decision Decision  `json:"decision"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
	// Sender is the signal's verified sender, whatever its payload said; empty without
	// authentication, or when the header was not the frontend's.
	Sender string `json:"sender,omitempty"`
}

// Reroute moves a clearance to another lane; only a supervisor may send it.
type Reroute struct {
	Officer string      `json:"officer"`
	Lane    policy.Lane `json:"lane"`
	Reason  string      `json:"reason"`
}

// Extension is a supervisor's extension of the current stage's allowance: once per stage, by
// at most the stage's own allowance, with a reason the exporter is told.
type Extension struct {
	Stage      policy.Stage    `json:"stage"`
	Supervisor string          `json:"supervisor"`
	By         policy.Duration `json:"by"`
	Reason     string          `json:"reason"`
}

// ExtensionRecord is an applied extension: when, and the stage's due time before and after.
type ExtensionRecord struct {
	Extension
	At     time.Time `json:"at"`
	DueWas time.Time `json:"dueWas"`
	DueNow time.Time `json:"dueNow"`
}

// RerouteRecord is an applied reroute.
type RerouteRecord struct {
	Reroute
	From policy.Lane `json:"from"`
	At   time.Time   `json:"at"`
}

// Supply is the exporter's answer to a request for information.
type Supply struct {
	Documents    []declaration.Document    `json:"documents,omitempty"`
	Certificates []declaration.Certificate `json:"certificates,omitempty"`
	Note         string                    `json:"note,omitempty"`
}

// SupplyRecord is a supply as received.
type SupplyRecord struct {
	Stage        policy.Stage `json:"stage"`
	At           time.Time    `json:"at"`
	Documents    int          `json:"documents"`
	Certificates int          `json:"certificates"`
	Note         string       `json:"note,omitempty"`
	// Agencies are the partner agencies whose requests for more information the supply answered;
	// none when it answered customs' request.
	Agencies []string `json:"agencies,omitempty"`
}

// Withdrawal is the exporter's withdrawal of a declaration.
type Withdrawal struct {
	Reason string `json:"reason"`
}

// Escalation records a stage that overran its allowance.
type Escalation struct {
	Stage      policy.Stage    `json:"stage"`
	At         time.Time       `json:"at"`
	Allowance  policy.Duration `json:"allowance"`
	Supervisor string          `json:"supervisor"`
}

// StageRecord is one stage's entry in the timeline.
type StageRecord struct {
	Stage   policy.Stage `json:"stage"`
	Started time.Time    `json:"started"`
	// Ended is zero while the stage runs.
	Ended time.Time `json:"ended"`
	// Duration is Ended-Started, or the time so far while the stage runs.
	Duration  policy.Duration `json:"duration"`
	Allowance policy.Duration `json:"allowance"`
	// Due is when the allowance ends: Started+Allowance in calendar time, later when the
	// policy counts working days. Overrun means the stage was still running then.
	Due time.Time `json:"due"`
	// Outcome is approved, cleared (automatically), refused, lapsed or withdrawn; empty while
	// the stage runs.
	Outcome   string `json:"outcome,omitempty"`
	Overrun   bool   `json:"overrun"`
	Escalated bool   `json:"escalated"`
	// Extension is the supervisor's extension of the stage's allowance, when there was one; Due
	// is then the extended due time.
	Extension *ExtensionRecord `json:"extension,omitempty"`
	CheckRuns int              `json:"checkRuns"`
	// Time spent on automated checks, waiting for officers and waiting for the exporter.
	CheckTime    policy.Duration `json:"checkTime"`
	OfficerWait  policy.Duration `json:"officerWait"`
	ExporterWait policy.Duration `json:"exporterWait"`
	// ClockStopped is the part of ExporterWait that stopped the clock (the policy's traderTime
	// "stop"): it counts neither against the stage's allowance nor against the standard.
	ClockStopped policy.Duration `json:"clockStopped,omitempty"`
	// PermitWait is how long the notice of the approved release waited for partner agencies'
	// permits, and for the exporter's answers they needed: not the stage's time, so its due moved
	// on by as much (ChangeApprovedReleaseWaitsOutsideItsAllowance).
	PermitWait policy.Duration `json:"permitWait,omitempty"`
}

// What a clearance waits for: Waiting.For.
const (
	WaitingForOfficer  = "officer-decision"
	WaitingForExporter = "exporter-documents"
)

// Waiting says what a clearance waits for and from whom.
type Waiting struct {
	// For is WaitingForOfficer, WaitingForExporter or WaitingForAgency.
	For string `json:"for"`
	// Agencies are the partner agencies whose permits are awaited.
	Agencies []string `json:"agencies,omitempty"`
	// Role is the officer role awaited; Officers lists who may decide.
	Role     policy.Role `json:"role,omitempty"`
	Officers []string    `json:"officers,omitempty"`
	// Exporter is the exporter's code when documents are awaited; Requested what was asked.
	Exporter  string    `json:"exporter,omitempty"`
	Requested []string  `json:"requested,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Since     time.Time `json:"since"`
	// Due is the end of the stage allowance (officer) or the exporter's deadline.
	Due time.Time `json:"due"`
	// ClockStopped says that the stage's allowance stands still while the exporter is asked
	// (the policy's traderTime "stop").
	ClockStopped bool `json:"clockStopped,omitempty"`
}

// StageFindings holds what a stage's automated checks found, latest run last.
type StageFindings struct {
	Stage  policy.Stage           `json:"stage"`
	Result activities.CheckResult `json:"result"`
	// Recheck is set when an earlier stage's checks ran again on documents the exporter supplied
	// at a later one; the officer of that stage reviews them.
	Recheck bool `json:"recheck,omitempty"`
}

// Record is what a clearance has recorded: every check's findings, decision, refused decision
// signal, reroute, supply, escalation and its timeline. The status shows it; a run that continues
// as new hands it on.
type Record struct {
	Findings  []StageFindings  `json:"findings"`
	Decisions []DecisionRecord `json:"decisions"`
	// Refused lists the latest MaxRefusedKept refused decision signals; RefusedCount counts all.
	Refused      []RefusedDecision `json:"refusedDecisions,omitempty"`
	RefusedCount int               `json:"refusedDecisionCount,omitempty"`
	Reroutes     []RerouteRecord   `json:"reroutes,omitempty"`
	Supplies     []SupplyRecord    `json:"supplies,omitempty"`
	Escalations  []Escalation      `json:"escalations,omitempty"`
	Timeline     []StageRecord     `json:"timeline"`
	// Work lists the claims, reassignments and notes (WorkRecord).
	Work []WorkRecord `json:"work,omitempty"`
	// Holds lists the holds placed, standing or lifted.
	Holds []HoldRecord `json:"holds,omitempty"`
	// Amendments lists the exporter's amendments, applied, refused or awaiting consent.
	Amendments []AmendmentRecord `json:"amendments,omitempty"`
	// Appeals lists the upheld appeals that reopened the clearance after a refusal.
	Appeals []AppealRecord `json:"appeals,omitempty"`
	// Permits lists the permits asked of partner agencies through the single window, and their
	// dispositions.
	Permits []PermitRecord `json:"permits,omitempty"`
}

// Status is the answer to the query "status".
type Status struct {
	DeclarationID string        `json:"declarationId"`
	Registration  *Registration `json:"registration,omitempty"`
	Exporter      string        `json:"exporter"`
	// Claim is who holds the stage awaiting a decision, when someone does.
	Claim *Claim `json:"claim,omitempty"`
	// OtherAgencyTime is how long other agencies' holds stood, so far.
	OtherAgencyTime policy.Duration          `json:"otherAgencyTime,omitempty"`
	Stage           policy.Stage             `json:"stage"`
	Lane            policy.Lane              `json:"lane"`
	LaneSelection   activities.LaneSelection `json:"laneSelection"`
	State           State                    `json:"state"`
	// Phase is the step of the clearance's state machine; Accepts names the updates and signals
	// it can carry out now.
	Phase       Phase    `json:"phase"`
	Accepts     []string `json:"accepts"`
	Expedited   bool     `json:"expedited"`
	SlaBreached bool     `json:"slaBreached"`
	Waiting     *Waiting `json:"waiting,omitempty"`
	Record
	Notice    *activities.ReleaseNotice `json:"releaseNotice,omitempty"`
	Reason    string                    `json:"reason,omitempty"`
	Submitted time.Time                 `json:"submitted"`
	// Elapsed is the time since submission (until the end, once ended).
	Elapsed  policy.Duration `json:"elapsed"`
	Standard policy.Duration `json:"standard"`
	// Counting says how allowances are counted: calendar or business-days.
	Counting string `json:"counting"`
	// AsOf is the moment a running clearance's elapsed time, stage duration, overrun and the wait
	// in progress are counted to (see UpTo).
	AsOf time.Time `json:"asOf"`
}

// UpTo counts a running clearance's elapsed time, the running stage's duration and overrun, and
// the wait in progress up to now: from the record when AsOf is zero, else on from AsOf. The
// workflow's query counts to its own clock; a client counts on to the wall clock. A clearance
// that has ended is left as it is.
func (s *Status) UpTo(now time.Time) {
	if s.State.Final() || s.Submitted.IsZero() || now.Before(s.Submitted) || (!s.AsOf.IsZero() && !now.After(s.AsOf)) {
		return
	}
	fresh := s.AsOf.IsZero()
	delta := policy.Duration(now.Sub(s.AsOf))
	if fresh {
		s.Elapsed = policy.Duration(now.Sub(s.Submitted))
	} else {
		s.Elapsed += delta
	}
	for i := range s.Timeline {
		t := &s.Timeline[i]
		if !t.Ended.IsZero() {
			continue
		}
		t.Overrun = !t.Due.IsZero() && now.After(t.Due)
		if fresh {
			t.Duration = policy.Duration(now.Sub(t.Started))
		} else {
			t.Duration += delta
		}
		// The wait in progress is added to the stage's waits; the workflow adds it when it ends.
		w := s.Waiting
		if w == nil || w.Since.IsZero() || !now.After(w.Since) {
			continue
		}
		wait := delta
		if fresh {
			wait = policy.Duration(now.Sub(w.Since))
		}
		switch {
		case w.For == WaitingForExporter && len(w.Agencies) > 0:
			// The exporter answers an agency: counted on the agency's request, not the stage.
		case w.For == WaitingForExporter:
			t.ExporterWait += wait
		default:
			t.OfficerWait += wait
		}
	}
	s.AsOf = now
}

// Result is what a clearance returns when it ends.
type Result struct {
	DeclarationID string                    `json:"declarationId"`
	Registration  *Registration             `json:"registration,omitempty"`
	State         State                     `json:"state"`
	Lane          policy.Lane               `json:"lane"`
	Expedited     bool                      `json:"expedited"`
	Notice        *activities.ReleaseNotice `json:"releaseNotice,omitempty"`
	// Stage is where the clearance ended.
	Stage  policy.Stage `json:"stage"`
	Reason string       `json:"reason,omitempty"`
	// RefusedAsLodged says the declaration was refused as it was lodged, before any check ran:
	// it did not validate, or the declarations register holds it for another clearance (a
	// duplicate). Such a refusal is not a matter for appeal: a corrected declaration is lodged
	// under a new ID.
	RefusedAsLodged bool             `json:"refusedAsLodged,omitempty"`
	Submitted       time.Time        `json:"submitted"`
	Ended           time.Time        `json:"ended"`
	Timeline        []StageRecord    `json:"timeline"`
	Decisions       []DecisionRecord `json:"decisions"`
	Escalations     []Escalation     `json:"escalations,omitempty"`
	// Amendments are the exporter's amendments of the declaration.
	Amendments []AmendmentRecord `json:"amendments,omitempty"`
	// Appeals are the upheld appeals that reopened the clearance.
	Appeals []AppealRecord `json:"appeals,omitempty"`
	// Elapsed is the total time from submission to the end, set against Standard.
	Elapsed  policy.Duration `json:"elapsed"`
	Standard policy.Duration `json:"standard"`
	// Counted is the time set against Standard: Elapsed less the time waiting on the exporter
	// stopped the clock (the stages' ClockStopped); TraderTime is all the time it waited on the
	// exporter.
	Counted    policy.Duration `json:"counted"`
	TraderTime policy.Duration `json:"traderTime"`
	// WithinStandard is true when Counted does not exceed Standard; Margin is Standard minus
	// Counted (negative when over).
	WithinStandard bool            `json:"withinStandard"`
	Margin         policy.Duration `json:"margin"`
	// Counting says how allowances were counted: calendar or business-days.
	Counting string `json:"counting"`
	// Holds are the holds placed on the clearance; HeldTime is how long customs' own stood,
	// OtherAgencyTime how long other agencies held it, by their holds and the permits its release
	// waited for (the WCO Time Release Study's other-agency time).
	Holds           []HoldRecord    `json:"holds,omitempty"`
	HeldTime        policy.Duration `json:"heldTime,omitempty"`
	OtherAgencyTime policy.Duration `json:"otherAgencyTime,omitempty"`
	// Permits are the permits asked of partner agencies through the single window; AgencyTime is,
	// by agency, how long the clearance waited on it (its holds, and the permits the release
	// waited for), a span in which several agencies held the clearance at once shared between
	// them (AgencyTimesApart), so that OtherAgencyTime is their sum.
	Permits    []PermitRecord             `json:"permits,omitempty"`
	AgencyTime map[string]policy.Duration `json:"agencyTime,omitempty"`
}
