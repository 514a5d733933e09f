package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.temporal.io/server/common/authorization"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/auth/authtest"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/workflows"
)

// TestAgencyTokensWorkForTheirAgency: --agency signs a token whose claim the server's claim
// mapper reads as the caller's agency, for an agency officer, clerk or worker, of an agency whose
// checks ship or another the server admits; what is no agency's short name, or a role no agency's
// caller holds, is refused naming the flag, and nothing is signed.
func TestAgencyTokensWorkForTheirAgency(t *testing.T) {
	dir := t.TempDir()
	key, err := auth.LoadOrCreateKey(auth.KeyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	m := &auth.ClaimMapper{Keys: authtest.Keys(&key.PublicKey), Issuer: auth.DevIssuerURL("127.0.0.1", auth.DefaultDevPort), Audience: auth.DevAudience,
		Agencies: []string{agency.NMPA, agency.SAMR, "CNCA"}}
	for _, c := range []struct {
		args []string
		want workflows.Principal
	}{
		{[]string{"--agency", "NMPA", "--role", "officer", "--subject", "nmpa-gao"},
			workflows.Principal{Subject: "nmpa-gao", Roles: []string{workflows.RoleOfficer}, Agency: agency.NMPA}},
		{[]string{"--agency", "NMPA", "--role", "auditor", "--subject", "nmpa-qian"},
			workflows.Principal{Subject: "nmpa-qian", Roles: []string{workflows.RoleAuditor}, Agency: agency.NMPA}},
		{[]string{"--agency", "SAMR", "--role", "worker", "--subject", "samr-worker-1"},
			workflows.Principal{Subject: "samr-worker-1", Roles: []string{workflows.RoleWorker}, Agency: agency.SAMR}},
		// An agency beyond those whose checks ship, which this server's --agencies names.
		{[]string{"--agency", "CNCA", "--role", "officer", "--subject", "cnca-wu"},
			workflows.Principal{Subject: "cnca-wu", Roles: []string{workflows.RoleOfficer}, Agency: "CNCA"}},
		{[]string{"--role", "officer", "--subject", "doc-li"},
			workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}}},
	} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), append([]string{"--data-dir", dir}, c.args...), &out, &errOut); code != command.OK {
			t.Fatalf("%q: exit %d: %s", c.args, code, errOut.String())
		}
		claims, err := m.GetClaims(&authorization.AuthInfo{AuthToken: "Bearer " + strings.TrimSpace(out.String())})
		if err != nil {
			t.Fatal(err)
		}
		id := claims.Extensions.(auth.Identity)
		got := id.Principal
		if id.Refused != "" || got.Subject != c.want.Subject || got.Agency != c.want.Agency || strings.Join(got.Roles, ",") != strings.Join(c.want.Roles, ",") {
			t.Errorf("%q: the server reads %+v (%s), want %+v", c.args, got, id.Refused, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--agency", "nmpa", "--role", "officer"}, `--agency: "nmpa" is not an agency's short name`},
		{[]string{"--agency", "CNCA/1", "--role", "officer"}, `--agency: "CNCA/1" is not an agency's short name`},
		{[]string{"--agency", "NMPA", "--exporter", "3301960412"}, "--agency: --role exporter makes no sense for NMPA"},
		{[]string{"--agency", "NMPA", "--role", "exporter", "--exporter", "3301960412"}, "--agency: --role exporter makes no sense for NMPA"},
		{[]string{"--agency", "NMPA", "--role", "supervisor"}, "--agency: --role supervisor makes no sense for NMPA"},
		{[]string{"--agency", "SAMR", "--role", "officer", "--role", "admin"}, "--agency: --role admin makes no sense for SAMR"},
		{[]string{"--agency", "NMPA"}, "--role: give at least one role"},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"--data-dir", dir, "--subject", "nmpa-gao"}, c.args...), &out, &errOut)
		if code != command.Usage || !strings.Contains(errOut.String(), c.want) || out.Len() != 0 {
			t.Errorf("%q: exit %d, %q, printed %q; want %d naming %q and no token", c.args, code, errOut.String(), out.String(), command.Usage, c.want)
		}
	}
	var help, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"-h"}, &help, &errOut); code != command.OK ||
		!strings.Contains(help.String(), "-agency") || !strings.Contains(help.String(), "--agency AGENCY") ||
		!strings.Contains(help.String(), "NMPA, SAMR") {
		t.Errorf("help: exit %d, %q: want --agency described", code, help.String())
	}
}
