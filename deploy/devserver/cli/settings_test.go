package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/medsupply/customs/internal/command"
)

// A setting of the server's dynamic configuration that the server does not know, or a value it
// does not take, is refused before anything starts, naming the flag and the key.
func TestDynamicConfigValueRefusal(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"matching.enableFairnes=true", `unregistered key "matching.enablefairnes"`},
		{"matching.numTaskqueueWritePartitions=one", "matching.numTaskqueueWritePartitions: validation failed"},
		{"matching.enableFairness", "is not KEY=VALUE"},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), []string{"--memory", "--dynamic-config-value", tc.value}, &out, &errOut)
		if code != command.Usage || !strings.Contains(errOut.String(), "-dynamic-config-value") || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("--dynamic-config-value %s: exit %d, stderr %q; want %d saying %q", tc.value, code, errOut.String(), command.Usage, tc.want)
		}
	}
}

// An agency the single window does not know, one named twice, or one whose namespace would be
// customs' own is refused before anything starts, naming the flag.
func TestAgenciesRefusal(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--agencies", "NMPA,nmpa"}, `"nmpa"`},
		{[]string{"--agencies", "NMPA,NMPA"}, "NMPA is named twice"},
		{[]string{"--agencies", "SAMR", "--namespace", "agency-samr"}, "customs'"},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"--memory"}, tc.args...), &out, &errOut)
		if code != command.Usage || !strings.Contains(errOut.String(), "--agencies") || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d saying %q", tc.args, code, errOut.String(), command.Usage, tc.want)
		}
	}
}

// The single window with --auth is refused before anything starts: the embedded server cannot
// deliver Nexus operations while it verifies callers.
func TestAgenciesWithAuthRefusal(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"--memory", "--auth", "--agencies", "SAMR"}, &out, &errOut)
	if code != command.Usage || !strings.Contains(errOut.String(), `--agencies "SAMR" with --auth`) {
		t.Errorf("exit %d, stderr %q; want %d naming the flags", code, errOut.String(), command.Usage)
	}
}
