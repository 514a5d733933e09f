package workflows

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/policy"
)

// TestTaskPriority: a clearance's tasks take the policy's key for its queue priority and the
// exporter's code as fairness key; a policy's own keys replace the built-in ones; no queue
// priority (before lane selection) gives no key, so the tasks keep the clearance's; an exporter
// code longer than the server takes as a fairness key gives none, rather than tasks the server
// refuses.
func TestTaskPriority(t *testing.T) {
	p := policy.Default()
	own := policy.Default()
	own.PriorityKeys = map[string]int{policy.PriorityUrgent: 1, policy.PriorityHigh: 1, policy.PriorityNormal: 4, policy.PriorityLow: 5}
	long := strings.Repeat("9", 65)
	for _, tc := range []struct {
		p           policy.Policy
		queue, code string
		want        temporal.Priority
	}{
		{p, policy.PriorityUrgent, "3302960178", temporal.Priority{PriorityKey: 1, FairnessKey: "3302960178"}},
		{p, policy.PriorityLow, "3302960178", temporal.Priority{PriorityKey: 4, FairnessKey: "3302960178"}},
		{own, policy.PriorityHigh, "3302960178", temporal.Priority{PriorityKey: 1, FairnessKey: "3302960178"}},
		{own, policy.PriorityNormal, "3302960178", temporal.Priority{PriorityKey: 4, FairnessKey: "3302960178"}},
		{p, "", "3302960178", temporal.Priority{FairnessKey: "3302960178"}},
		{p, policy.PriorityNormal, long, temporal.Priority{PriorityKey: 3}},
	} {
		if got := TaskPriority(tc.p, tc.queue, tc.code); got != tc.want {
			t.Errorf("TaskPriority(%v, %q, %q) = %+v, want %+v", tc.p.PriorityKeys, tc.queue, tc.code, got, tc.want)
		}
	}
}
