// Command starter is the exporter's tool: it lodges declarations and follows their clearances.
//
//	starter submit FILE...       validate and submit declarations
//	starter status ID [--json]   where a clearance stands
//	starter supply ID FILE       answer a request for information
//	starter withdraw ID --reason TEXT
//	starter wait ID              block until the clearance ends
package main

import (
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/starter/cli"
)

func main() { command.Main("starter", cli.Run) }
