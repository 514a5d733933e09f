package auth

import (
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/workflows"
)

// TestAnUnreadableStartLeavesTheDeclarationsAttributesToTheClearance: an exporter's start whose
// input the frontend cannot read (encrypted) keeps none of the attributes the declaration decides
// (Expedited, DestinationCountry, ProductCategories), whatever it said: the clearance sets them
// from the declaration it validated. The verified ones are set from the token and the ID.
func TestAnUnreadableStartLeavesTheDeclarationsAttributesToTheClearance(t *testing.T) {
	p := workflows.Principal{Subject: "exp-1", Roles: []string{workflows.RoleExporter}, Exporter: "3301960412"}
	dc := converter.GetDefaultDataConverter()
	sa := map[string]*commonpb.Payload{}
	for k, v := range map[string]any{workflows.SAExpedited: true, workflows.SADestinationCountry: "US",
		workflows.SAProductCategories: []string{"ppe"}, workflows.SADeclarationID: "SOMEONE-ELSES", workflows.SAExporterCode: "3301960412"} {
		pl, err := dc.ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		sa[k] = pl
	}
	r := &workflowservice.StartWorkflowExecutionRequest{
		WorkflowId: "clearance-3301960412-LB-1", WorkflowType: &commonpb.WorkflowType{Name: workflows.WorkflowName},
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: sa},
		Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte("binary/encrypted")}, Data: []byte{1, 2, 3}}}},
	}
	if err := exporterStart(r, p); err != nil {
		t.Fatal(err)
	}
	got := r.GetSearchAttributes().GetIndexedFields()
	for _, k := range []string{workflows.SAExpedited, workflows.SADestinationCountry, workflows.SAProductCategories} {
		if got[k] != nil {
			t.Errorf("%s = %s stands from the exporter's start", k, got[k].GetData())
		}
	}
	if string(got[workflows.SADeclarationID].GetData()) != `"LB-1"` || string(got[workflows.SAExporterCode].GetData()) != `"3301960412"` {
		t.Errorf("verified attributes: %s, %s", got[workflows.SADeclarationID].GetData(), got[workflows.SAExporterCode].GetData())
	}
	if r.GetUserMetadata() != nil {
		t.Errorf("an unreadable start keeps a summary: %v", r.GetUserMetadata())
	}
}
