package auth_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	querypb "go.temporal.io/api/query/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/common/authorization"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/workflows"
)

var updateRoles = flag.Bool("update-roles", false, "rewrite the role table in docs/roles.md from what the authorizer allows")

const rolesDoc = "../docs/roles.md"

// roleColumns are the roles a token may carry, and a token with none.
var roleColumns = []string{workflows.RoleOfficer, workflows.RoleSupervisor, workflows.RoleExporter, workflows.RoleAuditor,
	workflows.RoleWorker, workflows.RoleAdmin, ""}

const ownCode = "3301960412"

// TestRoleTable runs every role against every call of the Temporal workflow service (each update,
// signal, query and workflow type the engine knows, and one it does not), on the exporter's own
// clearance, through the authorizer the server runs, and compares what it allows with the table in
// docs/roles.md: a call or role added to the server or the engine without a line in the table
// fails here. go test ./auth -run TestRoleTable -update-roles rewrites the table.
func TestRoleTable(t *testing.T) {
	a := &auth.Authorizer{Namespace: "customs"}
	var b strings.Builder
	b.WriteString("| call |")
	for _, r := range roleColumns {
		if r == "" {
			r = "no role"
		}
		fmt.Fprintf(&b, " %s |", r)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(roleColumns)))
	b.WriteString("\n")
	for _, c := range calls(t) {
		fmt.Fprintf(&b, "| %s |", c.name)
		for _, r := range roleColumns {
			p := workflows.Principal{Subject: "caller-1"}
			if r != "" {
				p.Roles = []string{r}
			}
			if r == workflows.RoleExporter {
				p.Exporter = ownCode
			}
			res, err := a.Authorize(context.Background(), &authorization.Claims{Subject: p.Subject, Extensions: auth.Identity{Principal: p}},
				&authorization.CallTarget{APIName: c.api, Namespace: "customs", Request: c.req})
			if err != nil {
				t.Fatal(err)
			}
			mark := "—"
			if res.Decision == authorization.DecisionAllow {
				mark = "✓"
			}
			fmt.Fprintf(&b, " %s |", mark)
		}
		b.WriteString("\n")
	}
	table := b.String()

	doc, err := os.ReadFile(rolesDoc)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- role table: begin -->\n", "<!-- role table: end -->"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("%s has no role table between %q and %q", rolesDoc, begin, end)
	}
	if *updateRoles {
		out := string(doc[:i+len(begin)]) + table + string(doc[j:])
		if err := os.WriteFile(rolesDoc, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := string(doc[i+len(begin) : j]); got != table {
		t.Errorf("the authorizer allows what %s does not say; if the change is meant, run go test ./auth -run TestRoleTable -update-roles "+
			"and give the reason in the commit.\n%s", rolesDoc, diffLines(got, table))
	}
}

type call struct {
	name, api string
	req       any
}

// calls lists every method of the workflow service, those the engine addresses by name once per
// name.
func calls(t *testing.T) []call {
	t.Helper()
	sd := workflowservice.File_temporal_api_workflowservice_v1_service_proto.Services().Get(0)
	own, err := workflows.WorkflowID(ownCode, "LB-2020-DE-0415")
	if err != nil {
		t.Fatal(err)
	}
	ownAppeal, err := appeal.WorkflowID(ownCode, "LB-2020-DE-0415")
	if err != nil {
		t.Fatal(err)
	}
	exec := &commonpb.WorkflowExecution{WorkflowId: own}
	var out []call
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		m := methods.Get(i)
		api := "/" + string(sd.FullName()) + "/" + string(m.Name())
		newReq := func() proto.Message {
			mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Input().FullName())
			if err != nil {
				t.Fatal(err)
			}
			return mt.New().Interface()
		}
		add := func(name string, req proto.Message) { out = append(out, call{name: name, api: api, req: req}) }
		switch string(m.Name()) {
		case "UpdateWorkflowExecution":
			for _, u := range []string{workflows.UpdateDecide, workflows.UpdateReroute, workflows.UpdateExtend, workflows.UpdateReassign,
				workflows.UpdateHold, workflows.UpdateLift, workflows.UpdateClaim, workflows.UpdateUnclaim, workflows.UpdateNote,
				workflows.UpdateDecideAmendment, workflows.UpdateSupplyDocuments, workflows.UpdateWithdraw, workflows.UpdateAmend,
				workflows.UpdateLodgement, appeal.UpdateDecide, "another-update"} {
				add(fmt.Sprintf("%s `%s`", m.Name(), u), &workflowservice.UpdateWorkflowExecutionRequest{Namespace: "customs",
					WorkflowExecution: exec, Request: &updatepb.Request{Input: &updatepb.Input{Name: u}}})
			}
		case "SignalWorkflowExecution":
			for _, s := range []string{workflows.SignalDecision, workflows.SignalRosterChanged, "another-signal"} {
				add(fmt.Sprintf("%s `%s`", m.Name(), s), &workflowservice.SignalWorkflowExecutionRequest{Namespace: "customs",
					WorkflowExecution: exec, SignalName: s})
			}
		case "QueryWorkflow":
			for _, q := range []string{workflows.QueryStatus, workflows.QueryResult, workflows.QueryDeclaration,
				"__temporal_workflow_metadata", "__stack_trace", "another-query"} {
				add(fmt.Sprintf("%s `%s`", m.Name(), q), &workflowservice.QueryWorkflowRequest{Namespace: "customs",
					Execution: exec, Query: &querypb.WorkflowQuery{QueryType: q}})
			}
		case "StartWorkflowExecution":
			code, err := converter.GetDefaultDataConverter().ToPayload(ownCode)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []struct{ typ, id string }{{workflows.WorkflowName, own}, {appeal.WorkflowName, ownAppeal}, {"AnotherWorkflow", own}} {
				add(fmt.Sprintf("%s `%s`", m.Name(), w.typ), &workflowservice.StartWorkflowExecutionRequest{Namespace: "customs",
					WorkflowId: w.id, WorkflowType: &commonpb.WorkflowType{Name: w.typ},
					TaskQueue:        &taskqueuepb.TaskQueue{Name: workflows.TaskQueue},
					SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.SAExporterCode: code}}})
			}
		case "ExecuteMultiOperation":
			code, err := converter.GetDefaultDataConverter().ToPayload(ownCode)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []struct{ typ, update string }{{workflows.WorkflowName, workflows.UpdateLodgement},
				{workflows.WorkflowName, "another-update"}, {appeal.WorkflowName, workflows.UpdateLodgement}} {
				id := own
				if w.typ == appeal.WorkflowName {
					id = ownAppeal
				}
				add(fmt.Sprintf("%s `%s` with `%s`", m.Name(), w.typ, w.update), &workflowservice.ExecuteMultiOperationRequest{
					Namespace: "customs", Operations: []*workflowservice.ExecuteMultiOperationRequest_Operation{
						{Operation: &workflowservice.ExecuteMultiOperationRequest_Operation_StartWorkflow{
							StartWorkflow: &workflowservice.StartWorkflowExecutionRequest{Namespace: "customs", WorkflowId: id,
								WorkflowType: &commonpb.WorkflowType{Name: w.typ}, TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.TaskQueue},
								SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.SAExporterCode: code}}}}},
						{Operation: &workflowservice.ExecuteMultiOperationRequest_Operation_UpdateWorkflow{
							UpdateWorkflow: &workflowservice.UpdateWorkflowExecutionRequest{Namespace: "customs",
								WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id},
								Request:           &updatepb.Request{Input: &updatepb.Input{Name: w.update}}}}},
					}})
			}
		case "PollWorkflowExecutionUpdate":
			add(string(m.Name()), &workflowservice.PollWorkflowExecutionUpdateRequest{Namespace: "customs",
				UpdateRef: &updatepb.UpdateRef{WorkflowExecution: exec, UpdateId: "u"}})
		default:
			req := newReq()
			setWorkflow(req, own)
			add(string(m.Name()), req)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// setWorkflow points a request at the namespace and, where it names one, the workflow id.
func setWorkflow(m proto.Message, id string) {
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName("namespace"); f != nil && f.Kind() == protoreflect.StringKind {
		r.Set(f, protoreflect.ValueOfString("customs"))
	}
	for _, name := range []protoreflect.Name{"execution", "workflow_execution"} {
		if f := r.Descriptor().Fields().ByName(name); f != nil && f.Message() != nil && f.Message().FullName() == "temporal.api.common.v1.WorkflowExecution" {
			r.Set(f, protoreflect.ValueOfMessage((&commonpb.WorkflowExecution{WorkflowId: id}).ProtoReflect()))
		}
	}
	if f := r.Descriptor().Fields().ByName("workflow_id"); f != nil && f.Kind() == protoreflect.StringKind {
		r.Set(f, protoreflect.ValueOfString(id))
	}
}

// diffLines shows the lines of want that got lacks and the reverse.
func diffLines(got, want string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	return b.String()
}
