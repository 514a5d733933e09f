// Command setup prepares a Temporal namespace for the clearance engine on any cluster: it waits
// for the cluster, creates the namespace if asked and missing, and registers the engine's custom
// search attributes. It changes only what is missing, so deployments run it every time.
//
//	setup --address temporal:7233 --namespace customs --create-namespace --retention 720h
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
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
