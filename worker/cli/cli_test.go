package cli

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestBinariesDoNotLinkTheServer lists the dependencies of the worker and of the starter: the
// production binaries talk to a Temporal cluster as clients and must not link the Temporal
// server, which only the embedded development server and the tests need; the exporter's starter
// links no database driver either: the registers are the worker's.
func TestBinariesDoNotLinkTheServer(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	// The binaries' main packages, relative to worker/cli.
	for name, pkg := range map[string]string{"worker": "..", "starter": "../../starter"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", pkg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
			}
			deps := strings.Fields(string(out))
			var server []string
			sdk := false
			for _, d := range deps {
				if strings.HasPrefix(d, "go.temporal.io/server") {
					server = append(server, d)
				}
				sdk = sdk || strings.HasPrefix(d, "go.temporal.io/sdk/")
			}
			if !sdk {
				t.Fatalf("go list -deps %s lists no go.temporal.io/sdk package among %d: the listing is not of the binary", pkg, len(deps))
			}
			if len(server) > 0 {
				t.Errorf("%s links %d packages of the Temporal server, among them %s", name, len(server),
					strings.Join(server[:min(len(server), 5)], ", "))
			}
			if name == "starter" {
				for _, d := range deps {
					if strings.HasPrefix(d, "github.com/jackc/pgx") || strings.HasPrefix(d, "modernc.org/sqlite") ||
						d == "github.com/medsupply/customs/register" {
						t.Errorf("the starter links %s", d)
					}
				}
			}
		})
	}
}
