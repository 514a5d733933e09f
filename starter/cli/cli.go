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
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/medsupply/customs/agency"
	appealpkg "github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/codec"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
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
	ExitRefused     = command.Refused     // wait: the clearance was refused; submit: a lodgement was refused
	ExitLapsed      = command.Lapsed      // wait: the declaration lapsed
	ExitWithdrawn   = command.Withdrawn   // wait: the declaration was withdrawn
)

// Dialer opens a client; tests pass one that returns their server's client.
type Dialer func(ctx context.Context, o connect.Options) (client.Client, error)

const usage = `usage: starter [global flags] COMMAND [flags] ARGUMENTS

The exporter's tool: lodge export declarations and follow their clearances.

commands:
  submit FILE...            validate declarations, lodge them and say what each came to:
                            registration number, risk lane, what happens next; exit 10
                            when one is refused; --dry-run validates only, without a server
  status ID [--json]        show where a clearance stands and what you can do
  supply ID FILE            send documents answering a request for information
  amend ID FILE             amend a lodged declaration: lines, documents, certificates;
                            applied at once until an officer starts on it, else on consent
  withdraw ID --reason TEXT withdraw a declaration before release
  appeal ID --grounds TEXT  appeal a refusal within the policy's window; --wait for the
                            supervisor's decision: exit 0 upheld (the clearance reopens),
                            10 dismissed or not admitted
  wait ID [--json]          wait until the clearance ends; exit 0 released, 10 refused,
                            11 lapsed, 12 withdrawn
  help COMMAND              a command's arguments, flags and examples
  version                   print the build's version and commit

Flags may come before or after the arguments: the global flags (the connection flags, --exporter,
--ui) before the command or after it, a command's own flags after it.
Run 'starter COMMAND -h' for a command's help; 'starter --help' shows every flag.
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
	r := &runner{stdout: stdout, stderr: stderr, dial: dial}
	r.global = flag.NewFlagSet("starter", flag.ContinueOnError)
	RegisterFlags(r.global, &r.conn, &r.ui)
	r.global.StringVar(&r.exporter, "exporter", os.Getenv(EnvExporter),
		"the exporter's customs code the commands act for (env "+EnvExporter+"); default: the one the API key names")
	cmd, cargs, code, ok := command.Split("starter", r.global, args, stderr, r.help)
	if !ok {
		return code
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
	switch cmd {
	case "":
		fmt.Fprint(stderr, usage)
		return ExitInvalid
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
		return r.helpOn(cargs)
	}
	fmt.Fprintf(stderr, "starter: unknown command %q\n%s", cmd, usage)
	return ExitInvalid
}

// helpOn is 'starter help [COMMAND]': the command's help, or the whole help.
func (r *runner) helpOn(args []string) int {
	if len(args) == 0 {
		r.help()
		return ExitOK
	}
	if sub := r.sub(args[0], &values{}); sub != nil {
		sub.Help(r.stdout)
		return ExitOK
	}
	fmt.Fprintf(r.stderr, "starter help: unknown command %q\n%s", args[0], usage)
	return ExitInvalid
}

// help prints, on stdout, the synopsis, the global flags, every command's flags and the exit
// codes.
func (r *runner) help() {
	w := r.stdout
	fmt.Fprint(w, usage)
	fmt.Fprint(w, "\nglobal flags (before the command or after it; connection defaults from temporal.toml and the TEMPORAL_* variables):\n")
	r.global.SetOutput(w)
	r.global.PrintDefaults()
	r.global.SetOutput(r.stderr)
	for _, name := range commands {
		sub := r.sub(name, &values{})
		fmt.Fprintf(w, "\nstarter %s %s", name, synopsisOperands(sub))
		n := 0
		sub.Flags.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintln(w, ": no flags")
			continue
		}
		fmt.Fprintln(w, " flags:")
		sub.Flags.SetOutput(w)
		sub.Flags.PrintDefaults()
	}
	fmt.Fprint(w, "\n"+command.ExitCodes)
}

// synopsisOperands is the operands of a command's synopsis: "ID FILE", "FILE...".
func synopsisOperands(sub *command.Sub) string {
	var names []string
	for _, o := range sub.Operands {
		names = append(names, o.Name)
	}
	return strings.Join(names, " ")
}

// commands lists the starter's commands in the order the help shows them.
var commands = []string{"submit", "status", "supply", "amend", "withdraw", "appeal", "wait"}

// values are what the commands' own flags set.
type values struct {
	asJSON, wait, dryRun bool
	reason, grounds      string
	answerWithin         time.Duration
}

// Operands the commands share.
var (
	operandID = command.Operand{Name: "ID", Meaning: `the declaration ID: the "id" of the declaration file, your own reference`}
	exampleID = "LB-2020-DE-0415"
)

// sub returns the command name with its flags bound to v, or nil for no such command.
func (r *runner) sub(name string, v *values) *command.Sub {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	s := &command.Sub{Binary: "starter", Name: name, Flags: fs, Global: r.global}
	switch name {
	case "submit":
		fs.BoolVar(&v.dryRun, "dry-run", false, "validate the files only, without a server: exit 0 when all are valid, 2 otherwise")
		fs.DurationVar(&v.answerWithin, "answer-within", clearance.AnswerWithin,
			"how long to wait for each lodgement's answer; past it the lodgement stands and 'starter status' tells (0: do not wait)")
		s.Synopsis = "FILE... [--dry-run] [--answer-within DURATION]"
		s.Summary = "Validate declaration files, then lodge each and say, in the same call, what its lodgement came to:\n" +
			"refused and why (exit 10), or its registration number, risk lane and queue priority, what happens\n" +
			"next and what you can do meanwhile. If any file is invalid, nothing is lodged: every problem is\n" +
			"printed with its field. A declaration lodged before is named, with how its clearance stands\n" +
			"(exit 5). docs/declaration.schema.json is the files' JSON Schema."
		s.Operands = []command.Operand{{Name: "FILE...", Meaning: "declaration files, JSON (examples/ holds one of each kind)"}}
		s.Examples = []string{"starter submit examples/de-antibody-test-kits.json",
			"starter submit --dry-run examples/*.json", "starter submit --exporter 3301960412 --address customs.example:7233 declaration.json"}
	case "status":
		fs.BoolVar(&v.asJSON, "json", false, "print the status as JSON")
		s.Synopsis = "ID [--json]"
		s.Summary = "Show where the clearance of declaration ID stands: its state, what it waits for, what you can\n" +
			"do now and the command that does it, its timeline, findings and decisions."
		s.Operands = []command.Operand{operandID}
		s.Examples = []string{"starter status " + exampleID, "starter status " + exampleID + " --exporter 3301960412 --json"}
	case "supply":
		s.Synopsis = "ID FILE"
		s.Summary = "Answer customs' request for information: send the documents and certificates it asked for.\n" +
			"'starter status ID' says what was asked and by when."
		s.Operands = []command.Operand{operandID, {Name: "FILE", Meaning: `a JSON file: {"documents": [...], "certificates": [...], "note": "..."}, ` +
			"written as in a declaration (" + SupplyExample + ")"}}
		s.Examples = []string{"starter supply RW-2020-US-0506 " + SupplyExample}
	case "amend":
		fs.StringVar(&v.reason, "reason", "", "why the declaration is amended (required here or as the file's \"reason\")")
		s.Synopsis = "ID FILE [--reason TEXT]"
		s.Summary = "Amend a lodged declaration: replace or add lines, remove lines, replace documents and\n" +
			"certificates. Applied at once until an officer starts on the stage, else when an officer consents."
		s.Operands = []command.Operand{operandID, {Name: "FILE", Meaning: "a JSON amendment (examples/amendments/)"}}
		s.Examples = []string{"starter amend JH-2020-US-0512 examples/amendments/us-n95-short-shipment.json"}
	case "withdraw":
		fs.StringVar(&v.reason, "reason", "", "why the declaration is withdrawn (required)")
		s.Synopsis = "ID --reason TEXT"
		s.Summary = "Withdraw a declaration before its release; its clearance ends withdrawn."
		s.Operands = []command.Operand{operandID}
		s.Examples = []string{"starter withdraw " + exampleID + ` --reason "the order was cancelled"`}
	case "appeal":
		fs.StringVar(&v.grounds, "grounds", "", "why the refusal is wrong; the supervisor reads them (required)")
		fs.BoolVar(&v.wait, "wait", false, "wait for the supervisor's decision: exit 0 upheld, 10 dismissed or not admitted")
		s.Synopsis = "ID --grounds TEXT [--wait]"
		s.Summary = "Appeal the refusal of a declaration, within the policy's window. A supervisor who did not refuse\n" +
			"it decides; upheld, the clearance reopens at the refused stage."
		s.Operands = []command.Operand{operandID}
		s.Examples = []string{"starter appeal JH-2020-US-0512 --grounds \"the cartons hold 25 pieces each\" --wait"}
	case "wait":
		fs.BoolVar(&v.asJSON, "json", false, "print the result as JSON")
		s.Synopsis = "ID [--json]"
		s.Summary = "Wait until the clearance of declaration ID ends, and print how: exit 0 released, 10 refused,\n" +
			"11 lapsed, 12 withdrawn."
		s.Operands = []command.Operand{operandID}
		s.Examples = []string{"starter wait " + exampleID, "starter wait " + exampleID + " --json > result.json"}
	default:
		return nil
	}
	return s
}

// parse parses a command's arguments, refusing a wrong number of operands (want; -1: at least
// one) and a malformed --exporter, and returns the operands. ok is false when the command
// returns code at once (0 after -h).
func (r *runner) parse(name string, v *values, args []string, want int) (ops []string, code int, ok bool) {
	sub := r.sub(name, v)
	ops, code, ok = sub.Parse(args, r.stdout, r.stderr)
	if !ok {
		return nil, code, false
	}
	if r.exporter != "" {
		if _, err := workflows.WorkflowID(r.exporter, "x"); err != nil {
			fmt.Fprintf(r.stderr, "starter: --exporter: %v\n", err)
			return nil, ExitInvalid, false
		}
	}
	switch {
	case want < 0 && len(ops) == 0:
		fmt.Fprintf(r.stderr, "starter %s: name at least one declaration file (run 'starter %s -h' for its usage)\n", name, name)
		return nil, ExitInvalid, false
	case want >= 0 && len(ops) != want:
		fmt.Fprintf(r.stderr, "starter %s: expected %s, got %d argument(s) (run 'starter %s -h' for its usage)\n", name, synopsisOperands(sub), len(ops), name)
		return nil, ExitInvalid, false
	}
	return ops, ExitOK, true
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

// SupplyExample is the example of an answer to a request for information, in the repository.
const SupplyExample = "examples/supplies/quality-declaration.json"

// EnvExporter names the exporter's customs code the starter acts for.
const EnvExporter = "CUSTOMS_EXPORTER"

type runner struct {
	stdout, stderr io.Writer
	// global are the flags given before the command, or after it: conn, ui and exporter.
	global *flag.FlagSet
	conn   connect.Options
	dial   Dialer
	ui     string
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
// is not known, of the one exporter visibility finds a clearance of that declaration ID for. An
// appeal is not a clearance, and one exporter's clearances (a legacy one beside its own) name one
// exporter; clearances of several exporters are ambiguous, a usage error: give --exporter.
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
	}
	if exporters := clearance.Exporters(found); len(exporters) > 1 {
		return clearance.Ref{}, serviceerror.NewInvalidArgument(fmt.Sprintf("declaration %s is lodged by %d exporters (%s): give --exporter CODE (env %s)",
			id, len(exporters), strings.Join(exporters, ", "), EnvExporter))
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
	if encrypted(err) {
		fmt.Fprintf(r.stderr, "starter: the clearance's data is encrypted and the starter has no keyring to read it: give the keyring "+
			"the worker uses with --codec-keys FILE or %s=FILE\n", connect.EnvCodecKeys)
		return ExitInvalid
	}
	fmt.Fprintf(r.stderr, "starter: %s\n", command.Message(err))
	var refused *clearance.RefusedError
	if errors.As(err, &refused) {
		return ExitInvalid
	}
	return command.CodeOf(err)
}

// encrypted reports whether err is a payload or a failure the starter could not read because the
// worker encrypted it (--codec-keys) and the starter was given no keyring.
func encrypted(err error) bool {
	if errors.Is(err, converter.ErrEncodingIsNotSupported) && strings.Contains(err.Error(), codec.EncodingEncrypted) {
		return true
	}
	// A failure's message, encrypted, reads as the SDK's placeholder without the keyring.
	var refused *clearance.RefusedError
	return errors.As(err, &refused) && refused.Reason == encodedFailure
}

// encodedFailure is the message the SDK gives a failure whose message it encrypted.
const encodedFailure = "Encoded failure"

// connectFailed reports a client that could not be opened: the connection flags are wrong
// (usage), or the server does not answer (unavailable).
func (r *runner) connectFailed(err error) int {
	fmt.Fprintf(r.stderr, "starter: %s\n", command.Message(err))
	return command.DialCode(err)
}

func (r *runner) submit(ctx context.Context, args []string) int {
	v := &values{}
	files, code, ok := r.parse("submit", v, args, -1)
	if !ok {
		return code
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
	if v.answerWithin < 0 {
		fmt.Fprintf(r.stderr, "starter submit: --answer-within: %s is negative; 0 does not wait for the answer\n", v.answerWithin)
		return ExitInvalid
	}
	if v.dryRun {
		for i, d := range decls {
			fmt.Fprintf(r.stdout, "%s: valid: declaration %s of exporter %s\n", files[i], d.ID, d.Exporter.Code)
		}
		fmt.Fprintln(r.stdout, "nothing was submitted (--dry-run)")
		return ExitOK
	}
	c, err := r.client(ctx)
	if err != nil {
		return r.connectFailed(err)
	}
	code = ExitOK
	for i, d := range decls {
		l, err := clearance.LodgeWithin(ctx, c, d, v.answerWithin)
		var dup *clearance.DuplicateError
		switch {
		case errors.As(err, &dup):
			fmt.Fprintf(r.stderr, "%s: %v\n  %s\n", files[i], dup, clearance.UILink(r.ui, r.conn.Namespace, dup.WorkflowID))
			code = ExitDuplicate
		case err != nil && l.WorkflowID == "":
			fmt.Fprintf(r.stderr, "%s: %s\n", files[i], command.Message(err))
			return command.CodeOf(err)
		case err != nil:
			// Lodged, and the answer could not be read: the lodgement stands.
			fmt.Fprintf(r.stdout, "%s\tsubmitted\t%s\t%s\n", d.ID, l.WorkflowID, clearance.UILink(r.ui, r.conn.Namespace, l.WorkflowID))
			if encrypted(err) {
				fmt.Fprintf(r.stderr, "%s: lodged; its answer is encrypted and the starter has no keyring to read it: give the keyring "+
					"the worker uses with --codec-keys FILE or %s=FILE to 'starter status %s'\n", files[i], connect.EnvCodecKeys, d.ID)
				continue
			}
			fmt.Fprintf(r.stderr, "%s: lodged; its answer could not be read (%s): 'starter status %s' says where it stands\n",
				files[i], command.Message(err), d.ID)
		default:
			fmt.Fprintf(r.stdout, "%s\tsubmitted\t%s\t%s\n", d.ID, l.WorkflowID, clearance.UILink(r.ui, r.conn.Namespace, l.WorkflowID))
			printLodgement(r.stdout, d.ID, l, v.answerWithin > 0)
			if l.Answered && !l.Accepted && code == ExitOK {
				code = ExitRefused
			}
		}
	}
	return code
}

// printLodgement writes, under a submitted declaration's line, what its lodgement came to in the
// exporter's words: refused and why, or its registration number, lane, queue priority, what
// happens next and what the exporter can do meanwhile. waited says the starter waited for the
// answer.
func printLodgement(w io.Writer, id string, l clearance.Lodged, waited bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if !l.Answered {
		yet := "customs has not answered yet; "
		if !waited {
			yet = ""
		}
		fmt.Fprintf(tw, "  Next\t%s'starter status %s' says where the clearance stands\n", yet, id)
		return
	}
	if l.Registration != nil {
		fmt.Fprintf(tw, "  Registration\t%s, accepted %s\n", l.Registration.Number, l.Registration.Accepted.UTC().Format(time.RFC3339))
	}
	if !l.Accepted {
		how := "refused at the " + words(string(l.Stage))
		if l.RefusedAsLodged {
			how = "refused as lodged"
		}
		fmt.Fprintf(tw, "  Outcome\t%s: %s\n", how, p(l.Reason))
	}
	if l.Lane != "" {
		fmt.Fprintf(tw, "  Risk lane\t%s (%s)\n", l.Lane, p(strings.Join(l.LaneReasons, "; ")))
	}
	if l.Priority != "" {
		fmt.Fprintf(tw, "  Priority\t%s in the officers' queues\n", l.Priority)
	}
	fmt.Fprintf(tw, "  Next\t%s\n", p(l.Next))
	var can []string
	switch {
	case slices.Contains(l.Accepts, workflows.UpdateSupplyDocuments):
		can = append(can, fmt.Sprintf("answer with: starter supply %s FILE", id))
	case !l.Accepted && !l.RefusedAsLodged:
		can = append(can, fmt.Sprintf("appeal the refusal: starter appeal %s --grounds TEXT", id))
	}
	if slices.Contains(l.Accepts, workflows.UpdateAmend) {
		can = append(can, fmt.Sprintf("amend the declaration: starter amend %s FILE --reason TEXT", id))
	}
	if slices.Contains(l.Accepts, workflows.UpdateWithdraw) {
		can = append(can, fmt.Sprintf("withdraw it: starter withdraw %s --reason TEXT", id))
	}
	for i, a := range can {
		label := ""
		if i == 0 {
			label = "You can"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", label, a)
	}
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
func (r *runner) oneID(cmd string, v *values, args []string, n int) (ops []string, code int, ok bool) {
	ops, code, ok = r.parse(cmd, v, args, n)
	if !ok {
		return nil, code, false
	}
	if _, err := workflows.LegacyWorkflowID(ops[0]); err != nil {
		fmt.Fprintf(r.stderr, "starter %s: %v\n", cmd, err)
		return nil, ExitInvalid, false
	}
	return ops, ExitOK, true
}

func (r *runner) status(ctx context.Context, args []string) int {
	v := &values{}
	ops, code, ok := r.oneID("status", v, args, 1)
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
	if v.asJSON {
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

// printStatus writes a clearance's status in the exporter's words: what it waits for, what the
// exporter can do now and the command that does it; then its timeline, findings, decisions,
// amendments and escalations. --json gives the workflow's own fields.
func printStatus(w io.Writer, s workflows.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Declaration\t%s of exporter %s\n", s.DeclarationID, s.Exporter)
	if s.Registration != nil {
		fmt.Fprintf(tw, "Registration\t%s, accepted %s\n", s.Registration.Number, s.Registration.Accepted.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "State\t%s\n", s.State)
	if wt := s.Waiting; wt != nil {
		due := wt.Due.UTC().Format(time.RFC3339)
		if wt.For == workflows.WaitingForExporter {
			asker := "customs'"
			if len(wt.Agencies) > 0 {
				asker = p(strings.Join(wt.Agencies, " and ")) + "'s"
			}
			fmt.Fprintf(tw, "Waiting for\tyour answer to %s request for information, due %s; without it the declaration lapses\n", asker, due)
			if wt.Reason != "" {
				fmt.Fprintf(tw, "Asked\t%s\n", p(wt.Reason))
			}
			if len(wt.Requested) > 0 {
				fmt.Fprintf(tw, "Documents\t%s\n", p(strings.Join(wt.Requested, ", ")))
			}
		} else if wt.For == workflows.WaitingForAgency {
			fmt.Fprintf(tw, "Waiting for\tthe permit of %s, which reviews it in its own system; the release begins once granted\n",
				p(strings.Join(wt.Agencies, " and ")))
		} else {
			fmt.Fprintf(tw, "Waiting for\t%s decision on the %s, due %s\n", officerOf(wt.Role), words(string(s.Stage)), due)
		}
	}
	printPermits(tw, s.Permits)
	if s.Stage != "" {
		fmt.Fprintf(tw, "Stage\t%s\n", words(string(s.Stage)))
	}
	if s.Lane != "" {
		fmt.Fprintf(tw, "Risk lane\t%s (%s)\n", s.Lane, p(strings.Join(s.LaneSelection.Reasons, "; ")))
	}
	if s.Expedited {
		fmt.Fprintf(tw, "Expedited\tyes: the shorter allowances for emergency supplies apply\n")
	}
	fmt.Fprintf(tw, "Elapsed\t%s of the %s standard\n", trs.Human(s.Elapsed.D()), s.Standard)
	if s.Notice != nil {
		fmt.Fprintf(tw, "Release notice\t%s\n", s.Notice.Number)
	}
	if s.Reason != "" {
		fmt.Fprintf(tw, "Reason\t%s\n", p(s.Reason))
	}
	if slices.Contains(s.Accepts, workflows.UpdateSupplyDocuments) {
		fmt.Fprintf(tw, "Next\tanswer with: starter supply %s FILE\n", s.DeclarationID)
		fmt.Fprintf(tw, "\tFILE lists the documents and certificates asked for, as %s does\n", SupplyExample)
	}
	for i, a := range exporterActions(s) {
		label := ""
		if i == 0 {
			label = "You can"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
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
		fmt.Fprintln(tw, "AT\tSTAGE\tOFFICER\tOUTCOME\tREASON")
		for _, d := range s.Decisions {
			officer := p(d.Officer)
			if officer == "" {
				officer = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.At.UTC().Format(time.RFC3339), p(string(d.Stage)), officer, p(string(d.Outcome)), p(d.Reason))
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

// exporterActions lists what the exporter can do with the clearance now, besides answering a
// request for information, each with the starter command that does it.
func exporterActions(s workflows.Status) []string {
	var out []string
	if slices.Contains(s.Accepts, workflows.UpdateAmend) {
		out = append(out, fmt.Sprintf("amend the declaration: starter amend %s FILE --reason TEXT", s.DeclarationID))
	}
	if slices.Contains(s.Accepts, workflows.UpdateWithdraw) {
		out = append(out, fmt.Sprintf("withdraw it: starter withdraw %s --reason TEXT", s.DeclarationID))
	}
	switch {
	case s.State == workflows.StateRefused:
		out = append(out, fmt.Sprintf("appeal the refusal: starter appeal %s --grounds TEXT", s.DeclarationID))
	case len(out) > 0:
	case s.State.Final():
		out = append(out, "nothing more: the clearance has ended")
	case slices.Contains(s.Accepts, workflows.UpdateSupplyDocuments):
	default:
		out = append(out, "nothing for now: customs is at work on it")
	}
	return out
}

// officerOf names the officer of a role whose decision is awaited, with its article: "a document
// officer's".
func officerOf(role policy.Role) string {
	if role == "" {
		return "an officer's"
	}
	name := words(string(role))
	if strings.ContainsRune("aeiou", rune(name[0])) {
		return "an " + name + "'s"
	}
	return "a " + name + "'s"
}

// words writes a name of the engine's in words: "document-check" as "document check".
func words(name string) string { return strings.ReplaceAll(name, "-", " ") }

func (r *runner) supply(ctx context.Context, args []string) int {
	ops, code, ok := r.oneID("supply", &values{}, args, 2)
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
	v := &values{}
	ops, code, ok := r.oneID("amend", v, args, 2)
	if !ok {
		return code
	}
	a, err := readAmendment(ops[1], v.reason)
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
	v := &values{}
	ops, code, ok := r.oneID("appeal", v, args, 1)
	if !ok {
		return code
	}
	if strings.TrimSpace(v.grounds) == "" {
		fmt.Fprintln(r.stderr, "starter appeal: --grounds: required; the supervisor reads them")
		return ExitInvalid
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	id, err := clearance.Appeal(ctx, c, ref, v.grounds)
	if err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(r.stdout, "%s\tappeal lodged as %s\n", ops[0], id)
	if !v.wait {
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
	v := &values{}
	ops, code, ok := r.oneID("withdraw", v, args, 1)
	if !ok {
		return code
	}
	if strings.TrimSpace(v.reason) == "" {
		fmt.Fprintln(r.stderr, "starter withdraw: --reason: required")
		return ExitInvalid
	}
	c, ref, code := r.dialFor(ctx, ops[0])
	if c == nil {
		return code
	}
	if err := clearance.Withdraw(ctx, c, ref, v.reason); err != nil {
		return r.fail(err)
	}
	fmt.Fprintf(r.stdout, "%s\twithdrawn\n", ops[0])
	return ExitOK
}

func (r *runner) wait(ctx context.Context, args []string) int {
	v := &values{}
	ops, code, ok := r.oneID("wait", v, args, 1)
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
	if v.asJSON {
		if code := r.printJSON(res); code != ExitOK {
			return code
		}
	} else {
		printResult(r.stdout, res)
	}
	return ResultCode(res.State)
}

// printPermits writes the partner agencies' permits the clearance asked through the single
// window, one line each: the latest request of each agency says where it stands.
func printPermits(tw io.Writer, permits []workflows.PermitRecord) {
	for i, pr := range permits {
		label := ""
		if i == 0 {
			label = "Permits"
		}
		fmt.Fprintf(tw, "%s\t%s (lines %s): %s\n", label, pr.Agency, p(strings.Join(pr.Lines, ", ")), permitState(pr))
	}
}

// permitState says where a permit request stands, in the exporter's words.
func permitState(pr workflows.PermitRecord) string {
	switch r := pr.Result; {
	case r == nil && pr.Withdrawn:
		return "request withdrawn"
	case r == nil:
		return "asked " + pr.Asked.UTC().Format(time.RFC3339) + ", the agency reviews it"
	case r.Disposition == agency.Granted:
		return fmt.Sprintf("granted, permit %s valid until %s", p(r.Permit), r.ValidUntil.UTC().Format("2006-01-02"))
	case r.Disposition == agency.Refused:
		return "refused: " + p(r.Reason)
	case r.Disposition == agency.InformationNeeded:
		s := "more information needed: " + p(r.Reason)
		if len(r.Requested) > 0 {
			s += " (" + p(strings.Join(r.Requested, ", ")) + ")"
		}
		return s + "; answer with starter supply once the release waits for it (or amend the declaration sooner: starter amend), and the agency is asked again with your documents"
	}
	return string(pr.Result.Disposition)
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
	printPermits(tw, r.Permits)
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
