// Package golden records the golden histories of the ExportClearance workflow: one real history
// per path through it (green release, officer approval, rejection, request for information
// answered and lapsed, escalation, expedited, red lane, reroute, refusal by an invalid
// certificate, withdrawal, a decision sent as a signal), each run by the real worker and
// activities against a real Temporal server, driven through the clearance client package, and
// written as JSON in the form the Web UI downloads. Every build replays them (see the tests of
// the audit and workflows packages), so a change to the released workflow that would break
// running clearances fails the tests. docs/audit.md gives the command that records them.
package golden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// Dir is where the golden histories live, relative to the module root.
const Dir = "workflows/testdata/golden"

// ReleasedDir keeps, one directory each, the golden histories of earlier releases of the
// workflow, as they were recorded: when a change to the workflow is released, the histories in
// Dir move to ReleasedDir/before-CHANGE-ID before they are recorded again. Every go test replays
// them all, so no release can break a clearance that an earlier one started.
const ReleasedDir = Dir + "/released"

// Scenario is one path through the clearance, recorded as one golden history.
type Scenario struct {
	// Name is the golden file's name without ".json".
	Name string
	// Covers says which path through the workflow the history takes.
	Covers string
	// Example is the declaration file in examples/.
	Example string
	// ID replaces the example's declaration ID, so one example can be recorded on several paths.
	ID string
	// Policy adjusts the built-in policy for this run: time-dependent paths need allowances or
	// an information deadline of seconds.
	Policy func(*policy.Policy)
	// Before, when set, runs before the recorded clearance is submitted, given its declaration.
	Before func(ctx context.Context, r *Recorder, d declaration.Declaration) error
	// Drive acts as the officers and the exporter until the clearance ends.
	Drive func(ctx context.Context, d *Driver) error
	// Lane (the lane the clearance ends in) and State are what the run must show; the recorder
	// refuses a run that differs.
	Lane  policy.Lane
	State workflows.State
	// Appeal says the scenario appeals a refusal, which reopens the clearance: the recorded history
	// is the reopened run's, and the appeal's own is recorded under AppealDir.
	Appeal bool
}

// AppealDir is where the golden histories of the appeal workflow live, relative to the module root.
const AppealDir = "appeal/testdata/golden"

// Scenarios returns every path a golden history covers.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name: "green-release", Covers: "green lane: every check passes, released without an officer",
			Example: "us-nasal-cannulas-anaesthesia-masks.json",
			Lane:    policy.LaneGreen, State: workflows.StateReleased,
			Drive: func(context.Context, *Driver) error { return nil },
		},
		{
			Name: "yellow-approve", Covers: "yellow lane: a document officer approves, released",
			Example: "us-n95-respirators-niosh.json",
			Lane:    policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "yellow-biological", Covers: "yellow lane with a biological product: document officer, health-quarantine officer, release officer",
			Example: "de-antibody-test-kits.json",
			Lane:    policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				return d.Steps(ctx,
					step{policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, ""},
					step{policy.StageBiologicalReview, "hq-wang", workflows.OutcomeApprove, ""},
					step{policy.StageRelease, "rel-zhou", workflows.OutcomeApprove, ""})
			},
		},
		{
			Name: "reject", Covers: "yellow lane: the document officer rejects, refused",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0513",
			Lane: policy.LaneYellow, State: workflows.StateRefused,
			Drive: func(ctx context.Context, d *Driver) error {
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-chen", workflows.OutcomeReject,
					"the packing list declares 4,000 cartons but the commercial invoice bills 3,600")
			},
		},
		{
			Name: "request-supply", Covers: "a finding, a request for information, the exporter supplies the document, the officer approves, released",
			Example: "missing-documents-quality-declaration-thermometers.json",
			Lane:    policy.LaneGreen, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.Request(ctx, policy.StageDocumentCheck, "doc-li",
					"the manufacturer's quality declaration required by announcement No. 5 of 2020 is missing",
					"quality-declaration"); err != nil {
					return err
				}
				if err := d.Supply(ctx, workflows.Supply{
					Documents: []declaration.Document{{Type: declaration.DocQualityDeclaration, Reference: "QD-RW-2020-0506",
						Issued: time.Date(2020, 5, 6, 0, 0, 0, 0, time.UTC)}},
					Note: "quality declaration signed by the manufacturer's quality director",
				}); err != nil {
					return err
				}
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "request-lapse", Covers: "a request for information the exporter does not answer in time: lapsed",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0514",
			Policy: func(p *policy.Policy) { p.InformationDeadline = policy.Duration(3 * time.Second) },
			Lane:   policy.LaneYellow, State: workflows.StateLapsed,
			Drive: func(ctx context.Context, d *Driver) error {
				return d.Request(ctx, policy.StageDocumentCheck, "doc-chen",
					"the NIOSH approval label for model 9231 is missing", "niosh-label")
			},
		},
		{
			Name: "escalation", Covers: "the document check overruns its allowance: escalated to the supervisor (SlaBreached), who then approves",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0515",
			Policy: func(p *policy.Policy) { p.Allowances.DocumentCheck = policy.Duration(2 * time.Second) },
			Lane:   policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if _, err := d.Await(ctx, "the escalation", func(s workflows.Status) bool { return s.SlaBreached }); err != nil {
					return err
				}
				return d.Decide(ctx, policy.StageDocumentCheck, "sup-huang", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "expedited", Covers: "expedited procedure (emergency ventilators), red lane under the shorter allowances: four officers",
			Example: "expedited-emergency-ventilators.json",
			Lane:    policy.LaneRed, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				return d.Steps(ctx,
					step{policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, ""},
					step{policy.StageCertificationCheck, "cert-liu", workflows.OutcomeApprove, ""},
					step{policy.StagePhysicalInspection, "insp-sun", workflows.OutcomeApprove, ""},
					step{policy.StageRelease, "rel-zhou", workflows.OutcomeApprove, ""})
			},
		},
		{
			Name: "red-inspection", Covers: "red lane (biological risk class B): biological review, certification officer, physical inspection, release",
			Example: "fr-biological-class-b.json",
			Lane:    policy.LaneRed, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				return d.Steps(ctx,
					step{policy.StageDocumentCheck, "doc-chen", workflows.OutcomeApprove, ""},
					step{policy.StageBiologicalReview, "hq-zhao", workflows.OutcomeApprove, ""},
					step{policy.StageCertificationCheck, "cert-liu", workflows.OutcomeApprove, ""},
					step{policy.StagePhysicalInspection, "insp-sun", workflows.OutcomeApprove, ""},
					step{policy.StageRelease, "rel-wu", workflows.OutcomeApprove, ""})
			},
		},
		{
			Name: "reroute", Covers: "a supervisor reroutes a yellow clearance to the red lane: certification officer and physical inspection added",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0516",
			Lane: policy.LaneRed, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageDocumentCheck); err != nil {
					return err
				}
				if _, err := clearance.Reroute(ctx, d.c, d.Ref, workflows.Reroute{Officer: "sup-huang", Lane: policy.LaneRed,
					Reason: "counterfeit N95 respirators reported on this route"}); err != nil {
					return err
				}
				return d.Steps(ctx,
					step{policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, ""},
					step{policy.StageCertificationCheck, "cert-liu", workflows.OutcomeApprove, ""},
					step{policy.StagePhysicalInspection, "insp-sun", workflows.OutcomeApprove, ""},
					step{policy.StageRelease, "rel-zhou", workflows.OutcomeApprove, ""})
			},
		},
		{
			Name: "extension", Covers: "a supervisor extends the document check's allowance once, with a reason the exporter is told; the officer decides within the extended allowance",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0518",
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageDocumentCheck); err != nil {
					return err
				}
				if _, err := clearance.Extend(ctx, d.c, d.Ref, workflows.Extension{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang",
					By: policy.Duration(24 * time.Hour), Reason: "the NIOSH approval is being confirmed with the issuing laboratory"}); err != nil {
					return err
				}
				return d.Steps(ctx, step{policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, ""})
			},
		},
		{
			Name: "extension-during-trader-time", Covers: "the document officer asks the exporter for a document; while the exporter's time stops the allowance's clock, a supervisor extends the allowance; the exporter supplies it and the officer approves, nothing escalated",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0524",
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.Request(ctx, policy.StageDocumentCheck, "doc-li",
					"the NIOSH approval letter for the listed model is missing", "niosh-approval"); err != nil {
					return err
				}
				if _, err := d.Await(ctx, "the exporter asked", func(s workflows.Status) bool {
					return s.Phase == workflows.PhaseAwaitingExporter
				}); err != nil {
					return err
				}
				if _, err := clearance.Extend(ctx, d.c, d.Ref, workflows.Extension{Stage: policy.StageDocumentCheck, Supervisor: "sup-huang",
					By: policy.Duration(24 * time.Hour), Reason: "the laboratory confirms the approval on Friday"}); err != nil {
					return err
				}
				if err := d.Supply(ctx, workflows.Supply{
					Documents: []declaration.Document{{Type: declaration.DocOther, Reference: "NIOSH-TC-84A-9315",
						Issued: time.Date(2020, 4, 2, 0, 0, 0, 0, time.UTC)}},
					Note: "the NIOSH approval letter",
				}); err != nil {
					return err
				}
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "reroute-during-release", Covers: "a supervisor reroutes to red while the release awaits its officer: the release stage gives way to the certification officer and the physical inspection, then runs again",
			Example: "de-antibody-test-kits.json", ID: "LB-2020-DE-0417",
			Lane: policy.LaneRed, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.Steps(ctx,
					step{policy.StageDocumentCheck, "doc-chen", workflows.OutcomeApprove, ""},
					step{policy.StageBiologicalReview, "hq-zhao", workflows.OutcomeApprove, ""}); err != nil {
					return err
				}
				if err := d.AwaitOfficer(ctx, policy.StageRelease); err != nil {
					return err
				}
				if _, err := clearance.Reroute(ctx, d.c, d.Ref, workflows.Reroute{Officer: "sup-huang", Lane: policy.LaneRed,
					Reason: "intelligence: test kits of this lot diverted on arrival"}); err != nil {
					return err
				}
				return d.Steps(ctx,
					step{policy.StageCertificationCheck, "cert-liu", workflows.OutcomeApprove, ""},
					step{policy.StagePhysicalInspection, "insp-sun", workflows.OutcomeApprove, ""},
					step{policy.StageRelease, "rel-zhou", workflows.OutcomeApprove, ""})
			},
		},
		{
			Name: "invalid-certificate", Covers: "the certification check finds a CE certificate from a body not notified for PPE: refused by rule (InvalidCertificate)",
			Example: "es-masks-non-notified-body.json",
			Lane:    policy.LaneYellow, State: workflows.StateRefused,
			Drive: func(ctx context.Context, d *Driver) error {
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "withdrawal", Covers: "the exporter withdraws during the biological review",
			Example: "de-antibody-test-kits.json", ID: "LB-2020-DE-0416",
			Lane: policy.LaneYellow, State: workflows.StateWithdrawn,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, ""); err != nil {
					return err
				}
				if err := d.AwaitOfficer(ctx, policy.StageBiologicalReview); err != nil {
					return err
				}
				return clearance.Withdraw(ctx, d.c, d.Ref, "the consignee cancelled the order")
			},
		},
		{
			Name: "relodged-after-retention", Covers: "a released declaration lodged again after the server no longer keeps its clearance: the declarations register refuses it, naming the registration and the release notice",
			Example: "us-nasal-cannulas-anaesthesia-masks.json", ID: "RW-2020-US-0601",
			Lane: policy.LaneGreen, State: workflows.StateRefused,
			Before: func(ctx context.Context, r *Recorder, d declaration.Declaration) error {
				run, err := clearance.Submit(ctx, r.c, d)
				if err != nil {
					return err
				}
				var res workflows.Result
				if err := run.Get(ctx, &res); err != nil || res.State != workflows.StateReleased {
					return fmt.Errorf("the first lodgement ended %s: %v", res.State, err)
				}
				return r.forget(ctx, run.GetID(), run.GetRunID())
			},
			Drive: func(context.Context, *Driver) error { return nil },
		},
		{
			Name: "claim-reassign-note", Covers: "work management: doc-li claims the document check, notes it, a supervisor reassigns it to doc-chen, who approves",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0519",
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageDocumentCheck); err != nil {
					return err
				}
				if _, err := clearance.Claim(ctx, d.c, d.Ref, workflows.ClaimRequest{Officer: "doc-li"}); err != nil {
					return err
				}
				if _, err := clearance.AddNote(ctx, d.c, d.Ref, workflows.Note{Officer: "doc-li",
					Text: "NIOSH approval TC-84A-1234 to be checked against the CDC list"}); err != nil {
					return err
				}
				if _, err := clearance.Reassign(ctx, d.c, d.Ref, workflows.Reassignment{Supervisor: "sup-huang", Officer: "doc-chen",
					Reason: "doc-li is on leave from tomorrow"}); err != nil {
					return err
				}
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-chen", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "agency-hold", Covers: "holds: customs holds the clearance on intelligence while the document check awaits its officer, NMPA's white-list check holds it too; both are lifted (may-proceed) and the officer approves",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0520",
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageDocumentCheck); err != nil {
					return err
				}
				for _, h := range []workflows.Hold{
					{Supervisor: "sup-huang", Reason: "intelligence: counterfeit respirators reported on this route"},
					{Supervisor: "sup-huang", Agency: "NMPA", Reason: "white-list check of the manufacturer"},
				} {
					if _, err := clearance.PlaceHold(ctx, d.c, d.Ref, h); err != nil {
						return err
					}
				}
				for _, l := range []workflows.Lift{
					{Supervisor: "sup-huang", Disposition: workflows.DispositionMayProceed, Reason: "the lot's markings checked out"},
					{Supervisor: "sup-huang", Agency: "NMPA", Disposition: workflows.DispositionMayProceed, Reason: "NMPA: the manufacturer is on the white list"},
				} {
					if _, err := clearance.LiftHold(ctx, d.c, d.Ref, l); err != nil {
						return err
					}
				}
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "amend-before-review", Covers: "the exporter amends the declaration (a short shipment) before any officer has started: applied at once, the document check runs again, the officer approves the amended declaration",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0521",
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageDocumentCheck); err != nil {
					return err
				}
				if _, err := clearance.Amend(ctx, d.c, d.Ref, shortShipment()); err != nil {
					return err
				}
				if _, err := d.Await(ctx, "the document check run again", func(s workflows.Status) bool {
					return s.Phase == workflows.PhaseAwaitingOfficer && s.Timeline[0].CheckRuns == 2
				}); err != nil {
					return err
				}
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "amend-with-consent", Covers: "amendments after an officer has started: at the biological review the health-quarantine officer refuses one and consents to the next, whose document check runs again; then the review and the release",
			Example: "de-antibody-test-kits.json", ID: "LB-2020-DE-0418",
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, ""); err != nil {
					return err
				}
				if err := d.AwaitOfficer(ctx, policy.StageBiologicalReview); err != nil {
					return err
				}
				pl := func(issued time.Time) workflows.Amendment {
					return workflows.Amendment{Documents: []declaration.Document{{Type: declaration.DocPackingList,
						Reference: "LB-PL-2020-0415", Issued: issued}}, Reason: "the packing list reissued with the cold-chain carton numbers"}
				}
				for _, step := range []struct {
					issued  time.Time
					outcome string
					reason  string
				}{
					{time.Date(2020, 4, 10, 0, 0, 0, 0, time.UTC), workflows.AmendmentRefuse, "a packing list dated before the invoice is not the shipment's"},
					{time.Date(2020, 4, 16, 0, 0, 0, 0, time.UTC), workflows.AmendmentConsent, ""},
				} {
					rec, err := clearance.Amend(ctx, d.c, d.Ref, pl(step.issued))
					if err != nil {
						return err
					}
					if _, err := clearance.DecideAmendment(ctx, d.c, d.Ref, workflows.AmendmentDecision{Officer: "hq-wang",
						Amendment: rec.Version, Outcome: step.outcome, Reason: step.reason}); err != nil {
						return err
					}
				}
				if _, err := d.Await(ctx, "the document check run again", func(s workflows.Status) bool {
					return s.Phase == workflows.PhaseAwaitingOfficer && len(s.Amendments) == 2 && len(s.Amendments[1].Rechecked) == 1
				}); err != nil {
					return err
				}
				return d.Steps(ctx,
					step{policy.StageBiologicalReview, "hq-wang", workflows.OutcomeApprove, ""},
					step{policy.StageRelease, "rel-zhou", workflows.OutcomeApprove, ""})
			},
		},
		{
			Name: "appeal-upheld", Covers: "appeal: doc-chen refuses the document check; the exporter appeals within the window; sup-huang, who did not refuse, upholds it; the clearance reopens in a new run at the document check (this history), doc-li approves, released under a notice bound to the first run",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0522", Appeal: true,
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.Decide(ctx, policy.StageDocumentCheck, "doc-chen", workflows.OutcomeReject,
					"the packing list declares 4,000 cartons but the commercial invoice bills 100,000 pieces"); err != nil {
					return err
				}
				if res, err := clearance.Wait(ctx, d.c, d.Ref); err != nil || res.State != workflows.StateRefused {
					return fmt.Errorf("refusal: %s, %v", res.State, err)
				}
				if _, err := clearance.Appeal(ctx, d.c, d.Ref, "the cartons hold 25 respirators each: 4,000 cartons are the 100,000 pieces invoiced"); err != nil {
					return err
				}
				for {
					s, err := clearance.AppealStatus(ctx, d.c, d.Ref)
					if err == nil && s.Phase == appeal.PhaseAwaitingSupervisor {
						break
					}
					if err == nil && s.Result != nil {
						return fmt.Errorf("appeal ended %s: %s", s.Result.Outcome, s.Result.Reason)
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(50 * time.Millisecond):
					}
				}
				if _, err := clearance.DecideAppeal(ctx, d.c, d.Ref, appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeUphold,
					Reason: "the packing list counts cartons of 25: the totals agree"}); err != nil {
					return err
				}
				if res, err := clearance.AwaitAppeal(ctx, d.c, d.Ref); err != nil || res.Outcome != appeal.OutcomeUphold {
					return fmt.Errorf("appeal: %+v, %v", res, err)
				}
				return d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, "")
			},
		},
		{
			Name: "agency-refusal", Covers: "another agency refuses: NMPA holds the clearance while the document check awaits its officer, then refuses the goods (the hold lifted with the disposition refused): refused with NMPA's reason",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0523",
			Lane: policy.LaneYellow, State: workflows.StateRefused,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageDocumentCheck); err != nil {
					return err
				}
				if _, err := clearance.PlaceHold(ctx, d.c, d.Ref, workflows.Hold{Supervisor: "sup-huang", Agency: "NMPA",
					Reason: "white-list check of the manufacturer"}); err != nil {
					return err
				}
				_, err := clearance.LiftHold(ctx, d.c, d.Ref, workflows.Lift{Supervisor: "sup-huang", Agency: "NMPA",
					Disposition: workflows.DispositionRefused, Reason: "the manufacturer is not on the white list of qualified producers"})
				return err
			},
		},
		{
			Name: "signal-decision", Covers: "decisions sent as the signal \"decision\": one refused (the officer lacks the role), one applied",
			Example: "us-n95-respirators-niosh.json", ID: "JH-2020-US-0517",
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageDocumentCheck); err != nil {
					return err
				}
				if err := d.Signal(ctx, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "cert-liu",
					Outcome: workflows.OutcomeApprove}); err != nil {
					return err
				}
				if _, err := d.Await(ctx, "the refusal of the first signal", func(s workflows.Status) bool { return len(s.Refused) == 1 }); err != nil {
					return err
				}
				return d.Signal(ctx, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li",
					Outcome: workflows.OutcomeApprove})
			},
		},
	}
}

// Recorder runs scenarios against a Temporal server with the real worker.
type Recorder struct {
	c          client.Client
	namespace  string
	examples   string
	policyPath string
	eng        *engine.Engine
	w          worker.Worker
}

// NewRecorder registers the engine's search attributes on namespace, opens the engine with its
// data under workDir and starts the worker on c. examplesDir is the examples/ directory.
func NewRecorder(ctx context.Context, c client.Client, namespace, examplesDir, workDir string, logger *zap.Logger) (*Recorder, error) {
	if err := connect.RegisterSearchAttributes(ctx, c, namespace); err != nil {
		return nil, err
	}
	r := &Recorder{c: c, namespace: namespace, examples: examplesDir, policyPath: filepath.Join(workDir, "policy.json")}
	if err := r.writePolicy(nil); err != nil {
		return nil, err
	}
	cfg := engine.Config{DataDir: workDir, Notifications: "-", PolicyFile: r.policyPath}
	eng, err := engine.Open(cfg, logger)
	if err != nil {
		return nil, err
	}
	r.eng = eng
	r.w = eng.NewWorker(c, cfg)
	if err := r.w.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start worker: %w", err), eng.Close())
	}
	return r, nil
}

// Close stops the worker and closes the engine.
func (r *Recorder) Close() error {
	r.w.Stop()
	return r.eng.Close()
}

// writePolicy writes the built-in policy, adjusted, where the worker reads it: each clearance
// reads the policy once, when it starts.
func (r *Recorder) writePolicy(adjust func(*policy.Policy)) error {
	p := policy.Default()
	if adjust != nil {
		adjust(&p)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(r.policyPath, b, 0o600)
}

// Record runs one scenario to its end and returns its history, read back from the server. It
// refuses a run whose lane or final state is not the scenario's, or whose history does not
// replay.
func (r *Recorder) Record(ctx context.Context, s Scenario) (*historypb.History, error) {
	raw, err := os.ReadFile(filepath.Join(r.examples, s.Example))
	if err != nil {
		return nil, err
	}
	decl, err := declaration.ParseAndValidate(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Example, err)
	}
	if s.ID != "" {
		decl.ID = s.ID
	}
	if err := r.writePolicy(s.Policy); err != nil {
		return nil, err
	}
	if s.Before != nil {
		if err := s.Before(ctx, r, decl); err != nil {
			return nil, fmt.Errorf("%s: before: %w", s.Name, err)
		}
	}
	run, err := clearance.Submit(ctx, r.c, decl)
	if err != nil {
		return nil, err
	}
	d := &Driver{c: r.c, Ref: clearance.RefOf(decl)}
	if err := s.Drive(ctx, d); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	res, err := clearance.Wait(ctx, r.c, clearance.RefOf(decl))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if res.State != s.State || res.Lane != s.Lane {
		return nil, fmt.Errorf("%s: ended %s in the %s lane, want %s in the %s lane (%s)", s.Name, res.State, res.Lane,
			s.State, s.Lane, res.Reason)
	}
	runID := run.GetRunID()
	if s.Appeal {
		runID = "" // the run the appeal reopened
	}
	h, err := audit.FetchHistory(ctx, r.c, run.GetID(), runID)
	if err != nil {
		return nil, err
	}
	if err := audit.Replay(h, audit.Converters{}); err != nil {
		return nil, fmt.Errorf("%s: the recorded history does not replay: %w", s.Name, err)
	}
	return h, nil
}

// AppealHistory returns the history of the appeal against the refusal of the scenario's
// declaration, once the appeal has ended.
func (r *Recorder) AppealHistory(ctx context.Context, s Scenario) (*historypb.History, error) {
	raw, err := os.ReadFile(filepath.Join(r.examples, s.Example))
	if err != nil {
		return nil, err
	}
	decl, err := declaration.ParseAndValidate(raw)
	if err != nil {
		return nil, err
	}
	if s.ID != "" {
		decl.ID = s.ID
	}
	id, err := appeal.WorkflowID(decl.Exporter.Code, decl.ID)
	if err != nil {
		return nil, err
	}
	if _, err := clearance.AwaitAppeal(ctx, r.c, clearance.RefOf(decl)); err != nil {
		return nil, err
	}
	return audit.FetchHistory(ctx, r.c, id, "")
}

// forget deletes a closed clearance from the server, as the end of its retention does, and waits
// until the server no longer knows it.
func (r *Recorder) forget(ctx context.Context, workflowID, runID string) error {
	if _, err := r.c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: r.namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
	}); err != nil {
		return fmt.Errorf("delete %s: %w", workflowID, err)
	}
	for {
		_, err := r.c.DescribeWorkflowExecution(ctx, workflowID, "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still known after its deletion: %w", workflowID, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Write writes a history to dir/NAME.json in the Web UI's JSON form.
func Write(dir, name string, h *historypb.History) (string, error) {
	b, err := audit.MarshalHistoryJSON(h)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".json")
	return path, os.WriteFile(path, b, 0o644)
}

// Index is the README of the golden directory: every file and the path it covers.
func Index() string {
	var b strings.Builder
	b.WriteString("# Golden histories of ExportClearance\n\n")
	b.WriteString("Real histories of the workflow as it is now, one per path, recorded by `audit/golden` against\n")
	b.WriteString("an in-process Temporal server with the real worker and activities, in the JSON form the Web UI\n")
	b.WriteString("downloads. `released/` keeps the histories of earlier releases as they were recorded. Every\n")
	b.WriteString("`go test ./...` replays them all; see `docs/audit.md` to record them again. This file is\n")
	b.WriteString("written by the recorder.\n\n")
	b.WriteString("| file | example | lane | ends | path |\n|---|---|---|---|---|\n")
	for _, s := range Scenarios() {
		fmt.Fprintf(&b, "| `%s.json` | `%s` | %s | %s | %s |\n", s.Name, s.Example, s.Lane, s.State, s.Covers)
	}
	return b.String()
}

// Driver acts on one clearance as its officers and exporter would.
type Driver struct {
	c client.Client
	// Ref names the clearance.
	Ref clearance.Ref
}

type step struct {
	stage   policy.Stage
	officer string
	outcome workflows.Outcome
	reason  string
}

// Steps decides stages in turn, each once the clearance awaits it.
func (d *Driver) Steps(ctx context.Context, steps ...step) error {
	for _, s := range steps {
		if err := d.Decide(ctx, s.stage, s.officer, s.outcome, s.reason); err != nil {
			return err
		}
	}
	return nil
}

// Await polls the clearance's status until cond holds.
func (d *Driver) Await(ctx context.Context, what string, cond func(workflows.Status) bool) (workflows.Status, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := clearance.Status(ctx, d.c, d.Ref)
		if err == nil && cond(s) {
			return s, nil
		}
		if err == nil && s.State.Final() {
			return s, fmt.Errorf("%s ended (%s: %s) while waiting for %s", d.Ref.Declaration, s.State, s.Reason, what)
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: gave up waiting for %s (state %s, stage %s, last error %v)", d.Ref.Declaration, what, s.State, s.Stage, err)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AwaitOfficer waits until the clearance awaits an officer's decision on stage.
func (d *Driver) AwaitOfficer(ctx context.Context, stage policy.Stage) error {
	_, err := d.Await(ctx, "an officer's decision on "+string(stage), func(s workflows.Status) bool {
		return s.State == workflows.StateAwaitingOfficer && s.Stage == stage
	})
	return err
}

// Decide waits for the stage to await an officer, then sends the decision as the update.
func (d *Driver) Decide(ctx context.Context, stage policy.Stage, officer string, outcome workflows.Outcome, reason string) error {
	if err := d.AwaitOfficer(ctx, stage); err != nil {
		return err
	}
	_, err := clearance.Decide(ctx, d.c, d.Ref, workflows.Decision{Stage: stage, Officer: officer, Outcome: outcome, Reason: reason})
	return err
}

// Request asks the exporter for information on stage.
func (d *Driver) Request(ctx context.Context, stage policy.Stage, officer, reason string, requested ...string) error {
	if err := d.AwaitOfficer(ctx, stage); err != nil {
		return err
	}
	_, err := clearance.Decide(ctx, d.c, d.Ref, workflows.Decision{Stage: stage, Officer: officer,
		Outcome: workflows.OutcomeRequestInformation, Reason: reason, Requested: requested})
	return err
}

// Supply waits until documents are awaited and sends them.
func (d *Driver) Supply(ctx context.Context, s workflows.Supply) error {
	if _, err := d.Await(ctx, "the request for documents", func(st workflows.Status) bool {
		return st.State == workflows.StateAwaitingExporter
	}); err != nil {
		return err
	}
	_, err := clearance.Supply(ctx, d.c, d.Ref, s)
	return err
}

// Signal sends a decision as the signal "decision".
func (d *Driver) Signal(ctx context.Context, dec workflows.Decision) error {
	id, err := d.Ref.WorkflowID()
	if err != nil {
		return err
	}
	return d.c.SignalWorkflow(ctx, id, "", workflows.SignalDecision, dec)
}

// shortShipment is examples/amendments/us-n95-short-shipment.json: line 1 of the N95 example down
// to 90,000 respirators, the invoice and packing list reissued with it.
func shortShipment() workflows.Amendment {
	issued := time.Date(2020, 5, 14, 0, 0, 0, 0, time.UTC)
	return workflows.Amendment{
		Reason: "the factory ships 90,000 respirators, not 100,000: the invoice and packing list are reissued for the short shipment",
		Lines: []declaration.Line{{ID: "1", HSCode: "6307.90", Description: "N95 particulate respirator, model JH-9501, NIOSH approved, 20 per box",
			Quantity: 90000, Unit: "pieces", Value: 10350000, Currency: "USD", Category: "respirator"}},
		Documents: []declaration.Document{
			{Type: declaration.DocCommercialInvoice, Reference: "JH-CI-2020-0512", Issued: issued, Amount: 10350000, Currency: "USD"},
			{Type: declaration.DocPackingList, Reference: "JH-PL-2020-0512", Issued: issued},
		},
	}
}
