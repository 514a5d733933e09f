package workflows

import (
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/policy"
)

// maxFairnessKey is the longest fairness key, in bytes, the server takes.
const maxFairnessKey = 64

// TaskPriority returns the priority of a clearance's workflow and activity tasks in the task
// queue: the policy's key for its queue priority (policy.PriorityFor), so that under a backlog an
// emergency's tasks are dispatched before the rest, and the exporter's code as the fairness key,
// so that one exporter's thousands of declarations share the worker with another exporter's few
// instead of queueing ahead of them. A queue priority the policy does not know gives no key (the
// tasks keep their workflow's), an exporter code longer than the server takes no fairness key.
// Every start of a clearance and every activity it schedules takes its priority from here.
func TaskPriority(p policy.Policy, queuePriority, exporter string) temporal.Priority {
	if len(exporter) > maxFairnessKey {
		exporter = ""
	}
	return temporal.Priority{PriorityKey: p.PriorityKey(queuePriority), FairnessKey: exporter}
}

// taskPriority is the priority of the clearance's activities: from the queue priority its lane
// selection gave, under the policy it runs with. Until the selection, only the fairness key: the
// activities take the priority key the clearance started with.
func (c *clearance) taskPriority() temporal.Priority {
	return TaskPriority(c.Configuration.Policy, c.Selection.Priority, c.decl.Exporter.Code)
}
