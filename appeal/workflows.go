package appeal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// ClearanceAppeal hears the exporter's appeal against a refused clearance and returns how it
// ended. It admits the appeal when the policy takes appeals, the clearance's latest run ended
// refused at a stage, and the appeal is lodged within the appeal window (counted on the policy's
// calendar from the refusal); then it waits for a supervisor's decision. Upheld, it reopens the
// clearance: a new run of the clearance's workflow ID, started as a child that outlives the
// appeal, takes up the refused stage with the whole record, and an officer decides it again.
func ClearanceAppeal(ctx workflow.Context, in Input) (Result, error) {
	a := &appeal{status: Status{Input: in, Phase: PhaseAdmitting, Lodged: workflow.Now(ctx)}}
	a.status.Clearance, _ = workflows.WorkflowID(in.Exporter, in.DeclarationID) // Validate names a bad one
	if err := a.setup(ctx); err != nil {
		return Result{}, err
	}
	if err := in.Validate(); err != nil {
		return a.end(ctx, Result{Outcome: OutcomeInadmissible, Reason: err.Error()})
	}
	// Asked by every appeal from its first task: appeals lodged before replay without the check
	// of their workflow ID and without claiming the refused run when admitted.
	heardOnce := workflow.GetVersion(ctx, ChangeHeardOnce, workflow.DefaultVersion, 1) >= 1
	if heardOnce {
		own, _ := WorkflowID(in.Exporter, in.DeclarationID) // Validate checked both
		if id := workflow.GetInfo(ctx).WorkflowExecution.ID; id != own {
			return a.refuse(ctx, wrongWorkflowID(id, own, in))
		}
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: []string{ErrNotAppealable}},
	})
	if err := workflow.ExecuteActivity(withSummary(actx, "Load the clearance policy and officer roster"),
		loadConfiguration).Get(ctx, &a.cfg); err != nil {
		return Result{}, fmt.Errorf("load configuration: %w", err)
	}
	if a.cfg.Policy.AppealWindow <= 0 {
		return a.end(ctx, Result{Outcome: OutcomeInadmissible, Reason: "the clearance policy takes no appeals (appealWindow)"})
	}
	err := workflow.ExecuteActivity(withSummary(actx, "Load the refused clearance "+a.status.Clearance), NameLoadRefusal,
		RefusalRequest{WorkflowID: a.status.Clearance, Exporter: in.Exporter, Appeal: workflow.GetInfo(ctx).WorkflowExecution.ID}).Get(ctx, &a.refusal)
	if _, refused := notAdmitted(err); refused {
		return a.refuse(ctx, err)
	}
	if err != nil {
		return Result{}, fmt.Errorf("load the refusal: %w", err)
	}
	a.status.Refusal = &a.refusal.Refused
	a.status.Window = a.cfg.Policy.Calendar.Due(a.refusal.Ended, a.cfg.Policy.AppealWindow.D())
	if a.status.Lodged.After(a.status.Window) {
		return a.end(ctx, Result{Outcome: OutcomeInadmissible, Reason: fmt.Sprintf(
			"the appeal window closed at %s, %s after the refusal of %s", a.status.Window.UTC().Format(time.RFC3339),
			a.cfg.Policy.AppealWindow, a.refusal.Ended.UTC().Format(time.RFC3339))})
	}
	if heardOnce {
		if err := a.admit(withSummary(actx, "Claim the refused run for this appeal")); err != nil {
			return a.refuse(ctx, err)
		}
	}
	a.enter(ctx, PhaseAwaitingSupervisor)
	workflow.GetLogger(ctx).Info("appeal admitted", "declarationID", in.DeclarationID, "stage", a.refusal.Stage,
		"refusedBy", a.refusal.Officer)
	if err := workflow.Await(ctx, func() bool { return a.status.Decision != nil }); err != nil {
		return Result{}, err
	}
	d := *a.status.Decision
	// An appeal admitted before ChangeHeardOnce, still running, claims the refused run now,
	// before its decision is carried out: another appeal may have been heard against it since.
	if !heardOnce && workflow.GetVersion(ctx, ChangeHeardOnceInFlight, workflow.DefaultVersion, 1) >= 1 {
		if err := a.admit(withSummary(actx, "Claim the refused run for this appeal before its decision")); err != nil {
			return a.refuse(ctx, err)
		}
	}
	record := workflow.GetVersion(ctx, VersionDurableHearing, workflow.DefaultVersion, 1) >= 1
	hctx := withSummary(actx, "Record the hearing of the refusal")
	if d.Outcome == OutcomeDismiss {
		if record {
			a.recordHearing(hctx, d)
		}
		return a.end(ctx, Result{Outcome: OutcomeDismiss, Reason: d.Reason, Decision: &d})
	}
	a.enter(ctx, PhaseReopening)
	runID, err := a.reopen(ctx, d)
	if err != nil {
		return Result{}, err
	}
	if record {
		// Once the clearance has reopened: a refusal stays appealable until then.
		a.recordHearing(hctx, d)
	}
	return a.end(ctx, Result{Outcome: OutcomeUphold, Reason: d.Reason, Decision: &d, ReopenedRunID: runID})
}

// VersionDurableHearing is the change that records every hearing in the hearings register before
// the appeal ends (Activities.RecordHearing): a dismissal before the exporter is told, an upheld
// appeal once the clearance has reopened. Appeals recorded before it replay without it.
const VersionDurableHearing = "durable-hearing"

// ChangeHeardOnce is the change after which a refused run is heard once, whatever arrives at the
// same moment. An appeal runs only under its declaration's workflow ID (WorkflowID), so the
// server, which refuses to start a second workflow of an ID while one runs, runs one appeal of a
// declaration at a time; an appeal under another ID is not admitted, naming the field. And the
// last step of the admission claims the refused run in the hearings register
// (Activities.AdmitAppeal), which keeps one claim per refused run: an appeal that loaded the
// refusal at the same moment as another that claimed it is refused, naming it, and one that
// finds the refusal heard is refused, naming the hearing. Asked when the appeal starts; appeals
// lodged before it replay without it.
const ChangeHeardOnce = "heard-once"

// ChangeHeardOnceInFlight is the change after which an appeal admitted before ChangeHeardOnce, and
// still awaiting a supervisor when it was released, claims the refused run once decided, before
// the decision is carried out: refused (heard by another appeal meanwhile, or held by one that
// awaits its decision), it ends not admitted and nothing reopens. Asked only by such appeals, once
// a supervisor has decided.
const ChangeHeardOnceInFlight = "heard-once-in-flight"

// admit claims the refused run for this appeal in the hearings register: it returns the
// ErrNotAppealable failure that refuses the appeal, or another error the appeal fails with. A
// worker without a register admits the appeal all the same, and says so: the server still runs
// one appeal of a declaration at a time, and LoadRefusal found no hearing.
func (a *appeal) admit(ctx workflow.Context) error {
	info := workflow.GetInfo(ctx).WorkflowExecution
	ad := Admission{RefusedRunID: a.refusal.RunID, WorkflowID: a.status.Clearance, Appeal: info.ID, AppealRunID: info.RunID,
		Admitted: workflow.Now(ctx)}
	var held Admission
	err := workflow.ExecuteActivity(ctx, NameAdmitAppeal, ad).Get(ctx, &held)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrNoHearing {
		workflow.GetLogger(ctx).Warn("the admission was not claimed in a register", "declarationID", a.status.DeclarationID, "error", err)
		return nil
	}
	if _, refused := notAdmitted(err); refused || err == nil {
		return err
	}
	return fmt.Errorf("claim the refused run %s: %w", ad.RefusedRunID, err)
}

// refuse ends the appeal not admitted, for the reason an ErrNotAppealable failure gives; any
// other error fails the appeal.
func (a *appeal) refuse(ctx workflow.Context, err error) (Result, error) {
	reason, refused := notAdmitted(err)
	if !refused {
		return Result{}, err
	}
	return a.end(ctx, Result{Outcome: OutcomeInadmissible, Reason: reason})
}

// recordHearing records that the appeal was heard against the refused run. The register being
// away is retried until it answers; a worker without one is logged, and the decision is carried
// out all the same: the next appeal then finds this one through visibility.
func (a *appeal) recordHearing(ctx workflow.Context, d DecisionRecord) {
	info := workflow.GetInfo(ctx).WorkflowExecution
	h := Hearing{RefusedRunID: a.refusal.RunID, WorkflowID: a.status.Clearance, Appeal: info.ID, AppealRunID: info.RunID,
		Outcome: d.Outcome, Supervisor: d.Supervisor, Decided: d.At, Reason: d.Reason}
	var stored Hearing
	if err := workflow.ExecuteActivity(ctx, NameRecordHearing, h).Get(ctx, &stored); err != nil {
		workflow.GetLogger(ctx).Warn("the hearing was not recorded", "declarationID", a.status.DeclarationID, "error", err)
		return
	}
	if stored.AppealRunID != h.AppealRunID {
		workflow.GetLogger(ctx).Warn("the register holds an earlier hearing of the refusal", "declarationID", a.status.DeclarationID,
			"appealRunID", stored.AppealRunID, "outcome", stored.Outcome, "supervisor", stored.Supervisor)
	}
}

// appeal is the appeal workflow's state.
type appeal struct {
	status  Status
	cfg     activities.Configuration
	refusal Refusal
}

func withSummary(ctx workflow.Context, summary string) workflow.Context {
	o := workflow.GetActivityOptions(ctx)
	o.Summary = summary
	return workflow.WithActivityOptions(ctx, o)
}

func (a *appeal) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (Status, error) { return a.status, nil },
		workflow.QueryHandlerOptions{Description: "The appeal: the refusal appealed, the grounds, the window, and the supervisor's decision."},
	); err != nil {
		return fmt.Errorf("register query %s: %w", QueryStatus, err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide,
		func(ctx workflow.Context, raw json.RawMessage) (DecisionRecord, error) {
			caller, _ := workflows.Caller(ctx) // the validator refused an unreadable one
			var d Decision
			_ = json.Unmarshal(raw, &d) // validated before it was accepted
			if caller != nil && d.Supervisor == "" {
				d.Supervisor = caller.Subject
			}
			a.status.Decision = &DecisionRecord{Decision: d, At: workflow.Now(ctx), Verified: caller != nil}
			workflow.GetLogger(ctx).Info("appeal decided", "declarationID", a.status.DeclarationID,
				"supervisor", d.Supervisor, "outcome", d.Outcome)
			return *a.status.Decision, nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, raw json.RawMessage) error {
				caller, err := workflows.Caller(ctx)
				if err != nil {
					return workflows.Refusal(err)
				}
				return workflows.Refusal(a.validate(raw, caller))
			},
			Description: `{"supervisor":"sup-huang","outcome":"uphold","reason":"..."} A supervisor who did not take the ` +
				`refusal decides the appeal: upheld, the clearance reopens at the refused stage and an officer decides it again; ` +
				`"dismiss" leaves the refusal standing. The exporter is told the reason.`,
		}); err != nil {
		return fmt.Errorf("register update %s: %w", UpdateDecide, err)
	}
	return nil
}

// validate is the validator of the update "decide-appeal".
func (a *appeal) validate(raw json.RawMessage, caller *workflows.Principal) error {
	if len(raw) > workflows.MaxPayloadBytes {
		return fmt.Errorf("appeal decision: %d bytes is larger than the %d a request may carry", len(raw), workflows.MaxPayloadBytes)
	}
	var d Decision
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("malformed appeal decision: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("malformed appeal decision: data after the JSON object")
	}
	if caller != nil && d.Supervisor == "" {
		d.Supervisor = caller.Subject
	}
	if caller != nil && d.Supervisor != caller.Subject {
		return fmt.Errorf("supervisor: %q is not the caller: you are signed in as %q, and a supervisor decides only as themself",
			clip(d.Supervisor), caller.Subject)
	}
	if a.status.Phase != PhaseAwaitingSupervisor || a.status.Decision != nil {
		return fmt.Errorf("the appeal is not awaiting a supervisor's decision (it is %s)", a.status.Phase)
	}
	if d.Supervisor == "" {
		return fmt.Errorf("supervisor: missing")
	}
	o, ok := a.cfg.Roster.Find(d.Supervisor)
	if !ok {
		return fmt.Errorf("supervisor: %q is not on the roster", clip(d.Supervisor))
	}
	if !o.Has(policy.RoleSupervisor) {
		return fmt.Errorf("supervisor: %q is not a supervisor; only a supervisor decides an appeal", d.Supervisor)
	}
	if d.Supervisor == a.refusal.Officer {
		return fmt.Errorf("supervisor: %s took the refusal at %s and may not decide its appeal; another supervisor does",
			d.Supervisor, a.refusal.Stage)
	}
	if d.Outcome != OutcomeUphold && d.Outcome != OutcomeDismiss {
		return fmt.Errorf("outcome: %q is not uphold or dismiss", clip(d.Outcome))
	}
	if strings.TrimSpace(d.Reason) == "" {
		return fmt.Errorf("reason: required to %s an appeal; the exporter is told it", d.Outcome)
	}
	if why := declaration.TextProblem(d.Reason, MaxReasonBytes, true); why != "" {
		return fmt.Errorf("reason: %s", why)
	}
	return nil
}

// clip cuts s to 200 bytes at most, at a character boundary, for a refusal or the current details.
func clip(s string) string { return declaration.Clip(s, 200) }

// enter moves the appeal to phase p and tells the Web UI where it stands.
func (a *appeal) enter(ctx workflow.Context, p string) {
	a.status.Phase = p
	workflow.SetCurrentDetails(ctx, a.details())
}

func (a *appeal) details() string {
	s := a.status
	switch s.Phase {
	case PhaseAwaitingSupervisor:
		who := "by rule"
		if s.Refusal.Officer != "" {
			who = "by " + s.Refusal.Officer + ", who may not decide this appeal"
		}
		return fmt.Sprintf("Appeal of exporter %s against the refusal of %s at **%s** (%s): %s. Grounds: %s. "+
			"Awaiting a supervisor's decision (%s).", s.Exporter, s.DeclarationID, s.Refusal.Stage, who,
			declaration.Printable(clip(s.Refusal.Reason)), declaration.Printable(clip(s.Grounds)), UpdateDecide)
	case PhaseReopening:
		return fmt.Sprintf("Appeal upheld by %s: reopening clearance %s at %s.", s.Decision.Supervisor, s.Clearance, s.Refusal.Stage)
	}
	return ""
}

// reopen starts the clearance's new run at the refused stage and returns its run ID.
func (a *appeal) reopen(ctx workflow.Context, d DecisionRecord) (string, error) {
	st := a.refusal.Status
	rec := workflows.AppealRecord{
		Appeal: workflow.GetInfo(ctx).WorkflowExecution.ID, Stage: a.refusal.Stage, Refusal: a.refusal.Reason,
		RefusedBy: a.refusal.Officer, Lodged: a.status.Lodged, Grounds: a.status.Grounds,
		Supervisor: d.Supervisor, Decided: d.At, Reason: d.Reason, RefusedRunID: a.refusal.RunID, FirstRunID: a.refusal.FirstRunID,
	}
	decl := a.refusal.Declaration
	sa := append(workflows.DeclarationAttributes(decl), workflows.StatusKey.ValueSet(string(workflows.StateChecking)),
		workflows.SlaBreachedKey.ValueSet(st.SlaBreached))
	if st.Registration != nil {
		sa = append(sa, workflows.RegistrationKey.ValueSet(st.Registration.Number))
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            a.status.Clearance,
		TaskQueue:             workflows.TaskQueue,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(sa...),
		StaticSummary:         fmt.Sprintf("Clearance of %s reopened on appeal at %s", decl.ID, a.refusal.Stage),
		// The reopened run's tasks keep the clearance's place in the queue: the queue priority
		// its lane selection gave, under the policy it runs with.
		Priority: workflows.TaskPriority(a.cfg.Policy, st.LaneSelection.Priority, decl.Exporter.Code),
	})
	child := workflow.ExecuteChildWorkflow(cctx, workflows.WorkflowName, workflows.ReopenInput(decl, st, a.cfg, rec))
	var started workflow.Execution
	if err := child.GetChildWorkflowExecution().Get(ctx, &started); err != nil {
		return "", fmt.Errorf("reopen the clearance %s: %w", a.status.Clearance, err)
	}
	workflow.GetLogger(ctx).Info("clearance reopened on appeal", "declarationID", decl.ID, "runID", started.RunID)
	return started.RunID, nil
}

// end tells the exporter how the appeal ended and returns r.
func (a *appeal) end(ctx workflow.Context, r Result) (Result, error) {
	a.status.Phase = PhaseEnded
	msg := fmt.Sprintf("Appeal against the refusal of declaration %s ", a.status.DeclarationID)
	switch r.Outcome {
	case OutcomeUphold:
		msg += fmt.Sprintf("upheld by %s: the clearance is reopened at %s: %s", r.Decision.Supervisor, a.refusal.Stage, r.Reason)
	case OutcomeDismiss:
		msg += fmt.Sprintf("dismissed by %s: the refusal stands: %s", r.Decision.Supervisor, r.Reason)
	default:
		msg += "not admitted: " + r.Reason
	}
	workflow.SetCurrentDetails(ctx, msg)
	nctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second, ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
		Summary:     "Notify the exporter: " + string(activities.NotifyAppeal),
	})
	if err := workflow.ExecuteActivity(nctx, activities.NameNotifyExporter, activities.Notification{
		DeclarationID: a.status.DeclarationID, ExporterCode: a.status.Exporter, Kind: activities.NotifyAppeal, Message: msg,
	}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("exporter notification failed", "declarationID", a.status.DeclarationID, "error", err)
	}
	if a.status.Refusal != nil {
		r.RefusedRunID = a.status.Refusal.RunID
	}
	a.status.Result = &r
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return Result{}, err
	}
	return r, nil
}
