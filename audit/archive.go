package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
