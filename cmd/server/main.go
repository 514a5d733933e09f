// Command server is the Temporal server with the clearance engine's verification of callers
// built in, for a cluster that runs authentication: started as temporal-server start, from the
// same configuration, plus the issuer whose signed tokens it accepts.
//
//	server --issuer https://login.customs.example --namespace customs
package main

import (
	"github.com/medsupply/customs/cmd/server/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("server", cli.Run) }
