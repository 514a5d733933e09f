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
	for _, args := range [][]string{{"--expedited-share", "2"}, {"--officer-time", "sometimes"}, {"extra"}, {"--queue", "random"},
		{"--agencies", "nmpa"}, {"--agency-time", "NMPA:officer-share=2"}, {"--agencies", "SAMR", "--agency-time", "NMPA:checks=fixed:1h"}} {
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
	// By default NMPA and SAMR are on the single window: the time by party names them, and each
	// agency's work is listed.
	for _, want := range []string{"Time by party, released: of ", ", NMPA ", "agency  permits asked  by an officer"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("a run of 20 lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	code = Run(ctx, []string{"--n", "20", "--examples", "../../../examples", "--agencies", "none"}, &out, &errOut)
	if code != command.OK || strings.Contains(out.String(), "NMPA") || !strings.Contains(out.String(), "agencies=none") {
		t.Errorf("a run of 20 without agencies: exit %d\n%s", code, out.String())
	}
	out.Reset()
	code = Run(ctx, []string{"--n", "20", "--examples", "../../../examples", "--agencies", "NMPA", "--agency-time", "NMPA:checks=fixed:3h;officer-share=0"}, &out, &errOut)
	if code != command.OK || !strings.Contains(out.String(), "agencies=NMPA(checks fixed:3h)") || strings.Contains(out.String(), "SAMR") {
		t.Errorf("a run of 20 with NMPA's checks at 3 hours: exit %d\n%s", code, out.String())
	}
}
