// Command starter is the exporter's tool: it lodges declarations and follows their clearances.
//
//	starter submit FILE...            validate and submit declarations
//	starter submit --dry-run FILE...  validate them only, without a server
//	starter status ID [--json]        where a clearance stands and what the exporter can do
//	starter supply ID FILE            answer a request for information
//	starter amend ID FILE             amend a lodged declaration
//	starter withdraw ID --reason TEXT
//	starter appeal ID --grounds TEXT  appeal a refusal
//	starter wait ID                   block until the clearance ends
//
// Global flags (connection, --exporter, --ui) come before the command or after it, a command's
// own flags anywhere after it; 'starter help COMMAND' shows a command's help.
package main

import (
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/starter/cli"
)

func main() { command.Main("starter", cli.Run) }
