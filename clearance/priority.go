package clearance

import (
	"sync"

	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// builtIn is the built-in policy, read once.
var builtIn = sync.OnceValue(policy.Default)

// StartPriority returns the task priority a clearance of exporter starts with
// (workflows.TaskPriority) as far as its start knows its queue priority: urgent for the
// expedited procedure, else normal, under the built-in policy's keys, and the exporter's code as
// the fairness key. The exporter's rating, and with it high or low, is read at lane selection,
// which gives the clearance's activities their priority under the worker's policy. A verified
// exporter's start gets it from the server's frontend, whatever the client sent.
func StartPriority(exporter string, expedited bool) temporal.Priority {
	p := builtIn()
	return workflows.TaskPriority(p, p.PriorityFor("", expedited), exporter)
}
