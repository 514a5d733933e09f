// Package golden records the golden histories of the ExportClearance workflow: one real history
// per path through it (green release, officer approval, rejection, request for information
// answered and lapsed, escalation, expedited, red lane, reroute, refusal by an invalid
// certificate, withdrawal, a decision sent as a signal, partner agencies' permits asked through
// the single window), each run by the real worker and activities against a real Temporal server,
// driven through the clearance client package, and written as JSON in the form the Web UI
// downloads. The paths of the single window run with the partner agencies' workers behind their
// Nexus endpoints on the same server. A path that continues as new is recorded in a namespace
// where the server suggests it early, as two histories: the run that continued and the run after
// it. Every build replays them (see the tests of the audit and workflows packages), so a
// change to the released workflow that would break running clearances fails the tests.
// docs/audit.md gives the command that records them.
package golden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// Dir is where the golden histories live, relative to the module root.
const Dir = "workflows/testdata/golden"

// ReleasedDir keeps, one directory each, the golden histories of earlier releases of the
// workflow, as they were recorded: when a change to the workflow is released, the histories in
// Dir move to ReleasedDir/before-CHANGE-ID before they are recorded again. Every go test replays
// them all, so no release can break a clearance that an earlier one started.
const ReleasedDir = Dir + "/released"

// ContinuedDir holds the golden histories of the paths that continue as new, two files each: the
// run that continued (NAME.json) and the run after it (NAME.next.json), which ends the clearance.
// They are kept apart from Dir, whose every history is one whole clearance from its lodgement (or
// its reopening on appeal) to its end.
const ContinuedDir = Dir + "/continued"

// NextSuffix ends the name of the file of the run after the one that continued as new.
const NextSuffix = ".next"

// ContinuesNamespace is the namespace the scenarios that continue as new are recorded in: the
// recorder's server suggests continue-as-new there once a run's history holds
// ContinueAsNewAfter events (the dynamic config limit.historyCount.suggestContinueAsNew, for this
// namespace alone), and a clearance continues as new when the server suggests it. The other
// scenarios run in a namespace with the server's default, far above their histories.
const ContinuesNamespace = "golden-continues"

// ContinueAsNewAfter is the history length from which the server suggests continue-as-new in
// ContinuesNamespace. It is above the length of every run there until its driver floods it (the
// run an appeal reopens awaits its officer after 24 events, a clearance held between stages
// waits for its hold after 51), so a run continues only where its scenario floods it, a few notes
// (five events each) past the point it is about; and above the length of the whole run after it
// (46 events for the appeal's, 28 for the hold's, from the start to the end), so that run ends
// instead of continuing again, and again, at its first task. The golden files stay small.
const ContinueAsNewAfter = 60

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
	// Lodge, when set, changes the example before it is lodged, for a path that needs a
	// declaration a little different from every example.
	Lodge func(*declaration.Declaration)
	// Policy adjusts the built-in policy for this run: time-dependent paths need allowances or
	// an information deadline of seconds.
	Policy func(*policy.Policy)
	// SingleWindow says the policy asks the partner agencies' permits (agency.Agencies) by their
	// standard rules, as a deployment that runs their workers does: the scenario is recorded by a
	// recorder that has opened the single window (Recorder.OpenSingleWindow).
	SingleWindow bool
	// Before, when set, runs before the recorded clearance is submitted, given its declaration.
	Before func(ctx context.Context, r *Recorder, d declaration.Declaration) error
	// Drive acts as the officers and the exporter until the clearance ends.
	Drive func(ctx context.Context, d *Driver) error
	// Lane (the lane the clearance ends in) and State are what the run must show; the recorder
	// refuses a run that differs.
	Lane  policy.Lane
	State workflows.State
	// Result, when set, says what else the clearance's result must show: the recorder refuses a
	// run whose result it refuses, and the committed history is held to it.
	Result func(workflows.Result) error
	// Nexus, when set, counts the events of the partner agencies' operations the history must hold,
	// by type; the recorder refuses a run that differs.
	Nexus map[enumspb.EventType]int
	// Appeal says the scenario appeals a refusal, which reopens the clearance: the recorded history
	// is the reopened run's, and the appeal's own is recorded under AppealDir.
	Appeal bool
	// Carries names the changes (workflows.Change...) whose version marker the recorded runs must
	// hold between them: the released behaviour the path is the golden of.
	Carries []string
	// Continued, when set, says the clearance continues as new once, where Drive floods it: the
	// scenario is recorded in ContinuesNamespace, as the run that continued (the first run, or the
	// run an appeal reopened) and the run after it, under ContinuedDir. Continued checks the input
	// the first handed to the second, and refuses the run when it does not carry what the
	// scenario is about.
	Continued func(workflows.Input) error
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
				if err := d.AppealUpheld(ctx, "the cartons hold 25 respirators each: 4,000 cartons are the 100,000 pieces invoiced",
					"sup-huang", "the packing list counts cartons of 25: the totals agree"); err != nil {
					return err
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
		{
			Name: "amend-recheck-error", Covers: "an amendment applied at once whose recheck finds an error: the gloves are lodged without their device class, so the certification check cannot tell that their self-declared CE holds (a warning) and awaits its officer; before any officer has started, the exporter amends the line (device class I, 36,000 boxes instead of 40,000) without reissuing the invoice; applied at once, the document check runs again and finds the invoice no longer matching the line (an error); the certification check, clean now, goes to its officer all the same (rechecked-findings-weighed), who approves with a reason; released",
			Example: "nl-examination-gloves-self-declared.json", ID: "LC-2020-NL-0416",
			Lodge:   func(d *declaration.Declaration) { d.Lines[0].DeviceClass = "" },
			Carries: []string{workflows.ChangeRecheckedFindingsWeighed},
			Lane:    policy.LaneGreen, State: workflows.StateReleased,
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitOfficer(ctx, policy.StageCertificationCheck); err != nil {
					return err
				}
				rec, err := clearance.Amend(ctx, d.c, d.Ref, workflows.Amendment{
					Reason: "36,000 boxes were loaded, not 40,000; the gloves are class I devices",
					Lines: []declaration.Line{{ID: "1", HSCode: "4015.19", Description: "Nitrile examination gloves, powder free, non-sterile, size M, 100 per box",
						Quantity: 36000, Unit: "boxes", Value: 11160000, Currency: "EUR", Category: "gloves", DeviceClass: declaration.DeviceClassI}},
				})
				if err != nil {
					return err
				}
				if rec.Status != workflows.AmendmentApplied {
					return fmt.Errorf("amendment %d is %s, want applied at once", rec.Version, rec.Status)
				}
				if _, err := d.Await(ctx, "the officer asked over the rechecked invoice", func(s workflows.Status) bool {
					return s.Phase == workflows.PhaseAwaitingOfficer && s.Stage == policy.StageCertificationCheck &&
						len(s.Amendments) == 1 && len(s.Amendments[0].Rechecked) == 1 && rechecked(s, activities.SeverityError)
				}); err != nil {
					return err
				}
				return d.Decide(ctx, policy.StageCertificationCheck, "cert-liu", workflows.OutcomeApprove,
					"the invoice of 40,000 boxes stands with the carrier's short-shipment note; the 36,000 boxes loaded are class I, self-declared CE")
			},
		},
		{
			Name: "appeal-continue-as-new", Covers: "appeal, then continue-as-new: doc-li approves the documents and the certification check refuses by rule a CE certificate from a body not notified for PPE; the exporter appeals, sup-huang upholds it; the reopened run (the first file) awaits the certification officer, its history grows long with the officer's notes and it continues as new, carrying the stage the appeal reopened (overrule); in the next run (the second) the same rule refuses the certificate again and the refusal goes to the officer instead: cert-liu approves with a reason, released",
			Example: "es-masks-non-notified-body.json", ID: "HX-2020-ES-0429", Appeal: true,
			Lane: policy.LaneYellow, State: workflows.StateReleased,
			Continued: func(in workflows.Input) error {
				k := in.Carried
				if k == nil {
					return fmt.Errorf("the next run carries nothing")
				}
				if k.Overrule != policy.StageCertificationCheck || k.Stage != policy.StageCertificationCheck || !k.OfficerReview {
					return fmt.Errorf("the next run does not take up the reopened certification check for its officer: stage %q, overrule %q, officer review %v",
						k.Stage, k.Overrule, k.OfficerReview)
				}
				return nil
			},
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.Decide(ctx, policy.StageDocumentCheck, "doc-li", workflows.OutcomeApprove, ""); err != nil {
					return err
				}
				if res, err := clearance.Wait(ctx, d.c, d.Ref); err != nil || res.State != workflows.StateRefused {
					return fmt.Errorf("refusal: %s, %v", res.State, err)
				}
				if err := d.AppealUpheld(ctx, "the masks are bought by the Spanish health ministry for its hospitals under the authorisation of its market surveillance authority (Recommendation (EU) 2020/403), not placed on the market under the CE certificate",
					"sup-huang", "the authorisation under Recommendation (EU) 2020/403 is attached: the certification officer weighs it"); err != nil {
					return err
				}
				if err := d.AwaitOfficer(ctx, policy.StageCertificationCheck); err != nil {
					return err
				}
				if err := d.Flood(ctx, "cert-liu", "the market surveillance authorisation, page %d, checked against the ministry's order"); err != nil {
					return err
				}
				return d.Decide(ctx, policy.StageCertificationCheck, "cert-liu", workflows.OutcomeApprove,
					"admitted under the Spanish authority's authorisation (Recommendation (EU) 2020/403) for its health service, not under the CE certificate")
			},
		},
		{
			Name: "hold-continue-as-new", Covers: "a hold between stages, then continue-as-new: the certificate registers are down when the certification check first runs; while it is retried sup-huang holds the clearance on intelligence; the check passes and the clearance is held before the release stage begins; its history grows long with notes and it continues as new (held-continues), carrying where it stood (heldBefore.next); the next run (the second file) waits for the same hold before the release stage, which is lifted (may-proceed), and the clearance is released",
			Example: "us-nasal-cannulas-anaesthesia-masks.json", ID: "NBKR-2020-000332",
			Carries: []string{workflows.ChangeHeldContinues},
			Lane:    policy.LaneGreen, State: workflows.StateReleased,
			Before: func(_ context.Context, r *Recorder, _ declaration.Declaration) error {
				r.outage.begin()
				return nil
			},
			Continued: func(in workflows.Input) error {
				k := in.Carried
				if k == nil {
					return fmt.Errorf("the next run carries nothing")
				}
				if h := k.HeldBefore; h == nil || h.Next != policy.StageRelease || h.Resume || h.Notice {
					return fmt.Errorf("the next run does not wait for the hold before the release stage begins: heldBefore %+v", h)
				}
				if len(k.Holds) != 1 || k.Holds[0].Lifted != nil || k.Holds[0].Stage != policy.StageCertificationCheck {
					return fmt.Errorf("the hold placed at the certification check is not carried standing: %d holds", len(k.Holds))
				}
				return nil
			},
			Drive: func(ctx context.Context, d *Driver) error {
				if _, err := d.Await(ctx, "the certification check retried while the registers are down", func(s workflows.Status) bool {
					return s.Phase == workflows.PhaseChecking && s.Stage == policy.StageCertificationCheck && d.r.outage.failed() > 0
				}); err != nil {
					return err
				}
				if _, err := clearance.PlaceHold(ctx, d.c, d.Ref, workflows.Hold{Supervisor: "sup-huang",
					Reason: "intelligence: anaesthesia masks of this maker reported relabelled for resale"}); err != nil {
					return err
				}
				d.r.outage.end()
				if _, err := d.Await(ctx, "the hold before the release stage", func(s workflows.Status) bool {
					return s.Phase == workflows.PhaseHeld && len(s.Timeline) == 2 && s.Timeline[1].Outcome == workflows.OutcomeCleared
				}); err != nil {
					return err
				}
				if err := d.Flood(ctx, "sup-huang", "intelligence follow-up %d: the maker's lot numbers checked against the report"); err != nil {
					return err
				}
				if _, err := d.Await(ctx, "the hold in the next run", func(s workflows.Status) bool {
					return s.Phase == workflows.PhaseHeld
				}); err != nil {
					return err
				}
				_, err := clearance.LiftHold(ctx, d.c, d.Ref, workflows.Lift{Supervisor: "sup-huang", Disposition: workflows.DispositionMayProceed,
					Reason: "the lot numbers are the maker's own: the report concerned another lot"})
				return err
			},
		},
		{
			Name: "single-window-granted", Covers: "single window: the respirators need SAMR's permit (its list of qualified producers), asked through SAMR's Nexus endpoint once the declaration is accepted; SAMR's checks find the producer listed and grant the permit by rule, without an officer; released",
			Example: "it-ffp2-respirators.json", SingleWindow: true,
			Carries: []string{workflows.ChangeSingleWindow},
			Lane:    policy.LaneGreen, State: workflows.StateReleased, Nexus: nexusEvents(1, 1, 0, 0),
			Result: func(r workflows.Result) error {
				if err := permits(r, agency.Granted); err != nil {
					return err
				}
				if p := r.Permits[0].Result; p.Officer != "" || p.Permit == "" {
					return fmt.Errorf("SAMR's grant: permit %q, officer %q; want a permit granted by rule", p.Permit, p.Officer)
				}
				return nil
			},
			Drive: func(context.Context, *Driver) error { return nil },
		},
		{
			Name: "single-window-refused", Covers: "single window: SAMR's checks do not find the producer on its list of qualified producers; while the release awaits SAMR, its officer samr-lin refuses the permit: refused, SAMR's decision through the single window",
			Example: "it-ffp2-respirators.json", ID: "YJ-2020-IT-0428", SingleWindow: true,
			Carries: []string{workflows.ChangeSingleWindow},
			Lane:    policy.LaneGreen, State: workflows.StateRefused, Nexus: nexusEvents(1, 1, 0, 0),
			Before: delist,
			Result: func(r workflows.Result) error {
				if err := permits(r, agency.Refused); err != nil {
					return err
				}
				if n := len(r.Decisions); n == 0 || r.Decisions[n-1].Agency != agency.SAMR || r.Decisions[n-1].Via != workflows.ViaAgency ||
					r.Decisions[n-1].Officer != "samr-lin" {
					return fmt.Errorf("decisions %+v: the last is not samr-lin's for SAMR through the single window", r.Decisions)
				}
				if r.Notice != nil {
					return fmt.Errorf("release notice %s for a clearance SAMR refused", r.Notice.Number)
				}
				return nil
			},
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitReleaseOnReview(ctx, agency.SAMR); err != nil {
					return err
				}
				return d.DecidePermit(ctx, agency.SAMR, 1, agency.Decision{Officer: "samr-lin", Outcome: agency.OutcomeRefuse,
					Reason: "the producer is not on the list of qualified producers"})
			},
		},
		{
			Name: "single-window-withdrawn", Covers: "single window: the exporter withdraws while the release awaits SAMR, whose officer has not decided: the clearance withdraws its permit request, cancelling the Nexus operation, and ends withdrawn once SAMR has the cancellation; SAMR's review ends cancelled",
			Example: "it-ffp2-respirators.json", ID: "YJ-2020-IT-0429", SingleWindow: true,
			Carries: []string{workflows.ChangeSingleWindow},
			Lane:    policy.LaneGreen, State: workflows.StateWithdrawn, Nexus: nexusEvents(1, 0, 1, 1),
			Before: delist,
			Result: func(r workflows.Result) error {
				if len(r.Permits) != 1 || !r.Permits[0].Withdrawn || r.Permits[0].Result != nil {
					return fmt.Errorf("permits %+v: want SAMR's request withdrawn unanswered", r.Permits)
				}
				return nil
			},
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitReleaseOnReview(ctx, agency.SAMR); err != nil {
					return err
				}
				if err := clearance.Withdraw(ctx, d.c, d.Ref, "the consignee cancelled the order"); err != nil {
					return err
				}
				return d.AwaitReviewClosed(ctx, agency.SAMR, 1, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED)
			},
		},
		{
			Name: "single-window-information-needed", Covers: "single window: SAMR's checks do not find the producer listed; while the release awaits SAMR, its officer samr-he needs more information (the producer's renewed listing); the release waits for the exporter, who supplies the renewed listing; the clearance asks SAMR again with it, a new request (2), which samr-he grants; released, SAMR's time and the exporter's counted apart",
			Example: "it-ffp2-respirators.json", ID: "YJ-2020-IT-0430", SingleWindow: true,
			Carries: []string{workflows.ChangeSingleWindow, workflows.ChangeAgencyInformationAwaitsTheExporter},
			Lane:    policy.LaneGreen, State: workflows.StateReleased, Nexus: nexusEvents(2, 2, 0, 0),
			Before: delist,
			Result: func(r workflows.Result) error {
				if err := permits(r, agency.InformationNeeded, agency.Granted); err != nil {
					return err
				}
				if r.AgencyTime[agency.SAMR] <= 0 {
					return fmt.Errorf("agency time %v: SAMR's time not counted", r.AgencyTime)
				}
				if r.TraderTime <= 0 {
					return fmt.Errorf("trader time %v: the exporter's answer to SAMR not counted", r.TraderTime)
				}
				return nil
			},
			Drive: func(ctx context.Context, d *Driver) error {
				if err := d.AwaitReleaseOnReview(ctx, agency.SAMR); err != nil {
					return err
				}
				if err := d.DecidePermit(ctx, agency.SAMR, 1, agency.Decision{Officer: "samr-he", Outcome: agency.OutcomeRequestInformation,
					Reason: "the producer's listing lapsed; send its renewed listing", Requested: []string{"renewed listing certificate"}}); err != nil {
					return err
				}
				if err := d.Supply(ctx, workflows.Supply{Documents: []declaration.Document{{Type: declaration.DocOther, Reference: "SAMR-LIST-2020-0431",
					Issued: time.Date(2020, 5, 2, 0, 0, 0, 0, time.UTC)}}, Note: "the producer's renewed listing"}); err != nil {
					return err
				}
				return d.DecidePermit(ctx, agency.SAMR, 2, agency.Decision{Officer: "samr-he", Outcome: agency.OutcomeGrant,
					Reason: "the renewed listing of the producer seen"})
			},
		},
	}
}

// delist takes the declaration's manufacturer off the list of qualified producers the agencies'
// checks read, for the scenario's run.
func delist(_ context.Context, r *Recorder, d declaration.Declaration) error {
	return r.Delist(d.Manufacturer.Code)
}

// nexusEvents counts the events of the partner agencies' operations a history holds: operations
// scheduled, ended completed (with a disposition), cancellations requested and delivered.
func nexusEvents(scheduled, completed, cancelRequested, cancelDelivered int) map[enumspb.EventType]int {
	return map[enumspb.EventType]int{
		enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED:                scheduled,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED:                  scheduled,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED:                completed,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED:                   0,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT:                0,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED:         cancelRequested,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED: cancelDelivered,
	}
}

// permits returns an error unless the clearance asked SAMR's permit once per disposition given,
// request 1, 2, ..., and each got that disposition.
func permits(r workflows.Result, dispositions ...agency.Disposition) error {
	if len(r.Permits) != len(dispositions) {
		return fmt.Errorf("%d permit requests, want %d: %+v", len(r.Permits), len(dispositions), r.Permits)
	}
	for i, p := range r.Permits {
		if p.Agency != agency.SAMR || !strings.HasSuffix(p.RequestID, fmt.Sprintf("/%s/%d", agency.SAMR, i+1)) || p.Result == nil ||
			p.Result.Disposition != dispositions[i] {
			return fmt.Errorf("permit request %d: %+v, result %+v; want SAMR's request %d, %s", i+1, p, p.Result, i+1, dispositions[i])
		}
	}
	return nil
}

// rechecked reports whether an earlier stage's checks, run again on an amendment, found something
// of severity sev.
func rechecked(s workflows.Status, sev activities.Severity) bool {
	for _, f := range s.Findings {
		if !f.Recheck {
			continue
		}
		for _, x := range f.Result.Findings {
			if x.Severity == sev {
				return true
			}
		}
	}
	return false
}

// Recorder runs scenarios against a Temporal server with the real worker.
type Recorder struct {
	c          client.Client
	namespace  string
	examples   string
	policyPath string
	logger     *zap.Logger
	eng        *engine.Engine
	w          worker.Worker
	// outage stands between the activities and the engine's registry: a scenario makes the
	// certificate registers unavailable for a while.
	outage *outage
	// window is the partner agencies' side of the single window, once opened.
	window *window
}

// window is the partner agencies on the recorder's server: their workers, each in its agency's
// namespace behind its endpoint, and clients of those namespaces, through which the driver acts
// as the agencies' officers.
type window struct {
	// lists are the registers the agencies' checks read.
	lists    *lists
	clients  map[string]client.Client
	engines  []*engine.Engine
	workers  []worker.Worker
	stopOnce sync.Once
}

// NewRecorder registers the engine's search attributes on namespace, opens the engine with its
// data under workDir and starts the worker on c. examplesDir is the examples/ directory.
func NewRecorder(ctx context.Context, c client.Client, namespace, examplesDir, workDir string, logger *zap.Logger) (*Recorder, error) {
	if err := connect.RegisterSearchAttributes(ctx, c, namespace); err != nil {
		return nil, err
	}
	r := &Recorder{c: c, namespace: namespace, examples: examplesDir, policyPath: filepath.Join(workDir, "policy.json"), logger: logger}
	if err := r.writePolicy(nil); err != nil {
		return nil, err
	}
	cfg := engine.Config{DataDir: workDir, Notifications: "-", PolicyFile: r.policyPath}
	eng, err := engine.Open(cfg, logger)
	if err != nil {
		return nil, err
	}
	r.eng = eng
	r.outage = &outage{Registry: eng.Activities.Registry}
	eng.Activities.Registry = r.outage
	r.w = eng.NewWorker(c, cfg)
	if err := r.w.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start worker: %w", err), eng.Close())
	}
	return r, nil
}

// OpenSingleWindow puts the partner agencies (agency.Agencies) on the recorder's server as a
// deployment does: agency.Setup creates their namespaces and their Nexus endpoints, whose caller
// is the recorder's namespace, and each agency's worker runs in its namespace as the worker binary
// runs it (engine.Config.Agency), its checks reading the shipped registers through lists that a
// scenario can take a producer off (Recorder.Delist). The server must deliver Nexus operations,
// through an HTTP port on its frontend. The scenarios of the single window need it; calling it
// again does nothing.
func (r *Recorder) OpenSingleWindow(ctx context.Context) error {
	if r.window != nil {
		return nil
	}
	if err := agency.Setup(ctx, r.c, r.namespace, agency.Agencies...); err != nil {
		return fmt.Errorf("single window: %w", err)
	}
	sw := &window{lists: &lists{Registry: registry.Default()}, clients: map[string]client.Client{}}
	for _, a := range agency.Agencies {
		if err := sw.run(r.c, r.namespace, a, r.logger); err != nil {
			return errors.Join(err, sw.close())
		}
	}
	r.window = sw
	return nil
}

// run runs agency a's worker in its namespace, taking requests from caller's.
func (sw *window) run(c client.Client, caller, a string, logger *zap.Logger) error {
	cfg := engine.Config{Agency: a, AgencyCallers: []string{caller}}
	eng, err := engine.Open(cfg, logger)
	if err != nil {
		return fmt.Errorf("agency %s: %w", a, err)
	}
	sw.engines = append(sw.engines, eng)
	eng.Agency.Registry = sw.lists
	ac, err := client.NewClientFromExisting(c, client.Options{Namespace: agency.Namespace(a), Logger: logging.NewSDKLogger(logger)})
	if err != nil {
		return fmt.Errorf("agency %s: client of %s: %w", a, agency.Namespace(a), err)
	}
	sw.clients[a] = ac
	w := eng.NewWorker(ac, cfg)
	if err := w.Start(); err != nil {
		return fmt.Errorf("agency %s: start worker: %w", a, err)
	}
	sw.workers = append(sw.workers, w)
	return nil
}

// close stops the agencies' workers and closes their engines and clients.
func (sw *window) close() error {
	var errs []error
	sw.stopOnce.Do(func() {
		for _, w := range sw.workers {
			w.Stop()
		}
		for _, e := range sw.engines {
			errs = append(errs, e.Close())
		}
		for _, c := range sw.clients {
			c.Close()
		}
	})
	return errors.Join(errs...)
}

// Delist takes the producer whose code is given off the list of qualified producers that the
// partner agencies' checks read, until the scenario ends: the market regulator's checks then
// find it not listed and its review awaits an officer. Customs' own checks read the list as it
// is.
func (r *Recorder) Delist(code string) error {
	if r.window == nil {
		return errors.New("no single window: the recorder runs no agencies (OpenSingleWindow)")
	}
	r.window.lists.delist(code)
	return nil
}

// Close stops the workers and closes the engines.
func (r *Recorder) Close() error {
	var errs []error
	if r.window != nil {
		errs = append(errs, r.window.close())
	}
	r.w.Stop()
	return errors.Join(append(errs, r.eng.Close())...)
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

// Runs are the histories a scenario recorded, first to last: one, or for a scenario that continues
// as new the run that continued and the run after it.
type Runs []*historypb.History

// declaration reads the scenario's example, as it lodges it.
func (r *Recorder) declaration(s Scenario) (declaration.Declaration, error) {
	raw, err := os.ReadFile(filepath.Join(r.examples, s.Example))
	if err != nil {
		return declaration.Declaration{}, err
	}
	decl, err := declaration.ParseAndValidate(raw)
	if err != nil {
		return declaration.Declaration{}, fmt.Errorf("%s: %w", s.Example, err)
	}
	if s.ID != "" {
		decl.ID = s.ID
	}
	if s.Lodge != nil {
		s.Lodge(&decl)
		if err := decl.Validate(); err != nil {
			return declaration.Declaration{}, fmt.Errorf("%s as %s lodges it: %w", s.Example, s.Name, err)
		}
	}
	return decl, nil
}

// Record runs one scenario to its end and returns its runs' histories, read back from the
// server. It refuses a run whose lane or final state is not the scenario's, or whose history does
// not replay; and a scenario that should continue as new once, where its driver floods it, and
// does not (or continues elsewhere, or carries into the next run what the scenario does not say).
func (r *Recorder) Record(ctx context.Context, s Scenario) (Runs, error) {
	if continues := s.Continued != nil; continues != (r.namespace == ContinuesNamespace) {
		return nil, fmt.Errorf("%s: recorded in namespace %s; a scenario that continues as new is recorded in %s and only such a scenario",
			s.Name, r.namespace, ContinuesNamespace)
	}
	if s.SingleWindow && r.window == nil {
		return nil, fmt.Errorf("%s: asks the partner agencies' permits, and the recorder runs no agencies (OpenSingleWindow)", s.Name)
	}
	decl, err := r.declaration(s)
	if err != nil {
		return nil, err
	}
	adjust := s.Policy
	if s.SingleWindow {
		rules, err := policy.StandardSingleWindow(agency.Agencies)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		adjust = func(p *policy.Policy) {
			if s.Policy != nil {
				s.Policy(p)
			}
			p.SingleWindow = rules
		}
	}
	if err := r.writePolicy(adjust); err != nil {
		return nil, err
	}
	defer r.outage.end()
	if r.window != nil {
		defer r.window.lists.restore()
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
	d := &Driver{c: r.c, r: r, Ref: clearance.RefOf(decl)}
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
	if s.Result != nil {
		if err := s.Result(res); err != nil {
			return nil, fmt.Errorf("%s: the result: %w", s.Name, err)
		}
	}
	runID := run.GetRunID()
	if s.Appeal || s.Continued != nil {
		runID = "" // the run the appeal reopened, or the run the clearance continued in: the last
	}
	h, err := audit.FetchHistory(ctx, r.c, run.GetID(), runID)
	if err != nil {
		return nil, err
	}
	runs := Runs{h}
	if s.Continued != nil {
		first, err := r.continued(ctx, s, run, h)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		runs = Runs{first, h}
	}
	for _, h := range runs {
		if err := audit.Replay(h, audit.Converters{}); err != nil {
			return nil, fmt.Errorf("%s: the recorded history of run %s does not replay: %w", s.Name, audit.StartOf(h).RunID, err)
		}
	}
	if missing := runs.Lacks(s.Carries); len(missing) > 0 {
		return nil, fmt.Errorf("%s: the recorded runs carry no version marker of %s", s.Name, strings.Join(missing, ", "))
	}
	if err := runs.HoldNexus(s.Nexus); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	return runs, nil
}

// Count counts the runs' events of type t.
func (rs Runs) Count(t enumspb.EventType) int {
	n := 0
	for _, h := range rs {
		for _, e := range h.GetEvents() {
			if e.GetEventType() == t {
				n++
			}
		}
	}
	return n
}

// HoldNexus returns an error unless the runs hold as many events of each type as want counts.
func (rs Runs) HoldNexus(want map[enumspb.EventType]int) error {
	var errs []error
	for _, t := range slices.Sorted(maps.Keys(want)) {
		if got := rs.Count(t); got != want[t] {
			errs = append(errs, fmt.Errorf("%d %s events, want %d", got, t, want[t]))
		}
	}
	return errors.Join(errs...)
}

// Lacks returns the changes whose version marker none of the runs holds.
func (rs Runs) Lacks(changes []string) []string {
	held := map[string]bool{}
	for _, h := range rs {
		for _, e := range h.GetEvents() {
			a := e.GetMarkerRecordedEventAttributes()
			if a.GetMarkerName() != versionMarker {
				continue
			}
			var change string
			if err := converter.GetDefaultDataConverter().FromPayloads(a.GetDetails()[versionMarkerChangeID], &change); err == nil {
				held[change] = true
			}
		}
	}
	var missing []string
	for _, c := range changes {
		if !held[c] {
			missing = append(missing, c)
		}
	}
	return missing
}

// The SDK records workflow.GetVersion as a marker of this name, the change ID among its details.
const (
	versionMarker         = "Version"
	versionMarkerChangeID = "change-id"
)

// continued returns the history of the run that continued as new into next, the last run of the
// clearance run started. It must be the clearance's first run (the run its appeal reopened, for
// an appeal), and have handed next what the scenario says.
func (r *Recorder) continued(ctx context.Context, s Scenario, run client.WorkflowRun, next *historypb.History) (*historypb.History, error) {
	start := next.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	from := start.GetContinuedExecutionRunId()
	if from == "" {
		return nil, fmt.Errorf("the clearance did not continue as new: its last run started %s", start.GetInitiator())
	}
	var in workflows.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(start.GetInput(), &in); err != nil {
		return nil, fmt.Errorf("the input of the run after the continuation: %w", err)
	}
	if err := s.Continued(in); err != nil {
		return nil, err
	}
	h, err := audit.FetchHistory(ctx, r.c, run.GetID(), from)
	if err != nil {
		return nil, err
	}
	events := h.GetEvents()
	if last := events[len(events)-1]; last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
		return nil, fmt.Errorf("run %s ended %s, not continued as new", from, last.GetEventType())
	}
	first := events[0].GetWorkflowExecutionStartedEventAttributes()
	var was workflows.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(first.GetInput(), &was); err != nil {
		return nil, fmt.Errorf("the input of run %s: %w", from, err)
	}
	switch {
	case s.Appeal && was.Reopened == nil:
		return nil, fmt.Errorf("run %s, which continued as new, is not the run the appeal reopened: it continued more than once", from)
	case !s.Appeal && (from != run.GetRunID() || was.Carried != nil):
		return nil, fmt.Errorf("run %s, which continued as new, is not the clearance's first run %s: it continued more than once", from, run.GetRunID())
	}
	return h, nil
}

// AppealHistory returns the history of the appeal against the refusal of the scenario's
// declaration, once the appeal has ended.
func (r *Recorder) AppealHistory(ctx context.Context, s Scenario) (*historypb.History, error) {
	decl, err := r.declaration(s)
	if err != nil {
		return nil, err
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

// outage is the certificate registers the checks call (registry.Registry) becoming unavailable
// and available again, as a remote register does: while it lasts, every look-up of a
// certificate, a notified body or a producer fails, and the certification check that made it is
// retried. The exporters' records, which the lane selection reads, stay available.
type outage struct {
	registry.Registry
	mu       sync.Mutex
	down     bool
	failures int
}

// begin makes the certificate registers unavailable; end makes them available again.
func (o *outage) begin() { o.set(true) }
func (o *outage) end()   { o.set(false) }

func (o *outage) set(down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down, o.failures = down, 0
}

// failed counts the look-ups that failed since the outage began.
func (o *outage) failed() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failures
}

// unavailable returns the error of a look-up made during the outage, or nil.
func (o *outage) unavailable(what, number string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down {
		return nil
	}
	o.failures++
	return fmt.Errorf("look up %s %s: the register does not answer", what, number)
}

// lookUp is a look-up of the registry, unless the outage fails it.
func lookUp[T any](o *outage, what, number string, f func() (T, bool, error)) (T, bool, error) {
	if err := o.unavailable(what, number); err != nil {
		var zero T
		return zero, false, err
	}
	return f()
}

func (o *outage) NotifiedBody(ctx context.Context, n string) (registry.NotifiedBody, bool, error) {
	return lookUp(o, "notified body", n, func() (registry.NotifiedBody, bool, error) { return o.Registry.NotifiedBody(ctx, n) })
}

func (o *outage) FDAEstablishment(ctx context.Context, n string) (registry.FDAEstablishment, bool, error) {
	return lookUp(o, "FDA establishment", n, func() (registry.FDAEstablishment, bool, error) { return o.Registry.FDAEstablishment(ctx, n) })
}

func (o *outage) Clearance510K(ctx context.Context, n string) (registry.Clearance510K, bool, error) {
	return lookUp(o, "510(k)", n, func() (registry.Clearance510K, bool, error) { return o.Registry.Clearance510K(ctx, n) })
}

func (o *outage) EUA(ctx context.Context, n string) (registry.EUA, bool, error) {
	return lookUp(o, "EUA", n, func() (registry.EUA, bool, error) { return o.Registry.EUA(ctx, n) })
}

func (o *outage) NIOSHApproval(ctx context.Context, n string) (registry.NIOSHApproval, bool, error) {
	return lookUp(o, "NIOSH approval", n, func() (registry.NIOSHApproval, bool, error) { return o.Registry.NIOSHApproval(ctx, n) })
}

func (o *outage) NMPARegistration(ctx context.Context, n string) (registry.NMPARegistration, bool, error) {
	return lookUp(o, "NMPA registration", n, func() (registry.NMPARegistration, bool, error) { return o.Registry.NMPARegistration(ctx, n) })
}

func (o *outage) QualifiedProducer(ctx context.Context, n string) (registry.QualifiedProducer, bool, error) {
	return lookUp(o, "qualified producer", n, func() (registry.QualifiedProducer, bool, error) { return o.Registry.QualifiedProducer(ctx, n) })
}

// lists are the registers the partner agencies' checks read: the shipped ones, from which a
// scenario can take one producer off the list of qualified producers while it runs.
type lists struct {
	registry.Registry
	mu       sync.Mutex
	delisted string
}

// delist takes the producer whose code is given off the list; restore puts it back.
func (l *lists) delist(code string) { l.set(code) }
func (l *lists) restore()           { l.set("") }

func (l *lists) set(code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delisted = code
}

// QualifiedProducer finds a producer by its name or code, unless it is the one taken off the list.
func (l *lists) QualifiedProducer(ctx context.Context, nameOrCode string) (registry.QualifiedProducer, bool, error) {
	p, found, err := l.Registry.QualifiedProducer(ctx, nameOrCode)
	if err != nil || !found {
		return p, found, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.delisted != "" && p.Code == l.delisted {
		return registry.QualifiedProducer{}, false, nil
	}
	return p, true, nil
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

// Files are the golden files of a scenario's runs, relative to Dir, first to last.
func (s Scenario) Files() []string {
	if s.Continued != nil {
		base := filepath.Base(ContinuedDir) + "/" + s.Name
		return []string{base + ".json", base + NextSuffix + ".json"}
	}
	return []string{s.Name + ".json"}
}

// Index is the README of the golden directory: every file and the path it covers.
func Index() string {
	var b strings.Builder
	b.WriteString("# Golden histories of ExportClearance\n\n")
	b.WriteString("Real histories of the workflow as it is now, one per path, recorded by `audit/golden` against\n")
	b.WriteString("an in-process Temporal server with the real worker and activities (and, for the single window's\n")
	b.WriteString("paths, the partner agencies' workers behind their Nexus endpoints), in the JSON form the Web UI\n")
	b.WriteString("downloads. `released/` keeps the histories of earlier releases as they were recorded. A path that\n")
	b.WriteString("continues as new is recorded in a namespace where the server suggests it after ")
	fmt.Fprintf(&b, "%d events, as two\n", ContinueAsNewAfter)
	b.WriteString("histories in `continued/`: the run that continued (`NAME.json`) and the run after it, which\n")
	b.WriteString("ends the clearance (`NAME.next.json`). Every `go test ./...` replays them all; see `docs/audit.md`\n")
	b.WriteString("to record them again. This file is written by the recorder.\n\n")
	b.WriteString("| file | example | lane | ends | path |\n|---|---|---|---|---|\n")
	for _, s := range Scenarios() {
		files := s.Files()
		for i := range files {
			files[i] = "`" + files[i] + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", strings.Join(files, ", "), s.Example, s.Lane, s.State, s.Covers)
	}
	return b.String()
}

// Driver acts on one clearance as its officers and exporter would.
type Driver struct {
	c client.Client
	r *Recorder
	// Ref names the clearance.
	Ref clearance.Ref
}

// MaxFlood bounds the notes Flood sends.
const MaxFlood = 30

// Flood has officer add notes to the clearance, text numbered 1, 2, ..., until its history is
// long enough that it continues as new (in ContinuesNamespace), and returns once its next run has
// started; it fails after MaxFlood notes.
func (d *Driver) Flood(ctx context.Context, officer, text string) error {
	first, err := d.runID(ctx)
	if err != nil {
		return err
	}
	for i := 1; i <= MaxFlood; i++ {
		_, noteErr := clearance.AddNote(ctx, d.c, d.Ref, workflows.Note{Officer: officer, Text: fmt.Sprintf(text, i)})
		run, err := d.runID(ctx)
		if err != nil {
			return err
		}
		if run != first {
			return nil
		}
		if noteErr != nil {
			return fmt.Errorf("note %d: %w", i, noteErr)
		}
	}
	return fmt.Errorf("%s did not continue as new after %d notes", d.Ref.Declaration, MaxFlood)
}

// runID returns the clearance's current run.
func (d *Driver) runID(ctx context.Context) (string, error) {
	id, err := d.Ref.WorkflowID()
	if err != nil {
		return "", err
	}
	desc, err := d.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return "", err
	}
	return desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
}

// AppealUpheld lodges the exporter's appeal against the clearance's refusal, on grounds, and has
// supervisor uphold it once it awaits a supervisor, for reason; it returns once the appeal has
// reopened the clearance.
func (d *Driver) AppealUpheld(ctx context.Context, grounds, supervisor, reason string) error {
	if _, err := clearance.Appeal(ctx, d.c, d.Ref, grounds); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := clearance.AppealStatus(ctx, d.c, d.Ref)
		if err == nil && s.Phase == appeal.PhaseAwaitingSupervisor {
			break
		}
		if err == nil && s.Result != nil {
			return fmt.Errorf("appeal ended %s: %s", s.Result.Outcome, s.Result.Reason)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for the appeal to await a supervisor (last error %v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := clearance.DecideAppeal(ctx, d.c, d.Ref, appeal.Decision{Supervisor: supervisor, Outcome: appeal.OutcomeUphold,
		Reason: reason}); err != nil {
		return err
	}
	if res, err := clearance.AwaitAppeal(ctx, d.c, d.Ref); err != nil || res.Outcome != appeal.OutcomeUphold {
		return fmt.Errorf("appeal: %+v, %v", res, err)
	}
	return nil
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

// AwaitReleaseOnReview waits until agency a's review of the clearance's first request has begun
// and the clearance's release waits on a alone.
func (d *Driver) AwaitReleaseOnReview(ctx context.Context, a string) error {
	if _, err := d.AwaitReview(ctx, a, 1); err != nil {
		return err
	}
	return d.AwaitAgencies(ctx, a)
}

// AwaitAgencies waits until the clearance's release waits on the partner agencies named.
func (d *Driver) AwaitAgencies(ctx context.Context, agencies ...string) error {
	_, err := d.Await(ctx, "the release awaiting "+strings.Join(agencies, ", "), func(s workflows.Status) bool {
		return s.State == workflows.StateAwaitingAgency && s.Waiting != nil && slices.Equal(s.Waiting.Agencies, agencies)
	})
	return err
}

// PermitRequest is the ID of the clearance's nth request of agency a's permit (from 1): the
// clearance's workflow ID, the agency and n.
func (d *Driver) PermitRequest(a string, n int) (string, error) {
	id, err := d.Ref.WorkflowID()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%s/%d", id, a, n), nil
}

// AwaitReview waits until agency a's review of the clearance's nth request awaits one of its
// officers, and returns the review's status.
func (d *Driver) AwaitReview(ctx context.Context, a string, n int) (agency.Status, error) {
	req, err := d.PermitRequest(a, n)
	if err != nil {
		return agency.Status{}, err
	}
	c, ok := d.r.window.agency(a)
	if !ok {
		return agency.Status{}, fmt.Errorf("no worker of agency %s on the recorder's server", a)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st agency.Status
		v, err := c.QueryWorkflow(ctx, agency.WorkflowID(agency.PermitRequest{RequestID: req}), "", agency.QueryStatus)
		if err == nil {
			err = v.Get(&st)
		}
		if err == nil && st.Phase == agency.PhaseAwaitingOfficer {
			return st, nil
		}
		if err == nil && st.Phase == agency.PhaseEnded {
			return st, fmt.Errorf("%s's review of %s ended (%+v) while waiting for its officer", a, req, st.Result)
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("gave up waiting for %s's review of %s to await its officer (phase %s, last error %v)", a, req, st.Phase, err)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AwaitReviewClosed waits until agency a's review of the clearance's nth request has closed with
// status want.
func (d *Driver) AwaitReviewClosed(ctx context.Context, a string, n int, want enumspb.WorkflowExecutionStatus) error {
	req, err := d.PermitRequest(a, n)
	if err != nil {
		return err
	}
	c, ok := d.r.window.agency(a)
	if !ok {
		return fmt.Errorf("no worker of agency %s on the recorder's server", a)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		desc, err := c.DescribeWorkflowExecution(ctx, agency.WorkflowID(agency.PermitRequest{RequestID: req}), "")
		got := desc.GetWorkflowExecutionInfo().GetStatus()
		if err == nil && got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for %s's review of %s to close %s (status %s, last error %v)", a, req, want, got, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DecidePermit waits until agency a's review of the clearance's nth request awaits its officer,
// then sends the officer's decision as the update "decide-permit", in the agency's namespace.
func (d *Driver) DecidePermit(ctx context.Context, a string, n int, dec agency.Decision) error {
	if _, err := d.AwaitReview(ctx, a, n); err != nil {
		return err
	}
	req, err := d.PermitRequest(a, n)
	if err != nil {
		return err
	}
	c, _ := d.r.window.agency(a)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: agency.WorkflowID(agency.PermitRequest{RequestID: req}),
		UpdateName: agency.UpdateDecide, Args: []any{dec}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return fmt.Errorf("%s's decision on %s: %w", a, req, err)
	}
	if err := h.Get(ctx, nil); err != nil {
		return fmt.Errorf("%s's decision on %s: %w", a, req, err)
	}
	return nil
}

// agency returns the client of agency a's namespace.
func (sw *window) agency(a string) (client.Client, bool) {
	if sw == nil {
		return nil, false
	}
	c, ok := sw.clients[a]
	return c, ok
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
