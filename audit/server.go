package audit

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/workflows"
)

// ErrNoMatch is returned by ReplayQuery when the query matches no workflow.
var ErrNoMatch = errors.New("no workflow matches the query")

// QueryOptions tune ReplayQuery.
type QueryOptions struct {
	// Progress is called after each workflow matched, with the counts so far; nil for none.
	Progress func(Summary)
	// Report receives a line for every history that fails or is skipped; nil for none.
	Report io.Writer
	// Converters read the payloads (the zero value for plain ones).
	Converters Converters
}

// Summary counts what ReplayQuery did.
type Summary struct {
	Matched  int
	Replayed int
	Failed   int
	// Skipped counts executions of other workflow types and histories that vanished (deleted
	// by retention) between listing and fetching.
	Skipped  int
	Failures []*ReplayError
}

func (s Summary) String() string {
	return fmt.Sprintf("matched %d, replayed %d, failed %d, skipped %d", s.Matched, s.Replayed, s.Failed, s.Skipped)
}

// ReplayQuery lists the workflows a visibility query matches, fetches the history of each
// ExportClearance among them and replays it. Executions of other workflow types are skipped, as
// are histories the server no longer has. It returns ErrNoMatch when nothing matches, and an
// error when the server cannot be listed or read; replay failures are in the summary.
func ReplayQuery(ctx context.Context, c client.Client, query string, o QueryOptions) (Summary, error) {
	var s Summary
	progress := func() {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	report := func(format string, args ...any) {
		if o.Report != nil {
			fmt.Fprintf(o.Report, format+"\n", args...)
		}
	}
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return s, fmt.Errorf("list workflows matching %q: %w", query, err)
		}
		for _, info := range resp.GetExecutions() {
			s.Matched++
			id, run := info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId()
			if t := info.GetType().GetName(); t != workflows.WorkflowName {
				s.Skipped++
				report("skip %s (run %s): workflow type %s, not %s", id, run, t, workflows.WorkflowName)
				progress()
				continue
			}
			h, err := FetchHistory(ctx, c, id, run)
			var nf *serviceerror.NotFound
			switch {
			case errors.As(err, &nf):
				s.Skipped++
				report("skip %s (run %s): the history is gone (%s)", id, run, OneLine(nf.Error()))
				progress()
				continue
			case err != nil && ctx.Err() != nil:
				return s, ctx.Err()
			case err != nil:
				var ie *InputError
				re := &ReplayError{WorkflowID: id, Kind: KindInput, Reason: OneLine(err.Error())}
				if errors.As(err, &ie) {
					re.Reason = ie.Reason
				}
				s.Failed++
				s.Failures = append(s.Failures, re)
				report("FAIL %v", re)
				progress()
				continue
			}
			if err := Replay(h, o.Converters); err != nil {
				re := asReplayError(id, err)
				s.Failed++
				s.Failures = append(s.Failures, re)
				report("FAIL %v", re)
			} else {
				s.Replayed++
			}
			progress()
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	if s.Matched == 0 {
		return s, ErrNoMatch
	}
	return s, nil
}

func asReplayError(id string, err error) *ReplayError {
	var re *ReplayError
	if errors.As(err, &re) {
		return re
	}
	return &ReplayError{WorkflowID: id, Kind: KindReplay, Reason: OneLine(err.Error())}
}
