package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth/authtest"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// TestAgencyCallersOnARealServer runs the single window's callers against a real server that
// verifies them, with NMPA's and SAMR's namespaces set up: NMPA's worker, on its own token,
// polls NMPA's task queue and starts the review customs asks for, and is refused SAMR's queue;
// NMPA's officer lists and reads NMPA's reviews and decides as themself, and is refused in
// customs' namespace and SAMR's; SAMR's officer, customs' officer and customs' worker are refused
// in NMPA's namespace; NMPA's clerk reads and may not decide; an admin, whom the authorizer
// admits everywhere, names no agency and is refused by the review itself.
func TestAgencyCallersOnARealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := authtest.Start(t, authtest.WithAgencies(agency.NMPA, agency.SAMR))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nmpa, samr := agency.Namespace(agency.NMPA), agency.Namespace(agency.SAMR)

	// NMPA's worker, on a worker's token for NMPA, in NMPA's namespace.
	acts, err := agency.NewActivities(agency.NMPA, registry.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	workerClient := s.ClientIn(t, nmpa, nmpaWorker)
	w := agency.NewWorker(workerClient, acts, []string{s.Namespace}, worker.Options{})
	if err := w.Start(); err != nil {
		t.Fatalf("NMPA's worker starts in %s: %v", nmpa, err)
	}
	t.Cleanup(w.Stop)

	// The review customs asks for: test kits without their NMPA registration, which waits for an
	// officer. The worker starts it, as its Nexus operation does for customs' request.
	d := example(t, "de-antibody-test-kits.json")
	var certs []declaration.Certificate
	for _, c := range d.Certificates {
		if c.Scheme != declaration.SchemeNMPA {
			certs = append(certs, c)
		}
	}
	d.Certificates = certs
	clearanceID, err := workflows.WorkflowID(d.Exporter.Code, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	req := agency.PermitRequest{Agency: agency.NMPA, RequestID: clearanceID + "/NMPA/1", ClearanceID: clearanceID, Declaration: d,
		Lines: []string{d.Lines[0].ID}, Reason: "announcement No. 5 of 2020: test kits need the NMPA's registration certificate"}
	officer := s.ClientIn(t, nmpa, nmpaOfficer)
	start := client.StartWorkflowOptions{ID: agency.WorkflowID(req), TaskQueue: agency.TaskQueue}
	_, err = officer.ExecuteWorkflow(ctx, start, agency.WorkflowName, req)
	denied(t, "NMPA's officer starts a review", err, "a review starts only for customs' request through the single window")
	if _, err := workerClient.ExecuteWorkflow(ctx, start, agency.WorkflowName, req); err != nil {
		t.Fatalf("NMPA's worker starts the review: %v", err)
	}

	// NMPA's officer finds it in the officers' queue and reads where it stands: the worker polled
	// the workflow and the activity of its checks.
	until(t, "NMPA's officer lists the review awaiting an officer", func() (bool, string) {
		resp, err := officer.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: nmpa,
			Query: "PermitStatus = 'awaiting-officer'"})
		if err != nil {
			return false, err.Error()
		}
		return slices.ContainsFunc(resp.GetExecutions(), func(e *workflowpb.WorkflowExecutionInfo) bool {
			return e.GetExecution().GetWorkflowId() == agency.WorkflowID(req)
		}), "not listed"
	})
	var st agency.Status
	if v, err := officer.QueryWorkflow(ctx, agency.WorkflowID(req), "", agency.QueryStatus); err != nil || v.Get(&st) != nil ||
		st.Phase != agency.PhaseAwaitingOfficer || !slices.Contains(st.Officers, nmpaOfficer.Subject) {
		t.Fatalf("NMPA's officer reads the review's status: %+v, %v", st, err)
	}

	// NMPA's officer works in NMPA's namespace only.
	_, err = s.ClientIn(t, s.Namespace, nmpaOfficer).ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace})
	denied(t, "NMPA's officer lists in customs' namespace", err, "nmpa-gao works for NMPA and may work only in its namespace agency-nmpa, not in customs' namespace customs")
	_, err = s.ClientIn(t, samr, nmpaOfficer).ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: samr})
	denied(t, "NMPA's officer lists in SAMR's namespace", err, "not in SAMR's namespace agency-samr")
	// Nor do SAMR's officer and customs' own callers work in NMPA's.
	_, err = s.ClientIn(t, nmpa, samrOfficer).ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: nmpa})
	denied(t, "SAMR's officer lists in NMPA's namespace", err, "samr-lin works for SAMR and may work only in its namespace agency-samr")
	decide := func(c client.Client, d agency.Decision) (agency.DecisionRecord, error) {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: agency.WorkflowID(req), UpdateName: agency.UpdateDecide,
			Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
		var rec agency.DecisionRecord
		if err == nil {
			err = h.Get(ctx, &rec)
		}
		return rec, err
	}
	refuse := agency.Decision{Outcome: agency.OutcomeRefuse, Reason: "the kits hold no NMPA registration"}
	_, err = decide(s.ClientIn(t, nmpa, samrOfficer), agency.Decision{Officer: "samr-lin", Outcome: agency.OutcomeGrant, Reason: "r"})
	denied(t, "SAMR's officer decides an NMPA review", err, "an agency officer decides only in their agency")
	customsOfficer := s.ClientIn(t, nmpa, customsOff)
	_, err = customsOfficer.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: nmpa})
	denied(t, "customs' officer lists in NMPA's namespace", err, "doc-li may work only in namespace customs, not agency-nmpa: it is NMPA's")

	// Only NMPA's worker polls NMPA's task queue: not customs' worker, and NMPA's worker not SAMR's.
	poll := func(c client.Client, ns string) error {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		_, err := c.WorkflowService().PollNexusTaskQueue(pctx, &workflowservice.PollNexusTaskQueueRequest{Namespace: ns,
			Identity: "authorization test", TaskQueue: &taskqueuepb.TaskQueue{Name: agency.TaskQueue}})
		return err
	}
	denied(t, "NMPA's worker polls SAMR's queue", poll(s.ClientIn(t, samr, nmpaWorker), samr),
		"nmpa-worker-1 works for NMPA and may work only in its namespace agency-nmpa, not in SAMR's namespace agency-samr")
	denied(t, "customs' worker polls NMPA's queue", poll(s.ClientIn(t, nmpa, customsWorker), nmpa), "worker-1 may work only in namespace customs, not agency-nmpa")
	var pd *serviceerror.PermissionDenied
	if err := poll(workerClient, nmpa); errors.As(err, &pd) {
		t.Errorf("NMPA's worker polls NMPA's queue: %v", err)
	}

	// NMPA's clerk reads and does not decide; an admin is admitted by the server and refused by
	// the review, since no agency names them; NMPA's officer decides as themself.
	clerk := s.ClientIn(t, nmpa, nmpaClerk)
	if _, err := clerk.DescribeWorkflowExecution(ctx, agency.WorkflowID(req), ""); err != nil {
		t.Errorf("NMPA's clerk describes the review: %v", err)
	}
	_, err = decide(clerk, refuse)
	denied(t, "NMPA's clerk decides", err, `the update "decide-permit" is an agency officer's`)
	_, err = decide(s.ClientIn(t, nmpa, workflows.Principal{Subject: "nmpa-gao", Roles: []string{workflows.RoleAdmin}}), refuse)
	if err == nil || !strings.Contains(err.Error(), `caller: "nmpa-gao" works for no agency, and this review is NMPA's`) {
		t.Errorf("an admin's token decides an NMPA review: %v; want the review to refuse a caller of no agency", err)
	}
	rec, err := decide(officer, refuse)
	if err != nil || rec.Officer != nmpaOfficer.Subject || !rec.Verified {
		t.Fatalf("NMPA's officer decides: %+v, %v; want nmpa-gao's decision, verified", rec, err)
	}
	var res agency.PermitResult
	if err := workerClient.GetWorkflow(ctx, agency.WorkflowID(req), "").Get(ctx, &res); err != nil ||
		res.Disposition != agency.Refused || res.Officer != nmpaOfficer.Subject {
		t.Fatalf("the review ended %+v, %v; want refused by nmpa-gao", res, err)
	}
}
