// Package cli is the command line of setup: it prepares a Temporal namespace for the clearance
// engine on any cluster, creating the namespace if asked and missing, registering the engine's
// custom search attributes and, if asked, making the workers' build the current version of their
// worker deployment. The setup binary is a thin wrapper over Run.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/medsupply/customs/internal/command"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/logging"
)

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o connect.SetupOptions
	o.RegisterFlags(fs)
	command.Help(fs, stdout, "usage: setup [flags]\n\nPrepares a namespace for the engine on any cluster: waits for the cluster, creates the\nnamespace if asked and missing, registers the custom search attributes and waits until they are\nusable, and with --make-current makes the workers' build the current version of their worker\ndeployment. It changes only what is missing.\n\nflags:\n")
	if code, ok := command.NoOperands("setup", fs, args, stderr); !ok {
		return code
	}
	if err := o.Versioning.Validate(true); err != nil {
		fmt.Fprintf(stderr, "setup: %v\n", err)
		return command.Usage
	}
	zl, err := logging.New("error", false)
	if err != nil {
		fmt.Fprintf(stderr, "setup: %v\n", err)
		return command.Failure
	}
	defer func() { _ = zl.Sync() }()
	if err := connect.Setup(ctx, o, logging.NewSDKLogger(zl), stdout); err != nil {
		fmt.Fprintf(stderr, "setup: %v\n", err)
		return command.CodeOf(err)
	}
	return command.OK
}
