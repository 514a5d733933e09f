// Command starter is the exporter's tool: it lodges declarations and follows their clearances.
//
//	starter submit FILE...       validate and submit declarations
//	starter status ID [--json]   where a clearance stands
//	starter supply ID FILE       answer a request for information
//	starter withdraw ID --reason TEXT
//	starter wait ID              block until the clearance ends
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/medsupply/customs/starter/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
