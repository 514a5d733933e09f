package auth

import (
	"context"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"google.golang.org/grpc"

	"github.com/medsupply/customs/workflows"
)

// Interceptor is a frontend interceptor (temporal.WithChainedFrontendGrpcInterceptors; it runs
// after the server's authorization): it writes the verified caller into every start, signal,
// update and query as the header workflows.HeaderPrincipal, replacing whatever the client put
// there, and removes the header from the requests of callers the server did not verify; an
// Update-with-Start (ExecuteMultiOperation) carries it in its start and its update alike. The
// clearance reads it; the history keeps it with the request. An exporter's start, alone or with
// the update "lodgement", is held to what an exporter may choose (exporterStart, exporterLodgement).
func Interceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var caller *workflows.Principal
		if claims, ok := ctx.Value(authorization.MappedClaims).(*authorization.Claims); ok && claims != nil {
			if id, ok := claims.Extensions.(Identity); ok && id.Refused == "" && id.Principal.Subject != "" {
				caller = &id.Principal
			}
		}
		var h **commonpb.Header
		switch r := req.(type) {
		case *workflowservice.StartWorkflowExecutionRequest:
			h = &r.Header
			if caller != nil && caller.Has(workflows.RoleExporter) && !caller.Has(workflows.RoleAdmin) {
				if err := exporterStart(r, *caller); err != nil {
					return nil, serviceerror.NewPermissionDenied("Request unauthorized.", err.Error())
				}
			}
		case *workflowservice.SignalWorkflowExecutionRequest:
			h = &r.Header
		case *workflowservice.SignalWithStartWorkflowExecutionRequest:
			h = &r.Header
		case *workflowservice.UpdateWorkflowExecutionRequest:
			if in := r.GetRequest().GetInput(); in != nil {
				h = &in.Header
			}
		case *workflowservice.QueryWorkflowRequest:
			if q := r.GetQuery(); q != nil {
				h = &q.Header
			}
		case *workflowservice.ExecuteMultiOperationRequest:
			if caller != nil && !caller.Has(workflows.RoleAdmin) {
				if !caller.Has(workflows.RoleExporter) {
					return nil, serviceerror.NewPermissionDenied("Request unauthorized.", "update-with-start is not open to this role")
				}
				if err := exporterLodgement(r, *caller); err != nil {
					return nil, serviceerror.NewPermissionDenied("Request unauthorized.", err.Error())
				}
			}
			// Each operation carries the caller, as the same start or update on its own does.
			for _, op := range r.GetOperations() {
				var oh **commonpb.Header
				if st := op.GetStartWorkflow(); st != nil {
					oh = &st.Header
				} else if in := op.GetUpdateWorkflow().GetRequest().GetInput(); in != nil {
					oh = &in.Header
				}
				if oh == nil {
					continue
				}
				if err := stamp(oh, caller); err != nil {
					return nil, serviceerror.NewInternal("cannot write the caller: " + err.Error())
				}
			}
		}
		if h != nil {
			if err := stamp(h, caller); err != nil {
				return nil, serviceerror.NewInternal("cannot write the caller: " + err.Error())
			}
		}
		return handler(ctx, req)
	}
}

// stamp sets the principal header to caller, or removes it when there is none.
func stamp(h **commonpb.Header, caller *workflows.Principal) error {
	if *h == nil {
		if caller == nil {
			return nil
		}
		*h = &commonpb.Header{}
	}
	if (*h).Fields == nil {
		(*h).Fields = map[string]*commonpb.Payload{}
	}
	delete((*h).Fields, workflows.HeaderPrincipal)
	if caller == nil {
		return nil
	}
	pl, err := workflows.PrincipalPayload(*caller)
	if err != nil {
		return err
	}
	(*h).Fields[workflows.HeaderPrincipal] = pl
	return nil
}
