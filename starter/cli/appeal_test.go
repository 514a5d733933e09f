package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// awaitState waits until the clearance ref names is in state.
func (e *env) awaitState(ref clearance.Ref, state workflows.State) workflows.Status {
	e.t.Helper()
	var s workflows.Status
	eventually(e.t, fmt.Sprintf("%s %s", ref, state), func() error {
		var err error
		if s, err = clearance.Status(context.Background(), e.c, ref); err != nil {
			return err
		}
		if s.State != state {
			return fmt.Errorf("it is %s at %s", s.State, s.Stage)
		}
		return nil
	})
	return s
}

// TestAfterAnUpheldAppealTheDeclarationNamesOneClearance: an appeal carries its declaration's ID
// and exporter as search attributes too, so visibility lists the clearance and its appeal under
// the declaration ID; the exporter's status and wait, without --exporter, still find the one
// clearance of the one exporter.
func TestAfterAnUpheldAppealTheDeclarationNamesOneClearance(t *testing.T) {
	e := newEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := clearance.Ref{Exporter: "3205960330", Declaration: "JH-2020-US-0512"}
	if code, _, errOut := e.starter("submit", example("us-n95-respirators-niosh.json")); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	e.awaitState(ref, workflows.StateAwaitingOfficer)
	if _, err := clearance.Decide(ctx, e.c, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen",
		Outcome: workflows.OutcomeReject, Reason: "the packing list declares 4,000 cartons but the invoice bills 100,000 pieces"}); err != nil {
		t.Fatal(err)
	}
	if res, err := clearance.Wait(ctx, e.c, ref); err != nil || res.State != workflows.StateRefused {
		t.Fatalf("refused: %s, %v", res.State, err)
	}
	if code, _, errOut := e.starter("--exporter", ref.Exporter, "appeal", ref.Declaration, "--grounds", "the cartons hold 25 pieces each"); code != ExitOK {
		t.Fatalf("appeal: exit %d: %s", code, errOut)
	}
	eventually(t, "the appeal awaiting a supervisor", func() error {
		if s, err := clearance.AppealStatus(ctx, e.c, ref); err != nil || s.Phase != appeal.PhaseAwaitingSupervisor {
			return fmt.Errorf("appeal %s, %v", s.Phase, err)
		}
		return nil
	})
	if _, err := clearance.DecideAppeal(ctx, e.c, ref, appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeUphold,
		Reason: "the packing list counts cartons of 25: the totals agree"}); err != nil {
		t.Fatal(err)
	}
	if res, err := clearance.AwaitAppeal(ctx, e.c, ref); err != nil || res.Outcome != appeal.OutcomeUphold {
		t.Fatalf("appeal: %+v, %v", res, err)
	}
	wid, _ := ref.WorkflowID()
	aid, _ := appeal.WorkflowID(ref.Exporter, ref.Declaration)
	eventually(t, "visibility listing the clearance and its appeal", func() error {
		resp, err := e.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: e.ns,
			Query: fmt.Sprintf("%s = '%s'", workflows.SADeclarationID, ref.Declaration)})
		if err != nil {
			return err
		}
		var ids []string
		for _, x := range resp.GetExecutions() {
			ids = append(ids, x.GetExecution().GetWorkflowId())
		}
		if !slices.Contains(ids, wid) || !slices.Contains(ids, aid) {
			return fmt.Errorf("listed %v", ids)
		}
		return nil
	})

	code, out, errOut := e.starter("status", ref.Declaration)
	if code != ExitOK || !strings.Contains(out, ref.Declaration+" of exporter "+ref.Exporter) {
		t.Fatalf("status without --exporter after the appeal: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	e.awaitState(ref, workflows.StateAwaitingOfficer)
	if _, err := clearance.Decide(ctx, e.c, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li",
		Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = e.starter("wait", ref.Declaration)
	if code != ExitOK || !strings.Contains(out, "released") {
		t.Fatalf("wait without --exporter after the appeal: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// TestADeclarationIDOfTwoExportersIsAmbiguous: a declaration ID two exporters lodged names two
// clearances; without --exporter the starter says so, naming each exporter once, as a usage error
// (2: they exist, the starter cannot tell which is meant); --exporter, before or after the ID,
// picks one.
func TestADeclarationIDOfTwoExportersIsAmbiguous(t *testing.T) {
	e := newEnv(t, "")
	b, err := os.ReadFile(example("nl-examination-gloves-self-declared.json"))
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(other, bytes.Replace(b, []byte(`"3703960118"`), []byte(`"3302960178"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{example("nl-examination-gloves-self-declared.json"), other} {
		if code, _, errOut := e.starter("submit", f); code != ExitOK {
			t.Fatalf("submit %s: exit %d: %s", f, code, errOut)
		}
	}
	const id = "LC-2020-NL-0415"
	eventually(t, "both clearances listed", func() error {
		found, err := clearance.Lookup(context.Background(), e.c, e.ns, id, "")
		if err != nil || len(found) != 2 {
			return fmt.Errorf("found %+v, %v", found, err)
		}
		return nil
	})
	code, out, errOut := e.starter("status", id)
	if code != ExitInvalid || out != "" || !strings.Contains(errOut, "declaration "+id+" is lodged by 2 exporters (3302960178, 3703960118): give --exporter") {
		t.Errorf("status of an ambiguous ID: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{{"--exporter", "3302960178", "status", id}, {"status", id, "--exporter", "3302960178"}} {
		if code, out, errOut := e.starter(args...); code != ExitOK || !strings.Contains(out, id+" of exporter 3302960178") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
