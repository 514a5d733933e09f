package loadgen

import (
	"testing"
	"time"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/workflows"
)

// TestPermitsOfReadsGrantsAndRoundTrips: a clearance granted SAMR's permit after asking twice
// counts once for SAMR, an agency that refused counts for none, and every answered request
// gives its round trip while an unanswered one gives none.
func TestPermitsOfReadsGrantsAndRoundTrips(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	answer := func(d agency.Disposition) *agency.PermitResult { return &agency.PermitResult{Disposition: d} }
	r := workflows.Result{Permits: []workflows.PermitRecord{
		{Agency: agency.SAMR, Asked: at, Answered: at.Add(300 * time.Millisecond), Result: answer(agency.InformationNeeded)},
		{Agency: agency.SAMR, Asked: at.Add(time.Second), Answered: at.Add(1200 * time.Millisecond), Result: answer(agency.Granted)},
		{Agency: agency.NMPA, Asked: at, Answered: at.Add(time.Second), Result: answer(agency.Refused)},
		{Agency: "HEALTH", Asked: at},
	}}
	granted, rts := permitsOf(r)
	if len(granted) != 1 || granted[0] != agency.SAMR {
		t.Errorf("granted %v, want [SAMR]", granted)
	}
	want := []time.Duration{300 * time.Millisecond, 200 * time.Millisecond, time.Second}
	if len(rts) != len(want) {
		t.Fatalf("round trips %v, want %v", rts, want)
	}
	for i := range want {
		if rts[i] != want[i] {
			t.Errorf("round trips %v, want %v", rts, want)
		}
	}
	if g, rts := permitsOf(workflows.Result{}); len(g) != 0 || len(rts) != 0 {
		t.Errorf("a clearance that asked no agency: %v, %v", g, rts)
	}
}

// TestPermitsAddUpOverRuns: the tally of released clearances and Merge count each agency's
// grants and pool the round trips of all runs.
func TestPermitsAddUpOverRuns(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	granted := func(d time.Duration) workflows.Result {
		return workflows.Result{Permits: []workflows.PermitRecord{{Agency: agency.SAMR, Asked: at, Answered: at.Add(d),
			Result: &agency.PermitResult{Disposition: agency.Granted}}}}
	}
	var a, b tally
	a.recordPermits(granted(100 * time.Millisecond))
	a.recordPermits(granted(200 * time.Millisecond))
	a.recordPermits(workflows.Result{})
	b.recordPermits(granted(400 * time.Millisecond))
	ra, rb := a.result("clearance", 3, time.Second), b.result("clearance", 1, time.Second)
	if ra.Permits[agency.SAMR] != 2 || ra.AgencyRoundTrip.Max != 200*time.Millisecond {
		t.Errorf("first run: permits %v, round trip %+v", ra.Permits, ra.AgencyRoundTrip)
	}
	m := Merge(ra, rb, Result{Kind: "clearance"})
	if m.Permits[agency.SAMR] != 3 || m.AgencyRoundTrip.P50 != 200*time.Millisecond || m.AgencyRoundTrip.Max != 400*time.Millisecond {
		t.Errorf("merged: permits %v, round trip %+v; want 3 SAMR, p50 200ms, max 400ms", m.Permits, m.AgencyRoundTrip)
	}
	if m := Merge(Result{Kind: "clearance"}); m.Permits != nil || m.AgencyRoundTrip != (Latencies{}) {
		t.Errorf("no permits asked: %v, %+v", m.Permits, m.AgencyRoundTrip)
	}
}
