package workflows

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/policy"
)

// The auditor reads what a timer measures from its summary: every summary the workflow writes
// reads back as what it is.
func TestTimerSummariesReadBack(t *testing.T) {
	due := time.Date(2020, 4, 14, 1, 0, 0, 0, time.UTC)
	for _, stage := range allStages {
		for _, business := range []bool{false, true} {
			sum := AllowanceTimerSummary(stage, policy.Duration(48*time.Hour), business, due)
			kind, got, allowance, ok := TimerOf(sum)
			require.True(t, ok, sum)
			require.Equal(t, TimerAllowance, kind, sum)
			require.Equal(t, stage, got, sum)
			require.Contains(t, allowance, "allowance (2d", sum)
		}
	}
	for _, business := range []bool{false, true} {
		sum := ExporterDeadlineTimerSummary(policy.Duration(5*24*time.Hour), business, due)
		kind, _, _, ok := TimerOf(sum)
		require.True(t, ok, sum)
		require.Equal(t, TimerExporterDeadline, kind, sum)
	}
	for _, other := range []string{"", "timer 7", "lunch allowance (1h)", "Exporter's lunch"} {
		_, _, _, ok := TimerOf(other)
		require.False(t, ok, other)
	}
}

// Every timer in the golden histories of every release reads as an allowance or the exporter's
// deadline: a summary reworded without TimerOf knowing would fail here.
func TestGoldenTimersAreRead(t *testing.T) {
	seen := map[TimerKind]int{}
	for _, f := range goldenFiles(t) {
		h, err := client.HistoryFromJSON(mustOpen(t, f), client.HistoryJSONOptions{})
		require.NoError(t, err)
		for _, e := range h.GetEvents() {
			if e.GetEventType() != enumspb.EVENT_TYPE_TIMER_STARTED {
				continue
			}
			var sum string
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(e.GetUserMetadata().GetSummary(), &sum))
			kind, _, _, ok := TimerOf(sum)
			require.True(t, ok, "%s: timer %q", filepath.Base(f), sum)
			seen[kind]++
		}
	}
	require.Positive(t, seen[TimerAllowance])
	require.Positive(t, seen[TimerExporterDeadline])
}
