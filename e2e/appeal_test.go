package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/starter/cli"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// TestAppealReopensARefusal: a document officer refuses a declaration; the exporter appeals with
// the starter (grounds required, once only); the supervisor, who did not refuse, upholds it; the
// clearance reopens in a new run at the document check, an officer approves, and it is released
// under a notice bound to the clearance's first run. The exporter is told each step.
func TestAppealReopensARefusal(t *testing.T) {
	ref := submit(t, "us-n95-respirators-niosh.json")
	awaitOfficer(t, ref, policy.StageDocumentCheck)
	if _, err := decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen",
		Outcome: workflows.OutcomeReject, Reason: "the packing list declares 4,000 cartons but the invoice bills 100,000 pieces"}); err != nil {
		t.Fatal(err)
	}
	if code, res := wait(t, ref); code != cli.ExitRefused || res.State != workflows.StateRefused {
		t.Fatalf("wait: exit %d, %s; want refused", code, res.State)
	}

	if r := starterOn(t, ref, "appeal"); r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "--grounds: required") {
		t.Fatalf("appeal without grounds: exit %d, stderr %q", r.code, r.stderr)
	}
	grounds := "the cartons hold 25 pieces each: 4,000 cartons are the 100,000 pieces invoiced"
	r := starterOn(t, ref, "appeal", "--grounds", grounds)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "appeal lodged as appeal-"+ref.Exporter+"-"+ref.Declaration) {
		t.Fatalf("appeal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := starterOn(t, ref, "appeal", "--grounds", "again"); r.code == cli.ExitOK || !strings.Contains(r.stderr, "under appeal already") {
		t.Errorf("a second appeal: exit %d, stderr %q; want it refused", r.code, r.stderr)
	}
	eventually(t, "the appeal awaiting a supervisor", func() error {
		s, err := clearance.AppealStatus(testContext(t), tc, ref)
		if err != nil || s.Phase != appeal.PhaseAwaitingSupervisor {
			return fmt.Errorf("appeal status %+v, %v", s.Phase, err)
		}
		if s.Refusal == nil || s.Refusal.Officer != "doc-chen" || s.Refusal.Stage != policy.StageDocumentCheck {
			return permanent{fmt.Errorf("the appeal is against %+v, want doc-chen's refusal at the document check", s.Refusal)}
		}
		return nil
	})
	if _, err := clearance.DecideAppeal(testContext(t), tc, ref, appeal.Decision{Supervisor: "doc-li", Outcome: appeal.OutcomeUphold,
		Reason: "x"}); err == nil || !strings.Contains(err.Error(), `"doc-li" is not a supervisor`) {
		t.Errorf("an officer decides the appeal: %v", err)
	}
	if _, err := clearance.DecideAppeal(testContext(t), tc, ref, appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeUphold,
		Reason: "the packing list counts cartons of 25: the totals agree"}); err != nil {
		t.Fatal(err)
	}
	res, err := clearance.AwaitAppeal(testContext(t), tc, ref)
	if err != nil || res.Outcome != appeal.OutcomeUphold || res.ReopenedRunID == "" {
		t.Fatalf("appeal result %+v, %v; want upheld with the reopened run", res, err)
	}

	s := awaitOfficer(t, ref, policy.StageDocumentCheck)
	if len(s.Appeals) != 1 || s.Appeals[0].Supervisor != "sup-huang" || s.Appeals[0].Grounds != grounds {
		t.Errorf("the reopened clearance's appeals %+v", s.Appeals)
	}
	// The reopened run keeps the clearance's place in the task queue: the key of the queue
	// priority its lane selection gave, and the exporter's fairness key.
	desc, err := tc.DescribeWorkflowExecution(testContext(t), "clearance-"+ref.Exporter+"-"+ref.Declaration, res.ReopenedRunID)
	if err != nil {
		t.Fatal(err)
	}
	want := workflows.TaskPriority(policy.Default(), s.LaneSelection.Priority, ref.Exporter)
	if p := desc.GetWorkflowExecutionInfo().GetPriority(); s.LaneSelection.Priority == "" ||
		int(p.GetPriorityKey()) != want.PriorityKey || p.GetFairnessKey() != ref.Exporter {
		t.Errorf("the reopened run's priority %v, want key %d for %q, fairness key %s", p, want.PriorityKey, s.LaneSelection.Priority, ref.Exporter)
	}
	approve(t, ref, policy.StageDocumentCheck, "doc-li")
	code, final := wait(t, ref)
	if code != cli.ExitOK || final.State != workflows.StateReleased {
		t.Fatalf("wait after the appeal: exit %d, %s at %s: %s", code, final.State, final.Stage, final.Reason)
	}
	if got := officerDecisions(final.Decisions); !slices.Equal(got, []string{"document-check/doc-chen/reject/update",
		"document-check/doc-li/approve/update"}) {
		t.Errorf("officers' decisions %v", got)
	}
	assertOneNotice(t, ref, final.Notice)

	// The Time Release Study reads both runs from visibility and counts the clearance once, as it
	// ended last: released, reopened on appeal.
	eventually(t, "the study of the reopened clearance", func() error {
		cs, _, err := trs.Reader{Client: tc, Namespace: namespace}.Read(testContext(t),
			fmt.Sprintf("%s = '%s' AND %s = '%s'", workflows.SADeclarationID, ref.Declaration, workflows.SAExporterCode, ref.Exporter))
		if err != nil {
			return err
		}
		if len(cs) != 2 {
			return fmt.Errorf("the study read %d runs, want the refused one and the reopened one", len(cs))
		}
		r := trs.Build(cs, 20*24*time.Hour, "", time.Now())
		// Visibility follows the run's end a moment later: until then the study sees it running.
		if r.Clearances != 1 || r.Reopened != 1 || r.ReopenedReleased != 1 || !strings.HasPrefix(r.Headline, "1 released") {
			return fmt.Errorf("study: %d clearances, %d reopened (%d released), headline %q", r.Clearances, r.Reopened,
				r.ReopenedReleased, r.Headline)
		}
		return nil
	})
	var kinds []string
	for _, n := range notified(t, ref.Declaration) {
		kinds = append(kinds, n.Kind)
	}
	if want := []string{string(activities.NotifyRefused), string(activities.NotifyAppeal), string(activities.NotifyReleased)}; !slices.Equal(kinds, want) {
		t.Errorf("exporter notified %v, want %v", kinds, want)
	}
}

// TestAppealIsHeardOnce: an appeal lodged before the clearance was refused is not admitted, and
// the exporter may appeal again once it is; a dismissed appeal leaves the refusal standing, and a
// further appeal against the same refusal, lodged as soon as the first has ended, is not
// admitted, naming the decision.
func TestAppealIsHeardOnce(t *testing.T) {
	ref := submit(t, "us-n95-respirators-niosh.json")
	awaitOfficer(t, ref, policy.StageDocumentCheck)
	r := starterOn(t, ref, "appeal", "--grounds", "too early", "--wait")
	if r.code != cli.ExitRefused || !strings.Contains(r.stdout, "appeal inadmissible: the clearance clearance-"+ref.Exporter+"-"+ref.Declaration+" is still running") {
		t.Fatalf("an appeal before the refusal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := decide(t, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li",
		Outcome: workflows.OutcomeReject, Reason: "the contract names another consignee"}); err != nil {
		t.Fatal(err)
	}
	if code, _ := wait(t, ref); code != cli.ExitRefused {
		t.Fatalf("wait: exit %d, want refused", code)
	}
	if r := starterOn(t, ref, "appeal", "--grounds", "the consignee's new name is in the amendment to the contract"); r.code != cli.ExitOK {
		t.Fatalf("the appeal after the refusal: exit %d\n%s", r.code, r.stderr)
	}
	eventually(t, "the appeal awaiting a supervisor", func() error {
		if s, err := clearance.AppealStatus(testContext(t), tc, ref); err != nil || s.Phase != appeal.PhaseAwaitingSupervisor {
			return fmt.Errorf("appeal %+v, %v", s.Phase, err)
		}
		return nil
	})
	if _, err := clearance.DecideAppeal(testContext(t), tc, ref, appeal.Decision{Supervisor: "sup-huang", Outcome: appeal.OutcomeDismiss,
		Reason: "the amendment to the contract was signed after the declaration"}); err != nil {
		t.Fatal(err)
	}
	res, err := clearance.AwaitAppeal(testContext(t), tc, ref)
	if err != nil || res.Outcome != appeal.OutcomeDismiss {
		t.Fatalf("dismissed: %+v, %v", res, err)
	}
	if h, found, err := releases.Heard(testContext(t), res.RefusedRunID); err != nil || !found ||
		h.Outcome != appeal.OutcomeDismiss || h.Supervisor != "sup-huang" || h.Reason != "the amendment to the contract was signed after the declaration" {
		t.Errorf("the hearings register holds %+v (found %v, %v) for the refused run %s", h, found, err, res.RefusedRunID)
	}
	// Lodged at once: the hearing is in the register before the dismissed appeal ends, whatever
	// visibility lists yet.
	r = starterOn(t, ref, "appeal", "--grounds", "once more", "--wait")
	if r.code != cli.ExitRefused || !strings.Contains(r.stdout, "the refusal was appealed already: the appeal was dismissed by sup-huang") {
		t.Errorf("a second appeal of the same refusal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st, err := status(t, ref); err != nil || st.State != workflows.StateRefused {
		t.Errorf("the refusal stands: %+v, %v", st.State, err)
	}
}
