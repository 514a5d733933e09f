// Command token signs a token with the embedded default's development issuer (devserver --auth)
// for one caller: an officer of the roster, a supervisor, an exporter for its customs code, an
// auditor, or a partner agency's officer, clerk or worker on the single window (--agency).
// Clients send it as their API key:
//
//	export TEMPORAL_TLS=false TEMPORAL_API_KEY=$(go run ./cmd/token --role officer --subject doc-li)
//	export TEMPORAL_API_KEY=$(go run ./cmd/token --agency NMPA --role officer --subject nmpa-gao)
package main

import (
	"github.com/medsupply/customs/cmd/token/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("token", cli.Run) }
