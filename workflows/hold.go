package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// Holds: a supervisor stops a clearance before its release notice is issued, on customs'
// intelligence or on behalf of another agency (NMPA, health quarantine), and lifts the hold with a
// disposition. While a hold stands no officer's decision is taken, no stage begins and no release
// notice is issued; the exporter may still answer or withdraw. The time each hold stood is kept,
// an agency's as other-agency time.
const (
	// UpdateHold places a hold.
	UpdateHold = "hold"
	// UpdateLift lifts one.
	UpdateLift = "lift"
	// SAOnHold is true while a hold stands.
	SAOnHold = "OnHold"
	// PhaseHeld: the clearance waits, before its next stage or its release, for its holds to be
	// lifted.
	PhaseHeld Phase = "held"
	// DispositionMayProceed lifts a hold: the clearance goes on where it stood.
	DispositionMayProceed = "may-proceed"
	// DispositionRefused is another agency's refusal of the goods: its hold is lifted and the
	// clearance ends refused at its stage, with the agency's reason (appealable as any refusal).
	// Customs' own hold is lifted may-proceed; customs refuses through the stage's decision.
	DispositionRefused = "refused"
	// PhaseRefusing: another agency's refusal has been accepted; the clearance ends refused.
	PhaseRefusing Phase = "refusing"
	// MaxHolds bounds the holds of one clearance.
	MaxHolds = 20
)

// OnHoldKey is the typed key of SAOnHold.
var OnHoldKey = temporal.NewSearchAttributeKeyBool(SAOnHold)

// Hold is the payload of the update "hold": the supervisor, the agency on whose behalf the hold
// is placed ("" for customs' own), and why.
type Hold struct {
	Supervisor string `json:"supervisor"`
	Agency     string `json:"agency,omitempty"`
	Reason     string `json:"reason"`
}

// Lift is the payload of the update "lift": the supervisor, the agency whose hold is lifted ("" for
// customs'), the disposition (may-proceed) and why.
type Lift struct {
	Supervisor  string `json:"supervisor"`
	Agency      string `json:"agency,omitempty"`
	Disposition string `json:"disposition"`
	Reason      string `json:"reason"`
}

// HoldRecord is a hold as the clearance keeps it: placed at a stage, lifted (or still standing),
// and how long it stood.
type HoldRecord struct {
	Hold
	Stage  policy.Stage `json:"stage,omitempty"`
	At     time.Time    `json:"at"`
	Lifted *Lift        `json:"lifted,omitempty"`
	// LiftedAt is when it was lifted; Held how long it stood (to now while it stands, in the status).
	LiftedAt time.Time       `json:"liftedAt,omitempty"`
	Held     policy.Duration `json:"held"`
}

// party names who holds: customs, or the agency.
func (h Hold) party() string {
	if h.Agency == "" {
		return "customs"
	}
	return h.Agency
}

// standing returns the index of the hold of agency ("" for customs) that stands, or -1.
func (c *clearance) standing(agency string) int {
	for i, h := range c.Holds {
		if h.Lifted == nil && h.Agency == agency {
			return i
		}
	}
	return -1
}

// onHold reports whether any hold stands, and the first that does.
func (c *clearance) onHold() (HoldRecord, bool) {
	for _, h := range c.Holds {
		if h.Lifted == nil {
			return h, true
		}
	}
	return HoldRecord{}, false
}

// setupHolds registers the updates "hold" and "lift".
func (c *clearance) setupHolds(ctx workflow.Context) error {
	if err := onUpdate(ctx, UpdateHold, c.validateHold,
		func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (HoldRecord, error) {
			h := lenient[Hold](raw)
			if caller != nil && h.Supervisor == "" {
				h.Supervisor = caller.Subject
			}
			rec := HoldRecord{Hold: h, Stage: c.Stage, At: workflow.Now(ctx)}
			c.Holds = append(c.Holds, rec)
			workflow.GetLogger(ctx).Info("hold placed", "declarationID", c.decl.ID, "by", h.party(), "supervisor", h.Supervisor)
			workflow.SetCurrentDetails(ctx, c.details(rec.At))
			return rec, c.publish(ctx)
		},
		`{"supervisor":"sup-huang","reason":"..."} `+
			`A supervisor holds the clearance, for customs or on behalf of another agency ("agency":"NMPA"): while it stands `+
			"no decision is taken, no stage begins and no notice is issued. Refused once the release notice is being issued."); err != nil {
		return err
	}
	if err := onUpdate(ctx, UpdateLift, c.validateLift,
		func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (HoldRecord, error) {
			l := lenient[Lift](raw)
			if caller != nil && l.Supervisor == "" {
				l.Supervisor = caller.Subject
			}
			now := workflow.Now(ctx)
			i := c.standing(l.Agency)
			h := &c.Holds[i]
			h.Lifted, h.LiftedAt, h.Held = &l, now, policy.Duration(now.Sub(h.At))
			workflow.GetLogger(ctx).Info("hold lifted", "declarationID", c.decl.ID, "by", h.party(), "supervisor", l.Supervisor,
				"held", h.Held, "disposition", l.Disposition)
			rec := *h
			if l.Disposition == DispositionRefused {
				caller, _ := principalOf(ctx)
				c.refuseForAgency(ctx, l.Agency, l.Supervisor, l.Reason, ViaUpdate, caller != nil)
			}
			workflow.SetCurrentDetails(ctx, c.details(now))
			return rec, c.publish(ctx)
		},
		`{"supervisor":"sup-huang","disposition":"may-proceed","reason":"..."} `+
			`A supervisor lifts a hold ("agency":"NMPA" for an agency's): may-proceed goes on where the clearance stood; `+
			`"refused", for an agency's hold only, ends the clearance refused with the agency's reason.`); err != nil {
		return err
	}
	return nil
}

// supervisorOf refuses a request of someone not a supervisor on the roster; what names what
// only a supervisor does.
func (c *clearance) supervisorOf(name, what string) error {
	if name == "" {
		return fmt.Errorf("supervisor: missing")
	}
	o, ok := c.Configuration.Roster.Find(name)
	if !ok {
		return fmt.Errorf("supervisor: %q is not on the roster", clip(name, MaxRequestedBytes))
	}
	if !o.Has(policy.RoleSupervisor) {
		return fmt.Errorf("supervisor: %q is not a supervisor; only a supervisor %s", name, what)
	}
	return nil
}

// agency refuses an agency name that is not a short single line.
func agencyName(a string) error {
	if a != strings.TrimSpace(a) {
		return fmt.Errorf("agency: %q has spaces around it", clip(a, MaxRequestedBytes))
	}
	return text("agency", a, MaxRequestedBytes, false)
}

func (c *clearance) validateHold(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "hold", func(h Hold) error {
		if caller != nil && h.Supervisor == "" {
			h.Supervisor = caller.Subject
		}
		if err := callerIs(h.Supervisor, caller); err != nil {
			return err
		}
		if err := c.admit(UpdateHold); err != nil {
			return err
		}
		if err := c.supervisorOf(h.Supervisor, "holds a clearance"); err != nil {
			return err
		}
		if err := agencyName(h.Agency); err != nil {
			return err
		}
		if i := c.standing(h.Agency); i >= 0 {
			return fmt.Errorf("agency: %s holds the clearance already, since %s", h.party(), c.Holds[i].At.UTC().Format(time.RFC3339))
		}
		if len(c.Holds) >= MaxHolds {
			return fmt.Errorf("the clearance was held %d times, the most it keeps", len(c.Holds))
		}
		if strings.TrimSpace(h.Reason) == "" {
			return fmt.Errorf("reason: required to hold")
		}
		return text("reason", h.Reason, MaxReasonBytes, true)
	})
}

func (c *clearance) validateLift(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "lift", func(l Lift) error {
		if caller != nil && l.Supervisor == "" {
			l.Supervisor = caller.Subject
		}
		if err := callerIs(l.Supervisor, caller); err != nil {
			return err
		}
		if err := c.admit(UpdateLift); err != nil {
			return err
		}
		if err := c.supervisorOf(l.Supervisor, "lifts a hold"); err != nil {
			return err
		}
		if err := agencyName(l.Agency); err != nil {
			return err
		}
		if c.standing(l.Agency) < 0 {
			return fmt.Errorf("agency: no hold of %s stands", Hold{Agency: l.Agency}.party())
		}
		switch l.Disposition {
		case DispositionMayProceed:
		case DispositionRefused:
			if l.Agency == "" {
				return fmt.Errorf("disposition: customs' own hold is lifted %s; customs refuses a declaration through the stage's decision",
					DispositionMayProceed)
			}
		default:
			return fmt.Errorf("disposition: %q is not %s or %s", clip(l.Disposition, MaxRequestedBytes), DispositionMayProceed, DispositionRefused)
		}
		if strings.TrimSpace(l.Reason) == "" {
			return fmt.Errorf("reason: required to lift a hold")
		}
		return text("reason", l.Reason, MaxReasonBytes, true)
	})
}

// holdRefusal refuses a decision while a hold stands.
func (c *clearance) holdRefusal() error {
	if h, ok := c.onHold(); ok {
		return fmt.Errorf("stage: the clearance is on hold by %s since %s (%s); no decision is taken until the hold is lifted",
			h.party(), h.At.UTC().Format(time.RFC3339), clip(h.Reason, 200))
	}
	return nil
}

// awaitLifted waits, before the stage next begins or ("") the release notice is issued, until no hold stands
// (wokeLifted), or the exporter withdraws or an agency refuses the goods (wokeWithdrawn). Without
// a hold it returns at once, records nothing and changes nothing. When the history grows long
// during the hold (requests keep arriving) it returns wokeHistoryLong: the clearance continues as
// new, held where it stood.
func (c *clearance) awaitLifted(ctx workflow.Context, next policy.Stage) (woke, error) {
	if _, ok := c.onHold(); !ok {
		return wokeLifted, nil
	}
	was := c.phase
	c.heldNext = next
	c.enter(ctx, PhaseHeld)
	w, err := c.await(ctx, wait{lifted: true, continues: c.rel.heldContinues})
	c.heldNext = ""
	if err != nil {
		return 0, err
	}
	if c.phase == PhaseHeld && w != wokeHistoryLong {
		c.enter(ctx, was)
	}
	return w, nil
}

// awaitAgenciesOutsideTheAllowance is awaitAgencies for the notice of the approved release: the
// stage's allowance is not watched meanwhile, and its due moves on by the time waited, recorded
// as the stage's PermitWait (ChangeApprovedReleaseWaitsOutsideItsAllowance). A stage escalated
// already stays so.
func (c *clearance) awaitAgenciesOutsideTheAllowance(ctx workflow.Context) (woke, error) {
	idx := c.stageIdx
	if c.stageCtx == nil || idx >= len(c.Timeline) || c.Timeline[idx].Escalated || !c.rel.approvedReleaseWaitsOutsideItsAllowance(ctx) {
		return c.awaitAgencies(ctx)
	}
	c.stopWatch()
	since := workflow.Now(ctx)
	w, err := c.awaitAgencies(ctx)
	if err != nil {
		return w, err
	}
	now := workflow.Now(ctx)
	st, cal := &c.Timeline[idx], c.Configuration.Policy.Calendar
	st.PermitWait += policy.Duration(now.Sub(since))
	st.Due = cal.Due(st.Due, cal.Worked(since, now))
	return w, nil
}

// HeldBefore is where a run that continued as new during a hold stood: before the stage Next began
// (Resume when Next is the carried stage, in progress), or before the release notice of the release
// Officer approved ("" when approved by rules).
type HeldBefore struct {
	Next    policy.Stage `json:"next,omitempty"`
	Resume  bool         `json:"resume,omitempty"`
	Notice  bool         `json:"notice,omitempty"`
	Officer string       `json:"officer,omitempty"`
}

// releaseApproved issues the notice of the release officer approved ("" by rules) once no hold
// stands, and says how the release stage ends; a withdrawal or an agency's refusal meanwhile ends
// the clearance instead.
func (c *clearance) releaseApproved(ctx workflow.Context, officer string) (State, string, error) {
	held := &HeldBefore{Notice: true, Officer: officer}
	for {
		switch w, err := c.awaitLifted(ctx, ""); {
		case err != nil:
			return "", "", err
		case w == wokeWithdrawn:
			return c.withdrawn(), OutcomeWithdrawn, nil
		case w == wokeHistoryLong:
			return c.continueStage(ctx, false, held)
		}
		if len(c.permitsAwaited()) == 0 && !c.informationOutstanding(ctx) {
			break
		}
		// An amendment in the release stage went to an agency again (ChangePermitsFollowAmendments):
		// the notice waits for its permit, and for the exporter's answer when the agency needs more
		// information (ChangeAgencyInformationAwaitsTheExporter), outside the stage's allowance
		// (ChangeApprovedReleaseWaitsOutsideItsAllowance); then for a hold placed meanwhile
		// (ChangeNoticeWaitsForHoldsAfterAgencies).
		w, err := c.awaitAgenciesOutsideTheAllowance(ctx)
		switch {
		case err != nil:
			return "", "", err
		case w == wokeWithdrawn:
			return c.withdrawn(), OutcomeWithdrawn, nil
		case w == wokeTimedOut:
			return StateLapsed, OutcomeLapsed, nil
		case w == wokeHistoryLong:
			return c.continueStage(ctx, false, held)
		}
		if _, standing := c.onHold(); !standing || !c.rel.noticeWaitsForHoldsAfterAgencies(ctx) {
			break
		}
	}
	if err := c.release(ctx, officer); err != nil {
		return "", "", err
	}
	if officer == "" {
		return "", OutcomeCleared, nil
	}
	return "", OutcomeApproved, nil
}

// forExporter is a status as its exporter is told it: officers' claims and notes are customs'
// internal work, and why a clearance is held stays with customs and the agency; that it is held,
// by whom and since when, the exporter is told.
func (s Status) forExporter() Status {
	s.Claim, s.Work = nil, nil
	s.Holds = withoutReasons(s.Holds)
	return s
}

// forExporter is a result as its exporter is told it (Status.forExporter).
func (r Result) forExporter() Result {
	r.Holds = withoutReasons(r.Holds)
	return r
}

func withoutReasons(hs []HoldRecord) []HoldRecord {
	if len(hs) == 0 {
		return hs
	}
	out := make([]HoldRecord, len(hs))
	for i, h := range hs {
		h.Reason = ""
		if h.Lifted != nil {
			l := *h.Lifted
			l.Reason = ""
			h.Lifted = &l
		}
		out[i] = h
	}
	return out
}

// heldTimes sums how long holds stood, customs' and other agencies', up to now for standing ones.
func (c *clearance) heldTimes(now time.Time) (customs, agencies time.Duration) {
	for _, h := range c.Holds {
		d := h.Held.D()
		if h.Lifted == nil {
			d = now.Sub(h.At)
		}
		if h.Agency == "" {
			customs += d
		} else {
			agencies += d
		}
	}
	return customs, agencies
}

// refuseForAgency carries out another agency's refusal of the goods, relayed by the supervisor
// who lifts its hold (via update) or answered through the single window by the agency's officer
// (via ViaAgency): the refusal is recorded as the agency's decision on the stage where the
// clearance stood (the stage the hold kept from beginning, when it was held between stages), the
// exporter is told, and the run ends the clearance refused at its next step, as it ends a
// withdrawn one.
func (c *clearance) refuseForAgency(ctx workflow.Context, agencyName, officer, why string, via Via, verified bool) {
	reason := refusedByAgency(agencyName, why)
	if c.phase == PhaseHeld && c.heldNext != "" {
		c.Stage = c.heldNext
	}
	c.record(ctx, DecisionRecord{Decision: Decision{Stage: c.Stage, Officer: officer, Outcome: OutcomeReject, Reason: reason},
		At: workflow.Now(ctx), Via: via, Verified: verified, Agency: agencyName})
	c.withdrawal = &Withdrawal{Reason: reason}
	c.refusedBy = agencyName
	c.enter(ctx, PhaseRefusing)
	c.notify(ctx, activities.Notification{Kind: activities.NotifyRefused,
		Message: fmt.Sprintf("Declaration %s refused at %s: %s", c.decl.ID, c.Stage, reason)})
}

// refusedByAgency is the reason of a clearance an agency refused, for why.
func refusedByAgency(agencyName, why string) string {
	return fmt.Sprintf("%s refused the goods: %s", agencyName, why)
}
