package deploy_test

import (
	"errors"
	"os"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"gopkg.in/yaml.v3"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// checkFairness reads a dynamic configuration as the server reads its file (Compose's, or the
// one the Helm chart renders from server.dynamicConfig): it must load without an error or a
// warning (a key the server does not know, a value it does not take), and turn fairness on for
// the clearances' task queue, with the priority levels the policy's keys need, its new tasks in
// one partition and the polls of the others forwarded to it.
func checkFairness(t *testing.T, what string, b []byte) {
	t.Helper()
	lr := dynamicconfig.LoadYamlFile(b)
	if err := errors.Join(append(lr.Errors, lr.Warnings...)...); err != nil {
		t.Errorf("%s: the server reads it with %v", what, err)
	}
	sc := dynamicconfig.StaticClient{}
	for k, cvs := range lr.Map {
		sc[k] = cvs
	}
	col := dynamicconfig.NewCollection(sc, log.NewNoopLogger())
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		fair := dynamicconfig.MatchingEnableFairness.Get(col)("customs", workflows.TaskQueue, typ)
		if !fair.Value([]byte(workflows.TaskQueue), time.Now()) {
			t.Errorf("%s: matching.enableFairness is off for the %s tasks of %s", what, typ, workflows.TaskQueue)
		}
		if n := dynamicconfig.MatchingPriorityLevels.Get(col)("customs", workflows.TaskQueue, typ); n < policy.MaxPriorityKey {
			t.Errorf("%s: matching.priorityLevels %d, fewer than the policy's keys (1 to %d)", what, n, policy.MaxPriorityKey)
		}
		if n := dynamicconfig.MatchingNumTaskqueueWritePartitions.Get(col)("customs", workflows.TaskQueue, typ); n != 1 {
			t.Errorf("%s: matching.numTaskqueueWritePartitions %d for %s: a backlog is in order within one partition only", what, n, workflows.TaskQueue)
		}
		if n := dynamicconfig.MatchingForwarderMaxOutstandingPolls.Get(col)("customs", workflows.TaskQueue, typ); n < 20 {
			t.Errorf("%s: matching.forwarderMaxOutstandingPolls %d for %s: polls of the partitions without tasks wait their turn to reach the one with them", what, n, workflows.TaskQueue)
		}
	}
}

// TestDynamicConfigTurnsFairnessOn: the server of Compose (deploy/temporal/dynamicconfig.yaml)
// and of the Helm values dispatch clearances' tasks fairly among exporters, as the embedded
// default does.
func TestDynamicConfigTurnsFairnessOn(t *testing.T) {
	b, err := os.ReadFile("temporal/dynamicconfig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checkFairness(t, "temporal/dynamicconfig.yaml", b)
	dc := get(readYAML(t, "helm/temporal-values.yaml")[0], "server", "dynamicConfig")
	if dc == nil {
		t.Fatal("helm/temporal-values.yaml: no server.dynamicConfig")
	}
	if b, err = yaml.Marshal(dc); err != nil {
		t.Fatal(err)
	}
	checkFairness(t, "helm/temporal-values.yaml server.dynamicConfig", b)
}
