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
	if len(status.Timeline) == 0 || res.Stage == "" {
		return Refusal{}, notAppealable("the clearance %s was refused before any stage began: lodge a corrected declaration", r.WorkflowID)
	}
	if err := a.heardBefore(ctx, r.Appeal, runID); err != nil {
		return Refusal{}, err
	}
	return out, nil
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
			return appealedAlready(h.Outcome, h.Supervisor, h.Decided, h.Reason)
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
				return appealedAlready(res.Outcome, res.Decision.Supervisor, res.Decision.At, res.Reason)
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

// appealedAlready refuses an appeal against a refusal that was heard, naming the hearing.
func appealedAlready(outcome, supervisor string, decided time.Time, reason string) error {
	return notAppealable("the refusal was appealed already: the appeal was %s by %s at %s (%s)", outcomeWord(outcome),
		supervisor, decided.UTC().Format(time.RFC3339), reason)
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
