package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/internal/command"
)

func TestRunAndRefusals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := Run(ctx, []string{"--help"}, &out, &errOut); code != command.OK || !strings.Contains(out.String(), "-officers") {
		t.Errorf("--help: exit %d", code)
	}
	for _, args := range [][]string{{"--expedited-share", "2"}, {"--officer-time", "sometimes"}, {"extra"}, {"--queue", "random"}} {
		errOut.Reset()
		if code := Run(ctx, append(args, "--examples", "../../../examples"), &out, &errOut); code != command.Usage || errOut.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q; want %d with a reason", args, code, errOut.String(), command.Usage)
		}
	}
	out.Reset()
	errOut.Reset()
	code := Run(ctx, []string{"--n", "20", "--quiet", "--examples", "../../../examples"}, &out, &errOut)
	if code != command.OK || !strings.Contains(out.String(), "20") || errOut.Len() != 0 {
		t.Errorf("a run of 20: exit %d\nstdout %s\nstderr %q (nothing on stderr off a terminal)", code, out.String(), errOut.String())
	}
}
