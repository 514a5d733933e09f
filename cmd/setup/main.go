// Command setup prepares a Temporal namespace for the clearance engine on any cluster: it waits
// for the cluster, creates the namespace if asked and missing, and registers the engine's custom
// search attributes. It changes only what is missing, so deployments run it every time.
//
//	setup --address temporal:7233 --namespace customs --create-namespace --retention 720h
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/medsupply/customs/cmd/setup/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
