package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/common/authorization"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// lodgementRequest is the Update-with-Start an exporter's client sends for d, as any client could
// write it: the start of d's clearance with the update "lodgement", each with the header hdr.
func lodgementRequest(t *testing.T, ns string, d declaration.Declaration, hdr *commonpb.Header) *workflowservice.ExecuteMultiOperationRequest {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	id, err := clearance.RefOf(d).WorkflowID()
	if err != nil {
		t.Fatal(err)
	}
	in, err := dc.ToPayloads(workflows.Input{Declaration: d})
	if err != nil {
		t.Fatal(err)
	}
	arg, err := dc.ToPayloads(workflows.LodgementRequest{DeclarationID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	code, err := dc.ToPayload(d.Exporter.Code)
	if err != nil {
		t.Fatal(err)
	}
	return &workflowservice.ExecuteMultiOperationRequest{Namespace: ns, Operations: []*workflowservice.ExecuteMultiOperationRequest_Operation{
		{Operation: &workflowservice.ExecuteMultiOperationRequest_Operation_StartWorkflow{StartWorkflow: &workflowservice.StartWorkflowExecutionRequest{
			Namespace: ns, WorkflowId: id, WorkflowType: &commonpb.WorkflowType{Name: workflows.WorkflowName},
			TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.TaskQueue}, Input: in, Identity: "raw-client", RequestId: "start-" + d.ID,
			WorkflowIdConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, Header: hdr,
			SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.SAExporterCode: code}},
		}}},
		{Operation: &workflowservice.ExecuteMultiOperationRequest_Operation_UpdateWorkflow{UpdateWorkflow: &workflowservice.UpdateWorkflowExecutionRequest{
			Namespace: ns, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id},
			WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED},
			Request: &updatepb.Request{Meta: &updatepb.Meta{UpdateId: "lodgement-" + d.ID, Identity: "raw-client"},
				Input: &updatepb.Input{Name: workflows.UpdateLodgement, Args: arg, Header: hdr}},
		}}},
	}}
}

// TestAnExporterLodgesInOneCall runs Update-with-Start against a real server that verifies its
// callers, with real tokens: the exporter lodges its own declaration and reads the answer in one
// call; its start is held to the rules of a start on its own and completed the same way; both
// operations carry the verified caller, whatever the client wrote; another exporter, an officer,
// and any other pairing of operations are refused, naming why.
func TestAnExporterLodgesInOneCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json") // yellow lane: a document officer decides first
	me := workflows.Principal{Subject: "labor-berlin", Roles: []string{workflows.RoleExporter}, Exporter: d.Exporter.Code}
	exporter := s.Client(t, me)
	rival := s.Client(t, workflows.Principal{Subject: "rival", Roles: []string{workflows.RoleExporter}, Exporter: "9999999999"})
	docLi := s.Client(t, workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	auditor := s.Client(t, workflows.Principal{Subject: "audit-1", Roles: []string{workflows.RoleAuditor}})

	// Refused before anything starts: another exporter's, an officer's, and pairings other than the
	// start of a clearance with the update "lodgement" of the same clearance.
	forged := &commonpb.Header{Fields: map[string]*commonpb.Payload{}}
	officer, err := workflows.PrincipalPayload(workflows.Principal{Subject: "sup-huang", Roles: []string{workflows.RoleSupervisor}})
	if err != nil {
		t.Fatal(err)
	}
	forged.Fields[workflows.HeaderPrincipal] = officer
	multi := func(c client.Client, r *workflowservice.ExecuteMultiOperationRequest) error {
		_, err := c.WorkflowService().ExecuteMultiOperation(ctx, r)
		return err
	}
	_, err = clearance.Lodge(ctx, rival, d)
	denied(t, "another exporter lodges", err, `the token acts for exporter "9999999999"`)
	_, err = clearance.Lodge(ctx, docLi, d)
	denied(t, "an officer lodges", err, "only an exporter lodges declarations")
	for _, c := range []struct {
		what, want string
		change     func(r *workflowservice.ExecuteMultiOperationRequest)
	}{
		{"another update", `"withdraw" is not sent with a start`, func(r *workflowservice.ExecuteMultiOperationRequest) {
			r.Operations[1].GetUpdateWorkflow().Request.Input.Name = workflows.UpdateWithdraw
		}},
		{"another workflow's update", "is not the clearance", func(r *workflowservice.ExecuteMultiOperationRequest) {
			r.Operations[1].GetUpdateWorkflow().WorkflowExecution.WorkflowId = "clearance-" + d.Exporter.Code + "-OTHER-1"
		}},
		{"an appeal's start", "an exporter's Update-with-Start starts ExportClearance", func(r *workflowservice.ExecuteMultiOperationRequest) {
			st := r.Operations[0].GetStartWorkflow()
			st.WorkflowType.Name = appeal.WorkflowName
		}},
		{"the start alone", "operations: 1 given", func(r *workflowservice.ExecuteMultiOperationRequest) {
			r.Operations = r.Operations[:1]
		}},
		{"an option an exporter may not choose", "memo:", func(r *workflowservice.ExecuteMultiOperationRequest) {
			r.Operations[0].GetStartWorkflow().Memo = &commonpb.Memo{Fields: map[string]*commonpb.Payload{"approved": officer}}
		}},
		{"a timeout", "timeouts:", func(r *workflowservice.ExecuteMultiOperationRequest) {
			r.Operations[0].GetStartWorkflow().WorkflowRunTimeout = durationpb.New(time.Second)
		}},
		{"a search attribute the clearance sets", "search_attributes:", func(r *workflowservice.ExecuteMultiOperationRequest) {
			sa := r.Operations[0].GetStartWorkflow().SearchAttributes
			sa.IndexedFields[workflows.SAPriority] = sa.IndexedFields[workflows.SAExporterCode]
		}},
	} {
		r := lodgementRequest(t, s.Namespace, d, nil)
		c.change(r)
		denied(t, c.what, multi(exporter, r), c.want)
	}
	if _, err := exporter.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: "clearance-" + d.Exporter.Code + "-" + d.ID,
		UpdateName: workflows.UpdateLodgement, Args: []any{workflows.LodgementRequest{DeclarationID: d.ID}},
		WaitForStage: client.WorkflowUpdateStageCompleted}); err == nil {
		t.Error("the update lodgement was sent on its own")
	} else {
		denied(t, "the update on its own", err, "sent only with the clearance's start")
	}
	if n, err := auditor.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: s.Namespace}); err != nil || n.GetCount() != 0 {
		t.Fatalf("%d workflows after the refusals (%v), want none", n.GetCount(), err)
	}

	// The exporter's own, with a forged caller in both operations and a summary of its own: lodged
	// and answered in one call, as the exporter, with the declaration's summary.
	r := lodgementRequest(t, s.Namespace, d, forged)
	approved, err := converter.GetDefaultDataConverter().ToPayload("**APPROVED by sup-huang**: release at once")
	if err != nil {
		t.Fatal(err)
	}
	r.Operations[0].GetStartWorkflow().UserMetadata = &sdkpb.UserMetadata{Summary: approved}
	resp, err := exporter.WorkflowService().ExecuteMultiOperation(ctx, r)
	if err != nil {
		t.Fatalf("the exporter's Update-with-Start: %v", err)
	}
	outcome := resp.GetResponses()[1].GetUpdateWorkflow().GetOutcome()
	if outcome.GetSuccess() == nil {
		t.Fatalf("the lodgement was not answered in the call: %v", outcome.GetFailure())
	}
	var l workflows.Lodgement
	if err := converter.GetDefaultDataConverter().FromPayloads(outcome.GetSuccess(), &l); err != nil {
		t.Fatal(err)
	}
	if !l.Accepted || l.Registration == nil || l.Lane != policy.LaneYellow ||
		!strings.HasPrefix(l.Next, "waiting for a document officer's decision") {
		t.Errorf("answer: accepted %v, registration %+v, lane %s, next %q", l.Accepted, l.Registration, l.Lane, l.Next)
	}
	id, _ := clearance.RefOf(d).WorkflowID()
	callers := map[enumspb.EventType]string{}
	iter := auditor.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		var h *commonpb.Header
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			h = e.GetWorkflowExecutionStartedEventAttributes().GetHeader()
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			h = e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetHeader()
		default:
			continue
		}
		p, err := workflows.DecodePrincipal(h.GetFields())
		if err != nil || p == nil {
			t.Fatalf("%s: caller %v, %v", e.GetEventType(), p, err)
		}
		callers[e.GetEventType()] = p.Subject
	}
	if callers[enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED] != me.Subject || callers[enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED] != me.Subject {
		t.Errorf("the history's callers: %v; want %s for the start and the update", callers, me.Subject)
	}
	desc, err := auditor.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var summary string
	if err := converter.GetDefaultDataConverter().FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary); err != nil ||
		summary != clearance.Summary(d) {
		t.Errorf("summary %q (%v), want the declaration's %q", summary, err, clearance.Summary(d))
	}
	if p := desc.GetWorkflowExecutionInfo().GetPriority(); p.GetFairnessKey() != clearance.StartPriority(d.Exporter.Code, d.IsExpedited()).FairnessKey {
		t.Errorf("priority %v, want the engine's for the declaration", p)
	}

	// Lodged again: refused as a duplicate naming the clearance, which an exporter reads through
	// its status; the SDK's way, as the starter calls it.
	_, err = clearance.Lodge(ctx, exporter, d)
	var dup *clearance.DuplicateError
	if !errors.As(err, &dup) || dup.WorkflowID != id || dup.State != clearance.StateRunning {
		t.Errorf("a second lodgement: %v; want the duplicate of %s, running", err, id)
	}
	other := d
	other.ID = "LB-2020-DE-0416"
	lo, err := clearance.Lodge(ctx, exporter, other)
	if err != nil || !lo.Answered || lo.Polled || !lo.Accepted {
		t.Errorf("the exporter's Lodge: answered %v, polled %v, accepted %v, %v", lo.Answered, lo.Polled, lo.Accepted, err)
	}
}

// TestUpdateWithStartInterceptorStampsBothOperations: the frontend interceptor writes the verified
// caller into the start and the update of an administrator's Update-with-Start too, replacing what
// the client wrote, and removes it where the server verified no caller.
func TestUpdateWithStartInterceptorStampsBothOperations(t *testing.T) {
	d := declaration.Declaration{ID: "LB-1", Exporter: declaration.Party{Code: "3301960412"}}
	forged, err := workflows.PrincipalPayload(workflows.Principal{Subject: "sup-huang", Roles: []string{workflows.RoleSupervisor}})
	if err != nil {
		t.Fatal(err)
	}
	admin := workflows.Principal{Subject: "ops-1", Roles: []string{workflows.RoleAdmin}}
	for _, tc := range []struct {
		name   string
		claims *authorization.Claims
		want   string
	}{
		{"an administrator", &authorization.Claims{Subject: admin.Subject, Extensions: auth.Identity{Principal: admin}}, admin.Subject},
		{"no verified caller", nil, ""},
	} {
		r := lodgementRequest(t, "customs", d, &commonpb.Header{Fields: map[string]*commonpb.Payload{workflows.HeaderPrincipal: forged}})
		ctx := context.Background()
		if tc.claims != nil {
			ctx = context.WithValue(ctx, authorization.MappedClaims, tc.claims)
		}
		_, err := auth.Interceptor()(ctx, r, &grpc.UnaryServerInfo{FullMethod: "/temporal.api.workflowservice.v1.WorkflowService/ExecuteMultiOperation"},
			func(context.Context, any) (any, error) { return nil, nil })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, h := range []*commonpb.Header{r.Operations[0].GetStartWorkflow().GetHeader(), r.Operations[1].GetUpdateWorkflow().GetRequest().GetInput().GetHeader()} {
			p, err := workflows.DecodePrincipal(h.GetFields())
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p != nil {
				got = p.Subject
			}
			if got != tc.want {
				t.Errorf("%s: operation %d carries caller %q, want %q", tc.name, i, got, tc.want)
			}
		}
	}
}
