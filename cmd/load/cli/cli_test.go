package cli

import (
	"bytes"
	"context"
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
}
