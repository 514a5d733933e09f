package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/workflows"
)

// ArchiveSuffix ends the name of every history file the server's filestore archival writes:
// <hashes of namespace, workflow and run IDs>_<close failover version>.history.
const ArchiveSuffix = ".history"

// ArchivedHistories lists the history files of an archive directory, in name order.
func ArchivedHistories(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &InputError{Source: dir, Reason: "cannot read the archive: " + unwrapPathError(err)}
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ArchiveSuffix) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files, nil
}

// ReplayFiles replays the ExportClearance histories among files (an archive directory's, as
// ArchivedHistories lists them), reading and replaying up to o.Parallel at once, with nothing
// asked of a server. Histories of other workflow types are skipped; a file that is not a
// readable history is a failure. It returns ErrNoMatch for no file. Lines, progress and failures
// come in the order of files.
func ReplayFiles(ctx context.Context, files []string, o QueryOptions) (Summary, error) {
	list := func(_ context.Context, send func(func(context.Context) outcome) bool) error {
		for _, f := range files {
			if !send(func(context.Context) outcome { return replayFile(f, o.Converters) }) {
				return nil
			}
		}
		return nil
	}
	return replayInOrder(ctx, o, list)
}

// replayFile reads and replays one archived history.
func replayFile(path string, conv Converters) outcome {
	h, err := ReadHistoryFile(path)
	if err != nil {
		re := &ReplayError{WorkflowID: path, Kind: KindInput, Reason: OneLine(err.Error())}
		var ie *InputError
		if errors.As(err, &ie) {
			re.Reason = ie.Reason
		}
		return outcome{failure: re}
	}
	start := conv.StartOf(h)
	if start.WorkflowType != workflows.WorkflowName {
		return outcome{skipped: fmt.Sprintf("%s (%s, run %s): workflow type %s, not %s",
			path, start.WorkflowID, start.RunID, start.WorkflowType, workflows.WorkflowName)}
	}
	// The history was read for this replay alone.
	if err := replayStarted(h, workflows.ExportClearance, start, conv, true); err != nil {
		re := asReplayError(start.WorkflowID, err)
		re.Source = path
		return outcome{failure: re}
	}
	return outcome{}
}

// FetchArchived reads the latest archived run of a workflow the server no longer holds: it finds
// the run in the namespace's visibility archive (ListArchivedWorkflowExecutions) and reads its
// history, which the server serves from the history archive. It returns a
// *serviceerror.NotFound when nothing is archived under workflowID, the namespace archives
// nothing included.
func FetchArchived(ctx context.Context, c client.Client, workflowID string) (*historypb.History, error) {
	var latest *workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := c.ListArchivedWorkflow(ctx, &workflowservice.ListArchivedWorkflowExecutionsRequest{
			Query: "WorkflowId = " + quote(workflowID), NextPageToken: token,
		})
		var invalid *serviceerror.InvalidArgument
		var precondition *serviceerror.FailedPrecondition
		switch {
		case errors.As(err, &invalid), errors.As(err, &precondition):
			// The namespace or the cluster archives no visibility records.
			return nil, serviceerror.NewNotFoundf("%s is not archived: %s", workflowID, OneLine(err.Error()))
		case err != nil:
			return nil, fmt.Errorf("list archived runs of %s: %w", workflowID, err)
		}
		for _, info := range resp.GetExecutions() {
			if latest == nil || info.GetCloseTime().AsTime().After(latest.GetCloseTime().AsTime()) {
				latest = info
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	if latest == nil {
		return nil, serviceerror.NewNotFoundf("%s is not archived", workflowID)
	}
	return FetchHistory(ctx, c, workflowID, latest.GetExecution().GetRunId())
}

// quote is a string literal of the visibility query language.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
