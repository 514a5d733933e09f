package agency

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nexus-rpc/sdk-go/nexus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/temporalnexus"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// NewService returns the agency's Nexus service, ServiceName, with its operation OperationReview.
// Callers, when given, are the namespaces whose workflows may ask: the server names the calling
// workflow's namespace in the link it sends with every start, and a start from another namespace
// is refused (UNAUTHORIZED), as is a request the agency's worker does not serve.
func NewService(agency string, callers ...string) *nexus.Service {
	s := nexus.NewService(ServiceName)
	s.MustRegister(newReviewOperation(agency, callers))
	return s
}

// reviewOperation is OperationReview: a workflow-backed operation that starts AgencyReview under
// WorkflowID(req) in the handler's namespace on TaskQueue, or attaches to the review of the
// same request that runs (WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING: a customs worker's retry,
// or the clearance asking again after it continued as new, meets the same review and gets its
// disposition). A review that already ended with a disposition is not started again
// (WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY): its disposition is the answer, at
// once. One that ended cancelled or failed is started anew.
type reviewOperation struct {
	nexus.UnimplementedOperation[PermitRequest, PermitResult]
	agency  string
	callers []string
	run     nexus.Operation[PermitRequest, PermitResult]
}

func newReviewOperation(agency string, callers []string) *reviewOperation {
	o := &reviewOperation{agency: agency, callers: callers}
	o.run = temporalnexus.NewWorkflowRunOperation(OperationReview, AgencyReview, o.startOptions)
	return o
}

func (o *reviewOperation) Name() string { return OperationReview }

// startOptions are the review's start options, for a request Start admitted.
func (o *reviewOperation) startOptions(_ context.Context, req PermitRequest, _ nexus.StartOperationOptions) (client.StartWorkflowOptions, error) {
	p, _ := ProfileOf(req.Agency)
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(req),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		TypedSearchAttributes:    temporal.NewSearchAttributes(append(RequestAttributes(req), StatusKey.ValueSet(string(PhaseChecking)))...),
		StaticSummary: fmt.Sprintf("%s permit for declaration %s of exporter %s, lines %s", req.Agency, req.Declaration.ID,
			req.Declaration.Exporter.Code, strings.Join(req.Lines, ", ")),
		StaticDetails: fmt.Sprintf("Customs' clearance %s asks %s (%s) for its permit: %s", req.ClearanceID, p.Name, p.Checks,
			clip(req.Reason)),
	}, nil
}

// admit says why the agency does not take the request, as a Nexus handler error, or returns nil.
func (o *reviewOperation) admit(req PermitRequest, opts nexus.StartOperationOptions) error {
	if len(o.callers) > 0 {
		ns := callerNamespace(opts.Links)
		if !slices.Contains(o.callers, ns) {
			if ns == "" {
				ns = "no namespace"
			}
			return nexus.NewHandlerErrorf(nexus.HandlerErrorTypeUnauthorized,
				"the single window of %s takes requests from namespace %s only, not from %s", o.agency, strings.Join(o.callers, ", "), ns)
		}
	}
	if err := req.Validate(); err != nil {
		return nexus.NewHandlerErrorf(nexus.HandlerErrorTypeBadRequest, "permit request: %s", err)
	}
	if req.Agency != o.agency {
		return nexus.NewHandlerErrorf(nexus.HandlerErrorTypeBadRequest, "permit request: agency: %s's request reached %s's single window",
			req.Agency, o.agency)
	}
	return nil
}

// callerNamespace returns the namespace of the calling workflow the links name, "" when none does.
func callerNamespace(links []nexus.Link) string {
	for _, l := range links {
		if ev, err := temporalnexus.ConvertNexusLinkToLinkWorkflowEvent(l); err == nil && ev.GetNamespace() != "" {
			return ev.GetNamespace()
		}
	}
	return ""
}

// Start admits the request, then starts the review, attaches to the running one, or answers with
// the disposition of the one that ended. The review keeps no link to the calling workflow's
// event: the agency's callers may not read customs' namespace, and the Web UI, which follows
// such a link to read the caller's history, would send the agency's officer back to its sign-in
// page on the refusal. The callback that brings customs the disposition stays; customs' side
// keeps its link to the review, and the review's details name the clearance.
func (o *reviewOperation) Start(ctx context.Context, req PermitRequest, opts nexus.StartOperationOptions) (nexus.HandlerStartOperationResult[PermitResult], error) {
	if err := o.admit(req, opts); err != nil {
		return nil, err
	}
	opts.Links = nil
	res, err := o.run.Start(ctx, req, opts)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		return res, err
	}
	var done PermitResult
	if err := temporalnexus.GetClient(ctx).GetWorkflow(ctx, WorkflowID(req), started.RunId).Get(ctx, &done); err != nil {
		return nil, fmt.Errorf("read the disposition of review %s: %w", WorkflowID(req), err)
	}
	temporalnexus.GetLogger(ctx).Info("permit request asked again after its review ended: its disposition answers",
		"agency", req.Agency, "request", req.RequestID, "disposition", done.Disposition)
	return &nexus.HandlerStartOperationResultSync[PermitResult]{Value: done}, nil
}

// Cancel cancels the review: customs withdrew the request. A review that has ended already has
// nothing to cancel; its disposition is on its way to customs.
func (o *reviewOperation) Cancel(ctx context.Context, token string, opts nexus.CancelOperationOptions) error {
	err := o.run.Cancel(ctx, token, opts)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	return err
}

// Register registers the review workflow, the agency's activities and its Nexus service (taking
// requests from the callers' namespaces; any, when none is given) on w.
func Register(w worker.Registry, acts *Activities, callers ...string) {
	w.RegisterWorkflowWithOptions(AgencyReview, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivity(acts)
	w.RegisterNexusService(NewService(acts.Agency, callers...))
}

// NewWorker returns the agency's worker on TaskQueue, not started: c must be a client of the
// agency's namespace (Namespace(acts.Agency)), dialled with the data converter customs uses, since
// the request's payload comes from customs. Callers are the namespaces that may ask (customs').
func NewWorker(c client.Client, acts *Activities, callers []string, opts worker.Options) worker.Worker {
	w := worker.New(c, TaskQueue, opts)
	Register(w, acts, callers...)
	return w
}

// CancellationType is how customs' clearance asks an agency to stop: when the clearance is
// withdrawn it cancels the operation and waits until the agency has the request to cancel
// (WaitRequested); the review then ends cancelled in the agency's namespace. A clearance that
// continues as new does not cancel: the running review stays, and the next run, asking again
// with the same request ID, attaches to it.
const CancellationType = workflow.NexusOperationCancellationTypeWaitRequested

// OperationOptions are the options of customs' call of OperationReview for req.
func OperationOptions(req PermitRequest) workflow.NexusOperationOptions {
	return workflow.NexusOperationOptions{
		CancellationType: CancellationType,
		Summary:          fmt.Sprintf("Ask %s for its permit (lines %s)", req.Agency, strings.Join(req.Lines, ", ")),
	}
}
