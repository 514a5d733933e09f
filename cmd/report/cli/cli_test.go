package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/server/temporaltest"

	"github.com/medsupply/customs/internal/command"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestExitCodes: nothing matched is not found (4), a query the server refuses is usage (2), a
// server that does not answer is unavailable (3), --help is 0.
func TestExitCodes(t *testing.T) {
	if code, out, _ := run(t, "--help"); code != command.OK || !strings.Contains(out, "-query") || !strings.Contains(out, "4 not found") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, "--csv", "--json"); code != command.Usage {
		t.Errorf("--csv --json: exit %d", code)
	}
	if code, _, errOut := run(t, "--address", "127.0.0.1:1"); code != command.Unavailable {
		t.Errorf("unreachable: exit %d, %s", code, errOut)
	}
	if testing.Short() {
		return
	}
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	conn := []string{"--address", ts.GetFrontendHostPort(), "--namespace", ts.GetDefaultNamespace()}
	code, out, errOut := run(t, append(conn, "--query", "WorkflowId = 'clearance-NONE'")...)
	if code != command.NotFound || out != "" || !strings.Contains(errOut, "report:") {
		t.Errorf("nothing matched: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = run(t, append(conn, "--query", "NoSuchAttribute = 'x'")...)
	if code != command.Usage || !strings.Contains(errOut, "NoSuchAttribute") {
		t.Errorf("invalid query: exit %d, stderr %q", code, errOut)
	}
}
