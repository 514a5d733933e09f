// Package cli is the command line of setup: it prepares a Temporal namespace for the clearance
// engine on any cluster, creating the namespace if asked and missing and registering the
// engine's custom search attributes. The setup binary is a thin wrapper over Run.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/logging"
)

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o connect.SetupOptions
	o.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "setup: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	zl, err := logging.New("error", false)
	if err != nil {
		fmt.Fprintf(stderr, "setup: %v\n", err)
		return 1
	}
	defer func() { _ = zl.Sync() }()
	if err := connect.Setup(ctx, o, logging.NewSDKLogger(zl), stdout); err != nil {
		fmt.Fprintf(stderr, "setup: %v\n", err)
		return 1
	}
	return 0
}
