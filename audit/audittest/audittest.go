// Package audittest is a stand-in for the calls of a Temporal client the auditor makes, listing
// workflows, current and archived, and reading their histories, answered from histories in
// memory. It is for
// the auditor's tests: the library's and the command line's.
package audittest

import (
	"context"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Server lists Pages, one page per call, and answers the histories it holds; a workflow it holds
// no history of is not found. Every other call of client.Client panics.
type Server struct {
	client.Client
	Pages     [][]*workflowpb.WorkflowExecutionInfo
	Histories map[string]*historypb.History
	// Archived holds the histories of workflows the server no longer has, by workflow ID, as its
	// archive keeps them; nil for a namespace that archives nothing.
	Archived map[string]*historypb.History
	// Aliases maps the fields search attributes are stored under to their names, as the
	// namespace's description gives them.
	Aliases map[string]string
	// ListErr, when set, is what every listing returns.
	ListErr error
	// Closed records that the client was closed.
	Closed bool
}

// ListWorkflow returns the page the token names.
func (f *Server) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	if f.ListErr != nil {
		return nil, f.ListErr
	}
	page := 0
	if len(req.GetNextPageToken()) > 0 {
		page = int(req.GetNextPageToken()[0])
	}
	if page >= len(f.Pages) {
		return &workflowservice.ListWorkflowExecutionsResponse{}, nil
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: f.Pages[page]}
	if page+1 < len(f.Pages) {
		resp.NextPageToken = []byte{byte(page + 1)}
	}
	return resp, nil
}

// GetWorkflowHistory iterates over the history of id, or of its archived run.
func (f *Server) GetWorkflowHistory(_ context.Context, id, runID string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	h, ok := f.Histories[id]
	if runID == ArchivedRun(id) {
		h, ok = f.Archived[id]
	}
	if !ok {
		return &iterator{err: serviceerror.NewNotFound("workflow execution not found")}
	}
	return &iterator{events: h.GetEvents()}
}

// ListArchivedWorkflow lists the archived run of the workflow a query "WorkflowId = '...'" names,
// with run ID ArchivedRun(id); with no Archived at all it answers as the server does for a
// namespace that archives no visibility records.
func (f *Server) ListArchivedWorkflow(_ context.Context, req *workflowservice.ListArchivedWorkflowExecutionsRequest) (*workflowservice.ListArchivedWorkflowExecutionsResponse, error) {
	if f.Archived == nil {
		return nil, serviceerror.NewInvalidArgument("Namespace is not configured for visibility archival.")
	}
	id := strings.TrimSuffix(strings.TrimPrefix(req.GetQuery(), "WorkflowId = '"), "'")
	resp := &workflowservice.ListArchivedWorkflowExecutionsResponse{}
	if _, ok := f.Archived[id]; ok {
		resp.Executions = []*workflowpb.WorkflowExecutionInfo{{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: ArchivedRun(id)},
			CloseTime: timestamppb.Now(),
		}}
	}
	return resp, nil
}

// WorkflowService answers DescribeNamespace with Aliases; every other call panics.
func (f *Server) WorkflowService() workflowservice.WorkflowServiceClient { return service{f: f} }

type service struct {
	workflowservice.WorkflowServiceClient
	f *Server
}

func (s service) DescribeNamespace(_ context.Context, req *workflowservice.DescribeNamespaceRequest, _ ...grpc.CallOption) (*workflowservice.DescribeNamespaceResponse, error) {
	return &workflowservice.DescribeNamespaceResponse{
		NamespaceInfo: &namespacepb.NamespaceInfo{Name: req.GetNamespace()},
		Config:        &namespacepb.NamespaceConfig{CustomSearchAttributeAliases: s.f.Aliases},
	}, nil
}

// ArchivedRun is the run ID of the archived run of id.
func ArchivedRun(id string) string { return "archived-run-" + id }

// Close records the close.
func (f *Server) Close() { f.Closed = true }

type iterator struct {
	events []*historypb.HistoryEvent
	err    error
}

func (it *iterator) HasNext() bool { return it.err != nil || len(it.events) > 0 }

func (it *iterator) Next() (*historypb.HistoryEvent, error) {
	if it.err != nil {
		err := it.err
		it.err = nil
		return nil, err
	}
	e := it.events[0]
	it.events = it.events[1:]
	return e, nil
}

// Info is a listed execution of id, of workflowType, with run ID "run-" + id.
func Info(id, workflowType string) *workflowpb.WorkflowExecutionInfo {
	return &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-" + id},
		Type:      &commonpb.WorkflowType{Name: workflowType},
	}
}
