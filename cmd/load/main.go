// Command load measures throughput and latency: it submits generated declarations at a given
// concurrency or rate against any server, approves what awaits an officer after a delay, and
// runs, on the same server in the same invocation, the bare baseline (a workflow with as many
// no-op activities as a green-lane clearance executes), then prints both and their ratio.
//
//	load --address localhost:7233 -n 300 --concurrency 200
package main

import (
	"github.com/medsupply/customs/cmd/load/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("load", cli.Run) }
