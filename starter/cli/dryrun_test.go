package cli

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/connect"
)

// TestSubmitDryRunValidatesWithoutAServer: --dry-run validates every file as submit does and
// starts nothing: no server is dialled; exit 0 when every file is valid, each named on stdout;
// 2 otherwise, each problem with its field on stderr.
func TestSubmitDryRunValidatesWithoutAServer(t *testing.T) {
	noServer := func(context.Context, connect.Options) (client.Client, error) {
		t.Error("submit --dry-run dialled a server")
		return nil, errors.New("no server")
	}
	run := func(args ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out, errOut bytes.Buffer
		code := Command(noServer)(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	valid, err := filepath.Glob(example("*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var good []string
	for _, f := range valid {
		if !strings.HasPrefix(filepath.Base(f), "invalid-") {
			good = append(good, f)
		}
	}
	if len(good) < 10 {
		t.Fatalf("only %d valid examples", len(good))
	}
	code, out, errOut := run(append([]string{"submit", "--dry-run"}, good...)...)
	if code != ExitOK || errOut != "" {
		t.Fatalf("valid examples: exit %d, stderr %q", code, errOut)
	}
	for _, f := range good {
		if !strings.Contains(out, f+": valid: declaration ") {
			t.Errorf("stdout does not name %s valid:\n%s", f, out)
		}
	}
	if !strings.Contains(out, "nothing was submitted (--dry-run)") {
		t.Errorf("stdout does not say nothing was submitted:\n%s", out)
	}

	bad := example("invalid-negative-quantity-no-invoice.json")
	code, out, errOut = run("submit", example("it-ffp2-respirators.json"), bad, "--dry-run")
	if code != ExitInvalid || !strings.Contains(errOut, bad+": invalid declaration:\n") ||
		!strings.Contains(errOut, "  lines[1].quantity: must be positive") || !strings.Contains(errOut, "  lines[1].value: must be positive") {
		t.Errorf("an invalid file: exit %d, stdout %q, stderr %q; want %d and each problem with its field", code, out, errOut, ExitInvalid)
	}
	if strings.Contains(out, bad) {
		t.Errorf("the invalid file is named valid: %q", out)
	}
	missing := filepath.Join(t.TempDir(), "absent.json")
	if code, _, errOut := run("submit", "--dry-run", missing); code != ExitInvalid || !strings.Contains(errOut, missing) {
		t.Errorf("a missing file: exit %d, stderr %q", code, errOut)
	}
	// The exporter the starter acts for is checked as in a real submission.
	if code, _, errOut := run("--exporter", "3302960178", "submit", "--dry-run", example("de-antibody-test-kits.json")); code != ExitInvalid ||
		!strings.Contains(errOut, "exporter.code: \"3301960412\" is not the exporter the starter acts for (3302960178)") {
		t.Errorf("another exporter's declaration: exit %d, stderr %q", code, errOut)
	}
}
