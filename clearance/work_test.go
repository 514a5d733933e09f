package clearance_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// listed returns the workflow IDs a visibility query lists.
func listed(t *testing.T, ctx context.Context, c client.Client, ns, query string) []string {
	t.Helper()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query})
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}

// awaitListed polls visibility until query lists exactly want.
func awaitListed(t *testing.T, ctx context.Context, c client.Client, ns, query string, want ...string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := listed(t, ctx, c, ns, query)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lists %v, want %v", query, got, want)
		}
	}
}

// TestClaimedStagesInTheQueue: on a real server, a claimed clearance leaves the unclaimed queue
// and shows under its holder; another officer's decision is refused naming the holder; the
// holder's decision ends the claim, and ClaimedBy is gone from visibility.
func TestClaimedStagesInTheQueue(t *testing.T) {
	c, ns := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json")
	run, err := clearance.Submit(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	ref := clearance.RefOf(d)
	awaitOfficer(t, ctx, c, ref)
	id := run.GetID()
	unclaimed := "ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'document-check' AND ClaimedBy IS NULL"
	awaitListed(t, ctx, c, ns, unclaimed, id)
	// The queue by priority: the lane selection's priority, as the officers' saved view asks it.
	st, err := clearance.Status(ctx, c, ref)
	if err != nil || st.LaneSelection.Priority == "" {
		t.Fatalf("priority of the lane selection: %+v %v", st.LaneSelection, err)
	}
	awaitListed(t, ctx, c, ns, fmt.Sprintf("ClearanceStatus = 'awaiting-officer' AND QueuePriority IN ('urgent', '%s')", st.LaneSelection.Priority), id)

	if _, err := clearance.Claim(ctx, c, ref, workflows.ClaimRequest{Officer: "doc-li"}); err != nil {
		t.Fatal(err)
	}
	awaitListed(t, ctx, c, ns, "ClaimedBy = 'doc-li'", id)
	awaitListed(t, ctx, c, ns, unclaimed)

	var refused *clearance.RefusedError
	_, err = clearance.Decide(ctx, c, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-chen", Outcome: workflows.OutcomeApprove})
	if !errors.As(err, &refused) || refused.Reason == "" {
		t.Fatalf("doc-chen decides doc-li's stage: %v", err)
	}
	if _, err := clearance.AddNote(ctx, c, ref, workflows.Note{Officer: "doc-chen", Text: "the invoice is in order"}); err != nil {
		t.Fatal(err)
	}
	if _, err := clearance.Decide(ctx, c, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatal(err)
	}
	// The biological review is the next queue's; nobody holds it.
	s := awaitOfficer(t, ctx, c, ref)
	if s.Stage != policy.StageBiologicalReview || s.Claim != nil || len(s.Work) != 2 || s.Work[1].Kind != workflows.WorkNoted {
		t.Fatalf("after the decision: stage %s, claim %+v, work %+v", s.Stage, s.Claim, s.Work)
	}
	awaitListed(t, ctx, c, ns, "ClaimedBy = 'doc-li'")
	awaitListed(t, ctx, c, ns, "ClearanceStage = 'biological-review' AND ClaimedBy IS NULL", id)
}

// TestHoldInTheQueue: on a real server, a held clearance shows OnHold = true until its holds are
// lifted; its officer's decision is refused meanwhile, and taken after.
func TestHoldInTheQueue(t *testing.T) {
	c, ns := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "us-n95-respirators-niosh.json")
	run, err := clearance.Submit(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	ref := clearance.RefOf(d)
	awaitOfficer(t, ctx, c, ref)
	if _, err := clearance.PlaceHold(ctx, c, ref, workflows.Hold{Supervisor: "sup-huang", Agency: "NMPA", Reason: "white-list check"}); err != nil {
		t.Fatal(err)
	}
	awaitListed(t, ctx, c, ns, "OnHold = true", run.GetID())
	approve := workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: workflows.OutcomeApprove}
	var refused *clearance.RefusedError
	if _, err := clearance.Decide(ctx, c, ref, approve); !errors.As(err, &refused) {
		t.Fatalf("decision while held: %v", err)
	}
	if _, err := clearance.LiftHold(ctx, c, ref, workflows.Lift{Supervisor: "sup-huang", Agency: "NMPA",
		Disposition: workflows.DispositionMayProceed, Reason: "on the white list"}); err != nil {
		t.Fatal(err)
	}
	awaitListed(t, ctx, c, ns, "OnHold = true")
	if _, err := clearance.Decide(ctx, c, ref, approve); err != nil {
		t.Fatal(err)
	}
	res, err := clearance.Wait(ctx, c, ref)
	if err != nil || res.State != workflows.StateReleased || len(res.Holds) != 1 || res.OtherAgencyTime <= 0 {
		t.Fatalf("result: %s, holds %+v, other-agency time %s, %v", res.State, res.Holds, res.OtherAgencyTime, err)
	}
}
