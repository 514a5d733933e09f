package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// jargon is what the workflow calls things and the exporter does not: update and signal names,
// the phase machine, the waiting kinds.
var jargon = []string{"accepts", "Phase", "decide", "reroute", "claim", "reassign", "extend", "supply-documents", "decide-amendment",
	"hold", "lift", "note", workflows.WaitingForOfficer, workflows.WaitingForExporter, "signal", "update"}

func printed(s workflows.Status) string {
	var b bytes.Buffer
	printStatus(&b, s)
	return b.String()
}

func lacksJargon(t *testing.T, out string) {
	t.Helper()
	for _, j := range jargon {
		if strings.Contains(out, j) {
			t.Errorf("the exporter's status says %q:\n%s", j, out)
		}
	}
}

// TestStatusSpeaksTheExportersLanguage: the status says what the clearance waits for in words,
// and what the exporter can do now as the starter commands to run, never the workflow's update
// names or its phases.
func TestStatusSpeaksTheExportersLanguage(t *testing.T) {
	due := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	officer := workflows.Status{DeclarationID: "LB-2020-DE-0415", Exporter: "3301960412", State: workflows.StateAwaitingOfficer,
		Phase: workflows.PhaseAwaitingOfficer, Accepts: workflows.PhaseAwaitingOfficer.Accepting(), Stage: policy.StageDocumentCheck,
		Waiting: &workflows.Waiting{For: workflows.WaitingForOfficer, Role: policy.RoleDocument, Officers: []string{"doc-li", "doc-chen"}, Due: due}}
	out := printed(officer)
	lacksJargon(t, out)
	for _, want := range []string{
		"Waiting for  a document officer's decision on the document check, due 2026-12-03T09:00:00Z",
		"You can      amend the declaration: starter amend LB-2020-DE-0415 FILE --reason TEXT",
		"withdraw it: starter withdraw LB-2020-DE-0415 --reason TEXT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("awaiting an officer: lacks %q:\n%s", want, out)
		}
	}

	reason := "attach the manufacturer's quality declaration (announcement No. 5 of 2020)"
	exporter := workflows.Status{DeclarationID: "RW-2020-US-0506", Exporter: "4403960602", State: workflows.StateAwaitingExporter,
		Phase: workflows.PhaseAwaitingExporter, Accepts: workflows.PhaseAwaitingExporter.Accepting(), Stage: policy.StageDocumentCheck,
		Waiting: &workflows.Waiting{For: workflows.WaitingForExporter, Exporter: "4403960602", Reason: reason,
			Requested: []string{"quality-declaration"}, Due: due}}
	out = printed(exporter)
	lacksJargon(t, out)
	for _, want := range []string{
		"Waiting for  your answer to customs' request for information, due 2026-12-03T09:00:00Z; without it the declaration lapses",
		"Asked        " + reason,
		"Documents    quality-declaration",
		"Next         answer with: starter supply RW-2020-US-0506 FILE",
		"FILE lists the documents and certificates asked for, as " + SupplyExample + " does",
		"withdraw it: starter withdraw RW-2020-US-0506 --reason TEXT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("awaiting the exporter: lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "amend") {
		t.Errorf("offers an amendment while the clearance awaits documents:\n%s", out)
	}

	// A partner agency's request, which the release waits for: the exporter is told whose.
	exporter.Phase, exporter.Accepts = workflows.PhaseAwaitingAgencyInformation, workflows.PhaseAwaitingAgencyInformation.Accepting()
	exporter.Waiting.Agencies, exporter.Waiting.Reason = []string{"SAMR"}, "SAMR: the listing lapsed"
	out = printed(exporter)
	lacksJargon(t, out)
	for _, want := range []string{
		"Waiting for  your answer to SAMR's request for information, due 2026-12-03T09:00:00Z; without it the declaration lapses",
		"Next         answer with: starter supply RW-2020-US-0506 FILE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("awaiting the exporter for an agency: lacks %q:\n%s", want, out)
		}
	}

	refused := workflows.Status{DeclarationID: "JH-2020-US-0512", Exporter: "3205960330", State: workflows.StateRefused,
		Phase: workflows.PhaseEnded, Accepts: workflows.PhaseEnded.Accepting(), Reason: "the invoice bills another consignee"}
	out = printed(refused)
	lacksJargon(t, out)
	if want := "You can      appeal the refusal: starter appeal JH-2020-US-0512 --grounds TEXT"; !strings.Contains(out, want) {
		t.Errorf("refused: lacks %q:\n%s", want, out)
	}
	released := workflows.Status{DeclarationID: "NBKR-2020-000331", Exporter: "3302960178", State: workflows.StateReleased,
		Phase: workflows.PhaseEnded, Accepts: workflows.PhaseEnded.Accepting()}
	out = printed(released)
	lacksJargon(t, out)
	if want := "You can      nothing more: the clearance has ended"; !strings.Contains(out, want) {
		t.Errorf("released: lacks %q:\n%s", want, out)
	}
}

// TestSupplyExampleAnswersTheThermometersRequest: the supply example the status points to is one
// the starter reads, and it answers the request the thermometers example meets.
func TestSupplyExampleAnswersTheThermometersRequest(t *testing.T) {
	s, err := readSupply(example(strings.TrimPrefix(SupplyExample, "examples/")))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Documents) != 1 || s.Documents[0].Type != declaration.DocQualityDeclaration || s.Documents[0].Reference == "" {
		t.Errorf("the supply example holds %+v, want one quality declaration", s.Documents)
	}
}

// TestRequestForInformationSaysWhatToRun: on a real server, after an officer asks for the
// quality declaration the exporter's status says what is asked and the command that answers it;
// the example it names answers it.
func TestRequestForInformationSaysWhatToRun(t *testing.T) {
	e := newEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := clearance.Ref{Exporter: "4403960602", Declaration: "RW-2020-US-0506"}
	if code, _, errOut := e.starter("submit", example("missing-documents-quality-declaration-thermometers.json")); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	e.awaitState(ref, workflows.StateAwaitingOfficer)
	code, out, errOut := e.starter("--exporter", ref.Exporter, "status", ref.Declaration)
	if code != ExitOK {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	lacksJargon(t, out)
	if !strings.Contains(out, "a document officer's decision on the document check") {
		t.Errorf("awaiting the document officer:\n%s", out)
	}
	reason := "attach the manufacturer's quality declaration (announcement No. 5 of 2020)"
	if _, err := clearance.Decide(ctx, e.c, ref, workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li",
		Outcome: workflows.OutcomeRequestInformation, Reason: reason, Requested: []string{"quality-declaration"}}); err != nil {
		t.Fatal(err)
	}
	e.awaitState(ref, workflows.StateAwaitingExporter)
	code, out, errOut = e.starter("--exporter", ref.Exporter, "status", ref.Declaration)
	if code != ExitOK {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	lacksJargon(t, out)
	for _, want := range []string{reason, "quality-declaration", "starter supply " + ref.Declaration + " FILE", SupplyExample} {
		if !strings.Contains(out, want) {
			t.Errorf("status after the request lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(example(strings.TrimPrefix(SupplyExample, "examples/"))); err != nil {
		t.Fatalf("the status names an example that is not there: %v", err)
	}
	code, out, errOut = e.starter("--exporter", ref.Exporter, "supply", ref.Declaration, example(strings.TrimPrefix(SupplyExample, "examples/")))
	if code != ExitOK || !strings.Contains(out, "supplied 1 document(s)") {
		t.Fatalf("supply with the example: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	e.awaitState(ref, workflows.StateAwaitingOfficer)
}

// TestStatusNamesTheAgenciesPermits: a clearance whose release waits on partner agencies says
// whose permit it waits for, and where each permit stands, never the officer it does not wait
// for nor a due time it does not have.
func TestStatusNamesTheAgenciesPermits(t *testing.T) {
	asked := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	s := workflows.Status{DeclarationID: "YJ-2020-IT-0427", Exporter: "3302960543", State: workflows.StateAwaitingAgency,
		Phase: workflows.PhaseAwaitingAgency, Stage: policy.StageCertificationCheck,
		Waiting: &workflows.Waiting{For: workflows.WaitingForAgency, Agencies: []string{"SAMR"}, Since: asked}}
	s.Permits = []workflows.PermitRecord{
		{Agency: "NMPA", Lines: []string{"1"}, Asked: asked, Result: &agency.PermitResult{Agency: "NMPA", Disposition: agency.Granted,
			Permit: "NMPA-2026-PVHFU6A4EJ", ValidUntil: asked.Add(90 * 24 * time.Hour)}},
		{Agency: "SAMR", Lines: []string{"1", "2"}, Asked: asked, Result: &agency.PermitResult{Agency: "SAMR",
			Disposition: agency.InformationNeeded, Reason: "the listing lapsed", Requested: []string{"renewed listing"}}},
		{Agency: "SAMR", Lines: []string{"1", "2"}, Asked: asked.Add(time.Hour)},
	}
	out := printed(s)
	lacksJargon(t, out)
	for _, want := range []string{
		"Waiting for  the permit of SAMR, which reviews it in its own system; the release begins once granted",
		"Permits      NMPA (lines 1): granted, permit NMPA-2026-PVHFU6A4EJ valid until 2027-03-03",
		"SAMR (lines 1, 2): more information needed: the listing lapsed (renewed listing); answer with starter supply once the release waits for it",
		"SAMR (lines 1, 2): asked 2026-12-03T10:00:00Z, the agency reviews it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "officer's decision") || strings.Contains(out, "0001-01-01") {
		t.Errorf("an agency's wait described as an officer's:\n%s", out)
	}
}
