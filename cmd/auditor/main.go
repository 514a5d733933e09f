// Command auditor re-checks clearances: it replays recorded histories against this build's
// ExportClearance code and reconstructs a clearance's decision trail from its history.
//
//	auditor replay FILE...                  replay history files (Web UI download or CLI JSON)
//	auditor replay --query QUERY            replay every clearance a visibility query matches
//	auditor trail ID [--json]               the decision trail of a clearance on the server
//	auditor trail --file FILE [--json]      the decision trail of a history file
//
// The connection flags come before the command or after it, a command's own flags anywhere after
// it; 'auditor help COMMAND' shows a command's help. docs/audit.md describes the tools, the digest
// and the versioning policy.
package main

import (
	"github.com/medsupply/customs/cmd/auditor/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("auditor", cli.Run) }
