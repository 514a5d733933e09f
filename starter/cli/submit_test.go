package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/workflows"
)

// TestSubmitSaysWhatTheLodgementCameTo: submit prints, under each declaration's line, what its
// lodgement came to in the exporter's words: its registration number, risk lane and queue
// priority, what happens next and what the exporter can do meanwhile, with the commands; a second
// submission is refused naming the clearance (exit 5).
func TestSubmitSaysWhatTheLodgementCameTo(t *testing.T) {
	e := newEnv(t, "")
	code, out, errOut := e.starter("submit", example("de-antibody-test-kits.json"))
	if code != ExitOK || errOut != "" {
		t.Fatalf("submit: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	lacksJargon(t, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if want := "LB-2020-DE-0415\tsubmitted\tclearance-3301960412-LB-2020-DE-0415\t"; !strings.HasPrefix(lines[0], want) {
		t.Errorf("first line %q, want it to start %q", lines[0], want)
	}
	for _, want := range []string{
		"  Registration  ED-",
		"  Risk lane     yellow (",
		"  Priority      normal in the officers' queues",
		"  Next          waiting for a document officer's decision on the document check, due ",
		"  You can       amend the declaration: starter amend LB-2020-DE-0415 FILE --reason TEXT",
		"withdraw it: starter withdraw LB-2020-DE-0415 --reason TEXT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "  ") {
			t.Errorf("a line of the answer is not indented under its declaration's: %q", l)
		}
	}

	// Not waiting for the answer: the clearance starts, and the status tells.
	code, out, errOut = e.starter("submit", "--answer-within", "0", example("us-n95-respirators-niosh.json"))
	if code != ExitOK || errOut != "" || strings.Contains(out, "Registration") ||
		!strings.Contains(out, "JH-2020-US-0512\tsubmitted\t") || !strings.Contains(out, "'starter status JH-2020-US-0512' says where the clearance stands") {
		t.Errorf("submit --answer-within 0: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	e.awaitState(clearance.Ref{Exporter: "3205960330", Declaration: "JH-2020-US-0512"}, workflows.StateAwaitingOfficer)

	code, out, errOut = e.starter("submit", example("de-antibody-test-kits.json"))
	if code != ExitDuplicate || out != "" ||
		!strings.Contains(errOut, "declaration LB-2020-DE-0415 was already submitted: clearance clearance-3301960412-LB-2020-DE-0415 is running") {
		t.Errorf("resubmission: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}

// TestSubmitOfARefusedLodgement: a declaration the register holds for an earlier clearance is
// lodged, refused as lodged, and the starter says so, naming the earlier clearance and what the
// exporter can do: exit 10, as for a refusal. The refusal is on record.
func TestSubmitOfARefusedLodgement(t *testing.T) {
	e := newEnv(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := example("us-nasal-cannulas-anaesthesia-masks.json")
	d := readExample(t, path)
	opts, err := clearance.StartOptions(d)
	if err != nil {
		t.Fatal(err)
	}
	opts.ID, _ = workflows.LegacyWorkflowID(d.ID) // an earlier clearance of the declaration
	run, err := e.c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Declaration: d})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := e.starter("submit", path)
	if code != ExitRefused {
		t.Fatalf("submit: exit %d, want %d\nstdout %s\nstderr %s", code, ExitRefused, out, errOut)
	}
	if want := d.ID + "\tsubmitted\tclearance-" + d.Exporter.Code + "-" + d.ID; !strings.HasPrefix(out, want) {
		t.Errorf("stdout does not start %q:\n%s", want, out)
	}
	for _, want := range []string{
		"Outcome refused as lodged: declaration " + d.ID + " of exporter " + d.Exporter.Code + " was lodged before",
		"(clearance " + opts.ID + ",",
		"Next nothing more: a declaration refused as lodged is not appealed; a corrected one is lodged under a new ID",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "starter appeal") {
		t.Errorf("a refusal as lodged is offered an appeal:\n%s", out)
	}
	res := e.awaitState(clearance.RefOf(d), workflows.StateRefused)
	if !strings.Contains(res.Reason, opts.ID) {
		t.Errorf("the refusal on record: %q", res.Reason)
	}
}

func readExample(t *testing.T, path string) declaration.Declaration {
	t.Helper()
	d, err := readDeclaration(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSubmitRefusesANegativeWait: a negative --answer-within is refused, naming the flag, and
// nothing is lodged; no server is needed to say so.
func TestSubmitRefusesANegativeWait(t *testing.T) {
	code, out, errOut := runCLI(t, "submit", "--answer-within", "-1s", example("de-antibody-test-kits.json"))
	if code != ExitInvalid || out != "" || !strings.Contains(errOut, "--answer-within: -1s is negative") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}
