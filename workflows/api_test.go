package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"

	"github.com/medsupply/customs/policy"
)

func TestWorkflowIDsNameTheExporter(t *testing.T) {
	id, err := WorkflowID("3301960412", "LB-2020-DE-0415")
	if err != nil || id != "clearance-3301960412-LB-2020-DE-0415" {
		t.Fatalf("WorkflowID = %q, %v", id, err)
	}
	legacy, err := LegacyWorkflowID("LB-2020-DE-0415")
	if err != nil || legacy != "clearance-LB-2020-DE-0415" {
		t.Fatalf("LegacyWorkflowID = %q, %v", legacy, err)
	}
	for _, bad := range [][2]string{{"", "A"}, {"330196041", "A"}, {"33019604123", "A"}, {"3301-60412", "A"}, {"3301960412", ""}, {"3301960412", "-A"}, {"3301960412", "a b"}} {
		if id, err := WorkflowID(bad[0], bad[1]); err == nil {
			t.Errorf("WorkflowID(%q, %q) = %q, want an error", bad[0], bad[1], id)
		}
	}
	for _, c := range []struct {
		id, exporter, decl string
		want               bool
	}{
		{id, "3301960412", "LB-2020-DE-0415", true},
		{legacy, "3301960412", "LB-2020-DE-0415", true},
		{id, "3302960178", "LB-2020-DE-0415", false},
		{id, "3301960412", "LB-2020-DE-0416", false},
		{"clearance-3302960178-LB-2020-DE-0415", "3301960412", "LB-2020-DE-0415", false},
	} {
		if got := IsWorkflowIDOf(c.id, c.exporter, c.decl); got != c.want {
			t.Errorf("IsWorkflowIDOf(%s, %s, %s) = %v", c.id, c.exporter, c.decl, got)
		}
	}
	for _, c := range []struct{ id, attr, exporter, want string }{
		{id, "LB-2020-DE-0415", "3301960412", "LB-2020-DE-0415"},
		{id, "", "3301960412", "LB-2020-DE-0415"},
		{legacy, "", "3301960412", "LB-2020-DE-0415"},
		{"clearance-NBKR-2020-000331", "", "", "NBKR-2020-000331"},
		// The attribute is the answer where the ID alone could be read two ways.
		{"clearance-3301960412-7", "3301960412-7", "3301960412", "3301960412-7"},
	} {
		if got := DeclarationOf(c.id, c.attr, c.exporter); got != c.want {
			t.Errorf("DeclarationOf(%s, %q, %q) = %q, want %q", c.id, c.attr, c.exporter, got, c.want)
		}
	}
}

// The Web UI's Queries tab lists a workflow's queries by name and runs the first: every query but
// "status" sorts after it, so an officer who opens the tab reads the status.
func TestStatusIsTheFirstQuery(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var meta *sdkpb.WorkflowMetadata
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow("__temporal_workflow_metadata")
		require.NoError(t, err)
		require.NoError(t, v.Get(&meta))
	}, time.Hour)
	h.decide(2*time.Hour, "approve", docApprove)
	h.run(fixture())
	var names []string
	for _, q := range meta.GetDefinition().GetQueryDefinitions() {
		if !strings.HasPrefix(q.GetName(), "__") {
			names = append(names, q.GetName())
		}
	}
	require.Contains(t, names, QueryDeclaration)
	require.Contains(t, names, QueryResult)
	for _, q := range names {
		if q != QueryStatus {
			require.Greater(t, q, QueryStatus, "query %q sorts before %q", q, QueryStatus)
		}
	}
}
