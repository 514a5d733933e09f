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

// TestGlobalFlagsBeforeOrAfterTheCommand: a global flag (--exporter, the connection flags) means
// the same before the command, between it and its operands, and after them; a command's own
// flags come before or after its operands.
func TestGlobalFlagsBeforeOrAfterTheCommand(t *testing.T) {
	decl := filepath.Join("..", "..", "examples", "de-antibody-test-kits.json") // exporter 3301960412
	for _, args := range [][]string{
		{"--exporter", "3302960178", "submit", decl},
		{"submit", "--exporter", "3302960178", decl},
		{"submit", decl, "--exporter", "3302960178"},
	} {
		code, out, errOut := runCLI(t, append([]string{"--address", "127.0.0.1:1"}, args...)...)
		if code != ExitInvalid || out != "" || !strings.Contains(errOut, "is not the exporter the starter acts for (3302960178)") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want the declaration refused for another exporter", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"--exporter", "33019", "status", "LB-2020-DE-0415"},
		{"status", "--exporter", "33019", "LB-2020-DE-0415"},
		{"status", "LB-2020-DE-0415", "--exporter", "33019", "--json"},
	} {
		code, _, errOut := runCLI(t, append([]string{"--address", "127.0.0.1:1"}, args...)...)
		if code != ExitInvalid || !strings.Contains(errOut, "--exporter") || !strings.Contains(errOut, "10 letters or digits") {
			t.Errorf("%q: exit %d, stderr %q; want the malformed --exporter named", args, code, errOut)
		}
	}

	// The connection flags reach the dial wherever they stand.
	for _, args := range [][]string{
		{"--address", "10.1.2.3:7233", "--namespace", "customs", "status", "LB-2020-DE-0415", "--json"},
		{"status", "--address", "10.1.2.3:7233", "LB-2020-DE-0415", "--namespace", "customs", "--json"},
		{"status", "--json", "LB-2020-DE-0415", "--namespace=customs", "--address=10.1.2.3:7233"},
	} {
		var got connect.Options
		dial := func(_ context.Context, o connect.Options) (client.Client, error) {
			got = o
			return nil, errors.New("no server in this test")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, errOut bytes.Buffer
		code := Command(dial)(ctx, args, &out, &errOut)
		cancel()
		if got.Address != "10.1.2.3:7233" || got.Namespace != "customs" {
			t.Errorf("%q: dialled %q in namespace %q (exit %d, stderr %q)", args, got.Address, got.Namespace, code, errOut.String())
		}
	}
}

// TestEveryCommandHasItsHelp: 'starter COMMAND -h', '--help' and 'starter help COMMAND' print the
// command's usage with its arguments, its flags and an example, and exit 0; a bad flag names
// itself and where the help is, and exits 2.
func TestEveryCommandHasItsHelp(t *testing.T) {
	for _, c := range []struct {
		cmd, args string
		flags     []string
	}{
		{"submit", "FILE", nil},
		{"status", "ID", []string{"-json"}},
		{"supply", "ID", []string{"\n  FILE "}},
		{"amend", "ID", []string{"\n  FILE ", "-reason"}},
		{"withdraw", "ID", []string{"-reason"}},
		{"appeal", "ID", []string{"-grounds", "-wait"}},
		{"wait", "ID", []string{"-json"}},
	} {
		for _, args := range [][]string{{c.cmd, "-h"}, {c.cmd, "--help"}, {"help", c.cmd}, {"--address", "127.0.0.1:1", c.cmd, "X-1", "-h"}} {
			code, out, errOut := runCLI(t, args...)
			if code != ExitOK || errOut != "" {
				t.Errorf("%q: exit %d, stderr %q; want 0 and nothing on stderr", args, code, errOut)
				continue
			}
			for _, want := range append([]string{"usage: starter " + c.cmd + " ", "arguments:\n  " + c.args, "examples:\n  starter " + c.cmd + " ",
				"global flags, before the command or after it", "--exporter", "--address", "exit codes"}, c.flags...) {
				if !strings.Contains(out, want) {
					t.Errorf("%q lacks %q:\n%s", args, want, out)
				}
			}
			if strings.Contains(out, "Usage of") {
				t.Errorf("%q prints the flag package's bare usage:\n%s", args, out)
			}
		}
		code, out, errOut := runCLI(t, c.cmd, "--no-such-flag")
		if code != ExitInvalid || out != "" || !strings.Contains(errOut, "-no-such-flag") || !strings.Contains(errOut, "starter "+c.cmd+" -h") {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q", c.cmd, code, out, errOut)
		}
	}
}
