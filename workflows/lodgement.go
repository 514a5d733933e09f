package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/policy"
)

// The exporter's lodgement in one round trip: the starter starts the clearance and sends it the
// update "lodgement" in the same call (Update-with-Start), and the update answers once the
// lodgement has come to something the exporter can act on: refused as lodged or by the first
// stage's checks, or accepted under a registration number in a risk lane, with what happens next.
// Without it the exporter starts the clearance and asks its status until it says as much.

// UpdateLodgement carries the exporter's lodgement with the clearance's start and answers what it
// came to (Lodgement). It is refused once the clearance has moved on from its start: the status
// says where a clearance stands.
const UpdateLodgement = "lodgement"

// LodgementRequest is the payload of the update "lodgement": the declaration lodged.
type LodgementRequest struct {
	DeclarationID string `json:"declarationId"`
}

// Lodgement is what a lodgement came to, in the exporter's terms: the answer of the update
// "lodgement", and what a client that cannot send it reads from the status (LodgementOf).
type Lodgement struct {
	DeclarationID string `json:"declarationId"`
	Exporter      string `json:"exporter"`
	// Accepted says customs took the declaration on: it was not refused as lodged, nor by the
	// checks that ran before the answer. Reason says why it was refused; RefusedAsLodged that it
	// was refused before any check ran (it does not validate, or the register holds it for another
	// clearance), which a corrected declaration under a new ID answers, not an appeal.
	Accepted        bool   `json:"accepted"`
	Reason          string `json:"reason,omitempty"`
	RefusedAsLodged bool   `json:"refusedAsLodged,omitempty"`
	// Registration is the declaration's entry in the declarations register.
	Registration *Registration `json:"registration,omitempty"`
	// Lane is the risk lane selected, LaneReasons why; Priority is the declaration's place in the
	// officers' queues (urgent, high, normal, low).
	Lane        policy.Lane `json:"lane,omitempty"`
	LaneReasons []string    `json:"laneReasons,omitempty"`
	Priority    string      `json:"priority,omitempty"`
	Expedited   bool        `json:"expedited,omitempty"`
	// State, Stage and Waiting are where the clearance stands, as the status says.
	State   State        `json:"state"`
	Stage   policy.Stage `json:"stage,omitempty"`
	Waiting *Waiting     `json:"waiting,omitempty"`
	// Next is what happens next, in the exporter's words: "waiting for a document officer's
	// decision on the document check, due ...".
	Next string `json:"next"`
	// Accepts names the exporter's requests the clearance takes now (supply-documents, amend,
	// withdraw).
	Accepts []string `json:"accepts"`
}

// exporterRequests are the requests an exporter sends a clearance, as Lodgement.Accepts lists them.
var exporterRequests = []string{UpdateSupplyDocuments, UpdateAmend, UpdateWithdraw}

// setupLodgement registers the update "lodgement".
func (c *clearance) setupLodgement(ctx workflow.Context) error {
	return onUpdate(ctx, UpdateLodgement, c.validateLodgementUpdate,
		func(ctx workflow.Context, _ json.RawMessage, _ *Principal) (Lodgement, error) {
			return c.lodgement(ctx)
		},
		`The exporter's (starter submit, with the clearance's start): {"declarationId":"LB-2020-DE-0415"} `+
			"answers what the lodgement came to once it is known: refused as lodged or by the first stage's checks, or accepted "+
			"with its registration number, risk lane, queue priority and what happens next. Refused once the clearance has "+
			"moved on from its start.")
}

// validateLodgementUpdate is the validator of the update "lodgement": only the clearance's exporter
// asks, with its start, about this declaration.
func (c *clearance) validateLodgementUpdate(raw json.RawMessage, caller *Principal) error {
	if err := c.callerActsForExporter(caller); err != nil {
		return err
	}
	return validateAs(raw, "lodgement", func(l LodgementRequest) error {
		if c.phase != PhaseStarting {
			meaning := phaseMeaning[c.phase]
			if c.phase == PhaseEnded {
				meaning = string(c.State)
			}
			return fmt.Errorf("the lodgement is answered only with the clearance's start (it is %s: %s); "+
				"the status query says where it stands", c.phase, meaning)
		}
		if strings.TrimSpace(l.DeclarationID) == "" {
			return fmt.Errorf("declarationId: missing")
		}
		if l.DeclarationID != c.decl.ID {
			return fmt.Errorf("declarationId: %q is not the declaration this clearance clears, %s",
				clip(l.DeclarationID, MaxRequestedBytes), c.decl.ID)
		}
		return nil
	})
}

// lodgement waits until the lodgement has come to something the exporter can act on, and answers it.
func (c *clearance) lodgement(ctx workflow.Context) (Lodgement, error) {
	if err := workflow.Await(ctx, func() bool { return lodged(c.phase, c.State, c.Timeline) }); err != nil {
		return Lodgement{}, err
	}
	l, _ := LodgementOf(c.status(workflow.Now(ctx)))
	if c.refusedAsLodged {
		l.RefusedAsLodged = true
	}
	return l, nil
}

// lodged reports whether a clearance in phase p and state s, with timeline t, has come to
// something its exporter can act on: it is refused, withdrawn or ended, it awaits someone or is
// held, or its first stage is behind it. Until then it is being lodged: its lane is being selected,
// its declaration registered, or its first stage's checks run. A status without a phase (a clearance
// of an earlier release) is settled once it waits on someone or has ended.
func lodged(p Phase, s State, t []StageRecord) bool {
	switch p {
	case PhaseStarting:
		return false
	case PhaseChecking:
		return len(t) > 0 && !t[0].Ended.IsZero()
	case "":
		return s.Waiting() || s.Final()
	}
	return true
}

// LodgementOf reads from a clearance's status what its lodgement came to, as the update
// "lodgement" answers it; ok is false while the clearance is still being lodged.
func LodgementOf(s Status) (l Lodgement, ok bool) {
	if !lodged(s.Phase, s.State, s.Timeline) {
		return Lodgement{}, false
	}
	l = Lodgement{
		DeclarationID: s.DeclarationID, Exporter: s.Exporter, Registration: s.Registration,
		Lane: s.Lane, LaneReasons: s.LaneSelection.Reasons, Priority: s.LaneSelection.Priority, Expedited: s.Expedited,
		State: s.State, Stage: s.Stage, Waiting: s.Waiting, Accepts: []string{},
	}
	for _, r := range exporterRequests {
		if slices.Contains(s.Accepts, r) {
			l.Accepts = append(l.Accepts, r)
		}
	}
	refused := s.State == StateRefused || s.Phase == PhaseRefusing || (s.Phase == PhaseEnding && lastRejects(s.Decisions))
	l.Accepted = !refused
	if refused {
		l.State, l.Reason = StateRefused, s.Reason
		l.RefusedAsLodged = !checked(s.Timeline)
	}
	l.Next = next(s, l)
	return l, true
}

// lastRejects reports whether the latest decision refused the declaration.
func lastRejects(ds []DecisionRecord) bool {
	return len(ds) > 0 && ds[len(ds)-1].Outcome == OutcomeReject
}

// checked reports whether any stage's checks ran.
func checked(t []StageRecord) bool {
	for _, st := range t {
		if st.CheckRuns > 0 {
			return true
		}
	}
	return false
}

// next says what happens next to a lodged declaration, in its exporter's words.
func next(s Status, l Lodgement) string {
	due := func(w *Waiting) string { return w.Due.UTC().Format("2006-01-02 15:04 MST") }
	switch {
	case l.RefusedAsLodged:
		return "nothing more: a declaration refused as lodged is not appealed; a corrected one is lodged under a new ID"
	case !l.Accepted:
		return fmt.Sprintf("nothing more from customs: the declaration was refused at the %s; the refusal may be appealed",
			spoken(string(s.Stage)))
	case s.State == StateReleased && s.Notice != nil:
		return fmt.Sprintf("nothing more: released under notice %s; the goods may be loaded", s.Notice.Number)
	case s.State.Final():
		return "nothing more: the clearance has ended " + string(s.State)
	case s.Phase == PhaseWithdrawing:
		return "nothing more: the declaration is being withdrawn"
	case s.Phase == PhaseHeld:
		return "on hold: no stage begins until the hold is lifted"
	case s.Waiting != nil && s.Waiting.For == WaitingForExporter:
		asked := "documents"
		if len(s.Waiting.Requested) > 0 {
			asked = strings.Join(s.Waiting.Requested, ", ")
		}
		return fmt.Sprintf("customs asks you for %s, due %s; without them the declaration lapses", asked, due(s.Waiting))
	case s.Waiting != nil && s.Waiting.For == WaitingForAgency:
		return fmt.Sprintf("waiting for the permit of %s, which reviews it in its own system; the release begins once granted",
			strings.Join(s.Waiting.Agencies, " and "))
	case s.Waiting != nil:
		return fmt.Sprintf("waiting for %s decision on the %s, due %s", officersOf(s.Waiting.Role), spoken(string(s.Stage)), due(s.Waiting))
	case len(s.Timeline) > 0 && !s.Timeline[0].Ended.IsZero() && s.Stage != s.Timeline[0].Stage:
		return fmt.Sprintf("the %s found nothing for an officer; the %s runs now", spoken(string(s.Timeline[0].Stage)), spoken(string(s.Stage)))
	}
	return "customs is at work on it"
}

// officersOf names the officer of a role, with its article: "a document officer's".
func officersOf(r policy.Role) string {
	name := spoken(string(r))
	switch {
	case name == "":
		return "an officer's"
	case strings.ContainsRune("aeiou", rune(name[0])):
		return "an " + name + "'s"
	}
	return "a " + name + "'s"
}

// spoken writes one of the engine's names in words: "document-check" as "document check".
func spoken(name string) string { return strings.ReplaceAll(name, "-", " ") }
