package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// TestStudyMemoMatchesTheResultInEveryGolden reads each golden history of this release as the
// Time Release Study reads a clearance from visibility: its last study memo must say what its
// result says (state, lane, timeline, escalations, elapsed time), and every search attribute upsert
// after the version marker must come with a study in the same workflow task. The histories of the
// release before VersionStudyMemo write no memo.
func TestStudyMemoMatchesTheResultInEveryGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	dc := converter.GetDefaultDataConverter()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			h, err := client.HistoryFromJSON(mustOpen(t, file), client.HistoryJSONOptions{})
			require.NoError(t, err)
			var (
				last      *Study
				upserts   int
				withStudy int
				inTask    bool
				res       Result
			)
			for _, e := range h.GetEvents() {
				switch e.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
					inTask = false
				case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
					if _, marker := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]; !marker {
						upserts++
						inTask = true
					}
				case enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
					p, ok := e.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo().GetFields()[MemoStudy]
					require.True(t, ok, "memo upsert without %q", MemoStudy)
					var s Study
					require.NoError(t, dc.FromPayload(p, &s))
					last = &s
					if inTask {
						withStudy++
						inTask = false
					}
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
					require.NoError(t, dc.FromPayloads(e.GetWorkflowExecutionCompletedEventAttributes().GetResult(), &res))
				}
			}
			require.NotNil(t, last, "no study memo")
			require.Equal(t, upserts, withStudy, "search attribute upserts each with a study")
			require.Equal(t, res.State, last.State)
			require.Equal(t, res.Lane, last.Lane)
			require.Equal(t, res.Stage, last.Stage)
			require.Equal(t, res.Elapsed, last.Elapsed)
			require.Equal(t, res.Standard, last.Standard)
			require.Equal(t, res.Counting, last.Counting)
			require.Equal(t, res.Timeline, last.Timeline)
			require.Equal(t, res.Escalations, last.Escalations)
			require.Nil(t, last.Waiting, "an ended clearance waits on no one")
		})
	}
	// A supervisor's extension is in the study while the stage still runs: a reader counts the
	// stage to its new due time, not the old one.
	h, err := client.HistoryFromJSON(mustOpen(t, filepath.Join(goldenDir, "extension.json")), client.HistoryJSONOptions{})
	require.NoError(t, err)
	extended := false
	for _, e := range h.GetEvents() {
		if p, ok := e.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo().GetFields()[MemoStudy]; ok {
			var s Study
			require.NoError(t, dc.FromPayload(p, &s))
			if st := s.Timeline[len(s.Timeline)-1]; !s.State.Final() && st.Extension != nil {
				require.Equal(t, st.Extension.DueNow, st.Due)
				extended = true
			}
		}
	}
	require.True(t, extended, "no study of the running stage shows its extension")
	for _, file := range []string{"green-release.json", "escalation.json"} {
		before := countEvents(t, filepath.Join(releasedDir, "before-quiet-automated-stages-2", file))
		require.Zero(t, before[enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED], file)
	}
}
