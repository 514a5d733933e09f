// Command auditor re-checks clearances: it replays recorded histories against this build's
// ExportClearance code and reconstructs a clearance's decision trail from its history.
//
//	auditor replay FILE...                  replay history files (Web UI download or CLI JSON)
//	auditor replay --query QUERY            replay every clearance a visibility query matches
//	auditor trail ID [--json]               the decision trail of a clearance on the server
//	auditor trail --file FILE [--json]      the decision trail of a history file
//
// docs/audit.md describes the tools, the digest and the versioning policy.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/medsupply/customs/cmd/auditor/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
