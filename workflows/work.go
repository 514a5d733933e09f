package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/policy"
)

// Work management: an officer claims the stage that awaits a decision, so that colleagues see
// it taken (the search attribute ClaimedBy); gives it back; a supervisor reassigns it; anyone on
// the roster adds a note. The steps are kept in the record, for the trail.
const (
	// UpdateClaim: an officer who may decide the current stage takes it.
	UpdateClaim = "claim"
	// UpdateUnclaim: the officer who holds the stage gives it back to the queue.
	UpdateUnclaim = "unclaim"
	// UpdateReassign: a supervisor hands the stage to another officer, or back to the queue.
	UpdateReassign = "reassign"
	// UpdateNote: an officer or supervisor adds a note to the clearance.
	UpdateNote = "note"

	// SAClaimedBy holds the officer who claimed the stage awaiting a decision, unset when none.
	SAClaimedBy = "ClaimedBy"

	// MaxNotes bounds the notes of one clearance.
	MaxNotes = 50
	// MaxWorkRecords bounds the steps of work one clearance keeps (claims, returns,
	// reassignments and notes), and MaxWorkReasonBytes the reason of a claim, a return or a
	// reassignment, so that what a run carries stays far under the server's payload limit
	// whatever officers send (TestContinueAsNewInputStaysUnderThePayloadLimit).
	MaxWorkRecords     = 150
	MaxWorkReasonBytes = 500
)

// ClaimedByKey is the typed key of SAClaimedBy.
var ClaimedByKey = temporal.NewSearchAttributeKeyKeyword(SAClaimedBy)

// Claim says who holds the stage awaiting a decision, and since when.
type Claim struct {
	Officer string       `json:"officer"`
	Stage   policy.Stage `json:"stage"`
	At      time.Time    `json:"at"`
}

// ClaimRequest is the payload of the updates "claim" and "unclaim": the officer, who is the
// caller when the server verifies callers; a reason is optional.
type ClaimRequest struct {
	Officer string `json:"officer"`
	Reason  string `json:"reason,omitempty"`
}

// Reassignment is the payload of the update "reassign": the supervisor, the officer who takes the
// stage ("" gives it back to the queue) and why.
type Reassignment struct {
	Supervisor string `json:"supervisor"`
	Officer    string `json:"officer"`
	Reason     string `json:"reason"`
}

// Note is the payload of the update "note".
type Note struct {
	Officer string `json:"officer"`
	Text    string `json:"text"`
}

// Kinds of work records.
const (
	WorkClaimed    = "claimed"
	WorkUnclaimed  = "unclaimed"
	WorkReassigned = "reassigned"
	WorkNoted      = "noted"
)

// WorkRecord is one step of the work on a clearance: who did it, at which stage, who holds the
// stage after it, and the note or reason.
type WorkRecord struct {
	Kind    string       `json:"kind"`
	Officer string       `json:"officer"`
	Holder  string       `json:"holder,omitempty"`
	Stage   policy.Stage `json:"stage,omitempty"`
	Text    string       `json:"text,omitempty"`
	At      time.Time    `json:"at"`
}

// setupWork registers the work-management updates.
func (c *clearance) setupWork(ctx workflow.Context) error {
	for _, u := range []struct {
		name, description string
		validate          func(json.RawMessage, *Principal) error
		apply             func(workflow.Context, json.RawMessage, *Principal) (WorkRecord, error)
	}{
		{UpdateClaim, `{"officer":"doc-li"} An officer who may decide the stage takes it; ClaimedBy shows who holds it, ` +
			"and only its holder and supervisors decide it. Refused when another officer holds it (a supervisor reassigns).",
			c.validateClaim, func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (WorkRecord, error) {
				r := asClaimant(lenient[ClaimRequest](raw), caller)
				c.Claim = &Claim{Officer: r.Officer, Stage: c.Stage, At: workflow.Now(ctx)}
				return c.work(ctx, WorkRecord{Kind: WorkClaimed, Officer: r.Officer, Holder: r.Officer, Text: r.Reason})
			}},
		{UpdateUnclaim, `{"officer":"doc-li","reason":"..."} The officer who holds the stage gives it back to the queue.`,
			c.validateUnclaim, func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (WorkRecord, error) {
				r := asClaimant(lenient[ClaimRequest](raw), caller)
				c.Claim = nil
				return c.work(ctx, WorkRecord{Kind: WorkUnclaimed, Officer: r.Officer, Text: r.Reason})
			}},
		{UpdateReassign, `{"supervisor":"sup-huang","officer":"doc-chen","reason":"..."} A supervisor hands the stage to ` +
			`another officer who may decide it, or back to the queue with "officer":"".`,
			c.validateReassign, func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (WorkRecord, error) {
				r := lenient[Reassignment](raw)
				if caller != nil && r.Supervisor == "" {
					r.Supervisor = caller.Subject
				}
				c.Claim = nil
				if r.Officer != "" {
					c.Claim = &Claim{Officer: r.Officer, Stage: c.Stage, At: workflow.Now(ctx)}
				}
				return c.work(ctx, WorkRecord{Kind: WorkReassigned, Officer: r.Supervisor, Holder: r.Officer, Text: r.Reason})
			}},
		{UpdateNote, `{"officer":"doc-li","text":"..."} An officer or supervisor adds a note, kept in the status and the ` +
			"trail (at most 50).",
			c.validateNote, func(ctx workflow.Context, raw json.RawMessage, caller *Principal) (WorkRecord, error) {
				n := lenient[Note](raw)
				if caller != nil && n.Officer == "" {
					n.Officer = caller.Subject
				}
				holder := ""
				if c.Claim != nil {
					holder = c.Claim.Officer
				}
				return c.work(ctx, WorkRecord{Kind: WorkNoted, Officer: n.Officer, Holder: holder, Text: n.Text})
			}},
	} {
		if err := onUpdate(ctx, u.name, u.validate, u.apply, u.description); err != nil {
			return err
		}
	}
	return nil
}

// work records a step of work management and shows who holds the stage.
func (c *clearance) work(ctx workflow.Context, r WorkRecord) (WorkRecord, error) {
	r.Stage, r.At = c.Stage, workflow.Now(ctx)
	c.Work = append(c.Work, r)
	workflow.SetCurrentDetails(ctx, c.details(r.At))
	workflow.GetLogger(ctx).Info("work on the clearance", "declarationID", c.decl.ID, "kind", r.Kind,
		"officer", r.Officer, "holder", r.Holder, "stage", r.Stage)
	if r.Kind == WorkNoted {
		return r, nil
	}
	if err := c.publish(ctx); err != nil {
		return r, err
	}
	return r, nil
}

// workRoom refuses a step of work once the clearance keeps MaxWorkRecords of them.
func (c *clearance) workRoom() error {
	if len(c.Work) >= MaxWorkRecords {
		return fmt.Errorf("work: the clearance keeps %d steps of work, the most it records; decide the stage", MaxWorkRecords)
	}
	return nil
}

// asClaimant fills a claim's officer from its verified caller when the payload leaves it out.
func asClaimant(r ClaimRequest, caller *Principal) ClaimRequest {
	if caller != nil && r.Officer == "" {
		r.Officer = caller.Subject
	}
	return r
}

// holder is the officer who holds the current stage, or "".
func (c *clearance) holder() string {
	if c.Claim == nil || c.Claim.Stage != c.Stage {
		return ""
	}
	return c.Claim.Officer
}

// mayDecide refuses an officer who is not on the roster with the role that decides stage, or whom
// the separation of duties bars from it: the rule of a decision, a consent, a claim and a
// reassignment alike (a claim by an officer who may not decide would lock out those who may).
func (c *clearance) mayDecide(officer string, stage policy.Stage) error {
	if officer == "" {
		return fmt.Errorf("officer: missing")
	}
	o, ok := c.Configuration.Roster.Find(officer)
	if !ok {
		return fmt.Errorf("officer: %q is not on the roster", clip(officer, MaxRequestedBytes))
	}
	if role := policy.StageRole(stage); !o.Has(role) {
		return fmt.Errorf("officer: %q does not hold the role %s that decides %s", officer, role, stage)
	}
	if why := c.separationOfDuties(stage, officer); why != "" {
		return fmt.Errorf("%s", why)
	}
	return nil
}

func (c *clearance) validateClaim(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "claim", func(r ClaimRequest) error {
		r = asClaimant(r, caller)
		if err := c.workRoom(); err != nil {
			return err
		}
		if err := callerIs(r.Officer, caller); err != nil {
			return err
		}
		if err := c.admit(UpdateClaim); err != nil {
			return err
		}
		if err := c.mayDecide(r.Officer, c.Stage); err != nil {
			return err
		}
		switch h := c.holder(); {
		case h == r.Officer:
			return fmt.Errorf("officer: %s holds the %s stage already, since %s", h, c.Stage, c.Claim.At.UTC().Format(time.RFC3339))
		case h != "":
			return fmt.Errorf("officer: the %s stage is held by %s since %s; %s gives it back, or a supervisor reassigns it",
				c.Stage, h, c.Claim.At.UTC().Format(time.RFC3339), h)
		}
		return text("reason", r.Reason, MaxWorkReasonBytes, true)
	})
}

func (c *clearance) validateUnclaim(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "unclaim", func(r ClaimRequest) error {
		r = asClaimant(r, caller)
		if err := c.workRoom(); err != nil {
			return err
		}
		if err := callerIs(r.Officer, caller); err != nil {
			return err
		}
		if err := c.admit(UpdateUnclaim); err != nil {
			return err
		}
		if r.Officer == "" {
			return fmt.Errorf("officer: missing")
		}
		switch h := c.holder(); {
		case h == "":
			return fmt.Errorf("officer: nobody holds the %s stage", c.Stage)
		case h != r.Officer:
			return fmt.Errorf("officer: the %s stage is held by %s, not %s; a supervisor reassigns it", c.Stage, h, clip(r.Officer, MaxRequestedBytes))
		}
		return text("reason", r.Reason, MaxWorkReasonBytes, true)
	})
}

func (c *clearance) validateReassign(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "reassignment", func(r Reassignment) error {
		if err := c.workRoom(); err != nil {
			return err
		}
		if caller != nil && r.Supervisor == "" {
			r.Supervisor = caller.Subject
		}
		if err := callerIs(r.Supervisor, caller); err != nil {
			return err
		}
		if err := c.admit(UpdateReassign); err != nil {
			return err
		}
		if err := c.supervisorOf(r.Supervisor, "reassigns a stage"); err != nil {
			return err
		}
		if r.Officer != "" {
			if err := c.mayDecide(r.Officer, c.Stage); err != nil {
				return err
			}
		}
		if r.Officer == c.holder() {
			if r.Officer == "" {
				return fmt.Errorf("officer: nobody holds the %s stage; name the officer who takes it", c.Stage)
			}
			return fmt.Errorf("officer: %s holds the %s stage already", r.Officer, c.Stage)
		}
		if strings.TrimSpace(r.Reason) == "" {
			return fmt.Errorf("reason: required to reassign")
		}
		return text("reason", r.Reason, MaxWorkReasonBytes, true)
	})
}

func (c *clearance) validateNote(raw json.RawMessage, caller *Principal) error {
	return validateAs(raw, "note", func(n Note) error {
		if caller != nil && n.Officer == "" {
			n.Officer = caller.Subject
		}
		if err := callerIs(n.Officer, caller); err != nil {
			return err
		}
		if err := c.admit(UpdateNote); err != nil {
			return err
		}
		if n.Officer == "" {
			return fmt.Errorf("officer: missing")
		}
		if _, ok := c.Configuration.Roster.Find(n.Officer); !ok {
			return fmt.Errorf("officer: %q is not on the roster", clip(n.Officer, MaxRequestedBytes))
		}
		if strings.TrimSpace(n.Text) == "" {
			return fmt.Errorf("text: blank")
		}
		if notes := c.notes(); notes >= MaxNotes {
			return fmt.Errorf("text: the clearance has %d notes, the most it keeps", notes)
		}
		return text("text", n.Text, MaxReasonBytes, true)
	})
}

// notes counts the notes on the clearance.
func (c *clearance) notes() int {
	n := 0
	for _, r := range c.Work {
		if r.Kind == WorkNoted {
			n++
		}
	}
	return n
}

// claimRefusal refuses a decision on a stage another officer holds; the holder and supervisors
// decide it.
func (c *clearance) claimRefusal(d Decision) error {
	h := c.holder()
	if h == "" || h == d.Officer || d.Stage != c.Stage {
		return nil
	}
	if o, ok := c.Configuration.Roster.Find(d.Officer); ok && o.Has(policy.RoleSupervisor) {
		return nil
	}
	return fmt.Errorf("officer: the %s stage is held by %s since %s; %s decides it, gives it back, or a supervisor reassigns it",
		c.Stage, h, c.Claim.At.UTC().Format(time.RFC3339), h)
}
