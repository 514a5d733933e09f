package auth

import (
	"context"
	"fmt"
	"path"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/common/authorization"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// Authorizer allows each role only its calls, in the engine's namespace:
//
//   - worker: poll and complete tasks, read histories and visibility;
//   - officer: read; decide (update "decide", signal "decision");
//   - supervisor: as an officer, and reroute;
//   - exporter: start a clearance for its own exporter code, alone or with the update "lodgement"
//     in one call (Update-with-Start); supply documents and withdraw (the clearance checks they
//     are its own); query a clearance's status (the clearance answers only its own exporter);
//     nothing else: no history, no listing, no decision;
//   - auditor: read: list, count, describe, history, query;
//   - admin: everything, in every namespace.
//
// A partner agency's callers (the token's agency claim, workflows.Principal.Agency) work in
// their agency's namespace (agency.Namespace) and in no other, customs' included; customs' own
// callers work in no agency's namespace. There:
//
//   - worker: the task traffic of the agency's worker (its Nexus tasks too) and the reads it
//     needs; the start of the review AgencyReview on agency.TaskQueue and its cancellation,
//     which the worker's Nexus operation makes for customs' request;
//   - officer: read the agency's reviews (list, count, describe, history, query) and decide
//     with the update agency.UpdateDecide (the roster says who of them decides);
//   - auditor: an agency's clerk: read, as an officer, and decide nothing.
//
// No one but an admin calls the Nexus endpoints over HTTP: an agency's operation is started by
// a clearance's command, which a customs worker completes in customs' namespace and the server
// carries out through its internal frontend, as a system administrator.
//
// A refused call says why (PermissionDenied). What a call's payload says the clearance checks
// against the verified caller the Interceptor writes into the request.
type Authorizer struct {
	// Namespace is the engine's namespace, customs'; calls into others are refused except to
	// admins and, in its own namespace, to an agency's callers.
	Namespace string
	// Revoked, when set, refuses the subjects it lists from their next call.
	Revoked *Revocations
}

var _ authorization.Authorizer = (*Authorizer)(nil)

// Calls open to anyone with a verified token: what a client asks on connecting.
var connecting = set("GetSystemInfo", "DescribeNamespace", "GetClusterInfo", "GetSearchAttributes", "ListNamespaces")

// Reads of the namespace's workflows.
var reads = set("ListWorkflowExecutions", "ListOpenWorkflowExecutions", "ListClosedWorkflowExecutions",
	"ScanWorkflowExecutions", "CountWorkflowExecutions", "DescribeWorkflowExecution", "GetWorkflowExecutionHistory",
	"GetWorkflowExecutionHistoryReverse", "QueryWorkflow", "DescribeTaskQueue", "ListSearchAttributes",
	"PollWorkflowExecutionUpdate", "ListSchedules", "ListBatchOperations", "ListWorkers", "DescribeWorker",
	// The runs retention removed, from the namespace's archive.
	"ListArchivedWorkflowExecutions")

// A worker's task traffic.
var tasks = set("PollWorkflowTaskQueue", "PollActivityTaskQueue", "PollNexusTaskQueue",
	"RespondWorkflowTaskCompleted", "RespondWorkflowTaskFailed", "RespondQueryTaskCompleted",
	"RespondActivityTaskCompleted", "RespondActivityTaskFailed", "RespondActivityTaskCanceled",
	"RespondActivityTaskCompletedById", "RespondActivityTaskFailedById", "RespondActivityTaskCanceledById",
	"RecordActivityTaskHeartbeat", "RecordActivityTaskHeartbeatById", "RespondNexusTaskCompleted", "RespondNexusTaskFailed",
	"ResetStickyTaskQueue", "ShutdownWorker", "RecordWorkerHeartbeat", "GetWorkflowExecutionHistory",
	"ListWorkflowExecutions", "CountWorkflowExecutions",
	// An appeal reads the refused clearance it is against (appeal.Activities.LoadRefusal): its
	// description, and its status and declaration queries (workerQueries).
	"DescribeWorkflowExecution")

// The queries a worker asks of a clearance: an appeal's reading of the refusal it is against.
var workerQueries = set(workflows.QueryStatus, workflows.QueryDeclaration)

// The queries an exporter asks of its own clearance or appeal. The SDK's built-in queries
// (__stack_trace, __temporal_workflow_metadata) are customs' to read: they show the workflow's
// code and the officers' current details (a hold's reason, who holds the claim).
var exporterQueries = set(workflows.QueryStatus, workflows.QueryResult, workflows.QueryDeclaration, appeal.QueryStatus)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Authorize decides one call.
func (a *Authorizer) Authorize(_ context.Context, claims *authorization.Claims, target *authorization.CallTarget) (authorization.Result, error) {
	api := path.Base(target.APIName)
	if strings.HasPrefix(target.APIName, "/grpc.health.v1.Health/") {
		return allow(nil), nil
	}
	if claims == nil {
		return deny("no token: log in and send it as a bearer token (--api-key or TEMPORAL_API_KEY)"), nil
	}
	if claims.System&authorization.RoleAdmin != 0 {
		// The server's own system workers, through the internal frontend, which only the
		// cluster reaches and whose claim mapper grants this.
		return allow(nil), nil
	}
	id, _ := claims.Extensions.(Identity)
	if id.Refused != "" {
		return deny(id.Refused), nil
	}
	p := id.Principal
	if p.Subject == "" {
		return deny("the token names no caller"), nil
	}
	if revoked, err := a.Revoked.Revoked(p.Subject); revoked {
		if err != nil {
			return deny("the revocation list cannot be read, so no caller is admitted: " + err.Error()), nil
		}
		return deny(p.Subject + " is revoked: the token is no longer accepted"), nil
	}
	if p.Has(workflows.RoleAdmin) {
		return allow(&p), nil
	}
	if why := nexusWhy(target); why != "" {
		return deny(fmt.Sprintf("%s (%s) may not %s in namespace %s: %s", p.Subject, roles(p), api, target.Namespace, why)), nil
	}
	if p.Agency != "" {
		return a.authorizeAgency(api, p, target), nil
	}
	if target.Namespace != "" && target.Namespace != a.Namespace {
		why := fmt.Sprintf("%s may work only in namespace %s, not %s", p.Subject, a.Namespace, target.Namespace)
		if ag, ok := agencyOf(target.Namespace); ok {
			why += fmt.Sprintf(": it is %s's, where only %s's officers and workers work (a token with the claim %s %s); "+
				"an agency officer decides only in their agency, and only an agency's workers poll its task queue", ag, ag, ClaimAgency, ag)
		}
		return deny(why), nil
	}
	if connecting[api] {
		return allow(&p), nil
	}
	if why := tooLarge(target.Request); why != "" {
		return deny(fmt.Sprintf("%s may not %s: %s", p.Subject, api, why)), nil
	}
	if why := a.why(api, p, target.Request); why != "" {
		return deny(fmt.Sprintf("%s (%s) may not %s: %s", p.Subject, roles(p), api, why)), nil
	}
	return allow(&p), nil
}

// why says why p may not make the call, or returns "".
func (a *Authorizer) why(api string, p workflows.Principal, req any) string {
	staff := p.Has(workflows.RoleOfficer) || p.Has(workflows.RoleSupervisor) || p.Has(workflows.RoleAuditor)
	switch {
	case p.Has(workflows.RoleWorker) && tasks[api]:
		return ""
	case staff && reads[api]:
		return ""
	}
	switch r := req.(type) {
	case *workflowservice.UpdateWorkflowExecutionRequest:
		name := r.GetRequest().GetInput().GetName()
		switch {
		case name == workflows.UpdateDecide && (p.Has(workflows.RoleOfficer) || p.Has(workflows.RoleSupervisor)),
			name == workflows.UpdateReroute && p.Has(workflows.RoleSupervisor),
			name == workflows.UpdateExtend && p.Has(workflows.RoleSupervisor),
			name == workflows.UpdateReassign && p.Has(workflows.RoleSupervisor),
			(name == workflows.UpdateHold || name == workflows.UpdateLift) && p.Has(workflows.RoleSupervisor),
			(name == workflows.UpdateClaim || name == workflows.UpdateUnclaim || name == workflows.UpdateNote) &&
				(p.Has(workflows.RoleOfficer) || p.Has(workflows.RoleSupervisor)),
			name == workflows.UpdateDecideAmendment && (p.Has(workflows.RoleOfficer) || p.Has(workflows.RoleSupervisor)),
			name == appeal.UpdateDecide && p.Has(workflows.RoleSupervisor):
			return ""
		case (name == workflows.UpdateSupplyDocuments || name == workflows.UpdateWithdraw || name == workflows.UpdateAmend) &&
			p.Has(workflows.RoleExporter):
			return notOwn(r.GetWorkflowExecution().GetWorkflowId(), p)
		case name == workflows.UpdateLodgement && p.Has(workflows.RoleExporter):
			return fmt.Sprintf("the update %q is sent only with the clearance's start, in one call (Update-with-Start)", name)
		}
		return fmt.Sprintf("the update %q is not for this role", name)
	case *workflowservice.SignalWorkflowExecutionRequest:
		if r.GetSignalName() == workflows.SignalDecision && (p.Has(workflows.RoleOfficer) || p.Has(workflows.RoleSupervisor)) {
			return ""
		}
		return fmt.Sprintf("the signal %q is not for this role", r.GetSignalName())
	case *workflowservice.StartWorkflowExecutionRequest:
		return startWhy(r, p)
	case *workflowservice.ExecuteMultiOperationRequest:
		return lodgementWhy(r, p)
	case *workflowservice.QueryWorkflowRequest:
		q := r.GetQuery().GetQueryType()
		if p.Has(workflows.RoleWorker) && workerQueries[q] {
			return ""
		}
		if p.Has(workflows.RoleExporter) {
			if !exporterQueries[q] {
				return fmt.Sprintf("the query %q is customs' to read; an exporter asks %q or %q", q, workflows.QueryStatus, workflows.QueryResult)
			}
			// The clearance answers only its own exporter, too.
			return notOwn(r.GetExecution().GetWorkflowId(), p)
		}
	case *workflowservice.PollWorkflowExecutionUpdateRequest:
		if p.Has(workflows.RoleExporter) {
			return notOwn(r.GetUpdateRef().GetWorkflowExecution().GetWorkflowId(), p)
		}
	}
	return "not a call of this role"
}

// The Nexus service of the frontend's HTTP port (server v1.32.1, service/frontend/configs/quotas.go):
// an operation's start or cancellation through an endpoint (DispatchByEndpoint; its Namespace is
// the endpoint's target namespace, NexusEndpointName the endpoint), or through a namespace and
// task queue (DispatchByNamespaceAndTaskQueue), and the completion of an operation by its
// handler's callback (CompleteNexusOperation; its Namespace is the caller's).
const (
	nexusService        = "/temporal.api.nexusservice.v1.NexusService/"
	nexusByEndpoint     = nexusService + "DispatchByEndpoint"
	nexusByQueue        = nexusService + "DispatchByNamespaceAndTaskQueue"
	nexusCompleteByHTTP = nexusService + "CompleteNexusOperation"
)

// nexusWhy says why only an admin calls the Nexus service directly, or returns "" for another
// call. A clearance asks an agency by a command its worker completes in customs' namespace (the
// server authorizes that call as any other), and the server carries the operation out through
// its internal frontend, whose callers are system administrators; a worker-targeted endpoint's
// completion comes back through the server itself (its callback is temporal://system).
func nexusWhy(target *authorization.CallTarget) string {
	switch {
	case target.APIName == nexusByEndpoint || target.APIName == nexusByQueue:
		ep := ""
		if target.NexusEndpointName != "" {
			ep = " (endpoint " + target.NexusEndpointName + ")"
		}
		return "only customs' workflows start an agency's operations" + ep + ", by a command a customs worker completes " +
			"in customs' namespace, which the server carries out itself; a direct call of a Nexus endpoint is an administrator's"
	case target.APIName == nexusCompleteByHTTP:
		return "an operation's completion reaches the calling workflow through the server itself, not by a direct call"
	case strings.HasPrefix(target.APIName, nexusService):
		return "a direct call of the Nexus service is an administrator's"
	}
	return ""
}

// agencyOf returns the agency whose namespace ns is (agency.Namespace), false for another.
func agencyOf(ns string) (string, bool) {
	rest, ok := strings.CutPrefix(ns, "agency-")
	if !ok {
		return "", false
	}
	a := strings.ToUpper(rest)
	return a, agency.CheckAgency(a) == nil && agency.Namespace(a) == ns
}

// authorizeAgency decides a call of p, who works for the partner agency p.Agency: in that
// agency's namespace only, the agency's own calls.
func (a *Authorizer) authorizeAgency(api string, p workflows.Principal, target *authorization.CallTarget) authorization.Result {
	home := agency.Namespace(p.Agency)
	if ns := target.Namespace; ns != "" && ns != home {
		where := "namespace " + ns
		if ns == a.Namespace {
			where = "customs' namespace " + ns
		} else if other, ok := agencyOf(ns); ok {
			where = other + "'s namespace " + ns
		}
		return deny(fmt.Sprintf("%s works for %s and may work only in its namespace %s, not in %s: "+
			"an agency officer decides only in their agency, and only an agency's workers poll its task queue", p.Subject, p.Agency, home, where))
	}
	if connecting[api] {
		return allow(&p)
	}
	if why := tooLarge(target.Request); why != "" {
		return deny(fmt.Sprintf("%s may not %s: %s", p.Subject, api, why))
	}
	if why := agencyWhy(api, p, target.Request); why != "" {
		return deny(fmt.Sprintf("%s (%s of %s) may not %s in namespace %s: %s", p.Subject, roles(p), p.Agency, api, home, why))
	}
	return allow(&p)
}

// agencyWhy says why p, in its agency's namespace, may not make the call, or returns "".
func agencyWhy(api string, p workflows.Principal, req any) string {
	worker, officer := p.Has(workflows.RoleWorker), p.Has(workflows.RoleOfficer)
	reader := officer || p.Has(workflows.RoleAuditor)
	switch {
	case worker && tasks[api]:
		return ""
	case reader && reads[api]:
		return ""
	}
	switch r := req.(type) {
	case *workflowservice.UpdateWorkflowExecutionRequest:
		name := r.GetRequest().GetInput().GetName()
		switch {
		case name == agency.UpdateDecide && officer:
			return ""
		case name == agency.UpdateDecide:
			return fmt.Sprintf("the update %q is an agency officer's (role %s); the roster says who of them decides", name, workflows.RoleOfficer)
		}
		return fmt.Sprintf("the update %q is not for an agency's callers: an agency's officer sends %q and nothing else", name, agency.UpdateDecide)
	case *workflowservice.StartWorkflowExecutionRequest:
		if !worker {
			return "a review starts only for customs' request through the single window, by the agency's worker"
		}
		if r.GetWorkflowType().GetName() != agency.WorkflowName || r.GetTaskQueue().GetName() != agency.TaskQueue ||
			!strings.HasPrefix(r.GetWorkflowId(), agency.IDPrefix) {
			return fmt.Sprintf("an agency's worker starts only %s on %s, under %s<request ID>, for customs' request",
				agency.WorkflowName, agency.TaskQueue, agency.IDPrefix)
		}
		return ""
	case *workflowservice.RequestCancelWorkflowExecutionRequest:
		if worker && strings.HasPrefix(r.GetWorkflowExecution().GetWorkflowId(), agency.IDPrefix) {
			return ""
		}
		return "a review is cancelled only when customs withdraws its request, by the agency's worker"
	case *workflowservice.SignalWorkflowExecutionRequest:
		return fmt.Sprintf("the signal %q is not for an agency's callers: an officer decides a review with the update %q",
			r.GetSignalName(), agency.UpdateDecide)
	}
	return "not a call of this role in an agency's namespace"
}

// startWhy says why p may not make the start r, or returns "": an exporter starts its own
// clearances and appeals, on the clearance task queue.
func startWhy(r *workflowservice.StartWorkflowExecutionRequest, p workflows.Principal) string {
	if !p.Has(workflows.RoleExporter) {
		return "only an exporter lodges declarations"
	}
	t := r.GetWorkflowType().GetName()
	if (t != workflows.WorkflowName && t != appeal.WorkflowName) || r.GetTaskQueue().GetName() != workflows.TaskQueue {
		return fmt.Sprintf("an exporter starts only %s and %s on %s", workflows.WorkflowName, appeal.WorkflowName, workflows.TaskQueue)
	}
	if code := exporterCode(r.GetSearchAttributes()); code != p.Exporter || p.Exporter == "" {
		return fmt.Sprintf("the declaration is lodged for exporter %q; the token acts for exporter %q", code, p.Exporter)
	}
	if t == appeal.WorkflowName {
		if own := appeal.IDPrefix + p.Exporter + "-"; !strings.HasPrefix(r.GetWorkflowId(), own) {
			return fmt.Sprintf("workflow ID %q is not one of exporter %s's appeals: they start %s<declaration ID>", r.GetWorkflowId(), p.Exporter, own)
		}
		return ""
	}
	if own := workflows.WorkflowIDPrefix + p.Exporter + "-"; !strings.HasPrefix(r.GetWorkflowId(), own) {
		return fmt.Sprintf("workflow ID %q is not one of exporter %s's: its clearances start %s<declaration ID>", r.GetWorkflowId(), p.Exporter, own)
	}
	return ""
}

// notOwn says why exporter p may not address workflow id, or returns "" for one of its own
// clearances or appeals, or a clearance whose ID (the legacy form, clearance-<declaration ID>)
// names no exporter, which answers only its own exporter.
func notOwn(id string, p workflows.Principal) string {
	own := []string{workflows.WorkflowIDPrefix + p.Exporter + "-", appeal.IDPrefix + p.Exporter + "-"}
	if p.Exporter != "" && (strings.HasPrefix(id, own[0]) || strings.HasPrefix(id, own[1])) {
		return ""
	}
	if rest, ok := strings.CutPrefix(id, workflows.WorkflowIDPrefix); ok && !namesExporter(rest) {
		return ""
	}
	return fmt.Sprintf("%q is not one of exporter %s's declarations or appeals", id, p.Exporter)
}

// namesExporter reports whether the rest of a clearance's workflow ID starts with an exporter
// code, as every clearance's ID does since IDs named the exporter.
func namesExporter(rest string) bool {
	code, _, ok := strings.Cut(rest, "-")
	_, err := workflows.WorkflowID(code, "x")
	return ok && err == nil
}

// Bounds of what a request may carry, enforced before the server records it: a signal or an
// update is read by the clearance in full, and one too large would make its every workflow task
// fail (the server's payload limits are per event and per task, not per request kind).
const (
	// MaxRequestBytes bounds the input of a signal or an update: a request's payload
	// (workflows.MaxPayloadBytes) and what the client's encoding adds.
	MaxRequestBytes = workflows.MaxPayloadBytes + 4<<10
	// MaxStartBytes bounds a start's input: the largest declaration, and its encoding.
	MaxStartBytes = declaration.MaxSize + 64<<10
)

// tooLarge says why a request is too large to record, or returns "".
func tooLarge(req any) string {
	var in *commonpb.Payloads
	max := MaxRequestBytes
	switch r := req.(type) {
	case *workflowservice.SignalWorkflowExecutionRequest:
		in = r.GetInput()
	case *workflowservice.SignalWithStartWorkflowExecutionRequest:
		in, max = r.GetSignalInput(), MaxRequestBytes
		if n := payloadsSize(r.GetInput()); n > MaxStartBytes {
			return fmt.Sprintf("input: %d bytes is more than the %d a start may carry", n, MaxStartBytes)
		}
	case *workflowservice.UpdateWorkflowExecutionRequest:
		in = r.GetRequest().GetInput().GetArgs()
	case *workflowservice.StartWorkflowExecutionRequest:
		in, max = r.GetInput(), MaxStartBytes
	case *workflowservice.ExecuteMultiOperationRequest:
		for _, op := range r.GetOperations() {
			why := ""
			if s := op.GetStartWorkflow(); s != nil {
				why = tooLarge(s)
			} else if u := op.GetUpdateWorkflow(); u != nil {
				why = tooLarge(u)
			}
			if why != "" {
				return why
			}
		}
		return ""
	default:
		return ""
	}
	if n := payloadsSize(in); n > max {
		return fmt.Sprintf("input: %d bytes is more than the %d a request may carry", n, max)
	}
	return ""
}

func payloadsSize(p *commonpb.Payloads) int {
	n := 0
	for _, pl := range p.GetPayloads() {
		n += pl.Size()
	}
	return n
}

// exporterCode reads the ExporterCode search attribute a start sets.
func exporterCode(sa *commonpb.SearchAttributes) string {
	pl := sa.GetIndexedFields()[workflows.SAExporterCode]
	if pl == nil {
		return ""
	}
	var code string
	if err := converter.GetDefaultDataConverter().FromPayload(pl, &code); err != nil {
		return ""
	}
	return code
}

func roles(p workflows.Principal) string {
	if len(p.Roles) == 0 {
		return "no role"
	}
	return strings.Join(p.Roles, ", ")
}

func allow(p *workflows.Principal) authorization.Result {
	r := authorization.Result{Decision: authorization.DecisionAllow}
	if p != nil {
		r.Principal = &commonpb.Principal{Type: "jwt", Name: p.Subject}
	}
	return r
}

func deny(reason string) authorization.Result {
	return authorization.Result{Decision: authorization.DecisionDeny, Reason: reason}
}
