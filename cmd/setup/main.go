// Command setup prepares a Temporal namespace for the clearance engine on any cluster: it waits
// for the cluster, creates the namespace if asked and missing, and registers the engine's custom
// search attributes. It changes only what is missing, so deployments run it every time.
//
//	setup --address temporal:7233 --namespace customs --create-namespace --retention 1080h
package main

import (
	"github.com/medsupply/customs/cmd/setup/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("setup", cli.Run) }
