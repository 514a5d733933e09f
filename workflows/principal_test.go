package workflows

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/medsupply/customs/policy"
)

func caller(subject string, roles ...string) *Principal {
	return &Principal{Subject: subject, Roles: roles}
}

// TestVerifiedCallerDecidesOnlyAsThemself: with a verified caller, the payload's officer must be
// the caller, or is filled from it; every other request is refused with the reason.
func TestVerifiedCallerDecidesOnlyAsThemself(t *testing.T) {
	c := fuzzClearance(uint8(phaseIndex(PhaseAwaitingOfficer)), 0, 0)
	c.Stage = "document-check"
	approve := func(officer string) json.RawMessage {
		b, _ := json.Marshal(Decision{Stage: c.Stage, Officer: officer, Outcome: OutcomeApprove})
		return b
	}
	if err := c.validateDecide(approve("doc-li"), caller("doc-li", RoleOfficer)); err != nil {
		t.Errorf("doc-li deciding as doc-li: %v", err)
	}
	if err := c.validateDecide(approve(""), caller("doc-li", RoleOfficer)); err != nil {
		t.Errorf("doc-li deciding without naming an officer: %v", err)
	}
	if d := asCaller(Decision{}, caller("doc-li")); d.Officer != "doc-li" {
		t.Errorf("the officer is not filled from the caller: %+v", d)
	}
	err := c.validateDecide(approve("doc-li"), caller("doc-wu", RoleOfficer))
	if err == nil || !strings.Contains(err.Error(), `you are signed in as "doc-wu"`) {
		t.Errorf("doc-wu deciding as doc-li: %v", err)
	}
	// The exporter is no officer, whatever the payload says.
	if err := c.validateDecide(approve("doc-li"), &Principal{Subject: "buyer-desk", Roles: []string{RoleExporter}}); err == nil {
		t.Error("an exporter decided as doc-li")
	}
	// The same for the signal.
	if _, err := c.validateSignal(approve("doc-li"), caller("doc-wu", RoleOfficer)); err == nil {
		t.Error("a decision signal from doc-wu was accepted as doc-li's")
	}
	if _, err := c.validateSignal(approve("doc-li"), caller("doc-li", RoleOfficer)); err != nil {
		t.Errorf("doc-li's own signal: %v", err)
	}
	// Without authentication the payload's officer stands, as before.
	if err := c.validateDecide(approve("doc-li"), nil); err != nil {
		t.Errorf("no caller: %v", err)
	}
}

func TestVerifiedSupervisorReroutesOnlyAsThemself(t *testing.T) {
	c := fuzzClearance(uint8(phaseIndex(PhaseAwaitingOfficer)), 0, 0)
	raw := json.RawMessage(`{"officer":"sup-huang","lane":"red","reason":"intelligence on counterfeit masks"}`)
	if err := c.validateRerouteUpdate(raw, caller("sup-huang", RoleSupervisor)); err != nil {
		t.Errorf("sup-huang as sup-huang: %v", err)
	}
	if err := c.validateRerouteUpdate(raw, caller("doc-li", RoleOfficer)); err == nil || !strings.Contains(err.Error(), "signed in as") {
		t.Errorf("doc-li as sup-huang: %v", err)
	}
}

// TestOnlyTheExporterAnswersForItsDeclaration: documents and withdrawals come from the
// clearance's own exporter (or an administrator), never from another exporter or an officer.
func TestOnlyTheExporterAnswersForItsDeclaration(t *testing.T) {
	supplying := fuzzClearance(uint8(phaseIndex(PhaseAwaitingExporter)), 0, 0)
	supplying.Stage = "document-check"
	own := supplying.decl.Exporter.Code
	supply := json.RawMessage(`{"documents":[{"type":"quality-declaration","reference":"QD-1"}]}`)
	withdraw := json.RawMessage(`{"reason":"the buyer cancelled the order"}`)
	for _, tc := range []struct {
		name   string
		caller *Principal
		want   string // empty: accepted
	}{
		{"own exporter", &Principal{Subject: "buyer-desk", Roles: []string{RoleExporter}, Exporter: own}, ""},
		{"administrator", caller("ops", RoleAdmin), ""},
		{"another exporter", &Principal{Subject: "rival", Roles: []string{RoleExporter}, Exporter: "9999999999"},
			"you are signed in for exporter 9999999999"},
		{"an officer", caller("doc-li", RoleOfficer), "is not an exporter"},
	} {
		err := supplying.validateSupplyUpdate(supply, tc.caller)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("supply by %s: %v; want %q", tc.name, err, tc.want)
		}
		err = supplying.validateWithdrawUpdate(withdraw, tc.caller)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("withdrawal by %s: %v; want %q", tc.name, err, tc.want)
		}
	}
}

func TestPrincipalHeaderRoundTrip(t *testing.T) {
	p := Principal{Subject: "doc-li", Roles: []string{RoleOfficer}}
	pl, err := PrincipalPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePrincipal(map[string]*commonpb.Payload{HeaderPrincipal: pl})
	if err != nil || got == nil || got.Subject != "doc-li" || !got.Has(RoleOfficer) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	if got, err := DecodePrincipal(nil); got != nil || err != nil {
		t.Errorf("no header: %+v, %v", got, err)
	}
	bad, _ := converter.GetDefaultDataConverter().ToPayload("not a principal")
	if _, err := DecodePrincipal(map[string]*commonpb.Payload{HeaderPrincipal: bad}); err == nil {
		t.Error("a header that is no principal decoded")
	}
}

func phaseIndex(p Phase) int {
	for i, q := range allPhases {
		if q == p {
			return i
		}
	}
	panic("no phase " + string(p))
}

// TestAnExporterStartCarriesNoRecord: the worker refuses an exporter's start whose input carries
// a record of earlier runs, or reopens, or names another workflow ID: what reaches it in an
// encoding the frontend cannot read (encrypted) is held to the frontend's rule.
func TestAnExporterStartCarriesNoRecord(t *testing.T) {
	d := fixture()
	id, err := WorkflowID(d.Exporter.Code, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, id, want string
		in             Input
	}{
		{"a forged record", id, "input.carried", Input{Declaration: d, Carried: &Carried{Stage: policy.StageRelease, Lane: policy.LaneGreen}}},
		{"a reopening", id, "input.reopened", Input{Declaration: d, Reopened: &AppealRecord{Stage: policy.StageDocumentCheck}}},
		{"another workflow ID", id + "-2", "is not the clearance of declaration", Input{Declaration: d}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{Interceptor()}})
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: c.id})
			pl, err := PrincipalPayload(Principal{Subject: "exp-1", Roles: []string{RoleExporter}, Exporter: d.Exporter.Code})
			if err != nil {
				t.Fatal(err)
			}
			env.SetHeader(&commonpb.Header{Fields: map[string]*commonpb.Payload{HeaderPrincipal: pl}})
			env.RegisterWorkflowWithOptions(ExportClearance, workflow.RegisterOptions{Name: WorkflowName})
			env.ExecuteWorkflow(WorkflowName, c.in)
			var appErr *temporal.ApplicationError
			if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeCaller || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v; want %s saying %q", err, ErrTypeCaller, c.want)
			}
		})
	}
}
