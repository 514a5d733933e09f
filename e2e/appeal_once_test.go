package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/starter/cli"
	"github.com/medsupply/customs/workflows"
)

// lodged is one appeal started by lodgeAppeal: its workflow ID and run, or the server's refusal.
type lodged struct {
	id, runID string
	err       error
}

// lodgeAppeal starts an appeal of ref's refusal under workflow ID id, as an exporter's own client
// may, with the starter's options: fail on a running workflow of the ID, allow one that ended.
func lodgeAppeal(ctx context.Context, ref clearance.Ref, id, grounds string) lodged {
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.DeclarationIDKey.ValueSet(ref.Declaration),
			workflows.ExporterCodeKey.ValueSet(ref.Exporter)),
	}, appeal.WorkflowName, appeal.Input{Exporter: ref.Exporter, DeclarationID: ref.Declaration, Grounds: grounds})
	if err != nil {
		return lodged{id: id, err: err}
	}
	return lodged{id: id, runID: run.GetRunID()}
}

// appealStatus asks one run of an appeal where it stands.
func appealStatus(t *testing.T, a lodged) (appeal.Status, error) {
	var s appeal.Status
	v, err := tc.QueryWorkflow(testContext(t), a.id, a.runID, appeal.QueryStatus)
	if err != nil {
		return s, err
	}
	return s, v.Get(&s)
}

// awaitAdmission waits until the appeal awaits a supervisor or has ended, and returns its status.
func awaitAdmission(t *testing.T, a lodged) appeal.Status {
	t.Helper()
	var s appeal.Status
	eventually(t, "the appeal "+a.id+" admitted or ended", func() error {
		var err error
		if s, err = appealStatus(t, a); err != nil {
			return err
		}
		if s.Phase != appeal.PhaseAwaitingSupervisor && s.Phase != appeal.PhaseEnded {
			return fmt.Errorf("it is %s", s.Phase)
		}
		return nil
	})
	return s
}

// refuseDocuments has doc-chen refuse the clearance at the document check and waits for it to end
// refused; it returns the refused run.
func refuseDocuments(t *testing.T, ref clearance.Ref, reason string) string {
	t.Helper()
	awaitOfficer(t, ref, policy.StageDocumentCheck)
	if _, err := decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen",
		Outcome: workflows.OutcomeReject, Reason: reason}); err != nil {
		t.Fatal(err)
	}
	if code, res := wait(t, ref); code != cli.ExitRefused || res.State != workflows.StateRefused {
		t.Fatalf("wait: exit %d, %s; want refused", code, res.State)
	}
	d, err := tc.DescribeWorkflowExecution(testContext(t), workflowID(t, ref), "")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// admissionOf reads the claim on a refused run from the register's file: the appeal run that was
// admitted against it.
func admissionOf(t *testing.T, refusedRunID string) (string, error) {
	var run string
	err := releaseDB.QueryRowContext(testContext(t), `SELECT appeal_run_id FROM appeal_admissions WHERE refused_run_id = ?`,
		refusedRunID).Scan(&run)
	return run, err
}

// TestOneRefusalIsHeardOnce: the red team's attack on the real server. Four appeals against one
// refusal are started at the same moment, two under the declaration's appeal ID (as the starter
// lodges it) and two under other IDs of the exporter's (appeal-<code>-X1-..., which the
// authorizer's prefix rule lets an exporter start). Exactly one is admitted and heard: the server
// refuses the second of the one ID, and the appeal refuses the other IDs, naming the field. The
// supervisors decide every appeal that awaits one. After the dismissal, an appeal against the
// same refused run is refused with the hearing's reason, under either ID, and the refusal stands.
func TestOneRefusalIsHeardOnce(t *testing.T) {
	ref := submit(t, "us-n95-respirators-niosh.json")
	refusedRun := refuseDocuments(t, ref, "the packing list declares 4,000 cartons but the invoice bills 100,000 pieces")
	own, err := appeal.WorkflowID(ref.Exporter, ref.Declaration)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{own, own, fmt.Sprintf("appeal-%s-X1-%s", ref.Exporter, ref.Declaration),
		fmt.Sprintf("appeal-%s-X2-%s", ref.Exporter, ref.Declaration)}
	started := make([]lodged, len(ids))
	ready, gate := &sync.WaitGroup{}, make(chan struct{})
	var done sync.WaitGroup
	for i, id := range ids {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			started[i] = lodgeAppeal(testContext(t), ref, id, fmt.Sprintf("appeal %d: the cartons hold 25 pieces each", i+1))
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()

	var admitted, ended []lodged
	for _, a := range started {
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case errors.As(a.err, &already):
			if a.id != own {
				t.Errorf("%s: refused as started already; only the second start of %s is", a.id, own)
			}
			continue
		case a.err != nil:
			t.Fatalf("lodge %s: %v", a.id, a.err)
		}
		if s := awaitAdmission(t, a); s.Phase == appeal.PhaseAwaitingSupervisor {
			admitted = append(admitted, a)
		} else {
			ended = append(ended, a)
		}
	}
	// Every appeal awaiting a supervisor is decided, as the red team's supervisors did: the first
	// dismissed, the others upheld.
	var decided []string
	for i, a := range admitted {
		d := appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeDismiss, Reason: "the cartons hold 20 each: the totals differ"}
		if i > 0 {
			d = appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeUphold, Reason: "the cartons hold 25 each: the totals agree"}
		}
		h, err := tc.UpdateWorkflow(testContext(t), client.UpdateWorkflowOptions{WorkflowID: a.id, RunID: a.runID,
			UpdateName: appeal.UpdateDecide, Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(testContext(t), nil)
		}
		if err != nil {
			t.Errorf("%s decides %s (run %s): %v", d.Supervisor, a.id, a.runID, err)
			continue
		}
		var res appeal.Result
		if err := tc.GetWorkflow(testContext(t), a.id, a.runID).Get(testContext(t), &res); err != nil {
			t.Errorf("the result of %s (run %s): %v", a.id, a.runID, err)
			continue
		}
		decided = append(decided, a.id+": "+res.Outcome)
	}
	if len(admitted) != 1 || admitted[0].id != own || len(decided) != 1 || decided[0] != own+": "+appeal.OutcomeDismiss {
		t.Fatalf("appeals started at the same moment: %d admitted, want the one of %s; decided: %v", len(admitted), own, decided)
	}
	for _, a := range ended {
		res, err := resultOf(t, a)
		if err != nil || res.Outcome != appeal.OutcomeInadmissible || !strings.HasPrefix(res.Reason, "workflowId: ") ||
			!strings.Contains(res.Reason, fmt.Sprintf("which is %q", own)) {
			t.Errorf("%s: %+v, %v; want it not admitted, naming the workflow ID", a.id, res, err)
		}
	}
	t.Logf("%d appeals started at the same moment: %d refused by the server as started already, %d admitted and heard (%v), "+
		"%d not admitted", len(started), len(started)-len(admitted)-len(ended), len(admitted), decided, len(ended))
	h, found, err := releases.Heard(testContext(t), refusedRun)
	if err != nil || !found || h.Appeal != own || h.AppealRunID != admitted[0].runID || h.Outcome != appeal.OutcomeDismiss {
		t.Errorf("the register's hearing of %s: %+v (found %v, %v); want the dismissal by %s", refusedRun, h, found, err, admitted[0].runID)
	}
	if run, err := admissionOf(t, refusedRun); err != nil || run != admitted[0].runID {
		t.Errorf("the register's admission against %s: %q, %v; want %s", refusedRun, run, err, admitted[0].runID)
	}

	// After the dismissal: the one ID through the starter, and another ID.
	r := starterOn(t, ref, "appeal", "--grounds", "once more", "--wait")
	if r.code != cli.ExitRefused || !strings.Contains(r.stdout, "the refusal was appealed already: the appeal was dismissed by sup-huang") ||
		!strings.Contains(r.stdout, "heard the refusal of run "+refusedRun+", and a refusal is heard once") {
		t.Errorf("an appeal of the dismissed refusal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	other := lodgeAppeal(testContext(t), ref, fmt.Sprintf("appeal-%s-X3-%s", ref.Exporter, ref.Declaration), "and again")
	if other.err != nil {
		t.Fatal(other.err)
	}
	if res, err := resultOf(t, other); err != nil || res.Outcome != appeal.OutcomeInadmissible || !strings.HasPrefix(res.Reason, "workflowId: ") {
		t.Errorf("an appeal of the dismissed refusal under %s: %+v, %v; want it not admitted, naming the workflow ID", other.id, res, err)
	}
	if st, err := status(t, ref); err != nil || st.State != workflows.StateRefused || len(st.Appeals) != 0 {
		t.Errorf("the refusal stands: %s, appeals %+v, %v", st.State, st.Appeals, err)
	}
	if h2, _, err := releases.Heard(testContext(t), refusedRun); err != nil || h2 != h {
		t.Errorf("the hearing changed: %+v, %v; was %+v", h2, err, h)
	}
}

// resultOf waits for an appeal run's result.
func resultOf(t *testing.T, a lodged) (appeal.Result, error) {
	var res appeal.Result
	err := tc.GetWorkflow(testContext(t), a.id, a.runID).Get(testContext(t), &res)
	return res, err
}

// TestReopenedClearanceRefusedAgainIsAppealable: an upheld appeal reopens the clearance; refused
// again, the new run is a new refusal, and an appeal against it is admitted and heard under the
// same appeal ID, while the register keeps each refused run's hearing.
func TestReopenedClearanceRefusedAgainIsAppealable(t *testing.T) {
	ref := submit(t, "us-n95-respirators-niosh.json")
	first := refuseDocuments(t, ref, "the invoice is not signed")
	if r := starterOn(t, ref, "appeal", "--grounds", "the invoice is signed on its second page"); r.code != cli.ExitOK {
		t.Fatalf("the first appeal: exit %d\n%s", r.code, r.stderr)
	}
	awaitAppealAdmitted(t, ref)
	if _, err := clearance.DecideAppeal(testContext(t), tc, ref, appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeUphold,
		Reason: "the signature is on page 2"}); err != nil {
		t.Fatal(err)
	}
	if res, err := clearance.AwaitAppeal(testContext(t), tc, ref); err != nil || res.Outcome != appeal.OutcomeUphold {
		t.Fatalf("upheld: %+v, %v", res, err)
	}

	second := refuseDocuments(t, ref, "the signature on page 2 is not the director's")
	if second == first {
		t.Fatalf("the reopened clearance's refusal is run %s, the first refusal's", second)
	}
	if r := starterOn(t, ref, "appeal", "--grounds", "the director signed on 6 May; the register of signatures shows it"); r.code != cli.ExitOK {
		t.Fatalf("the appeal of the new refusal: exit %d\n%s", r.code, r.stderr)
	}
	awaitAppealAdmitted(t, ref)
	if _, err := clearance.DecideAppeal(testContext(t), tc, ref, appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeDismiss,
		Reason: "the register of signatures lists another director"}); err != nil {
		t.Fatal(err)
	}
	res, err := clearance.AwaitAppeal(testContext(t), tc, ref)
	if err != nil || res.Outcome != appeal.OutcomeDismiss || res.RefusedRunID != second {
		t.Fatalf("the appeal of the new refusal: %+v, %v; want dismissed against run %s", res, err, second)
	}
	for run, outcome := range map[string]string{first: appeal.OutcomeUphold, second: appeal.OutcomeDismiss} {
		if h, found, err := releases.Heard(testContext(t), run); err != nil || !found || h.Outcome != outcome {
			t.Errorf("the hearing of run %s: %+v (found %v, %v); want %s", run, h, found, err, outcome)
		}
		if _, err := admissionOf(t, run); err != nil {
			t.Errorf("the admission against run %s: %v", run, err)
		}
	}
}

// awaitAppealAdmitted waits until the appeal of ref's declaration awaits a supervisor.
func awaitAppealAdmitted(t *testing.T, ref clearance.Ref) {
	t.Helper()
	eventually(t, "the appeal awaiting a supervisor", func() error {
		s, err := clearance.AppealStatus(testContext(t), tc, ref)
		if err != nil {
			return err
		}
		if s.Phase == appeal.PhaseEnded {
			return permanent{fmt.Errorf("the appeal ended: %+v", s.Result)}
		}
		if s.Phase != appeal.PhaseAwaitingSupervisor {
			return fmt.Errorf("it is %s", s.Phase)
		}
		return nil
	})
}
