package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	workflowpb "go.temporal.io/api/workflow/v1"

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
	// Parallel bounds the histories fetched and replayed at once; zero means DefaultParallel.
	// Results are reported in the order the server lists the workflows, whatever the bound.
	Parallel int
}

// DefaultParallel is the default bound of histories in flight: fetching waits on the server,
// replaying uses a processor, so a few per processor keep both busy.
var DefaultParallel = 4 * runtime.GOMAXPROCS(0)

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

// outcome is what became of one listed workflow.
type outcome struct {
	skipped string       // why it was skipped, or ""
	failure *ReplayError // why it failed, or nil
	err     error        // a read error that ends the run
}

// ReplayQuery lists the workflows a visibility query matches, fetches the history of each
// ExportClearance among them and replays it, up to o.Parallel at once. Executions of other
// workflow types are skipped, as are histories the server no longer has. It returns ErrNoMatch
// when nothing matches, and an error when the server cannot be listed or read; replay failures
// are in the summary. Lines, progress and failures come in the order the server listed the
// workflows.
func ReplayQuery(ctx context.Context, c client.Client, query string, o QueryOptions) (Summary, error) {
	list := func(ctx context.Context, send func(func(context.Context) outcome) bool) error {
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
			if err != nil {
				return fmt.Errorf("list workflows matching %q: %w", query, err)
			}
			for _, info := range resp.GetExecutions() {
				if !send(func(ctx context.Context) outcome { return replayOne(ctx, c, info, o.Converters) }) {
					return nil
				}
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				return nil
			}
		}
	}
	return replayInOrder(ctx, o, list)
}

// replayInOrder runs the jobs list sends, up to o.Parallel at once, and adds up their outcomes
// in the order they were sent. send reports false once the run is over (a read error or ctx
// done): list then returns. An error from list ends the run after the outcomes before it.
func replayInOrder(ctx context.Context, o QueryOptions, list func(ctx context.Context, send func(func(context.Context) outcome) bool) error) (Summary, error) {
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	ctx, cancel := context.WithCancel(ctx)

	// The lister sends each job with the slot its outcome goes to; workers fill the slots; the
	// collector reads them in order.
	type job struct {
		run func(context.Context) outcome
		out chan outcome
	}
	jobs := make(chan job)
	order := make(chan chan outcome, parallel)
	listErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		send := func(run func(context.Context) outcome) bool {
			out := make(chan outcome, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- job{run, out}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if err := list(ctx, send); err != nil {
			listErr <- err
		}
	}()
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- j.run(ctx)
			}
		}()
	}
	// On any return: stop the lister and the workers, then wait for them.
	defer func() { cancel(); wg.Wait() }()

	var s Summary
	report := func(format string, args ...any) {
		if o.Report != nil {
			fmt.Fprintf(o.Report, format+"\n", args...)
		}
	}
	for out := range order {
		r := <-out
		if r.err != nil {
			return s, r.err
		}
		s.Matched++
		switch {
		case r.skipped != "":
			s.Skipped++
			report("skip %s", r.skipped)
		case r.failure != nil:
			s.Failed++
			s.Failures = append(s.Failures, r.failure)
			report("FAIL %v", r.failure)
		default:
			s.Replayed++
		}
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	select {
	case err := <-listErr:
		return s, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return s, err
	}
	if s.Matched == 0 {
		return s, ErrNoMatch
	}
	return s, nil
}

// replayOne fetches and replays one listed workflow.
func replayOne(ctx context.Context, c client.Client, info *workflowpb.WorkflowExecutionInfo, conv Converters) outcome {
	id, run := info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId()
	if t := info.GetType().GetName(); t != workflows.WorkflowName {
		return outcome{skipped: fmt.Sprintf("%s (run %s): workflow type %s, not %s", id, run, t, workflows.WorkflowName)}
	}
	h, err := FetchHistory(ctx, c, id, run)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return outcome{skipped: fmt.Sprintf("%s (run %s): the history is gone (%s)", id, run, OneLine(nf.Error()))}
	case err != nil && ctx.Err() != nil:
		return outcome{err: ctx.Err()}
	case err != nil:
		var ie *InputError
		re := &ReplayError{WorkflowID: id, Kind: KindInput, Reason: OneLine(err.Error())}
		if errors.As(err, &ie) {
			re.Reason = ie.Reason
		}
		return outcome{failure: re}
	}
	if err := Replay(h, conv); err != nil {
		return outcome{failure: asReplayError(id, err)}
	}
	return outcome{}
}

func asReplayError(id string, err error) *ReplayError {
	var re *ReplayError
	if errors.As(err, &re) {
		return re
	}
	return &ReplayError{WorkflowID: id, Kind: KindReplay, Reason: OneLine(err.Error())}
}
