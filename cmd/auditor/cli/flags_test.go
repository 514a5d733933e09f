package cli

import (
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/audit/audittest"
	"github.com/medsupply/customs/workflows"
)

// TestGlobalFlagsBeforeOrAfterTheCommand: the connection flags (here --codec-keys) mean the same
// before the command and after it; a command's own flags come before or after its operands.
func TestGlobalFlagsBeforeOrAfterTheCommand(t *testing.T) {
	path, keys := encrypt(t, "request-supply")
	for _, args := range [][]string{
		{"--codec-keys", keys, "trail", "--file", path, "--json"},
		{"trail", "--codec-keys", keys, "--file", path, "--json"},
		{"trail", "--file", path, "--json", "--codec-keys", keys},
	} {
		code, out, errOut := run(t, nil, args...)
		if code != ExitOK || !strings.Contains(out, `"actor"`) {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	for _, args := range [][]string{
		{"--codec-keys", keys, "replay", path},
		{"replay", path, "--codec-keys", keys},
	} {
		if code, out, errOut := run(t, nil, args...); code != ExitOK || !strings.Contains(out, "replayed 1, failed 0") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	code, out, errOut := run(t, nil, "--no-such-flag", "trail", "X-1")
	if code != ExitUsage || out != "" || !strings.Contains(errOut, "-no-such-flag") || !strings.Contains(errOut, "auditor -h") {
		t.Errorf("a bad global flag: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestEveryCommandHasItsHelp: 'auditor COMMAND -h', '--help' and 'auditor help COMMAND' print the
// command's usage with its arguments, its flags and an example on stdout, and exit 0.
func TestEveryCommandHasItsHelp(t *testing.T) {
	for _, c := range []struct {
		cmd, args string
		flags     []string
	}{
		{"replay", "FILE", []string{"-query", "-archive", "-parallel"}},
		{"trail", "ID", []string{"-file", "-exporter", "-run-id", "-json"}},
	} {
		for _, args := range [][]string{{c.cmd, "-h"}, {c.cmd, "--help"}, {"help", c.cmd}, {"--address", "127.0.0.1:1", c.cmd, "X-1", "-h"}} {
			code, out, errOut := run(t, nil, args...)
			if code != ExitOK || errOut != "" {
				t.Errorf("%q: exit %d, stderr %q; want 0 and nothing on stderr", args, code, errOut)
				continue
			}
			for _, want := range append([]string{"usage: auditor " + c.cmd + " ", "arguments:\n  " + c.args, "examples:\n  auditor " + c.cmd + " ",
				"global flags, before the command or after it", "--address", "--codec-keys", "exit codes"}, c.flags...) {
				if !strings.Contains(out, want) {
					t.Errorf("%q lacks %q:\n%s", args, want, out)
				}
			}
		}
		code, out, errOut := run(t, nil, c.cmd, "--no-such-flag")
		if code != ExitUsage || out != "" || !strings.Contains(errOut, "-no-such-flag") || !strings.Contains(errOut, "auditor "+c.cmd+" -h") {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q", c.cmd, code, out, errOut)
		}
	}
}

// listed is an execution visibility lists, of workflowType, with the declaration's search
// attributes as the clearance and its appeal carry them.
func listed(t *testing.T, id, workflowType, exporter, declarationID string) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	info := audittest.Info(id, workflowType)
	fields := map[string]*commonpb.Payload{}
	for name, v := range map[string]string{workflows.SAExporterCode: exporter, workflows.SADeclarationID: declarationID} {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		fields[name] = p
	}
	info.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: fields}
	return info
}

// TestTrailOfADeclarationUnderAppeal: an appeal carries its declaration's ID and exporter in its
// search attributes too, but it is not a clearance: the declaration ID names the one clearance,
// with or without --exporter.
func TestTrailOfADeclarationUnderAppeal(t *testing.T) {
	const exporter, decl = "3205960330", "JH-2020-US-0513"
	own := "clearance-" + exporter + "-" + decl
	f := &audittest.Server{Histories: map[string]*historypb.History{own: golden(t, "reject")},
		Pages: [][]*workflowpb.WorkflowExecutionInfo{{
			listed(t, own, workflows.WorkflowName, exporter, decl),
			listed(t, "appeal-"+exporter+"-"+decl, appeal.WorkflowName, exporter, decl),
			listed(t, own, workflows.WorkflowName, exporter, decl), // the reopened run
		}}}
	for _, args := range [][]string{{"trail", decl}, {"trail", decl, "--exporter", exporter}} {
		code, out, errOut := run(t, dialer(f), args...)
		if code != ExitOK || !strings.Contains(out, "doc-chen") || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q; want the clearance's trail", args, code, errOut)
		}
	}
}
