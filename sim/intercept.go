package sim

import (
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// SignalAwaiting is the signal a clearance's interceptor sends the simulation when the clearance
// starts to wait for an officer.
const SignalAwaiting = "sim-awaiting-officer"

// Awaiting tells the simulation that a clearance waits for an officer's decision.
type Awaiting struct {
	WorkflowID string       `json:"workflowId"`
	Stage      policy.Stage `json:"stage"`
	// Expedited says whether the clearance runs under the expedited procedure; Due is when the
	// stage's allowance ends.
	Expedited bool      `json:"expedited"`
	Due       time.Time `json:"due"`
	// Errors lists the codes of the error findings of the stage's latest automated checks.
	Errors []string `json:"errors,omitempty"`
}

// watcher is the worker interceptor that lets the simulation watch clearances from the outside,
// as an officer watches the queue in the Web UI: it leaves the workflow's code untouched and
// looks only at what the workflow tells the world (its search attributes and its activities'
// results).
type watcher struct {
	interceptor.WorkerInterceptorBase
	s *simulation
}

func (w *watcher) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != workflows.WorkflowName {
		return next
	}
	return &inbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, s: w.s}
}

type inbound struct {
	interceptor.WorkflowInboundInterceptorBase
	s *simulation
}

func (i *inbound) Init(next interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&outbound{
		WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: next},
		s:                               i.s,
		errors:                          map[policy.Stage][]string{},
	})
}

// outbound follows one clearance: the stage it is in (from its checks and ClearanceStage), what its checks
// found, and when it starts to wait (from ClearanceStatus).
type outbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	s            *simulation
	stage        policy.Stage
	stageStarted time.Time
	expedited    bool
	errors       map[policy.Stage][]string
}

func (o *outbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	f := o.Next.ExecuteActivity(ctx, activityType, args...)
	stage, ok := activities.CheckStage(activityType)
	if !ok {
		return f
	}
	// A stage's checks run as it begins, before its stage is in the search attributes.
	o.enter(ctx, stage)
	return &checkFuture{Future: f, o: o, stage: stage}
}

// enter notes the stage the clearance is in, and when it began if it is a new one.
func (o *outbound) enter(ctx workflow.Context, stage policy.Stage) {
	if stage != o.stage {
		o.stage, o.stageStarted = stage, workflow.Now(ctx)
	}
}

// checkFuture notes the error findings of a check when the workflow reads its result.
type checkFuture struct {
	workflow.Future
	o     *outbound
	stage policy.Stage
}

func (f *checkFuture) Get(ctx workflow.Context, valuePtr any) error {
	err := f.Future.Get(ctx, valuePtr)
	if res, ok := valuePtr.(*activities.CheckResult); ok && err == nil {
		var codes []string
		for _, x := range res.Findings {
			if x.Severity == activities.SeverityError {
				codes = append(codes, x.Code)
			}
		}
		f.o.errors[f.stage] = codes
	}
	return err
}

// UpsertMemo keeps the clearance's latest study memo as the report would read it, for the
// simulation's cross-check of its time by party against the result's.
func (o *outbound) UpsertMemo(ctx workflow.Context, memo map[string]any) error {
	if err := o.Next.UpsertMemo(ctx, memo); err != nil {
		return err
	}
	if st, ok := memo[workflows.MemoStudy].(workflows.Study); ok {
		o.s.studied[workflow.GetInfo(ctx).WorkflowExecution.ID] = studied{other: st.OtherAgency.D(), agencies: st.AgencyTime}
	}
	return nil
}

func (o *outbound) UpsertTypedSearchAttributes(ctx workflow.Context, attrs ...temporal.SearchAttributeUpdate) error {
	if err := o.Next.UpsertTypedSearchAttributes(ctx, attrs...); err != nil {
		return err
	}
	sa := temporal.NewSearchAttributes(attrs...)
	if stage, ok := sa.GetKeyword(workflows.StageKey); ok {
		o.enter(ctx, policy.Stage(stage))
	}
	if exp, ok := sa.GetBool(workflows.ExpeditedKey); ok {
		o.expedited = exp
	}
	status, ok := sa.GetKeyword(workflows.StatusKey)
	if !ok {
		return nil
	}
	info := workflow.GetInfo(ctx)
	switch workflows.State(status) {
	case workflows.StateAwaitingOfficer:
		parent := info.ParentWorkflowExecution
		if parent == nil {
			return nil // a clearance started outside a simulation
		}
		// The workflow computes the stage's due time the same way, from the same policy.
		p := o.s.cfg.Policy
		a := Awaiting{WorkflowID: info.WorkflowExecution.ID, Stage: o.stage, Expedited: o.expedited,
			Due:    p.Calendar.Due(o.stageStarted, p.AllowancesFor(o.expedited).For(o.stage)),
			Errors: o.errors[o.stage]}
		return workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalAwaiting, a).Get(ctx, nil)
	case workflows.StateAwaitingExporter:
		o.s.exporterAwaited(info.WorkflowExecution.ID)
	}
	return nil
}
