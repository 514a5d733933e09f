package workflows

import (
	"testing"
	"time"

	"github.com/medsupply/customs/policy"
)

// The query counts a running clearance's times to the workflow's clock and a client counts on to
// its own: counting in steps gives what counting at once does, and an ended clearance stays.
func TestStatusUpToCountsRunningTimesOn(t *testing.T) {
	t0 := time.Date(2020, 4, 1, 9, 0, 0, 0, time.UTC)
	s := Status{State: StateAwaitingOfficer, Submitted: t0, Elapsed: policy.Duration(time.Minute),
		Waiting: &Waiting{For: WaitingForOfficer, Since: t0.Add(2 * time.Hour)},
		Record: Record{Timeline: []StageRecord{
			{Stage: policy.StageDocumentCheck, Started: t0, Ended: t0.Add(time.Hour), Duration: policy.Duration(time.Hour)},
			{Stage: policy.StageBiologicalReview, Started: t0.Add(time.Hour), Allowance: policy.Duration(12 * 24 * time.Hour),
				Due: t0.Add(time.Hour + 12*24*time.Hour)},
		}}}
	half := s
	half.Timeline = append([]StageRecord(nil), s.Timeline...)
	half.UpTo(t0.Add(3 * 24 * time.Hour))
	half.UpTo(t0.Add(3 * 24 * time.Hour))
	half.UpTo(t0.Add(14 * 24 * time.Hour))
	s.UpTo(t0.Add(14 * 24 * time.Hour))
	if half.Elapsed != s.Elapsed || half.Timeline[1] != s.Timeline[1] {
		t.Errorf("counted on in steps: %+v, at once: %+v", half.Timeline[1], s.Timeline[1])
	}
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

	done := Status{State: StateReleased, Submitted: t0, Elapsed: policy.Duration(time.Hour)}
	done.UpTo(t0.Add(48 * time.Hour))
	if done.Elapsed.D() != time.Hour {
		t.Errorf("a closed clearance's elapsed time changed to %s", done.Elapsed)
	}
}
