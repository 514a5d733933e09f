package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// until polls cond until it holds, failing the test with what last held after a minute.
func until(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	last := ""
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
	}
	t.Fatalf("%s: never; last %s", what, last)
}

// awaitingOfficer waits until the clearance of d awaits an officer, read by reader.
func awaitingOfficer(t *testing.T, ctx context.Context, reader client.Client, d declaration.Declaration) workflows.Status {
	t.Helper()
	var st workflows.Status
	until(t, "the clearance awaits an officer", func() (bool, string) {
		var err error
		st, err = clearance.Status(ctx, reader, clearance.RefOf(d))
		return err == nil && st.Phase == workflows.PhaseAwaitingOfficer, string(st.Phase)
	})
	return st
}

// TestAnExporterStartsADeclarationAndNothingElse: an exporter's own start carries its declaration
// and nothing else. A forged record of earlier runs (a release decided by two officers) is
// refused, whatever the client's encoding; start options that would put the declaration in
// another queue, speak to officers in the exporter's words, or terminate the exporter's own
// clearance are refused, naming the option; search attributes and the summary are the
// declaration's, not what the start said.
func TestAnExporterStartsADeclarationAndNothingElse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "es-masks-non-notified-body.json") // refused by rule at the certification check
	exporter := s.Client(t, workflows.Principal{Subject: "exp-1", Roles: []string{workflows.RoleExporter}, Exporter: d.Exporter.Code})
	auditor := s.Client(t, workflows.Principal{Subject: "audit-1", Roles: []string{workflows.RoleAuditor}})
	opts, err := clearance.StartOptions(d)
	if err != nil {
		t.Fatal(err)
	}

	// 1. A forged continuation: the release stage, decisions by two officers.
	forged := workflows.Input{Declaration: d, Carried: &workflows.Carried{Lane: policy.LaneGreen, Stage: policy.StageRelease,
		State: workflows.StateChecking, Record: workflows.Record{Decisions: []workflows.DecisionRecord{
			{Decision: workflows.Decision{Stage: policy.StageCertificationCheck, Officer: "cert-liu", Outcome: workflows.OutcomeApprove}},
			{Decision: workflows.Decision{Stage: policy.StageRelease, Officer: "rel-wang", Outcome: workflows.OutcomeApprove}},
		}}}}
	_, err = exporter.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, forged)
	denied(t, "a start with a forged record", err, "input.carried")
	_, err = exporter.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: d,
		Reopened: &workflows.AppealRecord{Stage: policy.StageCertificationCheck, Supervisor: "sup-huang"}})
	denied(t, "a start that reopens", err, "input.reopened")
	// 2. Options an exporter may not choose, each refused by name.
	d.ID = "ES-MASKS-OPTIONS"
	if opts, err = clearance.StartOptions(d); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		set   func(*client.StartWorkflowOptions)
	}{
		{"workflow_id_conflict_policy", func(o *client.StartWorkflowOptions) {
			o.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
		}},
		{"workflow_id_reuse_policy", func(o *client.StartWorkflowOptions) {
			o.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
		}},
		{"memo", func(o *client.StartWorkflowOptions) { o.Memo = map[string]any{"approved": "sup-huang"} }},
		{"timeouts", func(o *client.StartWorkflowOptions) { o.WorkflowRunTimeout = time.Second }},
		{"retry_policy", func(o *client.StartWorkflowOptions) { o.RetryPolicy = &temporal.RetryPolicy{MaximumAttempts: 9} }},
		{"cron_schedule", func(o *client.StartWorkflowOptions) { o.CronSchedule = "@every 1m" }},
		{"workflow_start_delay", func(o *client.StartWorkflowOptions) { o.StartDelay = time.Hour }},
		{"priority", func(o *client.StartWorkflowOptions) { o.Priority = temporal.Priority{PriorityKey: 1} }},
		{"search_attributes", func(o *client.StartWorkflowOptions) {
			o.TypedSearchAttributes = temporal.NewSearchAttributes(append(workflows.DeclarationAttributes(d),
				workflows.ClaimedByKey.ValueSet("sup-huang"))...)
		}},
	} {
		o := opts
		c.set(&o)
		_, err := exporter.ExecuteWorkflow(ctx, o, workflows.WorkflowName, workflows.Input{Declaration: d})
		denied(t, c.field, err, c.field+":")
	}

	// 3. Search attributes and summary are the declaration's: an expedited queue, another
	// declaration's ID and an approval in the summary are replaced.
	lying := opts
	lying.TypedSearchAttributes = temporal.NewSearchAttributes(workflows.DeclarationIDKey.ValueSet("SOMEONE-ELSES"),
		workflows.ExporterCodeKey.ValueSet(d.Exporter.Code), workflows.ExpeditedKey.ValueSet(true),
		workflows.DestinationCountryKey.ValueSet("US"), workflows.StatusKey.ValueSet(string(workflows.StateReleased)))
	lying.StaticSummary = "**APPROVED by sup-huang**: release at once"
	lying.StaticDetails = "approved"
	if _, err := exporter.ExecuteWorkflow(ctx, lying, workflows.WorkflowName, workflows.Input{Declaration: d}); err != nil {
		t.Fatalf("a start with attributes the frontend sets: %v", err)
	}
	desc, err := auditor.DescribeWorkflowExecution(ctx, opts.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, p := range desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		got[k] = string(p.GetData())
	}
	for k, want := range map[string]string{workflows.SADeclarationID: `"` + d.ID + `"`, workflows.SAExpedited: "false",
		workflows.SADestinationCountry: `"` + d.Destination + `"`} {
		if got[k] != want {
			t.Errorf("search attribute %s = %s, want the declaration's %s", k, got[k], want)
		}
	}
	if got[workflows.SAStatus] == `"`+string(workflows.StateReleased)+`"` {
		t.Errorf("the status the exporter set stands: %s", got[workflows.SAStatus])
	}
	var summary, details string
	md := desc.GetExecutionConfig().GetUserMetadata()
	if err := converter.GetDefaultDataConverter().FromPayload(md.GetSummary(), &summary); err != nil {
		t.Fatal(err)
	}
	if err := converter.GetDefaultDataConverter().FromPayload(md.GetDetails(), &details); err != nil {
		t.Fatal(err)
	}
	if summary != clearance.Summary(d) || details != clearance.Details(d) {
		t.Errorf("the summary officers read is %q / %q, want the declaration's %q", summary, details, clearance.Summary(d))
	}
}

// signalRaw sends a decision signal whose one payload is p, as a client of any language could.
func signalRaw(ctx context.Context, c client.Client, ns, id string, p *commonpb.Payload) error {
	_, err := c.WorkflowService().SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{
		Namespace: ns, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id}, SignalName: workflows.SignalDecision,
		Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{p}}, Identity: "raw-client"})
	return err
}

// TestADecisionSignalIsItsOwnSenders: an undecodable decision signal is recorded as refused, with
// its own sender; the signals after it are each their own sender's, so that one officer cannot
// decide as another by sending an undecodable signal first.
func TestADecisionSignalIsItsOwnSenders(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json") // yellow lane: the document check awaits an officer
	exporter := s.Client(t, workflows.Principal{Subject: "labor-berlin", Roles: []string{workflows.RoleExporter}, Exporter: d.Exporter.Code})
	docLi := s.Client(t, workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	docChen := s.Client(t, workflows.Principal{Subject: "doc-chen", Roles: []string{workflows.RoleOfficer}})
	auditor := s.Client(t, workflows.Principal{Subject: "audit-1", Roles: []string{workflows.RoleAuditor}})
	if _, err := clearance.Submit(ctx, exporter, d); err != nil {
		t.Fatal(err)
	}
	id, _ := clearance.RefOf(d).WorkflowID()
	st := awaitingOfficer(t, ctx, auditor, d)

	// doc-li sends what cannot be read as a decision: JSON that is not, and another encoding.
	notJSON := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON)}, Data: []byte("approve!")}
	if err := signalRaw(ctx, docLi, s.Namespace, id, notJSON); err != nil {
		t.Fatal(err)
	}
	protoEnc := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingProtoJSON),
		"messageType": []byte("temporal.api.common.v1.Payload")}, Data: []byte(`{"x":1}`)}
	if err := signalRaw(ctx, docLi, s.Namespace, id, protoEnc); err != nil {
		t.Fatal(err)
	}
	// Then doc-li signals an approval naming doc-chen: refused as not the caller.
	asChen := workflows.Decision{Stage: st.Stage, Officer: "doc-chen", Outcome: workflows.OutcomeApprove}
	if err := docLi.SignalWorkflow(ctx, id, "", workflows.SignalDecision, asChen); err != nil {
		t.Fatal(err)
	}
	until(t, "three refused signals", func() (bool, string) {
		st, _ = clearance.Status(ctx, auditor, clearance.RefOf(d))
		return st.RefusedCount == 3, strings.Join(reasons(st), " | ")
	})
	if len(st.Decisions) != 0 {
		t.Fatalf("a decision was applied: %+v", st.Decisions)
	}
	for i, r := range st.Refused {
		if r.Sender != "doc-li" {
			t.Errorf("refused signal %d is recorded as sent by %q, want doc-li: %s", i, r.Sender, r.Reason)
		}
	}
	if !strings.Contains(st.Refused[0].Reason, "cannot be read as JSON") || !strings.Contains(st.Refused[2].Reason, `you are signed in as "doc-li"`) {
		t.Errorf("refusals: %q", reasons(st))
	}
	// doc-chen's own approval is doc-chen's.
	if err := docChen.SignalWorkflow(ctx, id, "", workflows.SignalDecision, workflows.Decision{Stage: st.Stage, Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatal(err)
	}
	until(t, "doc-chen's approval applied", func() (bool, string) {
		st, _ = clearance.Status(ctx, auditor, clearance.RefOf(d))
		return len(st.Decisions) > 0, strings.Join(reasons(st), " | ")
	})
	if got := st.Decisions[0]; got.Officer != "doc-chen" || !got.Verified || st.RefusedCount != 3 {
		t.Errorf("the approval: %+v, %d refused; want doc-chen's, verified", got, st.RefusedCount)
	}
}

func reasons(st workflows.Status) []string {
	var out []string
	for _, r := range st.Refused {
		out = append(out, r.Decision.Officer+": "+r.Reason)
	}
	return out
}

// TestExportersReadOnlyTheirOwnAnswers: an exporter asks its own clearance for its status,
// verdict and declaration, and nothing else: not the SDK's built-in queries, which show the
// officers' current details and the code's stack, nor another exporter's update results. A
// worker asks a clearance only what an appeal reads.
func TestExportersReadOnlyTheirOwnAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json")
	exporter := s.Client(t, workflows.Principal{Subject: "labor-berlin", Roles: []string{workflows.RoleExporter}, Exporter: d.Exporter.Code})
	rival := s.Client(t, workflows.Principal{Subject: "rival", Roles: []string{workflows.RoleExporter}, Exporter: "9999999999"})
	worker := s.Client(t, workflows.Principal{Subject: "worker-2", Roles: []string{workflows.RoleWorker}})
	officer := s.Client(t, workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	if _, err := clearance.Submit(ctx, exporter, d); err != nil {
		t.Fatal(err)
	}
	id, _ := clearance.RefOf(d).WorkflowID()
	awaitingOfficer(t, ctx, officer, d)

	for _, q := range []string{"__temporal_workflow_metadata", "__stack_trace", "__open_sessions"} {
		_, err := exporter.QueryWorkflow(ctx, id, "", q)
		denied(t, "the exporter asks "+q, err, "is customs' to read")
		_, err = worker.QueryWorkflow(ctx, id, "", q)
		denied(t, "a worker asks "+q, err, "not a call of this role")
	}
	if _, err := officer.QueryWorkflow(ctx, id, "", "__temporal_workflow_metadata"); err != nil {
		t.Errorf("an officer reads the current details: %v", err)
	}
	for _, q := range []string{workflows.QueryStatus, workflows.QueryResult, workflows.QueryDeclaration} {
		_, err := rival.QueryWorkflow(ctx, id, "", q)
		denied(t, "the rival asks "+q, err, "not one of exporter 9999999999's declarations")
	}
	if _, err := worker.QueryWorkflow(ctx, id, "", workflows.QueryStatus); err != nil {
		t.Errorf("a worker reads the status an appeal reads: %v", err)
	}
	// The exporter's own update, polled by the rival.
	handle, err := exporter.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateAmend,
		Args: []any{workflows.Amendment{Reason: "x"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var updateID string
	if err == nil {
		updateID = handle.UpdateID()
	} else {
		updateID = "any"
	}
	_, err = rival.WorkflowService().PollWorkflowExecutionUpdate(ctx, &workflowservice.PollWorkflowExecutionUpdateRequest{
		Namespace: s.Namespace, UpdateRef: &updatepb.UpdateRef{WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id}, UpdateId: updateID},
		WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED}})
	denied(t, "the rival polls the exporter's update", err, "not one of exporter 9999999999's declarations")
	_, err = rival.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateWithdraw,
		Args: []any{workflows.Withdrawal{Reason: "x"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	denied(t, "the rival withdraws", err, "not one of exporter 9999999999's declarations")
}

// TestRequestsTooLargeAreRefusedAtTheFrontend: a signal or an update larger than a request may
// carry is refused before the server records it, so no clearance is wedged by volume.
func TestRequestsTooLargeAreRefusedAtTheFrontend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := example(t, "de-antibody-test-kits.json")
	exporter := s.Client(t, workflows.Principal{Subject: "labor-berlin", Roles: []string{workflows.RoleExporter}, Exporter: d.Exporter.Code})
	officer := s.Client(t, workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}})
	if _, err := clearance.Submit(ctx, exporter, d); err != nil {
		t.Fatal(err)
	}
	id, _ := clearance.RefOf(d).WorkflowID()
	st := awaitingOfficer(t, ctx, officer, d)
	huge := strings.Repeat("x", 1536<<10)
	err := officer.SignalWorkflow(ctx, id, "", workflows.SignalDecision, workflows.Decision{Stage: st.Stage, Outcome: workflows.OutcomeReject, Reason: huge})
	denied(t, "a 1.5 MB signal", err, "bytes is more than the")
	_, err = clearance.AddNote(ctx, officer, clearance.RefOf(d), workflows.Note{Text: huge})
	denied(t, "a 1.5 MB note", err, "bytes is more than the")
	// A request within the bound still reaches the clearance, which answers it.
	if _, err := clearance.AddNote(ctx, officer, clearance.RefOf(d), workflows.Note{Text: "the invoice is signed"}); err != nil {
		t.Fatalf("a note: %v", err)
	}
}
