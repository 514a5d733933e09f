package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/workflows"
)

// Texts in a status come from payloads; printed raw, a terminal escape in them would recolour or
// clear the exporter's screen. They are printed escaped.
func TestStatusAndResultPrintTextsEscaped(t *testing.T) {
	s := workflows.Status{DeclarationID: "X-1", State: workflows.StateRefused, Phase: workflows.PhaseEnded,
		Reason: "forged \x1b[2J invoice",
		Record: workflows.Record{
			Findings: []workflows.StageFindings{{Result: activities.CheckResult{Findings: []activities.Finding{{
				Code: "c", Message: "bad\x00byte"}}}}},
			Decisions: []workflows.DecisionRecord{{Decision: workflows.Decision{Officer: "doc-li", Reason: "see\u202eabove"}}},
		},
	}
	var buf bytes.Buffer
	printStatus(&buf, s)
	printResult(&buf, workflows.Result{DeclarationID: "X-1", Reason: "tab\there\x1b[0m"})
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x00\u202e") {
		t.Fatalf("printed raw control characters: %q", out)
	}
	for _, want := range []string{`forged \x1b[2J invoice`, `bad\x00byte`, `see\u202eabove`, `tab\there\x1b[0m`, "appeal the refusal: starter appeal X-1 --grounds TEXT"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A supply file is read as a declaration file is: a certificate's plain dates, accepted in the
// declaration, are accepted in the answer too; an unknown field is refused, named.
func TestSupplyFileReadsAsTheDeclaration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s, err := readSupply(write("ok.json", `{"certificates":[{"scheme":"NMPA","number":"20203400001","holder":"Ningbo Kangrun",`+
		`"lines":["1"],"validFrom":"2020-01-01","validTo":"2025-01-01"}]}`))
	if err != nil {
		t.Fatalf("plain dates refused: %v", err)
	}
	if got := s.Certificates[0].ValidFrom.Format("2006-01-02"); got != "2020-01-01" {
		t.Errorf("validFrom read as %s", got)
	}
	if _, err := readSupply(write("typo.json", `{"documents":[{"type":"contract","referense":"C-1"}]}`)); err == nil ||
		!strings.Contains(err.Error(), "documents[0].referense") {
		t.Errorf("unknown field: %v", err)
	}
}
