// Package cli is the exporter's command line: submit, status, supply, amend, withdraw, appeal and wait. The
// starter binary is a thin wrapper; tests drive Run directly against a real server.
package cli

import (
	"context"
	"encoding/base64"
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

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	appealpkg "github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/trs"
	"github.com/medsupply/customs/workflows"
)

// Exit codes: the scheme every binary shares (internal/command).
const (
	ExitOK          = command.OK
	ExitFailure     = command.Failure     // another failure
	ExitInvalid     = command.Usage       // bad usage or input, or a request the clearance refuses; nothing was changed
	ExitUnavailable = command.Unavailable // the server could not be reached
	ExitNotFound    = command.NotFound    // no clearance of the declaration
	ExitDuplicate   = command.Conflict    // a clearance of the declaration already exists
	ExitRefused     = command.Refused     // wait: the clearance was refused
	ExitLapsed      = command.Lapsed      // wait: the declaration lapsed
	ExitWithdrawn   = command.Withdrawn   // wait: the declaration was withdrawn
)

// Dialer opens a client; tests pass one that returns their server's client.
type Dialer func(ctx context.Context, o connect.Options) (client.Client, error)

const usage = `usage: starter [connection flags] COMMAND ...

The exporter's tool: lodge export declarations and follow their clearances.

commands:
  submit FILE...            validate declarations and start their clearances
  status ID [--json]        show where a clearance stands
  supply ID FILE            send documents answering a request for information
  amend ID FILE             amend a lodged declaration: lines, documents, certificates;
                            applied at once until an officer starts on it, else on consent
  withdraw ID --reason TEXT withdraw a declaration before release
  appeal ID --grounds TEXT  appeal a refusal within the policy's window; --wait for the
                            supervisor's decision: exit 0 upheld (the clearance reopens),
                            10 dismissed or not admitted
  wait ID [--json]          wait until the clearance ends; exit 0 released, 10 refused,
                            11 lapsed, 12 withdrawn
  version                   print the build's version and commit

Run 'starter COMMAND -h' for a command's flags; 'starter --help' shows them all.
`

// Run is the exporter's command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Command(nil)(ctx, args, stdout, stderr)
}

// Command is the command line dialling with dial (nil: connect.Dial).
func Command(dial Dialer) command.Run {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return run(ctx, args, stdout, stderr, dial)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, dial Dialer) int {
	fs := flag.NewFlagSet("starter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn connect.Options
	var ui, exporter string
	RegisterFlags(fs, &conn, &ui)
	fs.StringVar(&exporter, "exporter", os.Getenv(EnvExporter),
		"the exporter's customs code that status, supply, withdraw and wait act for (env "+EnvExporter+"); default: the one the API key names")
	r := &runner{stdout: stdout, stderr: stderr, dial: dial}
	fs.Usage = func() { r.help(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitInvalid
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitInvalid
	}
	if r.dial == nil {
		r.dial = func(ctx context.Context, o connect.Options) (client.Client, error) {
			zl, err := logging.New("warn", false)
			if err != nil {
				return nil, err
			}
			return connect.Dial(ctx, o, logging.NewSDKLogger(zl))
		}
	}
	r.conn, r.ui, r.exporter = conn, ui, exporter
	if exporter != "" {
		if _, err := workflows.WorkflowID(exporter, "x"); err != nil {
			fmt.Fprintf(stderr, "starter: --exporter: %v\n", err)
			return ExitInvalid
		}
	}
	cmd, cargs := rest[0], rest[1:]
	switch cmd {
	case "submit":
		return r.submit(ctx, cargs)
	case "status":
		return r.status(ctx, cargs)
	case "supply":
		return r.supply(ctx, cargs)
	case "amend":
		return r.amend(ctx, cargs)
	case "withdraw":
		return r.withdraw(ctx, cargs)
	case "appeal":
		return r.appeal(ctx, cargs)
	case "wait":
		return r.wait(ctx, cargs)
	case "help":
		r.help(fs)
		return ExitOK
	}
	fmt.Fprintf(stderr, "starter: unknown command %q\n%s", cmd, usage)
	return ExitInvalid
}

// help prints, on stdout, the synopsis, the connection flags, every command's flags and the exit
// codes.
func (r *runner) help(global *flag.FlagSet) {
	w := r.stdout
	fmt.Fprint(w, usage)
	fmt.Fprint(w, "\nconnection flags (before the command; defaults from temporal.toml and the TEMPORAL_* variables):\n")
	global.SetOutput(w)
	global.PrintDefaults()
	global.SetOutput(r.stderr)
	for _, sub := range []struct {
		synopsis string
		fs       *flag.FlagSet
	}{
		{"submit FILE...", submitFlags()},
		{"status ID", statusFlags(new(bool))},
		{"supply ID FILE", supplyFlags()},
		{"amend ID FILE", amendFlags(new(string))},
		{"withdraw ID", withdrawFlags(new(string))},
		{"appeal ID", appealFlags(new(string), new(bool))},
		{"wait ID", waitFlags(new(bool))},
	} {
		fmt.Fprintf(w, "\nstarter %s", sub.synopsis)
		n := 0
		sub.fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintln(w, ": no flags")
			continue
		}
		fmt.Fprintln(w, " flags:")
		sub.fs.SetOutput(w)
		sub.fs.PrintDefaults()
	}
	fmt.Fprint(w, "\n"+command.ExitCodes)
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

// EnvExporter names the exporter's customs code the starter acts for.
const EnvExporter = "CUSTOMS_EXPORTER"

type runner struct {
	stdout, stderr io.Writer
	conn           connect.Options
	dial           Dialer
	ui             string
	// exporter is --exporter: the exporter the commands act for, "" when not given.
	exporter string
	c        client.Client
}

// actingFor returns the exporter the starter acts for: --exporter, else the exporter the API key
// names, else "".
func (r *runner) actingFor() string {
	if r.exporter != "" {
		return r.exporter
	}
	key := r.conn.APIKey
	if key == "" && r.conn.APIKeyFile != "" {
		if b, err := os.ReadFile(r.conn.APIKeyFile); err == nil {
			key = strings.TrimSpace(string(b))
		}
	}
	return exporterOfToken(key)
}

// ClaimExporter is the claim of an exporter's token that names its exporter (the server's
// auth.ClaimExporter).
const ClaimExporter = "customs_exporter"

// exporterOfToken reads the exporter a JWT names in its ClaimExporter claim, without verifying
// it: the server verifies the token; the starter only needs to know whose declarations it asks
// about.
func exporterOfToken(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims map[string]any
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	code, _ := claims[ClaimExporter].(string)
	return code
}

// ref names the clearance of declaration id: of the exporter the starter acts for, or, when it
// is not known, of the one exporter visibility finds with that declaration ID.
func (r *runner) ref(ctx context.Context, c client.Client, id string) (clearance.Ref, error) {
	if code := r.actingFor(); code != "" {
		return clearance.Ref{Exporter: code, Declaration: id}, nil
	}
	found, err := clearance.Lookup(ctx, c, r.conn.Namespace, id, "")
	var denied *serviceerror.PermissionDenied
	switch {
	case errors.As(err, &denied):
		return clearance.Ref{}, serviceerror.NewInvalidArgument(fmt.Sprintf(
			"the exporter is not known: give --exporter CODE (env %s) or an API key that names it", EnvExporter))
	case err != nil:
		return clearance.Ref{}, err
	case len(found) == 0:
		return clearance.Ref{}, serviceerror.NewNotFound(fmt.Sprintf("no clearance of declaration %s", id))
	case len(found) > 1:
		codes := make([]string, len(found))
		for i, f := range found {
			codes[i] = f.Exporter
		}
		return clearance.Ref{}, serviceerror.NewInvalidArgument(fmt.Sprintf("declaration %s is lodged by %d exporters (%s): give --exporter CODE (env %s)",
			id, len(found), strings.Join(codes, ", "), EnvExporter))
	}
	return found[0].Ref, nil
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
	fmt.Fprintf(r.stderr, "starter: %s\n", command.Message(err))
	var refused *clearance.RefusedError
	if errors.As(err, &refused) {
		return ExitInvalid
	}
	return command.CodeOf(err)
}

// connectFailed reports a client that could not be opened: the connection flags are wrong
// (usage), or the server does not answer (unavailable).
func (r *runner) connectFailed(err error) int {
	fmt.Fprintf(r.stderr, "starter: %s\n", command.Message(err))
	return command.DialCode(err)
}

func submitFlags() *flag.FlagSet { return flag.NewFlagSet("submit", flag.ContinueOnError) }

func statusFlags(asJSON *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.BoolVar(asJSON, "json", false, "print the status as JSON")
	return fs
}

func supplyFlags() *flag.FlagSet { return flag.NewFlagSet("supply", flag.ContinueOnError) }

func appealFlags(grounds *string, wait *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("appeal", flag.ContinueOnError)
	fs.StringVar(grounds, "grounds", "", "why the refusal is wrong; the supervisor reads them (required)")
	fs.BoolVar(wait, "wait", false, "wait for the supervisor's decision: exit 0 upheld, 10 dismissed or not admitted")
	return fs
}

func amendFlags(reason *string) *flag.FlagSet {
	fs := flag.NewFlagSet("amend", flag.ContinueOnError)
	fs.StringVar(reason, "reason", "", "why the declaration is amended (required here or as the file's \"reason\")")
	return fs
}

func withdrawFlags(reason *string) *flag.FlagSet {
	fs := flag.NewFlagSet("withdraw", flag.ContinueOnError)
	fs.StringVar(reason, "reason", "", "why the declaration is withdrawn (required)")
	return fs
}

func waitFlags(asJSON *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.BoolVar(asJSON, "json", false, "print the result as JSON")
	return fs
}

func (r *runner) submit(ctx context.Context, args []string) int {
	fs := submitFlags()
	fs.SetOutput(r.stderr)
	files, code, ok := command.Parse(fs, args)
	if !ok {
		return code
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
		if code := r.actingFor(); code != "" && d.Exporter.Code != code {
			bad = true
			fmt.Fprintf(r.stderr, "%s: invalid declaration:\n  exporter.code: %q is not the exporter the starter acts for (%s)\n", f, d.Exporter.Code, code)
			continue
		}
		key := d.Exporter.Code + "/" + d.ID
		if prev, ok := seen[key]; ok {
			bad = true
			fmt.Fprintf(r.stderr, "%s: invalid declaration:\n  id: %q is also the ID of %s, by the same exporter\n", f, d.ID, prev)
			continue
		}
		seen[key] = f
		decls = append(decls, d)
	}
	if bad {
		fmt.Fprintln(r.stderr, "starter: nothing was submitted")
		return ExitInvalid
	}
	c, err := r.client(ctx)
	if err != nil {
		return r.connectFailed(err)
	}
	code = ExitOK
	for i, d := range decls {
		run, err := clearance.Submit(ctx, c, d)
		var dup *clearance.DuplicateError
		switch {
		case errors.As(err, &dup):
			fmt.Fprintf(r.stderr, "%s: %v\n  %s\n", files[i], dup, clearance.UILink(r.ui, r.conn.Namespace, dup.WorkflowID))
			code = ExitDuplicate
		case err != nil:
			fmt.Fprintf(r.stderr, "%s: %s\n", files[i], command.Message(err))
			return command.CodeOf(err)
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

// oneID parses a command's flags and its n operands, the first a declaration ID. ok is false
// when the command returns code at once (0 after -h).
func oneID(cmd string, fs *flag.FlagSet, args []string, stderr io.Writer, n int) (ops []string, code int, ok bool) {
	fs.SetOutput(stderr)
	ops, code, ok = command.Parse(fs, args)
	if !ok {
		return nil, code, false
	}
	if len(ops) != n {
		fmt.Fprintf(stderr, "starter %s: expected %d argument(s), got %d\n", cmd, n, len(ops))
		return nil, ExitInvalid, false
	}
	if _, err := workflows.LegacyWorkflowID(ops[0]); err != nil {
		fmt.Fprintf(stderr, "starter %s: %v\n", cmd, err)
		return nil, ExitInvalid, false
	}
	return ops, ExitOK, true
}

func (r *runner) status(ctx context.Context, args []string) int {
	asJSON := new(bool)
	ops, code, ok := oneID("status", statusFlags(asJSON), args, r.stderr, 1)
	if !ok {
		return code
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	s, err := clearance.Status(ctx, c, ref)
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
	fmt.Fprintf(tw, "Declaration\t%s of exporter %s\n", s.DeclarationID, s.Exporter)
	if s.Registration != nil {
		fmt.Fprintf(tw, "Registration\t%s, accepted %s\n", s.Registration.Number, s.Registration.Accepted.UTC().Format(time.RFC3339))
	}
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
	if len(s.Amendments) > 0 {
		fmt.Fprintln(w, "\nAmendments")
		for _, a := range s.Amendments {
			fmt.Fprintf(w, "  %d  %s  at %s: %s (%d change(s))\n", a.Version, a.At.UTC().Format(time.RFC3339), a.Stage, a.Status,
				len(a.Changes)+a.MoreChanges)
			if a.Officer != "" {
				decided := a.Officer
				if a.DecisionReason != "" {
					decided += ": " + p(a.DecisionReason)
				}
				fmt.Fprintf(w, "     decided by %s\n", decided)
			}
			for _, c := range a.Changes {
				fmt.Fprintf(w, "     %s\n", p(c.String()))
			}
		}
	}
	if len(s.Escalations) > 0 {
		fmt.Fprintln(w, "\nEscalations")
		for _, e := range s.Escalations {
			fmt.Fprintf(w, "  %s  %s overran %s; supervisor %s\n", e.At.UTC().Format(time.RFC3339), e.Stage, e.Allowance, e.Supervisor)
		}
	}
}

func (r *runner) supply(ctx context.Context, args []string) int {
	ops, code, ok := oneID("supply", supplyFlags(), args, r.stderr, 2)
	if !ok {
		return code
	}
	s, err := readSupply(ops[1])
	if err != nil {
		fmt.Fprintf(r.stderr, "%s: %v\n", ops[1], err)
		return ExitInvalid
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	rec, err := clearance.Supply(ctx, c, ref, s)
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

func (r *runner) amend(ctx context.Context, args []string) int {
	reason := new(string)
	ops, code, ok := oneID("amend", amendFlags(reason), args, r.stderr, 2)
	if !ok {
		return code
	}
	a, err := readAmendment(ops[1], *reason)
	if err != nil {
		fmt.Fprintf(r.stderr, "%s: %v\n", ops[1], err)
		return ExitInvalid
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	rec, err := clearance.Amend(ctx, c, ref, a)
	if err != nil {
		return r.fail(err)
	}
	what := "applied; the checks it bears on run again"
	if rec.Status == workflows.AmendmentAwaitingConsent {
		what = "awaits an officer's consent"
	}
	fmt.Fprintf(r.stdout, "%s\tamendment %d at %s %s: %d change(s)\n", ops[0], rec.Version, rec.Stage, what, len(rec.Changes)+rec.MoreChanges)
	return ExitOK
}

// readAmendment reads an amendment file as a declaration file is read; reason, when given, is
// its reason.
func readAmendment(path, reason string) (workflows.Amendment, error) {
	var a workflows.Amendment
	b, err := os.ReadFile(path)
	if err != nil {
		return a, err
	}
	if err := declaration.Decode(b, &a); err != nil {
		return a, fmt.Errorf("not an amendment:\n%s", indent(err.Error()))
	}
	if strings.TrimSpace(reason) != "" {
		a.Reason = reason
	}
	if strings.TrimSpace(a.Reason) == "" {
		return a, fmt.Errorf("reason: required to amend (--reason or the file's \"reason\")")
	}
	if len(a.Lines)+len(a.RemoveLines)+len(a.Documents)+len(a.Certificates) == 0 {
		return a, fmt.Errorf("lines: the amendment changes no line, document or certificate")
	}
	return a, nil
}

// dialFor dials the server and names the clearance of the exporter's declaration id; when either
// fails it says why and returns a nil client with the exit code.
func (r *runner) dialFor(ctx context.Context, id string) (client.Client, clearance.Ref, int) {
	c, err := r.client(ctx)
	if err != nil {
		return nil, clearance.Ref{}, r.connectFailed(err)
	}
	ref, err := r.ref(ctx, c, id)
	if err != nil {
		return nil, clearance.Ref{}, r.fail(err)
	}
	return c, ref, ExitOK
}

func (r *runner) appeal(ctx context.Context, args []string) int {
	grounds, wait := new(string), new(bool)
	ops, code, ok := oneID("appeal", appealFlags(grounds, wait), args, r.stderr, 1)
	if !ok {
		return code
	}
	if strings.TrimSpace(*grounds) == "" {
		fmt.Fprintln(r.stderr, "starter appeal: --grounds: required; the supervisor reads them")
		return ExitInvalid
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	id, err := clearance.Appeal(ctx, c, ref, *grounds)
	if err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(r.stdout, "%s\tappeal lodged as %s\n", ops[0], id)
	if !*wait {
		return ExitOK
	}
	res, err := clearance.AwaitAppeal(ctx, c, ref)
	if err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(r.stdout, "%s\tappeal %s: %s\n", ops[0], res.Outcome, p(res.Reason))
	if res.Outcome != appealpkg.OutcomeUphold {
		return ExitRefused
	}
	return ExitOK
}

func (r *runner) withdraw(ctx context.Context, args []string) int {
	reason := new(string)
	ops, code, ok := oneID("withdraw", withdrawFlags(reason), args, r.stderr, 1)
	if !ok {
		return code
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(r.stderr, "starter withdraw: --reason: required")
		return ExitInvalid
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	if err := clearance.Withdraw(ctx, c, ref, *reason); err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(r.stdout, "%s\twithdrawn\n", ops[0])
	return ExitOK
}

func (r *runner) wait(ctx context.Context, args []string) int {
	asJSON := new(bool)
	ops, code, ok := oneID("wait", waitFlags(asJSON), args, r.stderr, 1)
	if !ok {
		return code
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	res, err := clearance.Wait(ctx, c, ref)
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
	if r.Registration != nil {
		fmt.Fprintf(tw, "Registration\t%s\n", r.Registration.Number)
	}
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
