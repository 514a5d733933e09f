package appeal

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// TestARefusalAsLodgedIsNotAppealable: a declaration refused as it was lodged (a duplicate the
// register holds for another clearance, or one that does not validate) is not a matter for appeal,
// whether its result says so or, ended before results said so, its one stage ended refused by rule
// with no check run; a refusal by rule after its checks ran, or an agency's, is appealable.
func TestARefusalAsLodgedIsNotAppealable(t *testing.T) {
	at := time.Date(2020, 4, 1, 9, 0, 0, 0, time.UTC)
	lodged := workflows.Result{State: workflows.StateRefused, Stage: policy.StageDocumentCheck, RefusedAsLodged: true,
		Reason:   "declaration NB-1 of exporter 3302960123 was lodged before: registration ED-2026-00000004",
		Timeline: []workflows.StageRecord{{Stage: policy.StageDocumentCheck, Started: at, Ended: at, Outcome: workflows.OutcomeRefused}},
		Decisions: []workflows.DecisionRecord{{Decision: workflows.Decision{Stage: policy.StageDocumentCheck, Outcome: workflows.OutcomeReject},
			Via: workflows.ViaAutomatic}}}
	earlier := lodged
	earlier.RefusedAsLodged = false
	checked := earlier
	checked.Timeline = []workflows.StageRecord{{Stage: policy.StageDocumentCheck, Started: at, Ended: at, Outcome: workflows.OutcomeRefused, CheckRuns: 1}}
	agency := earlier
	agency.Decisions = []workflows.DecisionRecord{{Decision: workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "sup-huang",
		Outcome: workflows.OutcomeReject}, Via: workflows.ViaUpdate}}
	for _, c := range []struct {
		name       string
		res        workflows.Result
		appealable bool
	}{{"refused as lodged", lodged, false}, {"as lodged, before results said so", earlier, false},
		{"by rule after its checks", checked, true}, {"by an agency", agency, true}} {
		err := lodgedRefusal("clearance-3302960123-NB-1", c.res)
		var appErr *temporal.ApplicationError
		switch {
		case c.appealable && err != nil:
			t.Errorf("%s: %v; want it appealable", c.name, err)
		case !c.appealable && (!errors.As(err, &appErr) || appErr.Type() != ErrNotAppealable || !strings.Contains(err.Error(), "not a matter for appeal")):
			t.Errorf("%s: %v; want %s saying it is not a matter for appeal", c.name, err, ErrNotAppealable)
		}
	}
}

// TestAppealsOfOneClearanceAreBounded: a clearance reopened on appeal MaxAppeals times and
// refused again is not heard by customs once more; one reopened fewer times is.
func TestAppealsOfOneClearanceAreBounded(t *testing.T) {
	res := workflows.Result{State: workflows.StateRefused, Stage: policy.StageDocumentCheck}
	for i := 0; i < MaxAppeals-1; i++ {
		res.Appeals = append(res.Appeals, workflows.AppealRecord{Appeal: "appeal-3302960123-NB-1"})
	}
	if err := appealsExhausted("clearance-3302960123-NB-1", res); err != nil {
		t.Fatalf("after %d appeals: %v", len(res.Appeals), err)
	}
	res.Appeals = append(res.Appeals, workflows.AppealRecord{Appeal: "appeal-3302960123-NB-1"})
	err := appealsExhausted("clearance-3302960123-NB-1", res)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrNotAppealable || !strings.Contains(err.Error(), "appealed to the court") {
		t.Fatalf("after %d appeals: %v; want %s", len(res.Appeals), err, ErrNotAppealable)
	}
}
