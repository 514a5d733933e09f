package appeal

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// Activities are the appeal's activities: they read the appealed clearance from the server, and
// keep the hearings in the register.
type Activities struct {
	// Client reaches the Temporal server the clearances run on.
	Client client.Client
	// Hearings is the register of refusals heard on appeal.
	Hearings HearingRegister
}

// ErrNoHearing is the failure type of RecordHearing when it cannot record the hearing: retrying
// would not help.
const ErrNoHearing = "NoHearing"

// Registered names of the appeal's activities.
const (
	NameLoadRefusal   = "LoadRefusal"
	NameAdmitAppeal   = "AdmitAppeal"
	NameRecordHearing = "RecordHearing"
)

// RefusalRequest asks for the refusal an appeal is against.
type RefusalRequest struct {
	// WorkflowID is the clearance's.
	WorkflowID string `json:"workflowId"`
	Exporter   string `json:"exporter"`
	// Appeal is the appeal's own workflow ID: a refusal an earlier appeal under it was heard
	// against is not heard again.
	Appeal string `json:"appeal,omitempty"`
}

// Refusal is the refused clearance as the appeal needs it: what was refused, by whom, and the
// record and declaration a reopened run takes up.
type Refusal struct {
	Refused
	// Ended is when the clearance ended refused; the appeal window counts from it.
	Ended       time.Time               `json:"ended"`
	FirstRunID  string                  `json:"firstRunId"`
	Declaration declaration.Declaration `json:"declaration"`
	Status      workflows.Status        `json:"status"`
}

// LoadRefusal reads the latest run of the clearance: it must have ended refused, at a stage, and
// be the exporter's. A clearance that cannot be appealed fails with the non-retryable
// ErrNotAppealable, saying why; the server being away is retried.
func (a *Activities) LoadRefusal(ctx context.Context, r RefusalRequest) (Refusal, error) {
	desc, err := a.Client.DescribeWorkflowExecution(ctx, r.WorkflowID, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return Refusal{}, notAppealable("no clearance %s: nothing to appeal", r.WorkflowID)
	}
	if err != nil {
		return Refusal{}, fmt.Errorf("describe %s: %w", r.WorkflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID := info.GetExecution().GetRunId()
	switch st := info.GetStatus(); st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return Refusal{}, notAppealable("the clearance %s is still running: only a refusal is appealed", r.WorkflowID)
	default:
		return Refusal{}, notAppealable("the clearance %s ended %s, not refused", r.WorkflowID, st)
	}
	var res workflows.Result
	if err := a.Client.GetWorkflow(ctx, r.WorkflowID, runID).Get(ctx, &res); err != nil {
		return Refusal{}, fmt.Errorf("result of %s: %w", r.WorkflowID, err)
	}
	if res.State != workflows.StateRefused {
		return Refusal{}, notAppealable("the clearance %s ended %s, not refused: only a refusal is appealed", r.WorkflowID, res.State)
	}
	var status workflows.Status
	if err := query(ctx, a.Client, r.WorkflowID, runID, workflows.QueryStatus, &status); err != nil {
		return Refusal{}, err
	}
	if status.Exporter != r.Exporter {
		return Refusal{}, notAppealable("the clearance %s is not exporter %s's", r.WorkflowID, r.Exporter)
	}
	var decl declaration.Declaration
	if err := query(ctx, a.Client, r.WorkflowID, runID, workflows.QueryDeclaration, &decl); err != nil {
		return Refusal{}, err
	}
	out := Refusal{Ended: res.Ended, FirstRunID: info.GetFirstRunId(), Declaration: decl, Status: status,
		Refused: Refused{Stage: res.Stage, Reason: res.Reason, At: res.Ended, RunID: runID}}
	if out.FirstRunID == "" {
		out.FirstRunID = runID
	}
	for i := len(res.Decisions) - 1; i >= 0; i-- {
		if d := res.Decisions[i]; d.Outcome == workflows.OutcomeReject {
			out.At = d.At
			if d.Via != workflows.ViaAutomatic {
				out.Officer = d.Officer
			}
			break
		}
	}
	if err := lodgedRefusal(r.WorkflowID, res); err != nil {
		return Refusal{}, err
	}
	if err := appealsExhausted(r.WorkflowID, res); err != nil {
		return Refusal{}, err
	}
	if len(status.Timeline) == 0 || res.Stage == "" {
		return Refusal{}, notAppealable("the clearance %s was refused before any stage began: lodge a corrected declaration", r.WorkflowID)
	}
	if err := a.heardBefore(ctx, r.Appeal, runID); err != nil {
		return Refusal{}, err
	}
	return out, nil
}

// lodgedRefusal returns the ErrNotAppealable failure of a clearance that refused its declaration
// as lodged: a duplicate the declarations register holds for another clearance, or a declaration
// that does not validate. That is not a matter for appeal (a reopened run would clear a
// declaration the register refuses); a corrected declaration is lodged under a new ID. A result of
// a release before it said so (workflows.Result.RefusedAsLodged) is known by its one stage, ended
// refused by rule with no check run.
func lodgedRefusal(id string, res workflows.Result) error {
	asLodged := res.RefusedAsLodged
	if !asLodged && len(res.Timeline) == 1 && res.Timeline[0].CheckRuns == 0 && res.Timeline[0].Outcome == workflows.OutcomeRefused {
		last := len(res.Decisions) - 1
		asLodged = last >= 0 && res.Decisions[last].Via == workflows.ViaAutomatic
	}
	if !asLodged {
		return nil
	}
	return notAppealable("the clearance %s refused the declaration as lodged (%s): that is not a matter for appeal; lodge a corrected declaration under a new ID",
		id, clip(res.Reason))
}

// MaxAppeals bounds the upheld appeals one clearance carries: a clearance reopened that often and
// refused again is not reopened by customs once more; the exporter's remedy is the court (the
// Revised Kyoto Convention's appeal to an independent authority), and the record a clearance
// carries from run to run stays bounded.
const MaxAppeals = 3

// appealsExhausted returns the ErrNotAppealable failure of a clearance reopened on appeal
// MaxAppeals times already.
func appealsExhausted(id string, res workflows.Result) error {
	if len(res.Appeals) < MaxAppeals {
		return nil
	}
	return notAppealable("the clearance %s was reopened on appeal %d times, the most customs hears for one declaration: "+
		"its refusal is appealed to the court, not to customs again", id, len(res.Appeals))
}

// RecordHearing records in the register that an appeal was heard against a refused run, before
// the appeal ends: the next appeal of that refusal finds it, however soon it is lodged. It
// returns the hearing the register holds, the first one recorded for the run.
func (a *Activities) RecordHearing(ctx context.Context, h Hearing) (Hearing, error) {
	if a.Hearings == nil {
		return Hearing{}, temporal.NewNonRetryableApplicationError("this worker keeps no hearings register", ErrNoHearing, nil)
	}
	if h.RefusedRunID == "" || h.Outcome == "" {
		return Hearing{}, temporal.NewNonRetryableApplicationError("a hearing names the refused run and the outcome", ErrNoHearing, nil)
	}
	return a.Hearings.Hear(ctx, h)
}

// AdmitAppeal claims the refused run for the appeal in the hearings register, as the last step of
// the appeal's admission, and returns the admission the register holds: its own, also when
// retried. The register keeps one claim per refused run, so of two appeals that loaded the
// refusal at the same moment one claims it and the other is refused (ErrNotAppealable), naming
// the one that holds it; a refusal an appeal was heard against is refused, naming the hearing,
// whoever claimed it. A claim held by an appeal that ended unheard (terminated, or not admitted
// after it claimed) is taken over, atomically: of two appeals taking it over at once, one does.
func (a *Activities) AdmitAppeal(ctx context.Context, ad Admission) (Admission, error) {
	if a.Hearings == nil {
		return Admission{}, temporal.NewNonRetryableApplicationError("this worker keeps no hearings register", ErrNoHearing, nil)
	}
	if ad.RefusedRunID == "" || ad.AppealRunID == "" {
		return Admission{}, temporal.NewNonRetryableApplicationError("an admission names the refused run and the appeal's run", ErrNoHearing, nil)
	}
	stale := ""
	for range maxTakeovers {
		held, err := a.Hearings.Admit(ctx, ad, stale)
		if err != nil {
			return Admission{}, err
		}
		// Asked after the claim, so that a hearing recorded while the claim changed hands, or
		// by an appeal admitted before admissions were claimed, is found.
		h, found, err := a.Hearings.Heard(ctx, ad.RefusedRunID)
		if err != nil {
			return Admission{}, err
		}
		if found && h.AppealRunID != ad.AppealRunID {
			return Admission{}, appealedAlready(h)
		}
		if held.AppealRunID == ad.AppealRunID {
			return held, nil
		}
		running, err := a.appealRunning(ctx, held)
		if err != nil {
			return Admission{}, err
		}
		if running {
			return Admission{}, notAppealable("the refusal of run %s is under appeal already: appeal %s (run %s) was admitted at %s "+
				"and awaits its decision; a refusal is heard once", held.RefusedRunID, held.Appeal, held.AppealRunID,
				held.Admitted.UTC().Format(time.RFC3339))
		}
		stale = held.AppealRunID
	}
	return Admission{}, fmt.Errorf("the claim on run %s changed hands %d times while this appeal was admitted", ad.RefusedRunID, maxTakeovers)
}

// maxTakeovers bounds the claims one attempt of AdmitAppeal takes over from appeals that ended
// unheard; the activity's retry tries again.
const maxTakeovers = 3

// appealRunning reports whether the appeal run holding a claim still runs. One the server no
// longer keeps ended long ago.
func (a *Activities) appealRunning(ctx context.Context, held Admission) (bool, error) {
	desc, err := a.Client.DescribeWorkflowExecution(ctx, held.Appeal, held.AppealRunID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("describe the appeal %s (run %s): %w", held.Appeal, held.AppealRunID, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// heardBefore refuses a refusal that an appeal was heard against (upheld or dismissed); an appeal
// that was not admitted does not count. It reads the hearings register, which every appeal heard
// since the register kept hearings is in before it ends. Appeals heard before that are read from
// visibility, under the same appeal workflow ID.
func (a *Activities) heardBefore(ctx context.Context, appealID, refusedRunID string) error {
	if a.Hearings != nil {
		h, found, err := a.Hearings.Heard(ctx, refusedRunID)
		if err != nil {
			return err
		}
		if found {
			return appealedAlready(h)
		}
	}
	return a.heardBeforeListed(ctx, appealID, refusedRunID)
}

// heardBeforeListed finds a hearing of the refused run among the ended appeals under appealID
// that visibility lists.
func (a *Activities) heardBeforeListed(ctx context.Context, appealID, refusedRunID string) error {
	if appealID == "" {
		return nil
	}
	var token []byte
	for {
		resp, err := a.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus = 'Completed'", appealID),
			NextPageToken: token,
		})
		if err != nil {
			return fmt.Errorf("list earlier appeals %s: %w", appealID, err)
		}
		for _, e := range resp.GetExecutions() {
			var res Result
			if err := a.Client.GetWorkflow(ctx, appealID, e.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
				return fmt.Errorf("result of the earlier appeal %s: %w", appealID, err)
			}
			if res.RefusedRunID == refusedRunID && (res.Outcome == OutcomeUphold || res.Outcome == OutcomeDismiss) {
				return appealedAlready(Hearing{RefusedRunID: refusedRunID, Appeal: appealID, AppealRunID: e.GetExecution().GetRunId(),
					Outcome: res.Outcome, Supervisor: res.Decision.Supervisor, Decided: res.Decision.At, Reason: res.Reason})
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

// appealedAlready refuses an appeal against a refusal that was heard, naming the hearing: the
// decision, and the appeal and refused run when known.
func appealedAlready(h Hearing) error {
	msg := fmt.Sprintf("the refusal was appealed already: the appeal was %s by %s at %s (%s)", outcomeWord(h.Outcome),
		h.Supervisor, h.Decided.UTC().Format(time.RFC3339), h.Reason)
	if h.Appeal != "" {
		msg += fmt.Sprintf("; appeal %s (run %s) heard the refusal of run %s, and a refusal is heard once", h.Appeal, h.AppealRunID,
			h.RefusedRunID)
	}
	return notAppealable("%s", msg)
}

func outcomeWord(outcome string) string {
	if outcome == OutcomeUphold {
		return "upheld"
	}
	return "dismissed"
}

func query(ctx context.Context, c client.Client, id, runID, name string, out any) error {
	v, err := c.QueryWorkflow(ctx, id, runID, name)
	if err != nil {
		return fmt.Errorf("query %s of %s: %w", name, id, err)
	}
	if err := v.Get(out); err != nil {
		return fmt.Errorf("read %s of %s: %w", name, id, err)
	}
	return nil
}

// loadConfiguration names the clearance activity that loads the policy and roster.
const loadConfiguration = activities.NameLoadConfiguration
