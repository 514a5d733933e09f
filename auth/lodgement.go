package auth

import (
	"fmt"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/medsupply/customs/workflows"
)

// An exporter lodges a declaration and reads what the lodgement came to in one call:
// Update-with-Start, the workflow service's ExecuteMultiOperation holding a start and an update.
// The only one open to an exporter is the start of its own clearance, held to what any start by
// an exporter may carry, with the update "lodgement" of that same clearance.

// lodgementWhy says why p may not make the Update-with-Start r, or returns "": an exporter's is
// the start of one of its clearances (as startWhy allows it) and the update "lodgement" of that
// clearance, and nothing else.
func lodgementWhy(r *workflowservice.ExecuteMultiOperationRequest, p workflows.Principal) string {
	if !p.Has(workflows.RoleExporter) {
		return "only an exporter lodges declarations"
	}
	start, err := lodgementStart(r)
	if err != nil {
		return err.Error()
	}
	return startWhy(start, p)
}

// lodgementStart returns the start of an exporter's Update-with-Start, or why it is not one: one
// start of a clearance and the update "lodgement" of the same workflow ID, of the run it starts.
func lodgementStart(r *workflowservice.ExecuteMultiOperationRequest) (*workflowservice.StartWorkflowExecutionRequest, error) {
	ops := r.GetOperations()
	if len(ops) != 2 || ops[0].GetStartWorkflow() == nil || ops[1].GetUpdateWorkflow() == nil {
		return nil, refuseField("operations", fmt.Sprintf("%d given; an exporter's Update-with-Start is the start of its clearance "+
			"and the update %q", len(ops), workflows.UpdateLodgement))
	}
	start, update := ops[0].GetStartWorkflow(), ops[1].GetUpdateWorkflow()
	if t := start.GetWorkflowType().GetName(); t != workflows.WorkflowName {
		return nil, refuseField("operations[0].workflow_type", fmt.Sprintf("%q; an exporter's Update-with-Start starts %s",
			clip(t), workflows.WorkflowName))
	}
	if name := update.GetRequest().GetInput().GetName(); name != workflows.UpdateLodgement {
		return nil, refuseField("operations[1].update", fmt.Sprintf("%q is not sent with a start; an exporter's is %q",
			clip(name), workflows.UpdateLodgement))
	}
	if id := update.GetWorkflowExecution().GetWorkflowId(); id != start.GetWorkflowId() {
		return nil, refuseField("operations[1].workflow_id", fmt.Sprintf("%q is not the clearance %q the call starts",
			clip(id), clip(start.GetWorkflowId())))
	}
	if run := update.GetWorkflowExecution().GetRunId(); run != "" {
		return nil, refuseField("operations[1].run_id", fmt.Sprintf("%q; the update is for the run the call starts", clip(run)))
	}
	return start, nil
}

// exporterLodgement checks and completes an exporter's Update-with-Start: its start is held to
// what an exporter's start may carry and given the search attributes, summary and priority the
// engine sets (exporterStart), as a start on its own is.
func exporterLodgement(r *workflowservice.ExecuteMultiOperationRequest, p workflows.Principal) error {
	start, err := lodgementStart(r)
	if err != nil {
		return err
	}
	return exporterStart(start, p)
}
