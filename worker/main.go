// Command worker runs the clearance engine's worker against a Temporal cluster: the workflow
// and every activity, on the customs-clearance task queue. It stops gracefully on SIGINT or
// SIGTERM. It does not link the Temporal server.
//
//	worker [flags]               run the worker (flags: worker -h)
//	worker healthcheck [--url U] probe a running worker's health endpoint; exit 0 when healthy
package main

import (
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/worker/cli"
)

func main() { command.Main("worker", cli.Run) }
