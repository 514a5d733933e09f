// Package cli is the command line of report: the Time Release Study of the clearances a visibility
// query selects, as terminal tables, CSV, JSON or an HTML page with charts. The report binary is a
// thin wrapper over Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/medsupply/customs/internal/command"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/trs"
)

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn connect.Options
	conn.RegisterFlags(fs)
	query := fs.String("query", "", "visibility query selecting the clearances (for example a period, an exporter, a lane); empty: all")
	asCSV := fs.Bool("csv", false, "print CSV (durations in seconds)")
	asJSON := fs.Bool("json", false, "print JSON (durations in nanoseconds)")
	htmlFile := fs.String("html", "", "also write a self-contained HTML page with charts to this file")
	policyFile := fs.String("policy", os.Getenv("CUSTOMS_POLICY"), "the policy in force (allowances, standard), as the worker's --policy; default: the built-in policy (env CUSTOMS_POLICY)")
	command.Help(fs, stdout, "usage: report [flags]\n\nThe Time Release Study of the clearances a visibility query selects: per stage and in total,\nby lane, procedure, product category and biological review, against the allowances and the\n20-day standard.\n\nflags:\n")
	if code, ok := command.NoOperands("report", fs, args, stderr); !ok {
		return code
	}
	if *asCSV && *asJSON {
		fmt.Fprintln(stderr, "report: --csv and --json: choose one")
		return command.Usage
	}
	pol, err := policy.LoadPolicy(*policyFile)
	if err != nil {
		fmt.Fprintf(stderr, "report: --policy: %v\n", err)
		return command.Usage
	}
	zl, err := logging.New("error", false)
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return command.Failure
	}
	dc, err := conn.DataConverter()
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return command.Usage
	}
	c, err := connect.Dial(ctx, conn, logging.NewSDKLogger(zl))
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return command.DialCode(err)
	}
	defer c.Close()
	bar := command.NewProgress(stderr, "read", 0)
	started := time.Now()
	cs, read, err := trs.Reader{Client: c, Namespace: conn.Namespace, DataConverter: dc, Progress: func(n int) { bar.Set(n, 0) }}.Read(ctx, *query)
	bar.Finish()
	if err == nil {
		ranges := ""
		if read.Ranges > 0 {
			ranges = fmt.Sprintf(" in %d ranges of ExecutionTime, %d counts to choose them", read.Ranges, read.Counts)
		}
		fmt.Fprintf(stderr, "report: read %d clearances in %s: %d visibility pages%s, %d from their study memo, %d results and %d status queries one call each\n",
			len(cs), time.Since(started).Round(time.Millisecond), read.Pages, ranges, read.FromMemo, read.Results, read.Queried)
	}
	if errors.Is(err, trs.ErrNoClearances) {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return command.NotFound
	}
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		if code := command.CodeOf(err); code != command.Failure {
			return code
		}
		return command.Failure
	}
	r := trs.Build(cs, trs.StandardOf(cs, pol.Standard.D()), *query, time.Now())
	r.Notes = trs.PolicyNotes(pol)
	switch {
	case *asCSV:
		err = trs.WriteCSV(stdout, r)
	case *asJSON:
		err = trs.WriteJSON(stdout, r)
	default:
		err = trs.WriteTable(stdout, r)
	}
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return command.Failure
	}
	if *htmlFile != "" {
		f, err := os.Create(*htmlFile)
		if err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return command.Failure
		}
		if err := trs.WriteHTML(f, r); err != nil {
			fmt.Fprintf(stderr, "report: %v\n", errors.Join(err, f.Close()))
			return command.Failure
		}
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "report: %v\n", err)
			return command.Failure
		}
		fmt.Fprintf(stderr, "report: wrote %s\n", *htmlFile)
	}
	return command.OK
}
