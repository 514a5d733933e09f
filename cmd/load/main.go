// Command load measures throughput and latency: it submits generated declarations at a given
// concurrency or rate against any server, approves what awaits an officer after a delay, and
// runs, on the same server in the same invocation, the bare baseline (a workflow with as many
// no-op activities as a green-lane clearance executes), then prints both and their ratio.
//
//	load --address localhost:7233 -n 300 --concurrency 200
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/medsupply/customs/cmd/load/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
