// Command simulate is the staffing simulator: it runs synthetic declarations through the real
// clearance workflow in a time-skipping test environment, with sampled officer and exporter
// response times and a given number of officers per role, and prints how often clearances beat
// the 20-day standard, standard against expedited, with the full Time Release Study.
//
//	simulate --n 10000 --arrivals 30m --officers "document-officer=3,release-officer=2"
//	simulate --n 2000 --expedited-share 0.3 --queue due --html sim.html
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/medsupply/customs/cmd/simulate/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
