package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	commonpb "go.temporal.io/api/common/v1"
	querypb "go.temporal.io/api/query/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/api/matchingservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/service/frontend/configs"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/auth/authtest"
	"github.com/medsupply/customs/workflows"
)

// The callers of the single window's tests: each agency's officer, clerk and worker, and
// customs' own officer and worker.
var (
	nmpaOfficer   = workflows.Principal{Subject: "nmpa-gao", Roles: []string{workflows.RoleOfficer}, Agency: agency.NMPA}
	nmpaClerk     = workflows.Principal{Subject: "nmpa-qian", Roles: []string{workflows.RoleAuditor}, Agency: agency.NMPA}
	nmpaWorker    = workflows.Principal{Subject: "nmpa-worker-1", Roles: []string{workflows.RoleWorker}, Agency: agency.NMPA}
	samrOfficer   = workflows.Principal{Subject: "samr-lin", Roles: []string{workflows.RoleOfficer}, Agency: agency.SAMR}
	samrWorker    = workflows.Principal{Subject: "samr-worker-1", Roles: []string{workflows.RoleWorker}, Agency: agency.SAMR}
	customsOff    = workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}}
	customsWorker = workflows.Principal{Subject: "worker-1", Roles: []string{workflows.RoleWorker}}
	clusterAdmin  = workflows.Principal{Subject: "ops-1", Roles: []string{workflows.RoleAdmin}}
)

const workflowService = "/temporal.api.workflowservice.v1.WorkflowService/"

// authorize asks the authorizer of customs' namespace to decide one call of p.
func authorize(t *testing.T, p workflows.Principal, api, namespace string, req any) authorization.Result {
	t.Helper()
	a := &auth.Authorizer{Namespace: "customs"}
	res, err := a.Authorize(context.Background(), &authorization.Claims{Subject: p.Subject, Extensions: auth.Identity{Principal: p}},
		&authorization.CallTarget{APIName: api, Namespace: namespace, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func review(id string) *commonpb.WorkflowExecution {
	return &commonpb.WorkflowExecution{WorkflowId: id}
}

const reviewID = agency.IDPrefix + "clearance-3301960412-LB-2020-DE-0415~NMPA~1"

func decidePermit(name string) *workflowservice.UpdateWorkflowExecutionRequest {
	return &workflowservice.UpdateWorkflowExecutionRequest{Namespace: "agency-nmpa", WorkflowExecution: review(reviewID),
		Request: &updatepb.Request{Input: &updatepb.Input{Name: name}}}
}

func startReview(typ, queue, id string) *workflowservice.StartWorkflowExecutionRequest {
	return &workflowservice.StartWorkflowExecutionRequest{Namespace: "agency-nmpa", WorkflowId: id,
		WorkflowType: &commonpb.WorkflowType{Name: typ}, TaskQueue: &taskqueuepb.TaskQueue{Name: queue}}
}

// TestAgencyCallersWorkOnlyInTheirAgency: an agency's callers work in their agency's namespace
// and in no other, customs' included, and customs' own callers in no agency's: an agency officer
// reads the agency's reviews and decides with "decide-permit", a clerk reads, the agency's
// worker takes the task traffic (its Nexus tasks too) and starts and cancels the reviews its
// operation asks for; nothing else. Each refusal names the caller, the agency and the namespace.
func TestAgencyCallersWorkOnlyInTheirAgency(t *testing.T) {
	nmpa, samr := agency.Namespace(agency.NMPA), agency.Namespace(agency.SAMR)
	list := &workflowservice.ListWorkflowExecutionsRequest{Namespace: nmpa, Query: "PermitStatus = 'awaiting-officer'"}
	status := &workflowservice.QueryWorkflowRequest{Namespace: nmpa, Execution: review(reviewID),
		Query: &querypb.WorkflowQuery{QueryType: agency.QueryStatus}}
	pollNexus := &workflowservice.PollNexusTaskQueueRequest{Namespace: nmpa, TaskQueue: &taskqueuepb.TaskQueue{Name: agency.TaskQueue}}
	cancelReview := &workflowservice.RequestCancelWorkflowExecutionRequest{Namespace: nmpa, WorkflowExecution: review(reviewID)}
	for _, c := range []struct {
		name      string
		who       workflows.Principal
		api, ns   string
		req       any
		allowed   bool
		reasonHas string
	}{
		// An agency officer: the agency's reviews, and its decision.
		{"an NMPA officer lists NMPA's reviews", nmpaOfficer, "ListWorkflowExecutions", nmpa, list, true, ""},
		{"an NMPA officer counts them", nmpaOfficer, "CountWorkflowExecutions", nmpa, &workflowservice.CountWorkflowExecutionsRequest{Namespace: nmpa}, true, ""},
		{"an NMPA officer describes a review", nmpaOfficer, "DescribeWorkflowExecution", nmpa,
			&workflowservice.DescribeWorkflowExecutionRequest{Namespace: nmpa, Execution: review(reviewID)}, true, ""},
		{"an NMPA officer reads a review's history", nmpaOfficer, "GetWorkflowExecutionHistory", nmpa,
			&workflowservice.GetWorkflowExecutionHistoryRequest{Namespace: nmpa, Execution: review(reviewID)}, true, ""},
		{"an NMPA officer asks a review's status", nmpaOfficer, "QueryWorkflow", nmpa, status, true, ""},
		{"an NMPA officer decides", nmpaOfficer, "UpdateWorkflowExecution", nmpa, decidePermit(agency.UpdateDecide), true, ""},
		{"an NMPA officer connects", nmpaOfficer, "DescribeNamespace", nmpa, &workflowservice.DescribeNamespaceRequest{Namespace: nmpa}, true, ""},
		{"an NMPA officer asks the server", nmpaOfficer, "GetSystemInfo", "", &workflowservice.GetSystemInfoRequest{}, true, ""},
		{"an NMPA officer sends customs' decision", nmpaOfficer, "UpdateWorkflowExecution", nmpa, decidePermit(workflows.UpdateDecide), false,
			`nmpa-gao (officer of NMPA) may not UpdateWorkflowExecution in namespace agency-nmpa: the update "decide" is not for an agency's callers: an agency's officer sends "decide-permit" and nothing else`},
		{"an NMPA officer sends another update", nmpaOfficer, "UpdateWorkflowExecution", nmpa, decidePermit("another-update"), false,
			`the update "another-update" is not for an agency's callers`},
		{"an NMPA officer signals", nmpaOfficer, "SignalWorkflowExecution", nmpa,
			&workflowservice.SignalWorkflowExecutionRequest{Namespace: nmpa, WorkflowExecution: review(reviewID), SignalName: "decision"}, false,
			`the signal "decision" is not for an agency's callers: an officer decides a review with the update "decide-permit"`},
		{"an NMPA officer starts a review", nmpaOfficer, "StartWorkflowExecution", nmpa, startReview(agency.WorkflowName, agency.TaskQueue, reviewID), false,
			"a review starts only for customs' request through the single window, by the agency's worker"},
		{"an NMPA officer cancels a review", nmpaOfficer, "RequestCancelWorkflowExecution", nmpa, cancelReview, false,
			"a review is cancelled only when customs withdraws its request, by the agency's worker"},
		{"an NMPA officer terminates a review", nmpaOfficer, "TerminateWorkflowExecution", nmpa,
			&workflowservice.TerminateWorkflowExecutionRequest{Namespace: nmpa, WorkflowExecution: review(reviewID)}, false,
			"not a call of this role in an agency's namespace"},
		{"an NMPA officer polls the agency's queue", nmpaOfficer, "PollNexusTaskQueue", nmpa, pollNexus, false, "not a call of this role"},
		{"an NMPA officer lists in customs' namespace", nmpaOfficer, "ListWorkflowExecutions", "customs", list, false,
			"nmpa-gao works for NMPA and may work only in its namespace agency-nmpa, not in customs' namespace customs: " +
				"an agency officer decides only in their agency, and only an agency's workers poll its task queue"},
		{"an NMPA officer connects to customs' namespace", nmpaOfficer, "DescribeNamespace", "customs",
			&workflowservice.DescribeNamespaceRequest{Namespace: "customs"}, false, "not in customs' namespace customs"},
		{"an NMPA officer lists SAMR's reviews", nmpaOfficer, "ListWorkflowExecutions", samr, list, false,
			"nmpa-gao works for NMPA and may work only in its namespace agency-nmpa, not in SAMR's namespace agency-samr"},
		{"an NMPA officer decides in SAMR's namespace", nmpaOfficer, "UpdateWorkflowExecution", samr, decidePermit(agency.UpdateDecide), false,
			"not in SAMR's namespace agency-samr"},
		{"an NMPA officer lists the system namespace", nmpaOfficer, "ListWorkflowExecutions", "temporal-system", list, false,
			"may work only in its namespace agency-nmpa, not in namespace temporal-system"},

		// An agency's clerk (role auditor) reads and decides nothing.
		{"an NMPA clerk lists", nmpaClerk, "ListWorkflowExecutions", nmpa, list, true, ""},
		{"an NMPA clerk asks the status", nmpaClerk, "QueryWorkflow", nmpa, status, true, ""},
		{"an NMPA clerk decides", nmpaClerk, "UpdateWorkflowExecution", nmpa, decidePermit(agency.UpdateDecide), false,
			`nmpa-qian (auditor of NMPA) may not UpdateWorkflowExecution in namespace agency-nmpa: the update "decide-permit" is an agency officer's (role officer)`},

		// An SAMR officer in NMPA's namespace.
		{"an SAMR officer lists NMPA's reviews", samrOfficer, "ListWorkflowExecutions", nmpa, list, false,
			"samr-lin works for SAMR and may work only in its namespace agency-samr, not in NMPA's namespace agency-nmpa"},
		{"an SAMR officer decides in NMPA's namespace", samrOfficer, "UpdateWorkflowExecution", nmpa, decidePermit(agency.UpdateDecide), false,
			"an agency officer decides only in their agency"},
		{"an SAMR officer lists SAMR's reviews", samrOfficer, "ListWorkflowExecutions", samr, list, true, ""},

		// An agency's worker: its task traffic, and the reviews its operation starts and cancels.
		{"NMPA's worker polls its Nexus tasks", nmpaWorker, "PollNexusTaskQueue", nmpa, pollNexus, true, ""},
		{"NMPA's worker completes a Nexus task", nmpaWorker, "RespondNexusTaskCompleted", nmpa,
			&workflowservice.RespondNexusTaskCompletedRequest{Namespace: nmpa}, true, ""},
		{"NMPA's worker fails a Nexus task", nmpaWorker, "RespondNexusTaskFailed", nmpa, &workflowservice.RespondNexusTaskFailedRequest{Namespace: nmpa}, true, ""},
		{"NMPA's worker polls workflow tasks", nmpaWorker, "PollWorkflowTaskQueue", nmpa,
			&workflowservice.PollWorkflowTaskQueueRequest{Namespace: nmpa, TaskQueue: &taskqueuepb.TaskQueue{Name: agency.TaskQueue}}, true, ""},
		{"NMPA's worker polls activity tasks", nmpaWorker, "PollActivityTaskQueue", nmpa,
			&workflowservice.PollActivityTaskQueueRequest{Namespace: nmpa}, true, ""},
		{"NMPA's worker completes a workflow task", nmpaWorker, "RespondWorkflowTaskCompleted", nmpa,
			&workflowservice.RespondWorkflowTaskCompletedRequest{Namespace: nmpa}, true, ""},
		{"NMPA's worker reads an ended review's history", nmpaWorker, "GetWorkflowExecutionHistory", nmpa,
			&workflowservice.GetWorkflowExecutionHistoryRequest{Namespace: nmpa, Execution: review(reviewID)}, true, ""},
		{"NMPA's worker starts the review customs asks for", nmpaWorker, "StartWorkflowExecution", nmpa,
			startReview(agency.WorkflowName, agency.TaskQueue, reviewID), true, ""},
		{"NMPA's worker cancels a review customs withdrew", nmpaWorker, "RequestCancelWorkflowExecution", nmpa, cancelReview, true, ""},
		{"NMPA's worker starts another workflow", nmpaWorker, "StartWorkflowExecution", nmpa, startReview("AnotherWorkflow", agency.TaskQueue, reviewID), false,
			"an agency's worker starts only AgencyReview on agency-review, under permit-review-<request ID>"},
		{"NMPA's worker starts a review on another queue", nmpaWorker, "StartWorkflowExecution", nmpa, startReview(agency.WorkflowName, "customs-clearance", reviewID), false,
			"starts only AgencyReview on agency-review"},
		{"NMPA's worker starts a review under another ID", nmpaWorker, "StartWorkflowExecution", nmpa,
			startReview(agency.WorkflowName, agency.TaskQueue, "clearance-3301960412-LB-2020-DE-0415"), false, "under permit-review-<request ID>"},
		{"NMPA's worker cancels another workflow", nmpaWorker, "RequestCancelWorkflowExecution", nmpa,
			&workflowservice.RequestCancelWorkflowExecutionRequest{Namespace: nmpa, WorkflowExecution: review("clearance-3301960412-LB-2020-DE-0415")}, false,
			"a review is cancelled only when customs withdraws its request"},
		{"NMPA's worker decides", nmpaWorker, "UpdateWorkflowExecution", nmpa, decidePermit(agency.UpdateDecide), false, "is an agency officer's"},
		{"NMPA's worker queries", nmpaWorker, "QueryWorkflow", nmpa, status, false, "not a call of this role in an agency's namespace"},
		{"NMPA's worker polls SAMR's queue", nmpaWorker, "PollNexusTaskQueue", samr, pollNexus, false,
			"nmpa-worker-1 works for NMPA and may work only in its namespace agency-nmpa, not in SAMR's namespace agency-samr: " +
				"an agency officer decides only in their agency, and only an agency's workers poll its task queue"},
		{"NMPA's worker polls customs' queue", nmpaWorker, "PollWorkflowTaskQueue", "customs",
			&workflowservice.PollWorkflowTaskQueueRequest{Namespace: "customs"}, false, "not in customs' namespace customs"},
		{"SAMR's worker polls NMPA's queue", samrWorker, "PollNexusTaskQueue", nmpa, pollNexus, false,
			"samr-worker-1 works for SAMR and may work only in its namespace agency-samr, not in NMPA's namespace agency-nmpa"},

		// Customs' own callers work in no agency's namespace.
		{"a customs officer lists NMPA's reviews", customsOff, "ListWorkflowExecutions", nmpa, list, false,
			"doc-li may work only in namespace customs, not agency-nmpa: it is NMPA's, where only NMPA's officers and workers work " +
				"(a token with the claim customs_agency NMPA); an agency officer decides only in their agency, and only an agency's workers poll its task queue"},
		{"a customs officer decides in NMPA's namespace", customsOff, "UpdateWorkflowExecution", nmpa, decidePermit(agency.UpdateDecide), false,
			"doc-li may work only in namespace customs, not agency-nmpa"},
		{"customs' worker polls NMPA's queue", customsWorker, "PollNexusTaskQueue", nmpa, pollNexus, false,
			"worker-1 may work only in namespace customs, not agency-nmpa: it is NMPA's"},
		{"customs' worker polls its own Nexus queue", customsWorker, "PollNexusTaskQueue", "customs",
			&workflowservice.PollNexusTaskQueueRequest{Namespace: "customs"}, true, ""},
		{"a customs officer lists customs' clearances", customsOff, "ListWorkflowExecutions", "customs", list, true, ""},

		// An admin works everywhere.
		{"an admin lists NMPA's reviews", clusterAdmin, "ListWorkflowExecutions", nmpa, list, true, ""},
		{"an admin terminates a review", clusterAdmin, "TerminateWorkflowExecution", nmpa,
			&workflowservice.TerminateWorkflowExecutionRequest{Namespace: nmpa, WorkflowExecution: review(reviewID)}, true, ""},
	} {
		res := authorize(t, c.who, workflowService+c.api, c.ns, c.req)
		if got := res.Decision == authorization.DecisionAllow; got != c.allowed {
			t.Errorf("%s: allowed %v, want %v (%s)", c.name, got, c.allowed, res.Reason)
			continue
		}
		if !c.allowed && !strings.Contains(res.Reason, c.reasonHas) {
			t.Errorf("%s: refused with %q, want it to say %q", c.name, res.Reason, c.reasonHas)
		}
	}
}

// TestOnlyCustomsWorkflowsStartAnAgencysOperations: the Nexus calls of the frontend's HTTP port.
// Server v1.32.1 authorizes a Nexus request that arrives over HTTP in
// service/frontend/nexus_handler.go (operationContext.interceptRequest) with the CallTarget's
// APIName one of service/frontend/configs/quotas.go's DispatchNexusTaskByEndpointAPIName
// ("/temporal.api.nexusservice.v1.NexusService/DispatchByEndpoint": an operation's start or
// cancellation through an endpoint, set in nexus_operation_http_handler.go
// nexusContextFromEndpoint; Namespace is the endpoint's target namespace, NexusEndpointName the
// endpoint, Request a *matchingservice.DispatchNexusTaskRequest) or
// DispatchNexusTaskByNamespaceAndTaskQueueAPIName (".../DispatchByNamespaceAndTaskQueue"), and an
// operation's completion over HTTP in nexus_completion_http_handler.go with CompleteNexusOperation
// (".../CompleteNexusOperation", Namespace the caller's). A clearance's operation reaches the
// agency as a command its customs worker completes in customs' namespace (RespondWorkflowTaskCompleted,
// which the role table allows the worker) and which the history service carries out through the
// internal frontend, whose claim mapper makes it a system administrator; a direct call from
// outside is refused to anyone but an admin, an agency's own worker and officer included.
func TestOnlyCustomsWorkflowsStartAnAgencysOperations(t *testing.T) {
	nmpa := agency.Namespace(agency.NMPA)
	dispatch := &matchingservice.DispatchNexusTaskRequest{TaskQueue: &taskqueuepb.TaskQueue{Name: agency.TaskQueue}}
	targets := []struct {
		name   string
		target authorization.CallTarget
		reason string
	}{
		{"an operation through NMPA's endpoint", authorization.CallTarget{APIName: configs.DispatchNexusTaskByEndpointAPIName, Namespace: nmpa,
			NexusEndpointName: agency.EndpointName(agency.NMPA), Request: dispatch},
			"may not DispatchByEndpoint in namespace agency-nmpa: only customs' workflows start an agency's operations (endpoint agency-nmpa), " +
				"by a command a customs worker completes in customs' namespace, which the server carries out itself; a direct call of a Nexus endpoint is an administrator's"},
		{"an operation through NMPA's namespace and task queue", authorization.CallTarget{APIName: configs.DispatchNexusTaskByNamespaceAndTaskQueueAPIName,
			Namespace: nmpa, Request: dispatch},
			"may not DispatchByNamespaceAndTaskQueue in namespace agency-nmpa: only customs' workflows start an agency's operations"},
		{"an operation's completion in customs' namespace", authorization.CallTarget{APIName: configs.CompleteNexusOperation, Namespace: "customs"},
			"may not CompleteNexusOperation in namespace customs: an operation's completion reaches the calling workflow through the server itself"},
	}
	for _, tg := range targets {
		for _, p := range []workflows.Principal{nmpaWorker, nmpaOfficer, samrWorker, customsWorker, customsOff,
			{Subject: "sup-huang", Roles: []string{workflows.RoleOfficer, workflows.RoleSupervisor}},
			{Subject: "exporter-3301960412", Roles: []string{workflows.RoleExporter}, Exporter: "3301960412"},
			{Subject: "nobody"}} {
			target := tg.target
			res, err := (&auth.Authorizer{Namespace: "customs"}).Authorize(context.Background(),
				&authorization.Claims{Subject: p.Subject, Extensions: auth.Identity{Principal: p}}, &target)
			if err != nil {
				t.Fatal(err)
			}
			if res.Decision == authorization.DecisionAllow || !strings.Contains(res.Reason, p.Subject+" (") ||
				!strings.Contains(res.Reason, tg.reason) {
				t.Errorf("%s by %s: %v %q, want refused saying %q", tg.name, p.Subject, res.Decision, res.Reason, tg.reason)
			}
		}
		// The internal frontend's callers (the history service carrying out a clearance's
		// command) are system administrators, as is an admin's token.
		target := tg.target
		res, err := (&auth.Authorizer{Namespace: "customs"}).Authorize(context.Background(),
			&authorization.Claims{System: authorization.RoleAdmin}, &target)
		if err != nil || res.Decision != authorization.DecisionAllow {
			t.Errorf("%s by the internal frontend: %v %q, %v", tg.name, res.Decision, res.Reason, err)
		}
		if res := authorize(t, clusterAdmin, tg.target.APIName, tg.target.Namespace, tg.target.Request); res.Decision != authorization.DecisionAllow {
			t.Errorf("%s by an admin: %q", tg.name, res.Reason)
		}
	}
	// A clearance's command scheduling the operation is its customs worker's, in customs' namespace.
	if res := authorize(t, customsWorker, workflowService+"RespondWorkflowTaskCompleted", "customs",
		&workflowservice.RespondWorkflowTaskCompletedRequest{Namespace: "customs"}); res.Decision != authorization.DecisionAllow {
		t.Errorf("customs' worker completes a clearance's workflow task: %q", res.Reason)
	}
}

// TestClaimMapperReadsTheAgencyClaim: a token's agency claim is the caller's agency when it
// names an agency on the server's single window, with an agency caller's roles; every claim of
// the engine's of the wrong type, a role the engine does not know, an unknown agency, or an
// agency's token with a customs role or an exporter code is refused at mapping, naming the claim.
// Claims that are not the engine's are left alone. The issuer writes the claim it reads.
func TestClaimMapperReadsTheAgencyClaim(t *testing.T) {
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	const iss, aud = "https://identity.customs.example", "customs-clearance"
	m := &auth.ClaimMapper{Keys: authtest.Keys(&key.PublicKey), Issuer: iss, Audience: aud}
	now := time.Now()
	sign := func(extra jwt.MapClaims) string {
		claims := jwt.MapClaims{"iss": iss, "aud": aud, "sub": "nmpa-gao", "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			claims[k] = v
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	read := func(tok string) auth.Identity {
		claims, err := m.GetClaims(&authorization.AuthInfo{AuthToken: "Bearer " + tok})
		if err != nil {
			t.Fatal(err)
		}
		return claims.Extensions.(auth.Identity)
	}
	for _, c := range []struct {
		name   string
		claims jwt.MapClaims
		want   workflows.Principal
	}{
		{"an NMPA officer", jwt.MapClaims{auth.ClaimRoles: []string{"officer"}, auth.ClaimAgency: "NMPA"},
			workflows.Principal{Subject: "nmpa-gao", Roles: []string{"officer"}, Agency: agency.NMPA}},
		{"an SAMR worker and clerk", jwt.MapClaims{auth.ClaimRoles: []string{"worker", "auditor"}, auth.ClaimAgency: "SAMR"},
			workflows.Principal{Subject: "nmpa-gao", Roles: []string{"worker", "auditor"}, Agency: agency.SAMR}},
		{"a customs officer", jwt.MapClaims{auth.ClaimRoles: []string{"officer", "supervisor"}},
			workflows.Principal{Subject: "nmpa-gao", Roles: []string{"officer", "supervisor"}}},
		{"no roles, and an identity provider's own claims", jwt.MapClaims{auth.ClaimRoles: nil, "email": "gao@nmpa.example", "scope": "openid"},
			workflows.Principal{Subject: "nmpa-gao"}},
	} {
		id := read(sign(c.claims))
		if id.Refused != "" || id.Principal.Subject != c.want.Subject || id.Principal.Agency != c.want.Agency ||
			strings.Join(id.Principal.Roles, ",") != strings.Join(c.want.Roles, ",") {
			t.Errorf("%s: %+v, want %+v", c.name, id, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		claims jwt.MapClaims
		want   string
	}{
		{"an unknown agency", jwt.MapClaims{auth.ClaimRoles: []string{"officer"}, auth.ClaimAgency: "FDA"},
			`the token's claim customs_agency: "FDA" is not an agency on this server's single window (NMPA, SAMR)`},
		{"an agency in lower case", jwt.MapClaims{auth.ClaimRoles: []string{"officer"}, auth.ClaimAgency: "nmpa"},
			`the token's claim customs_agency: "nmpa" is not an agency`},
		{"an empty agency", jwt.MapClaims{auth.ClaimRoles: []string{"officer"}, auth.ClaimAgency: ""},
			`the token's claim customs_agency: "" is not an agency`},
		{"an agency that is not a string", jwt.MapClaims{auth.ClaimRoles: []string{"officer"}, auth.ClaimAgency: []string{"NMPA"}},
			"the token's claim customs_agency is a list, not an agency's name"},
		{"an agency's exporter", jwt.MapClaims{auth.ClaimRoles: []string{"exporter"}, auth.ClaimAgency: "NMPA", auth.ClaimExporter: "3301960412"},
			"the token's claim customs_exporter: a caller working for agency NMPA acts for no exporter"},
		{"an agency's supervisor", jwt.MapClaims{auth.ClaimRoles: []string{"officer", "supervisor"}, auth.ClaimAgency: "NMPA"},
			`the token's claim customs_roles[1]: "supervisor" is not a role of a caller working for agency NMPA (officer, auditor, worker)`},
		{"an agency's admin", jwt.MapClaims{auth.ClaimRoles: []string{"admin"}, auth.ClaimAgency: "SAMR"},
			`the token's claim customs_roles[0]: "admin" is not a role of a caller working for agency SAMR`},
		{"an unknown role", jwt.MapClaims{auth.ClaimRoles: []string{"officer", "permit-officer"}},
			`the token's claim customs_roles[1]: "permit-officer" is not a role (officer, supervisor, exporter, auditor, worker, admin)`},
		{"roles that are not a list", jwt.MapClaims{auth.ClaimRoles: "officer"}, "the token's claim customs_roles is a string, not a list of roles"},
		{"a role that is not a string", jwt.MapClaims{auth.ClaimRoles: []any{"officer", 7}}, "the token's claim customs_roles[1] is a number, not a role's name"},
		{"an exporter that is not a string", jwt.MapClaims{auth.ClaimRoles: []string{"exporter"}, auth.ClaimExporter: 3301960412},
			"the token's claim customs_exporter is a number, not a customs code"},
	} {
		id := read(sign(c.claims))
		if id.Refused == "" || !strings.Contains(id.Refused, c.want) {
			t.Errorf("%s: %+v, want refused: %s", c.name, id, c.want)
		}
		// The authorizer refuses every call of such a token with the mapper's reason.
		res, err := (&auth.Authorizer{Namespace: "customs"}).Authorize(context.Background(),
			&authorization.Claims{Extensions: id}, &authorization.CallTarget{APIName: workflowService + "GetSystemInfo"})
		if err != nil || res.Decision == authorization.DecisionAllow || res.Reason != id.Refused {
			t.Errorf("%s: the authorizer answers %v %q, want the mapper's refusal", c.name, res.Decision, res.Reason)
		}
	}
	// A server that puts another agency on its single window admits its callers.
	m.Agencies = []string{agency.NMPA, agency.SAMR, "HEALTH"}
	if id := read(sign(jwt.MapClaims{auth.ClaimRoles: []string{"officer"}, auth.ClaimAgency: "HEALTH"})); id.Refused != "" || id.Principal.Agency != "HEALTH" {
		t.Errorf("a HEALTH officer where HEALTH is on the single window: %+v", id)
	}
	// The issuer writes the claim the mapper reads.
	m.Agencies = nil
	issuer := auth.NewIssuer(iss, aud, key)
	tok, err := issuer.Token(nmpaOfficer, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if id := read(tok); id.Refused != "" || id.Principal.Agency != agency.NMPA || id.Principal.Subject != nmpaOfficer.Subject {
		t.Errorf("the issuer's token for %+v reads %+v", nmpaOfficer, id)
	}
	if tok, err = issuer.Token(customsOff, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	var claims jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims[auth.ClaimAgency]; ok {
		t.Errorf("a customs officer's token carries %s: %v", auth.ClaimAgency, claims)
	}
}
