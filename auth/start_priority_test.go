package auth

import (
	"encoding/json"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// startRequest is an exporter's start of a clearance of a declaration of exporter 3301960412
// with input in and priority p.
func startRequest(in *commonpb.Payload, p *commonpb.Priority) *workflowservice.StartWorkflowExecutionRequest {
	return &workflowservice.StartWorkflowExecutionRequest{
		WorkflowId: "clearance-3301960412-LB-1", WorkflowType: &commonpb.WorkflowType{Name: workflows.WorkflowName},
		Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{in}}, Priority: p,
	}
}

// TestTheFrontendSetsAClearancesPriority: the frontend sets a verified exporter's start to the
// engine's priority for its declaration, with the exporter's code as the fairness key: urgent
// for an expedited one, normal otherwise, whatever the start asked for or left out. A start it
// cannot read (encrypted) starts at normal priority, though the exporter's client asked for the
// urgent key, which an expedited declaration has. The urgent key for a readable declaration
// that is not expedited is refused, as is a priority on an appeal.
func TestTheFrontendSetsAClearancesPriority(t *testing.T) {
	p := workflows.Principal{Subject: "exp-1", Roles: []string{workflows.RoleExporter}, Exporter: "3301960412"}
	plain := func(expedited bool) *commonpb.Payload {
		d := declaration.Declaration{ID: "LB-1", Exporter: declaration.Party{Code: "3301960412"}}
		if expedited {
			d.Expedited = &declaration.Expedited{Justification: "ventilators for the intensive care units"}
		}
		pl, err := converter.GetDefaultDataConverter().ToPayload(workflows.Input{Declaration: d})
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	encrypted := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("binary/encrypted")}, Data: []byte{1, 2, 3}}
	for _, tc := range []struct {
		name   string
		in     *commonpb.Payload
		asked  *commonpb.Priority
		key    int32
		refuse string
	}{
		{"expedited, as its client asks", plain(true), &commonpb.Priority{PriorityKey: 1, FairnessKey: "3301960412"}, 1, ""},
		{"expedited, asking nothing", plain(true), nil, 1, ""},
		{"not expedited, asking nothing", plain(false), nil, 3, ""},
		{"not expedited, asking the normal key alone", plain(false), &commonpb.Priority{PriorityKey: 3}, 0, "priority: key 3, fairness key \"\""},
		{"not expedited, asking the urgent key", plain(false), &commonpb.Priority{PriorityKey: 1, FairnessKey: "3301960412"}, 0, "priority: key 1"},
		{"encrypted, asking the urgent key", encrypted, &commonpb.Priority{PriorityKey: 1, FairnessKey: "3301960412"}, 3, ""},
		{"encrypted, asking another key", encrypted, &commonpb.Priority{PriorityKey: 2, FairnessKey: "3301960412"}, 0, "priority: key 2"},
		{"encrypted, asking another exporter's fairness", encrypted, &commonpb.Priority{PriorityKey: 3, FairnessKey: "3302960178"}, 0, "fairness key \"3302960178\""},
		{"a weight", plain(false), &commonpb.Priority{FairnessWeight: 5}, 0, "priority: the engine sets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRequest(tc.in, tc.asked)
			err := exporterStart(r, p)
			if tc.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refuse) {
					t.Fatalf("err = %v, want it to say %q", err, tc.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.GetPriority(); got.GetPriorityKey() != tc.key || got.GetFairnessKey() != "3301960412" || got.GetFairnessWeight() != 0 {
				t.Errorf("priority %v, want key %d, fairness key 3301960412", got, tc.key)
			}
		})
	}

	in, err := json.Marshal(appeal.Input{Exporter: "3301960412", DeclarationID: "LB-1", Grounds: "the invoice was right"})
	if err != nil {
		t.Fatal(err)
	}
	r := &workflowservice.StartWorkflowExecutionRequest{
		WorkflowId: "appeal-3301960412-LB-1", WorkflowType: &commonpb.WorkflowType{Name: appeal.WorkflowName},
		Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON)}, Data: in}}},
		Priority: &commonpb.Priority{PriorityKey: 1},
	}
	if err := exporterStart(r, p); err == nil || !strings.Contains(err.Error(), "priority:") {
		t.Errorf("an appeal's start with a priority: %v; want it refused", err)
	}
}
