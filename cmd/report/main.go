// Command report is the Time Release Study of clearances: it reads the clearances a visibility
// query selects and prints, per stage and in total, split by lane, procedure, product category
// and biological review, how long they took against their allowances and the 20-day standard.
//
//	report --query "CloseTime > '2020-04-01T00:00:00Z'"            terminal tables
//	report --query "ClearanceLane = 'red'" --html trs.html          a page with charts
package main

import (
	"github.com/medsupply/customs/cmd/report/cli"
	"github.com/medsupply/customs/internal/command"
)

func main() { command.Main("report", cli.Run) }
