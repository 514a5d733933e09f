package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// TestAnExporterStartsAtTheEnginesPriority: a verified exporter's clearance starts at the task
// priority the engine gives its declaration, with the exporter's code as its fairness key: an
// expedited declaration urgent (key 1), and a start that names no priority (another client) at
// the declaration's all the same. A start that asks for the urgent key for a declaration that is
// not expedited, or for another exporter's fairness key, is refused, naming the priority, and
// starts nothing.
func TestAnExporterStartsAtTheEnginesPriority(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "nl-examination-gloves-self-declared.json")
	code := d.Exporter.Code
	exporter := s.Client(t, workflows.Principal{Subject: "lucheng-1", Roles: []string{workflows.RoleExporter}, Exporter: code})
	auditor := s.Client(t, workflows.Principal{Subject: "audit-1", Roles: []string{workflows.RoleAuditor}})
	priorityOf := func(id string) (int32, string) {
		t.Helper()
		desc, err := auditor.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		p := desc.GetWorkflowExecutionInfo().GetPriority()
		return p.GetPriorityKey(), p.GetFairnessKey()
	}

	urgent := d
	urgent.ID = "LC-PRIORITY-URGENT"
	urgent.Expedited = &declaration.Expedited{Justification: "gloves for the intensive care units of the regional hospital network"}
	run, err := clearance.Submit(ctx, exporter, urgent)
	if err != nil {
		t.Fatal(err)
	}
	if key, fair := priorityOf(run.GetID()); key != 1 || fair != code {
		t.Errorf("the expedited clearance started at key %d, fairness key %q; want 1, %q", key, fair, code)
	}

	bare := d
	bare.ID = "LC-PRIORITY-BARE"
	opts, err := clearance.StartOptions(bare)
	if err != nil {
		t.Fatal(err)
	}
	opts.Priority = temporal.Priority{}
	if run, err = exporter.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: bare}); err != nil {
		t.Fatal(err)
	}
	if key, fair := priorityOf(run.GetID()); key != 3 || fair != code {
		t.Errorf("a start without a priority runs at key %d, fairness key %q; want the engine's 3, %q", key, fair, code)
	}

	forged := d
	forged.ID = "LC-PRIORITY-FORGED"
	if opts, err = clearance.StartOptions(forged); err != nil {
		t.Fatal(err)
	}
	for what, p := range map[string]temporal.Priority{
		"the urgent key for a declaration that is not expedited": {PriorityKey: 1, FairnessKey: code},
		"another exporter's fairness key":                        {PriorityKey: 3, FairnessKey: "3302960178"},
		"a weight of its own":                                    {PriorityKey: 3, FairnessKey: code, FairnessWeight: 100},
	} {
		o := opts
		o.Priority = p
		_, err := exporter.ExecuteWorkflow(ctx, o, workflows.WorkflowName, workflows.Input{Declaration: forged})
		denied(t, what, err, "priority:")
	}
	var nf *serviceerror.NotFound
	if _, err := auditor.DescribeWorkflowExecution(ctx, opts.ID, ""); !errors.As(err, &nf) {
		t.Errorf("a refused start started %s: %v", opts.ID, err)
	}
}
