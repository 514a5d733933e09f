package cli

import (
	"bytes"
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
		Findings: []workflows.StageFindings{{Result: activities.CheckResult{Findings: []activities.Finding{{
			Code: "c", Message: "bad\x00byte"}}}}},
		Decisions: []workflows.DecisionRecord{{Decision: workflows.Decision{Officer: "doc-li", Reason: "see\u202eabove"}}},
	}
	var buf bytes.Buffer
	printStatus(&buf, s)
	printResult(&buf, workflows.Result{DeclarationID: "X-1", Reason: "tab\there\x1b[0m"})
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x00\u202e") {
		t.Fatalf("printed raw control characters: %q", out)
	}
	for _, want := range []string{`forged \x1b[2J invoice`, `bad\x00byte`, `see\u202eabove`, `tab\there\x1b[0m`, "ended; accepts nothing"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
