package embedded

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"
)

// dispatch records the order in which a worker runs the first tasks of workflows.
type dispatch struct {
	mu    sync.Mutex
	order []string
}

// ran is a workflow that records its ID the first time its task runs, and ends.
func (d *dispatch) ran(ctx workflow.Context) error {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Contains(d.order, id) {
		d.order = append(d.order, id)
	}
	return nil
}

func (d *dispatch) seen() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.order)
}

// backlog starts the workflows ids, in that order, on a task queue of namespace ns no worker
// polls yet, each at its priority, waits until all are in the queue's backlog, then runs a
// worker that takes at most two tasks at a time (the fewest the SDK allows) and returns the
// order in which it ran them.
func backlog(t *testing.T, ctx context.Context, c client.Client, ns, queue string, ids []string, priority func(id string) temporal.Priority) []string {
	t.Helper()
	d := &dispatch{}
	for _, id := range ids {
		if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue, Priority: priority(id)}, "dispatch-order"); err != nil {
			t.Fatal(err)
		}
	}
	// The server hands a started workflow's first task to matching a moment after the start
	// returns: wait until all of them are in the queue's backlog.
	eventually(t, ctx, "the backlog", func() error {
		resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{Namespace: ns,
			TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW, ReportStats: true})
		if err != nil {
			return err
		}
		if n := resp.GetStats().GetApproximateBacklogCount(); n < int64(len(ids)) {
			return fmt.Errorf("%d of %d tasks in the backlog", n, len(ids))
		}
		return nil
	})
	w := worker.New(c, queue, worker.Options{MaxConcurrentWorkflowTaskExecutionSize: 2, MaxConcurrentWorkflowTaskPollers: 2})
	w.RegisterWorkflowWithOptions(d.ran, workflow.RegisterOptions{Name: "dispatch-order"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	eventually(t, ctx, "every workflow's first task", func() error {
		if got := len(d.seen()); got < len(ids) {
			return fmt.Errorf("%d of %d ran", got, len(ids))
		}
		return nil
	})
	return d.seen()
}

// TestABacklogIsDispatchedByPriorityAndFairly runs the embedded default's dynamic configuration
// and queues workflow tasks behind a worker that is not there yet: 20 at the normal key, then one
// at the urgent key, and the worker takes the urgent one among its first three; then, on another
// task queue, 20 of one exporter's and then 3 of another's, all at one key, and the worker takes
// the other exporter's while 8 of the 20 still wait, not after them: the server matches by
// priority and shares among fairness keys (matching.enableFairness). With both turned off
// (matching.useNewMatcher and matching.enableFairness false) the urgent task runs last.
func TestABacklogIsDispatchedByPriorityAndFairly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testConfig(t, "")
	cfg.InMemory, cfg.DisableUI = true, true
	s := start(t, ctx, cfg)
	defer stop(t, s)
	c := dial(t, ctx, s)
	defer c.Close()

	var ids []string
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("normal-%02d", i))
	}
	order := backlog(t, ctx, c, s.Namespace(), "priority-test", append(ids, "urgent"), func(id string) temporal.Priority {
		if id == "urgent" {
			return temporal.Priority{PriorityKey: 1, FairnessKey: "3302960543"}
		}
		return temporal.Priority{PriorityKey: 3, FairnessKey: "3302960543"}
	})
	if at := slices.Index(order, "urgent"); at > 2 {
		t.Errorf("the urgent task ran %d of %d, behind %s", at+1, len(order), strings.Join(order[:at], " "))
	}

	ids = nil
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("flood-%02d", i))
	}
	ids = append(ids, "few-0", "few-1", "few-2")
	order = backlog(t, ctx, c, s.Namespace(), "fairness-test", ids, func(id string) temporal.Priority {
		if strings.HasPrefix(id, "few-") {
			return temporal.Priority{PriorityKey: 3, FairnessKey: "3703960118"}
		}
		return temporal.Priority{PriorityKey: 3, FairnessKey: "3302960178"}
	})
	last := 0
	for _, id := range ids[20:] {
		last = max(last, slices.Index(order, id))
	}
	// In the order of their starts they would run last; shared, they run while at least 8 of the
	// 20 still wait.
	if last > 14 {
		t.Errorf("the other exporter's 3 ran by %d of %d: %s", last+1, len(order), strings.Join(order, " "))
	}
}

// TestSettings: the embedded default turns fairness on, writes new tasks to one partition and
// forwards the polls of the others to it;
// a setting on the command line (--dynamic-config-value) replaces the default's; a key the server does not know, a value it does not take, or no value is refused
// and sets nothing.
func TestSettings(t *testing.T) {
	fairness := dynamicconfig.MatchingEnableFairness.Key()
	if v := dynamicConfig(&Config{})[fairness]; v != true {
		t.Errorf("%s = %v by default, want true", fairness, v)
	}
	for k, want := range map[dynamicconfig.Key]int{dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		dynamicconfig.MatchingForwarderMaxOutstandingPolls.Key(): 20} {
		if got := dynamicConfig(&Config{})[k]; got != want {
			t.Errorf("%s = %v by default, want %d", k, got, want)
		}
	}
	var s Settings
	if err := s.Set("matching.enableFairness=false"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("matching.useNewMatcher = false"); err != nil {
		t.Fatal(err)
	}
	dc := dynamicConfig(&Config{Settings: s})
	for _, k := range []dynamicconfig.Key{fairness, dynamicconfig.MatchingUseNewMatcher.Key()} {
		if cvs := dc.GetValue(k); len(cvs) != 1 || cvs[0].Value != false {
			t.Errorf("%s = %v, want false", k, cvs)
		}
	}
	for kv, want := range map[string]string{
		"matching.enableFairnes=true":           `matching.enableFairnes: unregistered key "matching.enablefairnes"`,
		"matching.numTaskqueueReadPartitions=x": "matching.numTaskqueueReadPartitions: validation failed",
		"matching.enableFairness":               `"matching.enableFairness" is not KEY=VALUE`,
		"=true":                                 "is not KEY=VALUE",
	} {
		before := s.String()
		if err := s.Set(kv); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Set(%q) = %v, want an error saying %q", kv, err, want)
		}
		if s.String() != before {
			t.Errorf("Set(%q) changed the settings: %s", kv, s.String())
		}
	}
}
