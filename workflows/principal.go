package workflows

import (
	"fmt"
	"slices"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// HeaderPrincipal names the request header in which the Temporal frontend writes the verified
// caller of a start, signal, update or query, taken from the caller's signed token (package
// auth). A client cannot set it: the frontend replaces whatever a request carries under this
// name. The header is recorded in the history with the request, so a replay sees the same caller
// and an auditor can read who it was. Without authentication no request carries it, and the
// clearance trusts the payload's officer as before.
const HeaderPrincipal = "customs-principal"

// Roles a token grants. They say what kind of caller it is; which stages an officer decides is
// the roster's business.
const (
	RoleOfficer    = "officer"
	RoleSupervisor = "supervisor"
	RoleExporter   = "exporter"
	RoleAuditor    = "auditor"
	RoleWorker     = "worker"
	RoleAdmin      = "admin"
)

// Principal is a verified caller: the token's subject (an officer's roster ID, an exporter's
// user), its roles, for an exporter the customs code it acts for, and for an agency's officer or
// worker the partner agency of the single window it works for.
type Principal struct {
	Subject  string   `json:"subject"`
	Roles    []string `json:"roles,omitempty"`
	Exporter string   `json:"exporter,omitempty"`
	Agency   string   `json:"agency,omitempty"`
}

// Has reports whether p holds role.
func (p Principal) Has(role string) bool { return slices.Contains(p.Roles, role) }

// readsAll reports whether p may read any clearance: customs' own staff may, an exporter only
// its own.
func (p Principal) readsAll() bool {
	return p.Has(RoleOfficer) || p.Has(RoleSupervisor) || p.Has(RoleAuditor) || p.Has(RoleAdmin) || p.Has(RoleWorker)
}

// principalOf returns the verified caller of the request whose handler runs with ctx.
func principalOf(ctx workflow.Context) (*Principal, error) {
	return principalIn(interceptor.WorkflowHeader(ctx))
}

// principalIn decodes the caller from a request's header, nil when it has none.
func principalIn(h map[string]*commonpb.Payload) (*Principal, error) {
	pl, ok := h[HeaderPrincipal]
	if !ok || pl == nil {
		return nil, nil
	}
	var p Principal
	if err := converter.GetDefaultDataConverter().FromPayload(pl, &p); err != nil {
		return nil, fmt.Errorf("the request's %s header: %w", HeaderPrincipal, err)
	}
	return &p, nil
}

// PrincipalPayload encodes p for the header HeaderPrincipal, as the frontend writes it.
func PrincipalPayload(p Principal) (*commonpb.Payload, error) {
	return converter.GetDefaultDataConverter().ToPayload(p)
}

// DecodePrincipal reads the caller from a recorded request's header, nil when it has none.
func DecodePrincipal(h map[string]*commonpb.Payload) (*Principal, error) { return principalIn(h) }

// callers is what the workflow's interceptor learns of the callers of one clearance run: the
// exporter whose declaration it clears.
type callers struct {
	exporter string
}

// Interceptor is the worker interceptor the clearance needs when the frontend verifies callers:
// it hands each decision signal to the clearance with its verified sender (a signal's receiver
// sees no header; signalEnvelope) and
// refuses the status of another exporter's clearance to an exporter. Register it on every
// worker that runs ExportClearance (engine.Register does).
func Interceptor() interceptor.WorkerInterceptor { return &workerInterceptor{} }

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
}

func (*workerInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	w := &inbound{c: &callers{}}
	w.Next = next
	return w
}

type inbound struct {
	interceptor.WorkflowInboundInterceptorBase
	c *callers
}

func (w *inbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	if len(in.Args) > 0 {
		if i, ok := in.Args[0].(interface{ ExporterCode() string }); ok {
			w.c.exporter = i.ExporterCode()
		}
	}
	// The frontend lets an exporter start only clearances it labels with its own code; the
	// declaration inside must be its own too.
	p, err := principalOf(ctx)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeCaller, nil)
	}
	if p != nil && p.Has(RoleExporter) && !p.Has(RoleAdmin) && p.Exporter != w.c.exporter {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"permission denied: the declaration is of exporter %s; %s lodges for exporter %s", w.c.exporter, p.Subject, p.Exporter),
			ErrTypeCaller, nil)
	}
	if p != nil && p.Has(RoleExporter) && !p.Has(RoleAdmin) && len(in.Args) > 0 {
		if err := exporterInput(workflow.GetInfo(ctx).WorkflowExecution.ID, in.Args[0]); err != nil {
			return nil, temporal.NewNonRetryableApplicationError("permission denied: "+err.Error(), ErrTypeCaller, nil)
		}
	}
	return w.Next.ExecuteWorkflow(ctx, in)
}

// exporterInput says why a clearance's input may not come from an exporter's start, or returns
// nil: an exporter lodges a declaration under its own workflow ID, and nothing else. A record of
// earlier runs is carried only by the clearance itself (its continue-as-new, or the reopening an
// upheld appeal starts), whose starts carry no caller.
func exporterInput(id string, arg any) error {
	var in Input
	switch v := arg.(type) {
	case Input:
		in = v
	case *Input:
		in = *v
	default:
		return nil
	}
	switch {
	case in.Carried != nil:
		return fmt.Errorf("input.carried: a clearance's record is carried only by the clearance itself; an exporter's start carries a declaration")
	case in.Reopened != nil:
		return fmt.Errorf("input.reopened: only an upheld appeal reopens a clearance")
	case !IsWorkflowIDOf(id, in.Declaration.Exporter.Code, in.Declaration.ID):
		return fmt.Errorf("workflow ID %q is not the clearance of declaration %q of exporter %s", id, in.Declaration.ID, in.Declaration.Exporter.Code)
	}
	return nil
}

// ErrTypeCaller is the failure type of a clearance started by a caller who may not lodge it.
const ErrTypeCaller = "CallerNotPermitted"

func (w *inbound) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	if in.SignalName == SignalDecision && workflow.GetInfo(ctx).WorkflowType.Name == WorkflowName {
		p, err := principalOf(ctx)
		if err != nil {
			// A header the frontend did not write cannot name a caller.
			p = &Principal{}
		}
		wrapped, err := wrapSignal(in.Arg, p)
		if err != nil {
			return err
		}
		in = &interceptor.HandleSignalInput{SignalName: in.SignalName, Arg: wrapped}
	}
	return w.Next.HandleSignal(ctx, in)
}

func (w *inbound) HandleQuery(ctx workflow.Context, in *interceptor.HandleQueryInput) (any, error) {
	p, err := principalOf(ctx)
	if err != nil {
		return nil, err
	}
	if p != nil && !p.readsAll() && (p.Exporter == "" || p.Exporter != w.c.exporter) {
		return nil, fmt.Errorf("permission denied: this clearance is not one of exporter %s's declarations", p.Exporter)
	}
	res, err := w.Next.HandleQuery(ctx, in)
	if p == nil || p.readsAll() || err != nil {
		return res, err
	}
	// The exporter's own answer: without customs' internal work.
	switch v := res.(type) {
	case Status:
		return v.forExporter(), nil
	case Result:
		return v.forExporter(), nil
	}
	return res, nil
}

// Caller returns the verified caller of the request whose handler or validator runs with ctx, nil
// without authentication: for the workflows that run beside the clearance on its worker.
func Caller(ctx workflow.Context) (*Principal, error) { return principalOf(ctx) }
