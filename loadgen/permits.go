package loadgen

import (
	"slices"
	"time"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/workflows"
)

// permitsOf reads what a released clearance recorded of the single window: the agencies that
// granted it a permit, each once, and the round trip of each request an agency answered, from
// the clearance asking (PermitRecord.Asked) to the answer reaching it (PermitRecord.Answered).
// The round trip is the Nexus operation's: customs' command, the agency's review in its own
// namespace, and the completion carried back to the clearance.
func permitsOf(r workflows.Result) (granted []string, roundTrips []time.Duration) {
	for _, p := range r.Permits {
		if !p.Asked.IsZero() && !p.Answered.IsZero() && !p.Answered.Before(p.Asked) {
			roundTrips = append(roundTrips, p.Answered.Sub(p.Asked))
		}
		if p.Result != nil && p.Result.Disposition == agency.Granted && !slices.Contains(granted, p.Agency) {
			granted = append(granted, p.Agency)
		}
	}
	return granted, roundTrips
}

// recordPermits adds a released clearance's permits to the tally; t.mu must be held.
func (t *tally) recordPermits(r workflows.Result) {
	granted, roundTrips := permitsOf(r)
	for _, a := range granted {
		if t.permits == nil {
			t.permits = map[string]int{}
		}
		t.permits[a]++
	}
	t.roundTrips = append(t.roundTrips, roundTrips...)
}
