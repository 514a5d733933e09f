// Package audittest is a stand-in for the two calls of a Temporal client the auditor makes,
// listing workflows and reading their histories, answered from histories in memory. It is for
// the auditor's tests: the library's and the command line's.
package audittest

import (
	"context"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// Server lists Pages, one page per call, and answers the histories it holds; a workflow it holds
// no history of is not found. Every other call of client.Client panics.
type Server struct {
	client.Client
	Pages     [][]*workflowpb.WorkflowExecutionInfo
	Histories map[string]*historypb.History
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

// GetWorkflowHistory iterates over the history of id.
func (f *Server) GetWorkflowHistory(_ context.Context, id, _ string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	h, ok := f.Histories[id]
	if !ok {
		return &iterator{err: serviceerror.NewNotFound("workflow execution not found")}
	}
	return &iterator{events: h.GetEvents()}
}

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
