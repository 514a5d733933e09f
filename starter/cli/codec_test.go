package cli

import (
	"strings"
	"testing"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/workflows"
)

// TestWithoutTheKeyringTheStarterSaysWhatToGive: the worker encrypts what it answers; a starter
// without the keyring cannot read it and says to give the keyring, naming the flag and its
// environment variable, as a usage error (2); with the keyring it reads the answer.
func TestWithoutTheKeyringTheStarterSaysWhatToGive(t *testing.T) {
	keys := keyring(t)
	e := newEnv(t, keys)
	ref := clearance.Ref{Exporter: "3302960178", Declaration: "NBKR-2020-000331"}
	if code, _, errOut := e.starter("--codec-keys", keys, "submit", example("us-nasal-cannulas-anaesthesia-masks.json")); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	e.awaitState(ref, workflows.StateReleased)
	for _, cmd := range []string{"status", "wait"} {
		code, out, errOut := e.starter("--exporter", ref.Exporter, cmd, ref.Declaration)
		if code != ExitInvalid || out != "" || !strings.Contains(errOut, "--codec-keys") || !strings.Contains(errOut, connect.EnvCodecKeys) ||
			strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s without the keyring: exit %d, stdout %q, stderr %q; want exit %d and one line naming --codec-keys and %s",
				cmd, code, out, errOut, ExitInvalid, connect.EnvCodecKeys)
		}
		code, out, errOut = e.starter("--codec-keys", keys, "--exporter", ref.Exporter, cmd, ref.Declaration)
		if code != ExitOK || !strings.Contains(out, "released") {
			t.Errorf("%s with the keyring: exit %d\nstdout %s\nstderr %s", cmd, code, out, errOut)
		}
	}

	// A refusal's reason is encrypted too: without the keyring it cannot be read, and the starter
	// says what to give; with it, the reason shows.
	yellow := clearance.Ref{Exporter: "3301960412", Declaration: "LB-2020-DE-0415"}
	if code, _, errOut := e.starter("--codec-keys", keys, "submit", example("de-antibody-test-kits.json")); code != ExitOK {
		t.Fatalf("submit: exit %d: %s", code, errOut)
	}
	e.awaitState(yellow, workflows.StateAwaitingOfficer)
	answer := example(strings.TrimPrefix(SupplyExample, "examples/"))
	code, out, errOut := e.starter("--exporter", yellow.Exporter, "supply", yellow.Declaration, answer)
	if code != ExitInvalid || !strings.Contains(errOut, "--codec-keys") || !strings.Contains(errOut, connect.EnvCodecKeys) {
		t.Errorf("a refused supply without the keyring: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = e.starter("--codec-keys", keys, "--exporter", yellow.Exporter, "supply", yellow.Declaration, answer)
	if code != ExitInvalid || !strings.Contains(errOut, "not awaiting documents") {
		t.Errorf("a refused supply with the keyring: exit %d, stderr %q", code, errOut)
	}
}
