package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medsupply/customs/internal/command"
)

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"-h"}, &out, &errOut); code != command.OK || !strings.Contains(out.String(), "-officer-delay") {
		t.Errorf("-h: exit %d", code)
	}
	for _, args := range [][]string{{"-n", "0"}, {"--rate", "-1"}, {"extra"}, {"--examples", "no-such-file.json"}} {
		if code := Run(context.Background(), args, &out, &errOut); code != command.Usage {
			t.Errorf("%q: exit %d, want %d", args, code, command.Usage)
		}
	}
	errOut.Reset()
	bad := filepath.Join(t.TempDir(), "no-such-dir", "cpu.pprof")
	if code := Run(context.Background(), []string{"--cpu-profile", bad}, &out, &errOut); code != command.Usage || !strings.Contains(errOut.String(), "--cpu-profile") {
		t.Errorf("--cpu-profile in a missing directory: exit %d, %q; want %d naming the flag", code, errOut.String(), command.Usage)
	}
}
