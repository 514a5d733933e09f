package workflows

import (
	"strings"
	"testing"
	"time"
)

// What a lodgement says comes next names the agencies a clearance waits on, not an officer it
// does not wait for nor a due time it does not have.
func TestNextNamesTheAgenciesAwaited(t *testing.T) {
	s := Status{State: StateAwaitingAgency, Phase: PhaseAwaitingAgency,
		Waiting: &Waiting{For: WaitingForAgency, Agencies: []string{"NMPA", "SAMR"}, Since: time.Now()}}
	got := next(s, Lodgement{Accepted: true})
	if !strings.Contains(got, "the permit of NMPA and SAMR") || strings.Contains(got, "officer") || strings.Contains(got, "0001") {
		t.Errorf("next: %q", got)
	}
}
