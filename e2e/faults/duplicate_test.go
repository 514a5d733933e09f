package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/medsupply/customs/starter/cli"
)

// TestDuplicateSubmissionFromProcesses launches 8 starter processes submitting the same new
// declaration at once: exactly one starts its clearance and exits 0, the other 7 exit 3 naming
// the clearance that exists, and the server holds exactly one run of it.
func TestDuplicateSubmissionFromProcesses(t *testing.T) {
	t.Parallel()
	began := time.Now()
	ns := newNamespace(t)
	address := srv.GetFrontendHostPort()
	c := dial(t, address, ns, "")
	path, ref := exampleFile(t, exFFP2)
	id, wid := ref.Declaration, workflowID(t, ref)

	const processes = 8
	type run struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
		code           int
	}
	runs := make([]*run, processes)
	for i := range runs {
		r := &run{}
		r.cmd = exec.CommandContext(ctxFor(t, conditionTimeout), filepath.Join(binDir, "starter"),
			// No worker runs here: the starters do not wait for the lodgement's answer.
			"--address", address, "--namespace", ns, "submit", "--answer-within", "0", path)
		r.cmd.Env = processEnv()
		dieWithTest(r.cmd)
		r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
		runs[i] = r
	}
	for _, r := range runs {
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var started, duplicates int
	for i, r := range runs {
		err := r.cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
			r.code = 0
		case errors.As(err, &exit):
			r.code = exit.ExitCode()
		default:
			t.Fatalf("starter %d: %v", i, err)
		}
		switch r.code {
		case cli.ExitOK:
			started++
			if !strings.HasPrefix(r.stdout.String(), id+"\tsubmitted\t"+wid) {
				t.Errorf("starter %d exited 0 printing %q", i, r.stdout.String())
			}
		case cli.ExitDuplicate:
			duplicates++
			if want := fmt.Sprintf("declaration %s was already submitted: clearance %s is", id, wid); !strings.Contains(r.stderr.String(), want) {
				t.Errorf("starter %d exited 3 saying %q, want %q", i, r.stderr.String(), want)
			}
		default:
			t.Errorf("starter %d exited %d: %s%s", i, r.code, r.stdout.String(), r.stderr.String())
		}
	}
	if started != 1 || duplicates != processes-1 {
		t.Fatalf("%d starters started the clearance and %d met a duplicate; want 1 and %d", started, duplicates, processes-1)
	}

	ctx := ctxFor(t, conditionTimeout)
	desc, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	current := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	query := fmt.Sprintf("WorkflowId = '%s'", wid)
	var runIDs []string
	eventually(t, conditionTimeout, "runs of "+wid, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query})
		if err != nil {
			return err
		}
		runIDs = runIDs[:0]
		for _, e := range resp.GetExecutions() {
			runIDs = append(runIDs, e.GetExecution().GetRunId())
		}
		if len(runIDs) == 0 {
			return errors.New("no run listed yet")
		}
		return nil
	})
	if len(runIDs) != 1 || runIDs[0] != current {
		t.Fatalf("%s has runs %v, want exactly the one run %s", wid, runIDs, current)
	}
	all, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if all.GetCount() != 1 {
		t.Errorf("namespace holds %d workflow runs, want 1", all.GetCount())
	}

	t.Logf("covered: 1 declaration submitted by %d starter processes at once: 1 started it (exit 0), %d met it as a duplicate (exit 3); "+
		"1 workflow run; %s", processes, duplicates, since(began))
}
