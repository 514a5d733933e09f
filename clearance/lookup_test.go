package clearance_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/workflows"
)

// eventually checks until check returns nil, every 50 ms for at most 30 s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// TestLookupFindsClearancesNotAppeals: an appeal carries its declaration's ID and exporter as
// search attributes, as the clearance does, so visibility lists both under the declaration ID;
// Lookup finds the one clearance, with the exporter given or not, and one exporter.
func TestLookupFindsClearancesNotAppeals(t *testing.T) {
	c, ns := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json") // yellow lane: it awaits an officer, unrefused
	run, err := clearance.Submit(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	ref := clearance.RefOf(d)
	// An appeal lodged before any refusal is not admitted, but it runs, and visibility lists it.
	aid, err := clearance.Appeal(ctx, c, ref, "lodged early, to be listed")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the clearance and the appeal listed", func() error {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns,
			Query: fmt.Sprintf("%s = '%s'", workflows.SADeclarationID, d.ID)})
		if err != nil {
			return err
		}
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if !slices.Contains(ids, run.GetID()) || !slices.Contains(ids, aid) {
			return fmt.Errorf("listed %v", ids)
		}
		return nil
	})
	if aid != "appeal-"+d.Exporter.Code+"-"+d.ID {
		t.Fatalf("appeal %s", aid)
	}
	if _, err := appeal.WorkflowID(d.Exporter.Code, d.ID); err != nil {
		t.Fatal(err)
	}
	for _, exporter := range []string{"", d.Exporter.Code} {
		found, err := clearance.Lookup(ctx, c, ns, d.ID, exporter)
		if err != nil || len(found) != 1 || found[0].WorkflowID != run.GetID() || found[0].Exporter != d.Exporter.Code {
			t.Errorf("lookup of %s (exporter %q): %+v, %v; want the one clearance %s", d.ID, exporter, found, err, run.GetID())
		}
		if got := clearance.Exporters(found); !slices.Equal(got, []string{d.Exporter.Code}) {
			t.Errorf("exporters %v", got)
		}
	}
}

// TestExportersAreDistinct: the exporters of what Lookup found, each once, in order.
func TestExportersAreDistinct(t *testing.T) {
	found := []clearance.Found{
		{Ref: clearance.Ref{Exporter: "3302960178", Declaration: "X"}, WorkflowID: "clearance-3302960178-X"},
		{Ref: clearance.Ref{Exporter: "3205960330", Declaration: "X"}, WorkflowID: "clearance-X"},
		{Ref: clearance.Ref{Exporter: "3205960330", Declaration: "X"}, WorkflowID: "clearance-3205960330-X"},
	}
	if got := clearance.Exporters(found); !slices.Equal(got, []string{"3205960330", "3302960178"}) {
		t.Errorf("exporters %v", got)
	}
}
