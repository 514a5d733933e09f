package clearance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// Lodged is what the lodgement of a declaration came to.
type Lodged struct {
	WorkflowID string
	RunID      string
	// Answered says the clearance answered in the time it was given; Lodgement is its answer. A
	// lodgement not answered in time stands: its clearance runs, and its status says where.
	Answered bool
	workflows.Lodgement
	// Polled says the answer was read from the clearance's status because the server or the
	// clearance's worker does not take the lodgement in the start's own call.
	Polled bool
}

// AnswerWithin bounds how long Lodge waits for the lodgement's answer: a clearance answers within
// a second while its worker keeps up; without a worker the lodgement stands unanswered.
var AnswerWithin = 10 * time.Second

// AnswerPoll is how often a lodgement without Update-with-Start asks the clearance's status.
var AnswerPoll = 100 * time.Millisecond

// Lodge starts the clearance of a validated declaration and returns, in the same call, what the
// lodgement came to: refused as lodged or by the first stage's checks, or accepted with its
// registration number, risk lane and what happens next. It sends the start and the update
// "lodgement" together (Update-with-Start, the same start options as Submit). When one was
// started before, it returns a *DuplicateError as Submit does. A server that does not take
// Update-with-Start, and a clearance whose worker does not know the update (an earlier release),
// are lodged as before: the clearance is started, and its status asked until it says as much.
func Lodge(ctx context.Context, c client.Client, d declaration.Declaration) (Lodged, error) {
	return LodgeWithin(ctx, c, d, AnswerWithin)
}

// LodgeWithin is Lodge waiting at most within for the answer; with within 0 it starts the
// clearance (Submit) and waits for nothing.
func LodgeWithin(ctx context.Context, c client.Client, d declaration.Declaration, within time.Duration) (Lodged, error) {
	if within <= 0 {
		run, err := Submit(ctx, c, d)
		if err != nil {
			return Lodged{}, err
		}
		return Lodged{WorkflowID: run.GetID(), RunID: run.GetRunID()}, nil
	}
	opts, err := StartOptions(d)
	if err != nil {
		return Lodged{}, err
	}
	actx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	op := c.NewWithStartWorkflowOperation(opts, workflows.WorkflowName, workflows.Input{Declaration: d})
	h, err := c.UpdateWithStartWorkflow(actx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: workflows.UpdateLodgement,
			Args: []any{workflows.LodgementRequest{DeclarationID: d.ID}}, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	// The server may give up waiting for the update a moment before the call's own deadline:
	// that is no answer in time too.
	var timedOut *client.WorkflowUpdateServiceTimeoutOrCanceledError
	noAnswer := func(err error) bool { return (actx.Err() != nil || errors.As(err, &timedOut)) && ctx.Err() == nil }
	switch {
	case errors.As(err, &started):
		dup := &DuplicateError{DeclarationID: d.ID, WorkflowID: opts.ID, RunID: started.RunId}
		dup.State = existingState(ctx, c, opts.ID, dup)
		return Lodged{}, dup
	case withoutUpdateWithStart(err):
		return startAndPoll(ctx, c, d, within)
	case err != nil && noAnswer(err):
		// No answer in time, and no word of the start: the clearance's worker may not be
		// running. Whether the lodgement stands, the server says.
		if exists(ctx, c, opts.ID) {
			return Lodged{WorkflowID: opts.ID}, nil
		}
		return Lodged{}, fmt.Errorf("lodge %s: %w", d.ID, err)
	case err != nil:
		return Lodged{}, fmt.Errorf("lodge %s: %w", d.ID, err)
	}
	out := Lodged{WorkflowID: opts.ID, RunID: h.RunID()}
	err = h.Get(actx, &out.Lodgement)
	var refused *temporal.ApplicationError
	switch {
	case err == nil:
		out.Answered = true
		return out, nil
	case errors.As(err, &refused):
		// The clearance started, and its worker did not take the update: ask its status for the
		// rest of the time.
		deadline, _ := actx.Deadline()
		return pollLodgement(ctx, c, out, time.Until(deadline))
	case noAnswer(err):
		return out, nil
	}
	return out, fmt.Errorf("the lodgement of %s: %w", d.ID, err)
}

// withoutUpdateWithStart reports whether err is a server's refusal of Update-with-Start as such,
// before anything started: a server without it, or one whose frontend does not open it to the
// caller (an earlier release of the engine's server that verifies callers). The plain start then
// says whether the caller may lodge at all.
func withoutUpdateWithStart(err error) bool {
	var unimplemented *serviceerror.Unimplemented
	var denied *serviceerror.PermissionDenied
	return errors.As(err, &unimplemented) || errors.As(err, &denied)
}

// exists reports whether a clearance runs or ran under workflow ID id, as far as the caller may
// tell: from its description, or, for an exporter who may not describe workflows, from its status
// query (a clearance whose first task has not run answers that it is not ready).
func exists(ctx context.Context, c client.Client, id string) bool {
	// A start the server took as the call timed out may take a moment to show: it is asked again
	// for a few seconds before the lodgement is said not to stand.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if _, err := c.DescribeWorkflowExecution(ctx, id, ""); err == nil {
			return true
		}
		_, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
		var notReady *serviceerror.WorkflowNotReady
		if err == nil || errors.As(err, &notReady) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// StartAndPoll lodges a declaration as clients did before Update-with-Start: it starts the
// clearance (Submit) and asks its status every AnswerPoll until the lodgement has come to
// something, for at most AnswerWithin (workflows.LodgementOf).
func StartAndPoll(ctx context.Context, c client.Client, d declaration.Declaration) (Lodged, error) {
	return startAndPoll(ctx, c, d, AnswerWithin)
}

// startAndPoll is StartAndPoll waiting at most within.
func startAndPoll(ctx context.Context, c client.Client, d declaration.Declaration, within time.Duration) (Lodged, error) {
	run, err := Submit(ctx, c, d)
	if err != nil {
		return Lodged{}, err
	}
	return pollLodgement(ctx, c, Lodged{WorkflowID: run.GetID(), RunID: run.GetRunID()}, within)
}

// pollLodgement asks the status of the clearance out names until its lodgement has come to
// something, for at most within.
func pollLodgement(ctx context.Context, c client.Client, out Lodged, within time.Duration) (Lodged, error) {
	out.Polled = true
	actx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		s, err := StatusOf(actx, c, out.WorkflowID)
		var notReady *serviceerror.WorkflowNotReady
		switch {
		case err == nil:
			if l, ok := workflows.LodgementOf(s); ok {
				out.Lodgement, out.Answered = l, true
				return out, nil
			}
		case errors.As(err, &notReady), actx.Err() != nil:
			// Its first task has not run yet, or the time is up.
		default:
			return out, fmt.Errorf("the lodgement of %s: %w", out.WorkflowID, err)
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("the lodgement of %s: %w", out.WorkflowID, ctx.Err())
		case <-actx.Done():
			return out, nil // unanswered in time: the lodgement stands
		case <-time.After(AnswerPoll):
		}
	}
}
