package agency_test

import (
	"testing"

	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/workflows"
)

// The frontend's interceptor (package auth) writes the verified caller as the clearance reads
// it; an agency's review reads the same header, the caller's agency with it.
func TestTheReviewReadsTheCallerTheFrontendWrites(t *testing.T) {
	if agency.HeaderPrincipal != workflows.HeaderPrincipal {
		t.Fatalf("header %q, the frontend writes %q", agency.HeaderPrincipal, workflows.HeaderPrincipal)
	}
	pl, err := workflows.PrincipalPayload(workflows.Principal{Subject: "nmpa-gao", Roles: []string{workflows.RoleOfficer}, Exporter: "x",
		Agency: agency.NMPA})
	if err != nil {
		t.Fatal(err)
	}
	var p agency.Principal
	if err := converter.GetDefaultDataConverter().FromPayload(pl, &p); err != nil {
		t.Fatal(err)
	}
	if p.Subject != "nmpa-gao" || len(p.Roles) != 1 || p.Roles[0] != workflows.RoleOfficer || p.Exporter != "x" || p.Agency != agency.NMPA {
		t.Fatalf("read %+v", p)
	}
}
