package auth_test

import (
	"context"
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
	"go.temporal.io/server/api/matchingservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/service/frontend/configs"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/workflows"
)

// agencyColumns are the callers of the agency role table, each asking in NMPA's namespace.
var agencyColumns = []struct {
	title string
	p     workflows.Principal
}{
	{"NMPA officer", nmpaOfficer}, {"NMPA clerk (auditor)", nmpaClerk}, {"NMPA worker", nmpaWorker},
	{"SAMR officer", samrOfficer}, {"SAMR worker", samrWorker},
	{"customs officer", customsOff}, {"customs worker", customsWorker}, {"admin", clusterAdmin},
}

// TestAgencyRoleTable runs the callers of the single window against every call of the workflow
// service in NMPA's namespace (each update, signal, query, start and cancellation an agency's
// review knows, and one it does not) and the Nexus calls of the frontend's HTTP port, through the
// authorizer the server runs, and compares what it allows with the agency role table in
// docs/roles.md. The calls only an admin makes there are counted in its last row: a call an
// agency's caller gains without a line in the table fails here. go test ./auth -run
// TestAgencyRoleTable -update-roles rewrites the table.
func TestAgencyRoleTable(t *testing.T) {
	a := &auth.Authorizer{Namespace: "customs"}
	ns := agency.Namespace(agency.NMPA)
	var b strings.Builder
	b.WriteString("| call in `agency-nmpa` |")
	for _, c := range agencyColumns {
		fmt.Fprintf(&b, " %s |", c.title)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(agencyColumns)) + "\n")
	adminOnly := 0
	for _, c := range agencyCalls(t) {
		var row strings.Builder
		others := false
		for _, col := range agencyColumns {
			// The server names the request's namespace, none for a call that has none.
			target := authorization.CallTarget{APIName: c.api, Request: c.req}
			if r, ok := c.req.(interface{ GetNamespace() string }); ok {
				target.Namespace = r.GetNamespace()
			}
			if c.endpoint {
				target.Namespace, target.NexusEndpointName = ns, agency.EndpointName(agency.NMPA)
			}
			res, err := a.Authorize(context.Background(), &authorization.Claims{Subject: col.p.Subject, Extensions: auth.Identity{Principal: col.p}}, &target)
			if err != nil {
				t.Fatal(err)
			}
			mark := "—"
			if res.Decision == authorization.DecisionAllow {
				mark = "✓"
				others = others || !col.p.Has(workflows.RoleAdmin)
			}
			fmt.Fprintf(&row, " %s |", mark)
		}
		if !others && !c.named {
			adminOnly++
			continue
		}
		fmt.Fprintf(&b, "| %s |%s\n", c.name, row.String())
	}
	fmt.Fprintf(&b, "| every other call of the workflow service (%d) |%s ✓ |\n", adminOnly, strings.Repeat(" — |", len(agencyColumns)-1))
	compareTable(t, "<!-- agency role table: begin -->\n", "<!-- agency role table: end -->", b.String(),
		"go test ./auth -run TestAgencyRoleTable -update-roles")
}

// compareTable compares the table between begin and end in docs/roles.md with table, or with
// -update-roles writes it there.
func compareTable(t *testing.T, begin, end, table, rewrite string) {
	t.Helper()
	doc, err := os.ReadFile(rolesDoc)
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("%s has no table between %q and %q", rolesDoc, begin, end)
	}
	if *updateRoles {
		out := string(doc[:i+len(begin)]) + table + string(doc[j:])
		if err := os.WriteFile(rolesDoc, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := string(doc[i+len(begin) : j]); got != table {
		t.Errorf("the authorizer allows what %s does not say; if the change is meant, run %s and give the reason in the commit.\n%s",
			rolesDoc, rewrite, diffLines(got, table))
	}
}

type agencyCall struct {
	name, api string
	req       any
	// named rows stay in the table whoever they are open to; endpoint rows are the Nexus calls,
	// whose namespace the server takes from the endpoint or the URL.
	named, endpoint bool
}

// agencyCalls lists every method of the workflow service in NMPA's namespace, those an agency's
// review has names for once per name, and the Nexus calls of the frontend's HTTP port.
func agencyCalls(t *testing.T) []agencyCall {
	t.Helper()
	ns := agency.Namespace(agency.NMPA)
	sd := workflowservice.File_temporal_api_workflowservice_v1_service_proto.Services().Get(0)
	exec := &commonpb.WorkflowExecution{WorkflowId: reviewID}
	var out []agencyCall
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		m := methods.Get(i)
		api := "/" + string(sd.FullName()) + "/" + string(m.Name())
		add := func(variant string, req proto.Message) {
			name := string(m.Name())
			if variant != "" {
				name += " " + variant
			}
			out = append(out, agencyCall{name: name, api: api, req: req, named: variant != ""})
		}
		switch string(m.Name()) {
		case "UpdateWorkflowExecution":
			for _, u := range []string{agency.UpdateDecide, workflows.UpdateDecide, "another-update"} {
				add("`"+u+"`", &workflowservice.UpdateWorkflowExecutionRequest{Namespace: ns, WorkflowExecution: exec,
					Request: &updatepb.Request{Input: &updatepb.Input{Name: u}}})
			}
		case "SignalWorkflowExecution":
			add("`another-signal`", &workflowservice.SignalWorkflowExecutionRequest{Namespace: ns, WorkflowExecution: exec, SignalName: "another-signal"})
		case "QueryWorkflow":
			for _, q := range []string{agency.QueryStatus, "__stack_trace"} {
				add("`"+q+"`", &workflowservice.QueryWorkflowRequest{Namespace: ns, Execution: exec, Query: &querypb.WorkflowQuery{QueryType: q}})
			}
		case "StartWorkflowExecution":
			for _, s := range []struct{ variant, typ, queue, id string }{
				{"`AgencyReview` on `agency-review`, ID `permit-review-…`", agency.WorkflowName, agency.TaskQueue, reviewID},
				{"`AgencyReview` on another task queue", agency.WorkflowName, "customs-clearance", reviewID},
				{"`AnotherWorkflow`", "AnotherWorkflow", agency.TaskQueue, reviewID},
			} {
				add(s.variant, &workflowservice.StartWorkflowExecutionRequest{Namespace: ns, WorkflowId: s.id,
					WorkflowType: &commonpb.WorkflowType{Name: s.typ}, TaskQueue: &taskqueuepb.TaskQueue{Name: s.queue}})
			}
		case "RequestCancelWorkflowExecution":
			add("a review (`permit-review-…`)", &workflowservice.RequestCancelWorkflowExecutionRequest{Namespace: ns, WorkflowExecution: exec})
			add("another workflow", &workflowservice.RequestCancelWorkflowExecutionRequest{Namespace: ns,
				WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "another-workflow"}})
		default:
			mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Input().FullName())
			if err != nil {
				t.Fatal(err)
			}
			req := mt.New().Interface()
			setIn(req, ns, reviewID)
			add("", req)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	dispatch := &matchingservice.DispatchNexusTaskRequest{TaskQueue: &taskqueuepb.TaskQueue{Name: agency.TaskQueue}}
	// The Nexus calls name the namespace beside the request (the endpoint's target, or the URL's).
	return append(out,
		agencyCall{name: "Nexus over HTTP: `DispatchByEndpoint` (endpoint `agency-nmpa`)", api: configs.DispatchNexusTaskByEndpointAPIName,
			req: dispatch, named: true, endpoint: true},
		agencyCall{name: "Nexus over HTTP: `DispatchByNamespaceAndTaskQueue`", api: configs.DispatchNexusTaskByNamespaceAndTaskQueueAPIName,
			req: dispatch, named: true, endpoint: true})
}

// setIn points a request at namespace ns and, where it names one, the workflow id.
func setIn(m proto.Message, ns, id string) {
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName("namespace"); f != nil && f.Kind() == protoreflect.StringKind {
		r.Set(f, protoreflect.ValueOfString(ns))
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
