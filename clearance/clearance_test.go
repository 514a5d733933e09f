package clearance

import (
	"testing"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

func TestStartOptionsRefuseSecondSubmission(t *testing.T) {
	d := declaration.Declaration{ID: "NB-1", Exporter: declaration.Party{Code: "3302960123"}, Destination: "US",
		Transport: declaration.TransportAir, Lines: []declaration.Line{{Category: declaration.CategoryGloves}},
		Expedited: &declaration.Expedited{Justification: "field hospital"}}
	o, err := StartOptions(d)
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "clearance-3302960123-NB-1" || o.TaskQueue != workflows.TaskQueue {
		t.Errorf("id %q queue %q", o.ID, o.TaskQueue)
	}
	if o.WorkflowIDReusePolicy.String() != "RejectDuplicate" || o.WorkflowIDConflictPolicy.String() != "Fail" {
		t.Errorf("reuse %s conflict %s", o.WorkflowIDReusePolicy, o.WorkflowIDConflictPolicy)
	}
	if want := "NB-1: gloves to US by air, exporter 3302960123 [expedited]"; o.StaticSummary != want {
		t.Errorf("summary %q, want %q", o.StaticSummary, want)
	}
	if _, err := StartOptions(declaration.Declaration{ID: "bad id"}); err == nil {
		t.Error("a declaration ID with a space was accepted")
	}
}
