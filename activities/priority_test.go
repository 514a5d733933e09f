package activities

import (
	"slices"
	"testing"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
)

// TestQueuePriorityFollowsTheRating: the lane selection gives the declaration its queue priority
// from the exporter's credit rating under the policy, urgent for the expedited procedure, and
// says why in its reasons.
func TestQueuePriorityFollowsTheRating(t *testing.T) {
	a := newActivities(t)
	base := example(t, "us-nasal-cannulas-anaesthesia-masks.json") // exporter 3302960178, advanced-certified
	for _, tt := range []struct {
		name, exporter string
		expedited      bool
		rating, want   string
		reason         string
	}{
		{"advanced-certified", "3302960178", false, "advanced-certified", policy.PriorityHigh, "priority: high for advanced-certified exporters"},
		{"discredited", "4419960888", false, "discredited", policy.PriorityLow, "priority: low for discredited exporters"},
		{"general credit", "3205960330", false, "general-credit", policy.PriorityNormal, ""},
		{"no customs record", "9999999999", false, "", policy.PriorityNormal, ""},
		{"expedited", "4419960888", true, "discredited", policy.PriorityUrgent, "priority: urgent: expedited procedure"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			d.Exporter.Code = tt.exporter
			d.Expedited = nil
			if tt.expedited {
				d.Expedited = &declaration.Expedited{Justification: "Emergency supplies for a field hospital"}
			}
			sel := selectLane(t, a, CheckInput{Declaration: d, On: fixedNow})
			if sel.Rating != tt.rating || sel.Priority != tt.want {
				t.Errorf("rating %q priority %q, want %q %q", sel.Rating, sel.Priority, tt.rating, tt.want)
			}
			has := slices.ContainsFunc(sel.Reasons, func(r string) bool { return r == tt.reason })
			if tt.reason != "" && !has {
				t.Errorf("reasons %q lack %q", sel.Reasons, tt.reason)
			}
		})
	}
}
