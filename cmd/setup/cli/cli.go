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
	"strings"
	"time"

	"go.temporal.io/sdk/log"

	"github.com/medsupply/customs/agency"

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
	var agencies []string
	fs.Func("agencies", "put partner agencies on the single window for this namespace, comma-separated ("+strings.Join(agency.Agencies, ",")+
		"): each agency's namespace, its search attributes and its Nexus endpoint, which this namespace's clearances call (needs operator rights)",
		func(s string) (err error) {
			agencies, err = agency.ParseList(s)
			return err
		})
	command.Help(fs, stdout, "usage: setup [flags]\n\nPrepares a namespace for the engine on any cluster: waits for the cluster, creates the\nnamespace if asked and missing, registers the custom search attributes and waits until they are\nusable, and with --make-current makes the workers' build the current version of their worker\ndeployment. With --agencies it puts partner agencies on the single window: their namespaces,\nsearch attributes and Nexus endpoints. It changes only what is missing.\n\nflags:\n")
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
	if len(agencies) > 0 {
		if err := setupAgencies(ctx, o, agencies, logging.NewSDKLogger(zl), stdout); err != nil {
			fmt.Fprintf(stderr, "setup: --agencies: %v\n", err)
			return command.CodeOf(err)
		}
	}
	return command.OK
}

// setupAgencies puts the agencies on the single window of o's namespace.
func setupAgencies(ctx context.Context, o connect.SetupOptions, agencies []string, logger log.Logger, out io.Writer) error {
	c, err := connect.DialWait(ctx, o.Connect, logger, o.Wait)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, o.Wait+30*time.Second)
	defer cancel()
	if err := agency.Setup(ctx, c, o.Connect.Namespace, agencies...); err != nil {
		return err
	}
	for _, a := range agencies {
		fmt.Fprintf(out, "agency %s: namespace %s, Nexus endpoint %s to task queue %s, called from namespace %s\n",
			a, agency.Namespace(a), agency.EndpointName(a), agency.TaskQueue, o.Connect.Namespace)
	}
	return nil
}
