package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestHelpShowsEveryCommand: --help exits 0 and shows the connection flags, every command's
// flags and the exit codes; -h after a command exits 0 too.
func TestHelpShowsEveryCommand(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	if code != ExitOK {
		t.Errorf("--help: exit %d", code)
	}
	for _, want := range []string{"usage: starter", "-tls-cert-path", "-profile", "starter withdraw ID flags:", "-reason", "starter amend ID FILE flags:",
		"starter wait ID flags:", "starter supply ID FILE: no flags", "10 refused, 11 lapsed, 12 withdrawn"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"withdraw", "-h"}, {"status", "--help"}, {"submit", "-h"}} {
		if code, _, _ := runCLI(t, args...); code != ExitOK {
			t.Errorf("%q: exit %d, want 0", args, code)
		}
	}
}

func TestUsageErrorsChangeNothing(t *testing.T) {
	for _, args := range [][]string{nil, {"lodge"}, {"--nope", "status", "A"}, {"status"}, {"status", "A", "B"},
		{"status", "not an id!"}, {"withdraw", "A"}, {"supply", "A"}, {"amend", "A"}, {"amend", "A", "missing.json"}} {
		if code, _, _ := runCLI(t, args...); code != ExitInvalid {
			t.Errorf("%q: exit %d, want %d", args, code, ExitInvalid)
		}
	}
}

// TestUnreachableServer: an address nothing answers is exit 3, unavailable, in one line; a
// connection flag that cannot work is usage, 2.
func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "--address", addr, "status", "NBKR-2020-000331")
	if code != ExitUnavailable || out != "" || !strings.Contains(errOut, "cannot reach Temporal at "+addr) {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d", code, out, errOut, ExitUnavailable)
	}
	missing := filepath.Join(t.TempDir(), "absent.pem")
	code, _, errOut = runCLI(t, "--address", addr, "--tls-ca-path", missing, "status", "NBKR-2020-000331")
	if code != ExitInvalid || !strings.Contains(errOut, "--tls-ca-path") {
		t.Errorf("missing CA: exit %d, stderr %q; want %d naming the flag", code, errOut, ExitInvalid)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("the missing file exists")
	}
}
