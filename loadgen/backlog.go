package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// Who is lodged behind a backlog (BacklogOptions.Mode).
const (
	// BacklogExpedited lodges expedited copies of the templates behind a backlog of them as they
	// are: the task queue's priority is on trial.
	BacklogExpedited = "expedited"
	// BacklogExporter lodges declarations of other exporters behind a backlog of the first
	// template's exporter's, at one queue priority: the task queue's fairness is on trial.
	BacklogExporter = "exporter"
)

// BacklogOptions shape RunBacklog.
type BacklogOptions struct {
	// Options: N is the backlog's size; Concurrency and Rate pace its lodging; Templates are
	// green-lane declarations, so that each clearance ends released without an officer.
	Options
	// Mode is BacklogExpedited or BacklogExporter.
	Mode string
	// Behind is how many declarations are lodged behind the backlog, and on the idle server.
	Behind int
	// Namespace is the client's namespace.
	Namespace string
	// StartWorker starts a clearance worker (the only one on the server's clearance task queue)
	// and returns how to stop it.
	StartWorker func() (stop func(), err error)
	// Log, when set, reports each step.
	Log func(format string, args ...any)
}

// BacklogResult is what RunBacklog measured: for each group, the time from each declaration's
// lodgement (its clearance's start) to its release (its close; the templates are green-lane), as
// the server recorded both, counted for those lodged behind the stopped worker from the worker's
// start: how long each waited on the worker, not on this run's lodging and waiting for the
// server to queue them all.
type BacklogResult struct {
	Mode   string
	N      int
	Behind int
	// Idle is the Behind declarations lodged at once on the idle server, a worker running.
	Idle Latencies
	// BehindBacklog is the Behind declarations lodged after the backlog, before the worker
	// started; Backlog is the backlog's own.
	BehindBacklog Latencies
	Backlog       Latencies
	// Drain is how long after the worker's start the backlog's last clearance was released;
	// PerSecond is the backlog's clearances released per second over it.
	Drain     time.Duration
	PerSecond float64
	// Errors counts lodgements that failed and clearances that did not end released.
	Errors     int
	FirstError string
}

// Ratio is the p99 behind the backlog over the p99 on the idle server.
func (r BacklogResult) Ratio() float64 {
	if r.Idle.P99 <= 0 {
		return 0
	}
	return float64(r.BehindBacklog.P99) / float64(r.Idle.P99)
}

// split returns the templates of the backlog and of those lodged behind it in mode.
func split(mode string, templates []declaration.Declaration) (backlog, behind []declaration.Declaration, err error) {
	if len(templates) == 0 {
		return nil, nil, errors.New("no declaration templates")
	}
	switch mode {
	case BacklogExpedited:
		for _, d := range templates {
			e := d
			if e.Expedited == nil {
				e.Expedited = &declaration.Expedited{Justification: "emergency supplies for hospitals whose stocks run out within days"}
			}
			behind = append(behind, e)
		}
		return templates, behind, nil
	case BacklogExporter:
		first := templates[0].Exporter.Code
		for _, d := range templates {
			if d.Exporter.Code == first {
				backlog = append(backlog, d)
			} else {
				behind = append(behind, d)
			}
		}
		if len(behind) == 0 {
			return nil, nil, fmt.Errorf("the templates are all of exporter %s: a backlog by exporter needs another exporter's declarations", first)
		}
		return backlog, behind, nil
	}
	return nil, nil, fmt.Errorf("mode %q: want %s or %s", mode, BacklogExpedited, BacklogExporter)
}

// RunBacklog measures how the clearances lodged behind a backlog fare: first Behind of them are
// lodged at once on the idle server with the worker running, and each one's time to release
// taken; then, with the worker stopped, N are lodged (the backlog) and Behind more after them,
// and once the server holds all their first tasks in the task queue the worker starts again. In
// BacklogExpedited mode those behind are expedited copies of the templates (urgent), in
// BacklogExporter mode another exporter's declarations. It returns each group's times from
// lodgement to release and the backlog's rate of release from the worker's start.
func RunBacklog(ctx context.Context, c client.Client, o BacklogOptions) (BacklogResult, error) {
	res := BacklogResult{Mode: o.Mode, N: o.N, Behind: o.Behind}
	backlog, behind, err := split(o.Mode, o.Templates)
	if err != nil {
		return res, err
	}
	if o.N <= 0 || o.Behind <= 0 || o.StartWorker == nil {
		return res, errors.New("a backlog needs N and Behind positive and a worker to start")
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	t := &tally{}
	idle, bk, bh := o.Prefix+"-idle", o.Prefix+"-bk", o.Prefix+"-bh"

	stop, err := o.StartWorker()
	if err != nil {
		return res, err
	}
	logf("lodging %d on the idle server", o.Behind)
	n := lodge(ctx, c, Options{N: o.Behind, Concurrency: o.Behind, Templates: behind, Prefix: idle}, t)
	err = awaitClosed(ctx, c, o.Namespace, idle, n)
	stop()
	if err != nil {
		return res, err
	}

	logf("lodging %d behind a stopped worker", o.N)
	o.Options.Templates, o.Options.Prefix = backlog, bk
	nbk := lodge(ctx, c, o.Options, t)
	logf("lodging %d behind them", o.Behind)
	nbh := lodge(ctx, c, Options{N: o.Behind, Concurrency: o.Behind, Templates: behind, Prefix: bh}, t)
	if err := awaitBacklog(ctx, c, o.Namespace, int64(nbk+nbh)); err != nil {
		return res, err
	}
	logf("starting the worker")
	began := time.Now()
	if stop, err = o.StartWorker(); err != nil {
		return res, err
	}
	defer stop()
	if err := awaitClosed(ctx, c, o.Namespace, bk, nbk); err != nil {
		return res, err
	}
	if err := awaitClosed(ctx, c, o.Namespace, bh, nbh); err != nil {
		return res, err
	}

	var last time.Time
	var drained int
	for _, g := range []struct {
		prefix string
		from   time.Time
		into   *Latencies
	}{{idle, time.Time{}, &res.Idle}, {bh, began, &res.BehindBacklog}, {bk, began, &res.Backlog}} {
		ds, closed, err := released(ctx, c, o.Namespace, g.prefix, g.from, t)
		if err != nil {
			return res, err
		}
		*g.into = latencies(ds)
		if g.prefix == bk {
			last, drained = closed, len(ds)
		}
	}
	if res.Drain = last.Sub(began); res.Drain > 0 {
		res.PerSecond = float64(drained) / res.Drain.Seconds()
	}
	res.Errors, res.FirstError = t.errors, t.first
	return res, nil
}

// lodge submits o.N declarations copied from o.Templates under IDs of o.Prefix and returns, once
// all are submitted, how many were lodged; failures go to t.
func lodge(ctx context.Context, c client.Client, o Options, t *tally) int {
	p := newPacer(o.Concurrency, o.Rate)
	defer p.stop()
	var wg sync.WaitGroup
	var lodged atomic.Int64
	for i, id := range generateIDs(o.Prefix, o.N) {
		if err := p.acquire(ctx); err != nil {
			t.fail(err)
			break
		}
		d := o.Templates[i%len(o.Templates)]
		d.ID = id
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.release()
			if _, err := clearance.Submit(ctx, c, d); err != nil {
				t.fail(err)
				return
			}
			lodged.Add(1)
		}()
	}
	wg.Wait()
	return int(lodged.Load())
}

// awaitBacklog waits until the clearance task queue's backlog of workflow tasks holds n: the
// server hands a started workflow's first task to the task queue a moment after the start.
func awaitBacklog(ctx context.Context, c client.Client, namespace string, n int64) error {
	var got int64
	return poll(ctx, 5*time.Minute, func() (bool, error) {
		resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{Namespace: namespace,
			TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.TaskQueue}, TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW, ReportStats: true})
		if err != nil {
			return false, fmt.Errorf("describe the task queue %s: %w", workflows.TaskQueue, err)
		}
		got = resp.GetStats().GetApproximateBacklogCount()
		return got >= n, nil
	}, func() error {
		return fmt.Errorf("the task queue %s holds %d of the %d first tasks", workflows.TaskQueue, got, n)
	})
}

// awaitClosed waits until visibility counts no clearance of prefix running and at least n of
// them closed.
func awaitClosed(ctx context.Context, c client.Client, namespace, prefix string, n int) error {
	var running, closed int64
	count := func(q string) (int64, error) {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: q})
		return resp.GetCount(), err
	}
	return poll(ctx, time.Hour, func() (bool, error) {
		var err error
		if running, err = count(runQuery(prefix) + " AND ExecutionStatus = 'Running'"); err != nil {
			return false, fmt.Errorf("count running clearances: %w", err)
		}
		if closed, err = count(runQuery(prefix) + " AND ExecutionStatus != 'Running'"); err != nil {
			return false, fmt.Errorf("count closed clearances: %w", err)
		}
		return running == 0 && closed >= int64(n), nil
	}, func() error {
		return fmt.Errorf("clearances %s-*: %d running, %d of %d closed", prefix, running, closed, n)
	})
}

// poll calls check every half second until it holds, fails, or within passes.
func poll(ctx context.Context, within time.Duration, check func() (bool, error), late func() error) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := check()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return late()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// released lists the closed clearances of prefix from visibility and returns the time from
// lodgement, or from when if it was later, to close of each that ended released, and the latest
// close; the others go to t.
func released(ctx context.Context, c client.Client, namespace, prefix string, from time.Time, t *tally) ([]time.Duration, time.Time, error) {
	var ds []time.Duration
	var last time.Time
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace,
			Query: runQuery(prefix), PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, last, fmt.Errorf("list clearances %s-*: %w", prefix, err)
		}
		for _, e := range resp.GetExecutions() {
			var state string
			if p, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.SAStatus]; ok {
				_ = converter.GetDefaultDataConverter().FromPayload(p, &state)
			}
			if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || state != string(workflows.StateReleased) {
				t.fail(fmt.Errorf("%s ended %s, %s; want released", e.GetExecution().GetWorkflowId(), e.GetStatus(), state))
				continue
			}
			closed := e.GetCloseTime().AsTime()
			start := e.GetStartTime().AsTime()
			if from.After(start) {
				start = from
			}
			ds = append(ds, closed.Sub(start))
			if closed.After(last) {
				last = closed
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ds, last, nil
		}
	}
}
