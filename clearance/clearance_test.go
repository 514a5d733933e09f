package clearance

import (
	"testing"
	"time"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

func TestBringUpToDateMovesRunningTimesToNow(t *testing.T) {
	t0 := time.Date(2020, 4, 1, 9, 0, 0, 0, time.UTC)
	s := workflows.Status{State: workflows.StateAwaitingOfficer, Submitted: t0, Elapsed: policy.Duration(time.Minute),
		Waiting: &workflows.Waiting{For: "officer-decision", Since: t0.Add(2 * time.Hour)},
		Timeline: []workflows.StageRecord{
			{Stage: policy.StageDocumentCheck, Started: t0, Ended: t0.Add(time.Hour), Duration: policy.Duration(time.Hour)},
			{Stage: policy.StageBiologicalReview, Started: t0.Add(time.Hour), Allowance: policy.Duration(12 * 24 * time.Hour),
				Due: t0.Add(time.Hour + 12*24*time.Hour)},
		}}
	bringUpToDate(&s, t0.Add(14*24*time.Hour))
	if got, want := s.Elapsed.D(), 14*24*time.Hour; got != want {
		t.Errorf("elapsed = %s, want %s", got, want)
	}
	if got := s.Timeline[0].Duration.D(); got != time.Hour {
		t.Errorf("ended stage duration changed to %s", got)
	}
	if got, want := s.Timeline[1].Duration.D(), 14*24*time.Hour-time.Hour; got != want || !s.Timeline[1].Overrun {
		t.Errorf("running stage = %s overrun %v, want %s overrun", got, s.Timeline[1].Overrun, want)
	}
	if got, want := s.Timeline[1].OfficerWait.D(), 14*24*time.Hour-2*time.Hour; got != want {
		t.Errorf("officer wait in progress = %s, want %s", got, want)
	}

	done := workflows.Status{State: workflows.StateReleased, Submitted: t0, Elapsed: policy.Duration(time.Hour)}
	bringUpToDate(&done, t0.Add(48*time.Hour))
	if done.Elapsed.D() != time.Hour {
		t.Errorf("a closed clearance's elapsed time changed to %s", done.Elapsed)
	}
}

func TestStartOptionsRefuseSecondSubmission(t *testing.T) {
	d := declaration.Declaration{ID: "NB-1", Exporter: declaration.Party{Code: "3302960123"}, Destination: "US",
		Transport: declaration.TransportAir, Lines: []declaration.Line{{Category: declaration.CategoryGloves}},
		Expedited: &declaration.Expedited{Justification: "field hospital"}}
	o, err := StartOptions(d)
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "clearance-NB-1" || o.TaskQueue != workflows.TaskQueue {
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
