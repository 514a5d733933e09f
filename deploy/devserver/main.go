// Command devserver is the engine on one machine: an embedded Temporal server persisted in a
// SQLite file, the Temporal Web UI, the custom search attributes registered, and the clearance
// worker running in the same process. Everything binds to loopback unless told otherwise.
//
//	go run ./deploy/devserver            # data under ./data, UI on http://localhost:8233
//	go run ./deploy/devserver --memory   # nothing kept after exit
package main

import (
	"github.com/medsupply/customs/deploy/devserver/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("devserver", cli.Run) }
