package clearance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// TestAClearanceRunsAtItsPriority: on a server that does not verify callers, Submit starts a
// clearance at the priority its declaration gives (urgent, key 1, when expedited; else normal,
// key 3) with the exporter's code as fairness key, and once its lane selection has read the
// exporter's rating every activity it schedules runs at its queue priority: urgent for the
// expedited procedure, high (key 2) for an advanced-certified exporter, normal for a
// general-credit one. The activities before the selection keep the start's key.
func TestAClearanceRunsAtItsPriority(t *testing.T) {
	c, _ := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	expedited := example(t, "nl-examination-gloves-self-declared.json") // advanced-certified
	expedited.Expedited = &declaration.Expedited{Justification: "gloves for the intensive care units of the regional hospital network"}
	for _, tc := range []struct {
		d               declaration.Declaration
		start, selected int32
	}{
		{expedited, 1, 1},
		{example(t, "us-nasal-cannulas-anaesthesia-masks.json"), 3, 2}, // advanced-certified
		{example(t, "it-ffp2-respirators.json"), 3, 3},                 // general-credit
	} {
		d := tc.d
		d.ID = unsampled(d.ID + "-PRIORITY")
		run, err := clearance.Submit(ctx, c, d)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := clearance.Wait(ctx, c, clearance.RefOf(d)); err != nil || res.State != workflows.StateReleased {
			t.Fatalf("%s: %s, %v; want released (green lane)", d.ID, res.State, err)
		}
		code := d.Exporter.Code
		selected, scheduled := false, 0
		it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			switch a := e; {
			case a.GetWorkflowExecutionStartedEventAttributes() != nil:
				p := a.GetWorkflowExecutionStartedEventAttributes().GetPriority()
				if p.GetPriorityKey() != tc.start || p.GetFairnessKey() != code {
					t.Errorf("%s started at key %d, fairness key %q; want %d, %q", d.ID, p.GetPriorityKey(), p.GetFairnessKey(), tc.start, code)
				}
			case a.GetActivityTaskScheduledEventAttributes() != nil:
				s := a.GetActivityTaskScheduledEventAttributes()
				scheduled++
				key := int32(0) // the start's
				if selected {
					key = tc.selected
				}
				if p := s.GetPriority(); p.GetPriorityKey() != key || p.GetFairnessKey() != code {
					t.Errorf("%s: activity %s scheduled at key %d, fairness key %q; want %d, %q", d.ID, s.GetActivityType().GetName(),
						p.GetPriorityKey(), p.GetFairnessKey(), key, code)
				}
				selected = selected || s.GetActivityType().GetName() == activities.NameSelectLane
			}
		}
		if !selected || scheduled < 4 {
			t.Errorf("%s: %d activities scheduled, lane selection among them %v", d.ID, scheduled, selected)
		}
	}
}

// unsampled returns the first of id, id-1, id-2, ... that the random sample sends to no officer,
// so that a green-lane example stays green.
func unsampled(id string) string {
	for i := 1; activities.Sampled(id, 5); i++ {
		id = fmt.Sprintf("%s-%d", id, i)
	}
	return id
}
