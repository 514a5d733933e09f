// Command simulate is the staffing simulator: it runs synthetic declarations through the real
// clearance workflow in a time-skipping test environment, with sampled officer and exporter
// response times and a given number of officers per role, and prints how often clearances beat
// the 20-day standard, standard against expedited, with the full Time Release Study.
//
//	simulate --n 10000 --arrivals 30m --officers "document-officer=3,release-officer=2"
//	simulate --n 2000 --expedited-share 0.3 --queue due --html sim.html
package main

import (
	"github.com/medsupply/customs/cmd/simulate/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("simulate", cli.Run) }
