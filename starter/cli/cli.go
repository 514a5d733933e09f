// Package cli is the exporter's command line: submit, status, supply, withdraw and wait. The
// starter binary is a thin wrapper; tests drive Run directly against a real server.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitFailure   = 1 // the server could not be reached, or another failure
	ExitInvalid   = 2 // bad usage or input; nothing was changed
	ExitDuplicate = 3 // a clearance of the declaration already exists
	ExitRefused   = 4 // wait: the clearance was refused
	ExitLapsed    = 5 // wait: the declaration lapsed
	ExitWithdrawn = 6 // wait: the declaration was withdrawn
)

// Dialer opens a client; tests pass one that returns their server's client.
type Dialer func(ctx context.Context, o connect.Options) (client.Client, error)

const usage = `usage: starter [connection flags] COMMAND ...

commands:
  submit FILE...            validate declarations and start their clearances
  status ID [--json]        show where a clearance stands
  supply ID FILE            send documents answering a request for information
  withdraw ID --reason TEXT withdraw a declaration before release
  wait ID [--json]          wait until the clearance ends; exit 0 released, 4 refused,
                            5 lapsed, 6 withdrawn

connection flags (defaults from TEMPORAL_* environment variables):
`

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, dial Dialer) int {
	fs := flag.NewFlagSet("starter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn connect.Options
	var ui string
	RegisterFlags(fs, &conn, &ui)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return ExitInvalid
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return ExitInvalid
	}
	if dial == nil {
		dial = func(ctx context.Context, o connect.Options) (client.Client, error) {
			zl, err := logging.New("warn", false)
			if err != nil {
				return nil, err
			}
			return connect.Dial(ctx, o, logging.NewSDKLogger(zl))
		}
	}
	r := &runner{stdout: stdout, stderr: stderr, conn: conn, dial: dial, ui: ui}
	cmd, cargs := rest[0], rest[1:]
	switch cmd {
	case "submit":
		return r.submit(ctx, cargs)
	case "status":
		return r.status(ctx, cargs)
	case "supply":
		return r.supply(ctx, cargs)
	case "withdraw":
		return r.withdraw(ctx, cargs)
	case "wait":
		return r.wait(ctx, cargs)
	case "help", "-h", "--help":
		fs.Usage()
		return ExitOK
	}
	fmt.Fprintf(stderr, "starter: unknown command %q\n", cmd)
	fs.Usage()
	return ExitInvalid
}

// RegisterFlags defines the starter's global flags, those before the command, on fs: the
// connection flags and the Web UI address used for links.
func RegisterFlags(fs *flag.FlagSet, conn *connect.Options, ui *string) {
	conn.RegisterFlags(fs)
	fs.StringVar(ui, "ui", envOr("TEMPORAL_UI_URL", "http://localhost:8233"), "Web UI address for links (env TEMPORAL_UI_URL)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type runner struct {
	stdout, stderr io.Writer
	conn           connect.Options
	dial           Dialer
	ui             string
	c              client.Client
}

func (r *runner) client(ctx context.Context) (client.Client, error) {
	if r.c != nil {
		return r.c, nil
	}
	c, err := r.dial(ctx, r.conn)
	if err != nil {
		return nil, err
	}
	r.c = c
	return c, nil
}

func (r *runner) fail(err error) int {
	fmt.Fprintf(r.stderr, "starter: %v\n", err)
	var refused *clearance.RefusedError
	if errors.As(err, &refused) {
		return ExitInvalid
	}
	return ExitFailure
}

// parseFlags parses a subcommand's flags, which may come before or after its operands.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return operands, nil
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
}

func (r *runner) submit(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	files, err := parseFlags(fs, args)
	if err != nil {
		return ExitInvalid
	}
	if len(files) == 0 {
		fmt.Fprintln(r.stderr, "starter submit: name at least one declaration file")
		return ExitInvalid
	}
	// Validate every file before starting anything: one bad file starts nothing.
	decls := make([]declaration.Declaration, 0, len(files))
	seen := map[string]string{}
	bad := false
	for _, f := range files {
		d, err := readDeclaration(f)
		if err != nil {
			bad = true
			fmt.Fprintf(r.stderr, "%s: invalid declaration:\n%s\n", f, indent(err.Error()))
			continue
		}
		if prev, ok := seen[d.ID]; ok {
			bad = true
			fmt.Fprintf(r.stderr, "%s: invalid declaration:\n  id: %q is also the ID of %s\n", f, d.ID, prev)
			continue
		}
		seen[d.ID] = f
		decls = append(decls, d)
	}
	if bad {
		fmt.Fprintln(r.stderr, "starter: nothing was submitted")
		return ExitInvalid
	}
	c, err := r.client(ctx)
	if err != nil {
		return r.fail(err)
	}
	code := ExitOK
	for i, d := range decls {
		run, err := clearance.Submit(ctx, c, d)
		var dup *clearance.DuplicateError
		switch {
		case errors.As(err, &dup):
			fmt.Fprintf(r.stderr, "%s: %v\n  %s\n", files[i], dup, clearance.UILink(r.ui, r.conn.Namespace, dup.WorkflowID))
			code = ExitDuplicate
		case err != nil:
			fmt.Fprintf(r.stderr, "%s: %v\n", files[i], err)
			return ExitFailure
		default:
			fmt.Fprintf(r.stdout, "%s\tsubmitted\t%s\t%s\n", d.ID, run.GetID(), clearance.UILink(r.ui, r.conn.Namespace, run.GetID()))
		}
	}
	return code
}

func readDeclaration(path string) (declaration.Declaration, error) {
	f, err := os.Open(path)
	if err != nil {
		return declaration.Declaration{}, err
	}
	b, err := io.ReadAll(io.LimitReader(f, declaration.MaxSize+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return declaration.Declaration{}, err
	}
	return declaration.ParseAndValidate(b)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}

func oneID(cmd string, fs *flag.FlagSet, args []string, stderr io.Writer, n int) ([]string, bool) {
	ops, err := parseFlags(fs, args)
	if err != nil {
		return nil, false
	}
	if len(ops) != n {
		fmt.Fprintf(stderr, "starter %s: expected %d argument(s), got %d\n", cmd, n, len(ops))
		return nil, false
	}
	if _, err := workflows.WorkflowID(ops[0]); err != nil {
		fmt.Fprintf(stderr, "starter %s: %v\n", cmd, err)
		return nil, false
	}
	return ops, true
}

func (r *runner) status(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	ops, ok := oneID("status", fs, args, r.stderr, 1)
	if !ok {
		return ExitInvalid
	}
	c, err := r.client(ctx)
	if err != nil {
		return r.fail(err)
	}
	s, err := clearance.Status(ctx, c, ops[0])
	if err != nil {
		return r.fail(err)
	}
	if *asJSON {
		return r.printJSON(s)
	}
	printStatus(r.stdout, s)
	return ExitOK
}

func (r *runner) printJSON(v any) int {
	enc := json.NewEncoder(r.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return r.fail(err)
	}
	return ExitOK
}

// p makes text from a payload safe to print: see declaration.Printable.
func p(s string) string { return declaration.Printable(s) }

func printStatus(w io.Writer, s workflows.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Declaration\t%s\n", s.DeclarationID)
	fmt.Fprintf(tw, "State\t%s\n", s.State)
	accepts := "nothing"
	if len(s.Accepts) > 0 {
		accepts = strings.Join(s.Accepts, ", ")
	}
	fmt.Fprintf(tw, "Phase\t%s; accepts %s\n", s.Phase, accepts)
	fmt.Fprintf(tw, "Stage\t%s\n", s.Stage)
	fmt.Fprintf(tw, "Lane\t%s (%s)\n", s.Lane, p(strings.Join(s.LaneSelection.Reasons, "; ")))
	fmt.Fprintf(tw, "Expedited\t%v\n", s.Expedited)
	fmt.Fprintf(tw, "Elapsed\t%s of the %s standard\n", trs.Human(s.Elapsed.D()), s.Standard)
	if s.Waiting != nil {
		who := strings.Join(s.Waiting.Officers, ", ")
		if s.Waiting.For == workflows.WaitingForExporter {
			who = "exporter " + s.Waiting.Exporter + ": " + s.Waiting.Reason
		}
		fmt.Fprintf(tw, "Waiting for\t%s from %s, due %s\n", s.Waiting.For, p(who), s.Waiting.Due.UTC().Format(time.RFC3339))
	}
	if s.Notice != nil {
		fmt.Fprintf(tw, "Release notice\t%s\n", s.Notice.Number)
	}
	if s.Reason != "" {
		fmt.Fprintf(tw, "Reason\t%s\n", p(s.Reason))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nTimeline")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTARTED\tDURATION\tALLOWANCE\tOUTCOME\tESCALATED")
	for _, t := range s.Timeline {
		outcome := t.Outcome
		if outcome == "" {
			outcome = "running"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", t.Stage, t.Started.UTC().Format(time.RFC3339), trs.Human(t.Duration.D()), t.Allowance, outcome, t.Escalated)
	}
	tw.Flush()

	if len(s.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STAGE\tSEVERITY\tCODE\tFIELD\tMESSAGE")
		for _, sf := range s.Findings {
			for _, f := range sf.Result.Findings {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sf.Stage, f.Severity, p(f.Code), p(f.Field), p(f.Message))
			}
		}
		tw.Flush()
	}
	if len(s.Decisions) > 0 {
		fmt.Fprintln(w, "\nDecisions")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tSTAGE\tOFFICER\tOUTCOME\tVIA\tREASON")
		for _, d := range s.Decisions {
			officer := p(d.Officer)
			if officer == "" {
				officer = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.At.UTC().Format(time.RFC3339), p(string(d.Stage)), officer, p(string(d.Outcome)), d.Via, p(d.Reason))
		}
		tw.Flush()
	}
	if len(s.Escalations) > 0 {
		fmt.Fprintln(w, "\nEscalations")
		for _, e := range s.Escalations {
			fmt.Fprintf(w, "  %s  %s overran %s; supervisor %s\n", e.At.UTC().Format(time.RFC3339), e.Stage, e.Allowance, e.Supervisor)
		}
	}
}

func (r *runner) supply(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("supply", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	ops, ok := oneID("supply", fs, args, r.stderr, 2)
	if !ok {
		return ExitInvalid
	}
	s, err := readSupply(ops[1])
	if err != nil {
		fmt.Fprintf(r.stderr, "%s: %v\n", ops[1], err)
		return ExitInvalid
	}
	c, err := r.client(ctx)
	if err != nil {
		return r.fail(err)
	}
	rec, err := clearance.Supply(ctx, c, ops[0], s)
	if err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(r.stdout, "%s\tsupplied %d document(s) and %d certificate(s) for %s\n", ops[0], rec.Documents, rec.Certificates, rec.Stage)
	return ExitOK
}

func readSupply(path string) (workflows.Supply, error) {
	var s workflows.Supply
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	// Read as the declaration is read: the same field rules, plain dates accepted.
	if err := declaration.Decode(b, &s); err != nil {
		return s, fmt.Errorf("not a supply of documents:\n%s", indent(err.Error()))
	}
	if len(s.Documents) == 0 && len(s.Certificates) == 0 {
		return s, fmt.Errorf("documents: supply at least one document or certificate")
	}
	return s, nil
}

func (r *runner) withdraw(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("withdraw", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	reason := fs.String("reason", "", "why the declaration is withdrawn (required)")
	ops, ok := oneID("withdraw", fs, args, r.stderr, 1)
	if !ok {
		return ExitInvalid
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(r.stderr, "starter withdraw: --reason: required")
		return ExitInvalid
	}
	c, err := r.client(ctx)
	if err != nil {
		return r.fail(err)
	}
	if err := clearance.Withdraw(ctx, c, ops[0], *reason); err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(r.stdout, "%s\twithdrawn\n", ops[0])
	return ExitOK
}

func (r *runner) wait(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	ops, ok := oneID("wait", fs, args, r.stderr, 1)
	if !ok {
		return ExitInvalid
	}
	c, err := r.client(ctx)
	if err != nil {
		return r.fail(err)
	}
	res, err := clearance.Wait(ctx, c, ops[0])
	if err != nil {
		return r.fail(err)
	}
	if *asJSON {
		if code := r.printJSON(res); code != ExitOK {
			return code
		}
	} else {
		printResult(r.stdout, res)
	}
	return ResultCode(res.State)
}

// ResultCode is the exit code of wait for a final state.
func ResultCode(s workflows.State) int {
	switch s {
	case workflows.StateReleased:
		return ExitOK
	case workflows.StateRefused:
		return ExitRefused
	case workflows.StateLapsed:
		return ExitLapsed
	case workflows.StateWithdrawn:
		return ExitWithdrawn
	}
	return ExitFailure
}

func printResult(w io.Writer, r workflows.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Declaration\t%s\n", r.DeclarationID)
	fmt.Fprintf(tw, "Outcome\t%s at %s\n", r.State, r.Stage)
	if r.Notice != nil {
		fmt.Fprintf(tw, "Release notice\t%s\n", r.Notice.Number)
	}
	if r.Reason != "" {
		fmt.Fprintf(tw, "Reason\t%s\n", p(r.Reason))
	}
	verdict := "within"
	if !r.WithinStandard {
		verdict = "over"
	}
	fmt.Fprintf(tw, "Elapsed\t%s, %s the %s standard (margin %s)\n", trs.Human(r.Elapsed.D()), verdict, r.Standard, trs.Human(r.Margin.D()))
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tDURATION\tALLOWANCE\tOUTCOME\tCHECKS\tOFFICERS\tEXPORTER")
	for _, t := range r.Timeline {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Stage, trs.Human(t.Duration.D()), t.Allowance, t.Outcome, trs.Human(t.CheckTime.D()), trs.Human(t.OfficerWait.D()), trs.Human(t.ExporterWait.D()))
	}
	tw.Flush()
	officers := map[string]bool{}
	for _, d := range r.Decisions {
		if d.Officer != "" {
			officers[d.Officer] = true
		}
	}
	if len(officers) > 0 {
		ids := make([]string, 0, len(officers))
		for id := range officers {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(w, "\nDecided by: %s\n", p(strings.Join(ids, ", ")))
	}
}
