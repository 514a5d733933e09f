package workflows

import (
	"testing"

	commonpb "go.temporal.io/api/common/v1"
)

// TestPrincipalCarriesTheAgency: the frontend writes an agency's caller with its agency, and the
// header reads back the same; customs' own callers carry none, and their header is unchanged.
func TestPrincipalCarriesTheAgency(t *testing.T) {
	for _, p := range []Principal{
		{Subject: "nmpa-gao", Roles: []string{RoleOfficer}, Agency: "NMPA"},
		{Subject: "doc-li", Roles: []string{RoleOfficer}},
	} {
		pl, err := PrincipalPayload(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePrincipal(map[string]*commonpb.Payload{HeaderPrincipal: pl})
		if err != nil || got == nil || got.Subject != p.Subject || got.Agency != p.Agency {
			t.Errorf("%+v read back as %+v, %v", p, got, err)
		}
		if p.Agency == "" && string(pl.GetData()) != `{"subject":"doc-li","roles":["officer"]}` {
			t.Errorf("customs' caller is written %s: want no agency field", pl.GetData())
		}
	}
}
