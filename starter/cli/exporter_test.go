package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/workflows"
)

// TestExporterOfARealToken: the starter reads whose declarations it asks about from the claim the
// server's issuer writes, and from nothing else.
func TestExporterOfARealToken(t *testing.T) {
	if ClaimExporter != auth.ClaimExporter {
		t.Fatalf("the starter reads claim %q; the server writes %q", ClaimExporter, auth.ClaimExporter)
	}
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	iss := auth.NewIssuer("https://customs.example", "temporal", key)
	exp, err := iss.Token(workflows.Principal{Subject: "labor-berlin", Roles: []string{workflows.RoleExporter}, Exporter: "3301960412"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	officer, err := iss.Token(workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{exp: "3301960412", officer: "", "": "", "not-a-jwt": "", "a.b.c": ""} {
		if got := exporterOfToken(token); got != want {
			t.Errorf("exporterOfToken(%.20q) = %q, want %q", token, got, want)
		}
	}
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(exp+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &runner{}
	r.conn.APIKeyFile = file
	if got := r.actingFor(); got != "3301960412" {
		t.Errorf("acting for %q with the key file", got)
	}
	r.exporter = "3302960178"
	if got := r.actingFor(); got != "3302960178" {
		t.Errorf("--exporter does not win over the key: %q", got)
	}
}

// TestExporterFlagRefusals: a malformed --exporter, and a declaration of another exporter than
// the one the starter acts for, are refused before anything is sent.
func TestExporterFlagRefusals(t *testing.T) {
	code, _, errOut := runCLI(t, "--address", "127.0.0.1:1", "--exporter", "33019", "status", "LB-2020-DE-0415")
	if code != ExitInvalid || !strings.Contains(errOut, "--exporter") || !strings.Contains(errOut, "10 letters or digits") {
		t.Errorf("short --exporter: exit %d, stderr %q", code, errOut)
	}
	decl := filepath.Join("..", "..", "examples", "de-antibody-test-kits.json")
	code, out, errOut := runCLI(t, "--address", "127.0.0.1:1", "--exporter", "3302960178", "submit", decl)
	if code != ExitInvalid || out != "" || !strings.Contains(errOut, `exporter.code: "3301960412" is not the exporter the starter acts for (3302960178)`) ||
		!strings.Contains(errOut, "nothing was submitted") {
		t.Errorf("another exporter's declaration: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
