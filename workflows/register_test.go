package workflows

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/policy"
)

// TestAcceptanceRegistersTheDeclaration: once its lane is selected the clearance registers its
// declaration, bound to its workflow ID and first run, and shows the registration number in its
// status, result, search attributes and current details; the release notice is asked for the
// same clearance and registration.
func TestAcceptanceRegistersTheDeclaration(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	d := fixture()
	r := h.run(d)

	require.Equal(t, StateReleased, r.State)
	require.Len(t, h.registrations, 1)
	reg := h.registrations[0]
	id, _ := WorkflowID(d.Exporter.Code, d.ID)
	require.Equal(t, activities.Registration{ExporterCode: d.Exporter.Code, DeclarationID: d.ID, WorkflowID: id, RunID: reg.RunID}, reg)
	require.NotEmpty(t, reg.RunID)
	require.Equal(t, &Registration{Number: "ED-2020-00000001", Accepted: start}, r.Registration)
	require.Equal(t, "ED-2020-00000001", h.sa[SARegistration])
	require.Len(t, h.releaseRequests, 1)
	require.Equal(t, activities.ReleaseRequest{DeclarationID: d.ID, ExporterCode: d.Exporter.Code, Lane: policy.LaneGreen,
		WorkflowID: id, RunID: reg.RunID, Registration: "ED-2020-00000001"}, h.releaseRequests[0])
}

// TestRegistrationShownWhileWaiting: a clearance waiting on an officer shows its registration in
// the status and the current details.
func TestRegistrationShownWhileWaiting(t *testing.T) {
	h := newHarness(t, policy.LaneYellow)
	var st Status
	h.env.RegisterDelayedCallback(func() { st = h.status() }, time.Minute)
	h.decide(time.Hour, "approve", docApprove)
	h.run(fixture())
	require.Equal(t, StateAwaitingOfficer, st.State)
	require.Equal(t, "ED-2020-00000001", st.Registration.Number)
	require.Equal(t, "ED-2020-00000001", h.sa[SARegistration])

	c := &clearance{decl: fixture(), phase: PhaseAwaitingOfficer, Carried: Carried{Stage: policy.StageDocumentCheck,
		Registration: &Registration{Number: "ED-2020-00000001", Accepted: start}}}
	require.Contains(t, c.details(start), "Registration ED-2020-00000001.")
}

// TestDeclarationLodgedBeforeIsRefused: a declaration the register holds for another clearance is
// refused at acceptance with the register's reason: no check runs and no notice is asked for.
func TestDeclarationLodgedBeforeIsRefused(t *testing.T) {
	h := newHarness(t, policy.LaneGreen)
	why := "declaration NB-1 of exporter 3302960123 was lodged before: registration ED-2026-00000004"
	h.registrationErr = temporal.NewNonRetryableApplicationError(why, activities.ErrDuplicateDeclaration, nil)
	r := h.run(fixture())

	require.Equal(t, StateRefused, r.State)
	require.Equal(t, why, r.Reason)
	require.True(t, r.RefusedAsLodged, "a duplicate declaration is refused as lodged, not a matter for appeal")
	require.Nil(t, r.Registration)
	require.Zero(t, h.checkCalls[policy.StageDocumentCheck])
	require.Empty(t, h.releaseRequests)
	require.Equal(t, "refused", h.sa[SAStatus])
	require.Len(t, h.notifications, 1)
	require.Equal(t, activities.NotifyRefused, h.notifications[0].Kind)
	require.Contains(t, h.notifications[0].Message, "registration ED-2026-00000004")
}

// TestEveryGoldenOfThisReleaseIsRegistered: in every golden history of this release the
// clearance started under its exporter's workflow ID and was registered, by a local activity; its result, its search
// attributes and its release notice carry the registration number. The one refused by the
// register has none. No history of a release before the register registers anything.
func TestEveryGoldenOfThisReleaseIsRegistered(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	read := func(file string) (activities []string, start *historypb.WorkflowExecutionStartedEventAttributes, res Result, shown string) {
		h, err := client.HistoryFromJSON(mustOpen(t, file), client.HistoryJSONOptions{})
		require.NoError(t, err)
		for _, e := range h.GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				start = e.GetWorkflowExecutionStartedEventAttributes()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				activities = append(activities, e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				if a := e.GetMarkerRecordedEventAttributes(); a.GetMarkerName() == "LocalActivity" {
					var data struct{ ActivityType string }
					require.NoError(t, dc.FromPayloads(a.GetDetails()["data"], &data))
					activities = append(activities, "local "+data.ActivityType)
				}
			case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				if p, ok := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()[SARegistration]; ok {
					require.NoError(t, dc.FromPayload(p, &shown))
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				require.NoError(t, dc.FromPayloads(e.GetWorkflowExecutionCompletedEventAttributes().GetResult(), &res))
			}
		}
		return activities, start, res, shown
	}
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := filepath.Base(file)
		acts, start, res, shown := read(file)
		var in Input
		require.NoError(t, dc.FromPayloads(start.GetInput(), &in))
		if in.Reopened != nil {
			// A run an appeal reopened keeps the registration its first run was given, from the
			// search attributes it starts with; it registers nothing again.
			require.NotContains(t, acts, "local RegisterDeclaration", name)
			require.Equal(t, in.Carried.Registration.Number, res.Registration.Number, name)
			require.NoError(t, dc.FromPayload(start.GetSearchAttributes().GetIndexedFields()[SARegistration], &shown))
		} else {
			require.Contains(t, acts, "local RegisterDeclaration", name)
		}
		require.NotContains(t, acts, "RegisterDeclaration", "%s: a local activity, not an activity task", name)
		want, err := WorkflowID(in.Declaration.Exporter.Code, in.Declaration.ID)
		require.NoError(t, err)
		require.Equal(t, want, start.GetWorkflowId(), name)
		if name == "relodged-after-retention.json" {
			require.Nil(t, res.Registration, name)
			require.Contains(t, res.Reason, "was lodged before: registration ED-", name)
			continue
		}
		require.NotNil(t, res.Registration, name)
		require.Regexp(t, `^ED-[0-9]{4}-[0-9]{8}$`, res.Registration.Number, name)
		require.Equal(t, res.Registration.Number, shown, "%s: the RegistrationNumber search attribute", name)
		if res.Notice != nil {
			require.Equal(t, res.Registration.Number, res.Notice.Registration, "%s: the release notice", name)
		}
	}
	// The releases before the declarations register registered nothing; those since, every
	// clearance.
	released, err := filepath.Glob(filepath.Join(releasedDir, "*", "*.json"))
	require.NoError(t, err)
	for _, file := range released {
		acts, _, res, _ := read(file)
		if slices.Contains([]string{"before-explicit-phases", "before-information-deadline-on-calendar", "before-quiet-automated-stages",
			"before-quiet-automated-stages-2", "before-quiet-automated-stages-3"}, filepath.Base(filepath.Dir(file))) {
			require.NotContains(t, acts, "local RegisterDeclaration", file)
			require.Nil(t, res.Registration, file)
			continue
		}
		require.Contains(t, acts, "local RegisterDeclaration", file)
		require.NotNil(t, res.Registration, file)
	}
}
