// Package cli is the auditor's command line over the audit library: replay history files or the
// clearances a visibility query matches, and print a clearance's decision trail. The auditor
// binary is a thin wrapper around Run; tests drive Run directly.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/medsupply/customs/internal/command"
	"go.temporal.io/api/workflowservice/v1"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

// Exit codes of the auditor: the scheme every binary shares (internal/command).
const (
	ExitOK          = command.OK
	ExitFailed      = command.Failure     // a history did not replay or could not be read
	ExitUsage       = command.Usage       // bad usage, or a query the server refuses
	ExitUnavailable = command.Unavailable // the server could not be reached
	ExitNoMatch     = command.NotFound    // the query matched no workflow, or the clearance does not exist
)

// Dialer opens a client; tests pass one that returns their server's client.
type Dialer func(ctx context.Context, o connect.Options) (client.Client, error)

const usage = `usage: auditor [connection flags] COMMAND [flags] ARGUMENTS

The auditor replays recorded clearance histories against this build's workflow code and reads
a clearance's decision trail: who decided what, and when.

commands:
  replay FILE...                     replay history files (Web UI download or
                                     'temporal workflow show --output json') against this build
  replay --query QUERY               replay every ExportClearance a visibility query matches,
                                     --parallel at once (default 4 per processor)
  replay --archive DIR               replay every ExportClearance history the server archived
                                     in DIR (history archival, filestore), --parallel at once
  trail ID [--json]                  the decision trail of a clearance fetched from the server
                                     (ID: workflow ID, or declaration ID with --exporter
                                     where several exporters use it)
  trail --file FILE [--json]         the decision trail of a history file
  help COMMAND                       a command's arguments, flags and examples
  version                            print the build's version and commit

Flags may come before or after the arguments: the connection flags before the command or after
it, a command's own flags after it. Connection flags default from the TEMPORAL_* environment
variables. Run 'auditor COMMAND -h' for a command's help.
`

// Run is the auditor's command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Command(nil)(ctx, args, stdout, stderr)
}

// Command is the auditor's command line dialling with dial (nil: connect.Dial).
func Command(dial Dialer) command.Run {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		if dial == nil {
			dial = defaultDial
		}
		r := &runner{stdout: stdout, stderr: stderr, dial: dial}
		r.global = flag.NewFlagSet("auditor", flag.ContinueOnError)
		r.conn.RegisterFlags(r.global)
		name, rest, code, ok := command.Split("auditor", r.global, args, stderr, r.help)
		if !ok {
			return code
		}
		switch name {
		case "":
			fmt.Fprint(stderr, usage)
			return ExitUsage
		case "replay":
			return r.replay(ctx, rest)
		case "trail":
			return r.trail(ctx, rest)
		case "help":
			if len(rest) == 0 {
				r.help()
				return ExitOK
			}
			switch rest[0] {
			case "replay":
				r.replaySub(&replayArgs{}).Help(stdout)
				return ExitOK
			case "trail":
				r.trailSub(&trailArgs{}).Help(stdout)
				return ExitOK
			}
			fmt.Fprintf(stderr, "auditor help: unknown command %q\n%s", rest[0], usage)
			return ExitUsage
		}
		fmt.Fprintf(stderr, "auditor: unknown command %q\n%s", name, usage)
		return ExitUsage
	}
}

// help prints the synopsis, the connection flags, every command's flags and the exit codes.
func (r *runner) help() {
	fmt.Fprint(r.stdout, usage)
	fmt.Fprint(r.stdout, "\nconnection flags (before the command or after it):\n")
	r.global.SetOutput(r.stdout)
	r.global.PrintDefaults()
	r.global.SetOutput(r.stderr)
	for _, sub := range []*command.Sub{r.replaySub(&replayArgs{}), r.trailSub(&trailArgs{})} {
		fmt.Fprintf(r.stdout, "\nauditor %s flags:\n", sub.Name)
		sub.Flags.SetOutput(r.stdout)
		sub.Flags.PrintDefaults()
	}
	fmt.Fprint(r.stdout, "\n"+command.ExitCodes)
}

func defaultDial(ctx context.Context, o connect.Options) (client.Client, error) {
	zl, err := logging.New("error", false)
	if err != nil {
		return nil, err
	}
	return connect.Dial(ctx, o, logging.NewSDKLogger(zl))
}

type runner struct {
	stdout, stderr io.Writer
	dial           Dialer
	// global are the connection flags, given before the command or after it, into conn.
	global *flag.FlagSet
	conn   connect.Options
}

// connect dials the server within timeout.
func (r *runner) connect(ctx context.Context, o connect.Options, timeout time.Duration) (client.Client, int) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := r.dial(dctx, o)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(command.Message(err)))
		return nil, command.DialCode(err)
	}
	return c, ExitOK
}

// replayGCPercent is the garbage collector's target while replaying (the runtime's default: 100).
const replayGCPercent = 400

type replayArgs struct {
	query    string
	archive  string
	timeout  time.Duration
	parallel int
}

// replaySub is the replay command, its flags bound to a.
func (r *runner) replaySub(a *replayArgs) *command.Sub {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.StringVar(&a.query, "query", "", "replay the workflows this visibility query matches, fetched from the server")
	fs.DurationVar(&a.timeout, "timeout", 10*time.Second, "with --query: how long to try reaching the server")
	fs.StringVar(&a.archive, "archive", "", "replay the histories the server archived in this directory (no server needed)")
	fs.IntVar(&a.parallel, "parallel", audit.DefaultParallel, "with --query or --archive: histories read and replayed at once")
	return &command.Sub{Binary: "auditor", Name: "replay", Flags: fs, Global: r.global,
		Synopsis: "FILE... | --query QUERY | --archive DIR  [--parallel N]",
		Summary: "Replay recorded ExportClearance histories against this build's workflow code: each must\n" +
			"replay without non-determinism. The histories come from files, from the server (--query) or\n" +
			"from the server's history archive (--archive); give one of them. A history that does not\n" +
			"replay is named with the event where it parts from the code (exit 1).",
		Operands: []command.Operand{{Name: "FILE...", Meaning: "history files: a Web UI download, 'temporal workflow show --output json', or an archived *.history"}},
		Examples: []string{
			"auditor replay workflows/testdata/golden/*.json",
			"auditor replay --query \"ExporterCode = '3205960330' AND CloseTime > '2026-11-01T00:00:00Z'\" --address temporal:7233 --namespace customs",
			"auditor replay --archive /var/lib/temporal/archive/customs --parallel 8",
		}}
}

func (r *runner) replay(ctx context.Context, args []string) int {
	var a replayArgs
	files, code, ok := r.replaySub(&a).Parse(args, r.stdout, r.stderr)
	if !ok {
		return code
	}
	conn, query, timeout := r.conn, &a.query, &a.timeout
	// Replaying allocates much and keeps little: a history and its replayer live for a
	// millisecond or two. Collecting a quarter as often (unless GOGC says otherwise) spends a
	// third less processor per history for a few tens of MiB (BENCHMARKS.md).
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(replayGCPercent))
	}
	if a.parallel < 1 {
		fmt.Fprintf(r.stderr, "auditor replay: --parallel %d: give at least 1\n", a.parallel)
		return ExitUsage
	}
	conv, err := audit.ConvertersFor(conn)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(command.Message(err)))
		return ExitUsage
	}
	sources := 0
	for _, given := range []bool{len(files) > 0, *query != "", a.archive != ""} {
		if given {
			sources++
		}
	}
	switch {
	case sources > 1:
		fmt.Fprintln(r.stderr, "auditor replay: give files, --query or --archive, one of them")
		return ExitUsage
	case sources == 0:
		fmt.Fprintln(r.stderr, "auditor replay: name at least one history file, or give --query or --archive")
		return ExitUsage
	case *query != "":
		return r.replayQuery(ctx, conn, conv, *query, *timeout, a.parallel)
	case a.archive != "":
		return r.replayArchive(ctx, conv, a.archive, a.parallel)
	}
	return r.replayFiles(files, conv)
}

func (r *runner) replayFiles(files []string, conv audit.Converters) int {
	var replayed, failed int
	archives := archiveMaps{}
	for _, f := range files {
		h, err := audit.ReadHistoryFile(f)
		if err == nil {
			err = archives.alias(h, f)
		}
		if err != nil {
			failed++
			fmt.Fprintf(r.stderr, "FAIL %v\n", err)
			continue
		}
		if err := audit.Replay(h, conv); err != nil {
			failed++
			fmt.Fprintf(r.stderr, "FAIL %s: %v\n", f, err)
			continue
		}
		replayed++
		digest, err := audit.Digest(h)
		if err != nil {
			digest = "(no digest: " + err.Error() + ")"
		}
		fmt.Fprintf(r.stdout, "ok   %s: %s, %d events, digest %s\n", f, conv.StartOf(h).WorkflowID, len(h.GetEvents()), digest)
	}
	fmt.Fprintf(r.stdout, "replayed %d, failed %d\n", replayed, failed)
	if failed > 0 {
		return ExitFailed
	}
	return ExitOK
}

// archiveMaps are the maps of search attribute fields to names of the archive directories read
// so far, each read once.
type archiveMaps map[string]map[string]string

// alias names the search attributes of a history read from a file archive, which keeps them
// under the fields they are stored in, by the archive's map beside the file (the embedded server
// writes it), so that the trail reads them and the digest is the server's copy's.
func (m archiveMaps) alias(h *historypb.History, file string) error {
	if !audit.NamesStoredFields(h) {
		return nil
	}
	dir := filepath.Dir(file)
	aliases, ok := m[dir]
	if !ok {
		var err error
		if aliases, err = connect.ReadArchiveAliases(dir); err != nil {
			return err
		}
		m[dir] = aliases
	}
	audit.AliasSearchAttributes(h, aliases)
	return nil
}

func (r *runner) replayQuery(ctx context.Context, conn connect.Options, conv audit.Converters, query string, timeout time.Duration, parallel int) int {
	c, code := r.connect(ctx, conn, timeout)
	if c == nil {
		return code
	}
	defer c.Close()
	total := 0
	if command.IsTerminal(r.stderr) {
		if n, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query}); err == nil {
			total = int(n.GetCount())
		}
	}
	bar := command.NewProgress(r.stderr, "replay", total)
	s, err := audit.ReplayQuery(ctx, c, query, audit.QueryOptions{
		Progress: func(s audit.Summary) { bar.Set(s.Matched, 0) }, Report: bar.Above(r.stderr), Converters: conv, Parallel: parallel})
	bar.Finish()
	switch {
	case errors.Is(err, audit.ErrNoMatch):
		fmt.Fprintf(r.stderr, "auditor: no workflow in namespace %s matches the query %q: nothing was replayed\n", conn.Namespace, query)
		return ExitNoMatch
	case err != nil:
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(command.Message(err)))
		if code := command.CodeOf(err); code != command.Failure {
			return code
		}
		return ExitUnavailable
	}
	fmt.Fprintln(r.stdout, s)
	if s.Failed > 0 {
		return ExitFailed
	}
	return ExitOK
}

func (r *runner) replayArchive(ctx context.Context, conv audit.Converters, dir string, parallel int) int {
	files, err := audit.ArchivedHistories(dir)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %v\n", err)
		return ExitUsage
	}
	bar := command.NewProgress(r.stderr, "replay", len(files))
	s, err := audit.ReplayFiles(ctx, files, audit.QueryOptions{
		Progress: func(s audit.Summary) { bar.Set(s.Matched, 0) }, Report: bar.Above(r.stderr), Converters: conv, Parallel: parallel})
	bar.Finish()
	switch {
	case errors.Is(err, audit.ErrNoMatch):
		fmt.Fprintf(r.stderr, "auditor: %s holds no archived history (*%s): nothing was replayed\n", dir, audit.ArchiveSuffix)
		return ExitNoMatch
	case err != nil:
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(err.Error()))
		return ExitFailed
	}
	fmt.Fprintln(r.stdout, s)
	if s.Failed > 0 {
		return ExitFailed
	}
	return ExitOK
}

type trailArgs struct {
	file     string
	runID    string
	exporter string
	asJSON   bool
	timeout  time.Duration
}

// findClearance returns the workflow ID of the clearance of a declaration, given its declaration
// ID and, optionally, its exporter's code. Declaration IDs are unique per exporter only: without
// the exporter, a declaration ID that names the clearances of several exporters is an
// *ambiguousError that lists them. An appeal is not a clearance, though it carries the
// declaration's ID. A declaration ID that visibility does not list names, with the exporter, the
// clearance's workflow ID (retention may have removed it from visibility; the archive keeps it),
// and without, its legacy workflow ID, under which clearances were started before workflow IDs
// named the exporter.
func findClearance(ctx context.Context, c client.Client, namespace, declarationID, exporter string) (string, error) {
	found, err := clearance.Lookup(ctx, c, namespace, declarationID, exporter)
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		// Not listed: a clearance retention removed (the exporter's gives its ID), or one
		// started before workflow IDs named the exporter.
		if exporter != "" {
			return workflows.WorkflowID(exporter, declarationID)
		}
		return workflows.LegacyWorkflowID(declarationID)
	case 1:
		return found[0].WorkflowID, nil
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.WorkflowID
	}
	return "", &ambiguousError{declarationID: declarationID, workflowIDs: ids}
}

// ambiguousError is a declaration ID that names several clearances: the auditor must say which,
// a usage error.
type ambiguousError struct {
	declarationID string
	workflowIDs   []string
}

func (e *ambiguousError) Error() string {
	return fmt.Sprintf("declaration %s names %d clearances (%s): give --exporter or the workflow ID",
		e.declarationID, len(e.workflowIDs), strings.Join(e.workflowIDs, ", "))
}

// trailSub is the trail command, its flags bound to a.
func (r *runner) trailSub(a *trailArgs) *command.Sub {
	fs := flag.NewFlagSet("trail", flag.ContinueOnError)
	fs.StringVar(&a.file, "file", "", "read the history from this file instead of the server")
	fs.StringVar(&a.runID, "run-id", "", "the run to read (default: the latest)")
	fs.StringVar(&a.exporter, "exporter", "", "the exporter's code, when ID is a declaration ID that several exporters use")
	fs.BoolVar(&a.asJSON, "json", false, "print the trail as JSON")
	fs.DurationVar(&a.timeout, "timeout", 10*time.Second, "how long to try reaching the server")
	return &command.Sub{Binary: "auditor", Name: "trail", Flags: fs, Global: r.global,
		Synopsis: "ID [--exporter CODE] [--run-id RUN] [--json] | --file FILE [--json]",
		Summary: "The decision trail of a clearance: who decided what and when, the automated checks, the\n" +
			"exporter's answers and the escalations, with the history's digest. The history is fetched from\n" +
			"the server (from its archive once retention removed it), or read from --file.",
		Operands: []command.Operand{{Name: "ID", Meaning: "the clearance's workflow ID (clearance-<exporter>-<declaration>), or its " +
			"declaration ID; --exporter names the exporter where several use the declaration ID"}},
		Examples: []string{
			"auditor trail clearance-3205960330-JH-2020-US-0513 --address temporal:7233 --namespace customs",
			"auditor trail JH-2020-US-0513 --exporter 3205960330 --json",
			"auditor trail --file workflows/testdata/golden/reject.json",
		}}
}

func (r *runner) trail(ctx context.Context, args []string) int {
	var a trailArgs
	ids, code, ok := r.trailSub(&a).Parse(args, r.stdout, r.stderr)
	if !ok {
		return code
	}
	conn, file, runID, asJSON, timeout := r.conn, &a.file, &a.runID, &a.asJSON, &a.timeout
	conv, err := audit.ConvertersFor(conn)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(command.Message(err)))
		return ExitUsage
	}
	var h *historypb.History
	switch {
	case *file != "" && len(ids) > 0, *file == "" && len(ids) != 1:
		fmt.Fprintln(r.stderr, "auditor trail: give one clearance ID, or --file FILE")
		return ExitUsage
	case *file != "":
		h, err = audit.ReadHistoryFile(*file)
		if err == nil {
			err = archiveMaps{}.alias(h, *file)
		}
		if err != nil {
			fmt.Fprintf(r.stderr, "auditor: %v\n", err)
			return ExitFailed
		}
	default:
		id := ids[0]
		if !strings.HasPrefix(id, workflows.WorkflowIDPrefix) {
			if _, err := workflows.LegacyWorkflowID(id); err != nil {
				fmt.Fprintf(r.stderr, "auditor: %v\n", err)
				return ExitUsage
			}
			if a.exporter != "" {
				if _, err := workflows.WorkflowID(a.exporter, id); err != nil {
					fmt.Fprintf(r.stderr, "auditor: --exporter: %v\n", err)
					return ExitUsage
				}
			}
		}
		c, code := r.connect(ctx, conn, *timeout)
		if c == nil {
			return code
		}
		defer c.Close()
		if !strings.HasPrefix(id, workflows.WorkflowIDPrefix) {
			if id, err = findClearance(ctx, c, conn.Namespace, id, a.exporter); err != nil {
				fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(command.Message(err)))
				var amb *ambiguousError
				if errors.As(err, &amb) {
					return ExitUsage // the clearances exist: the auditor must say which
				}
				return command.CodeOf(err)
			}
		}
		h, err = audit.FetchHistory(ctx, c, id, *runID)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) && *runID == "" {
			// Gone from the server with the namespace's retention: its latest archived run, if any.
			// (With --run-id the server reads the archive itself.)
			if h, err = audit.FetchArchived(ctx, c, id); err == nil {
				fmt.Fprintf(r.stderr, "auditor: %s is no longer on the server: its latest run, read from the archive\n", id)
			}
		}
		switch {
		case errors.As(err, &nf):
			fmt.Fprintf(r.stderr, "auditor: no clearance %s in namespace %s\n", id, conn.Namespace)
			return ExitNoMatch
		case err != nil:
			fmt.Fprintf(r.stderr, "auditor: read the history of %s: %s\n", id, audit.OneLine(command.Message(err)))
			return ExitUnavailable
		}
		if audit.NamesStoredFields(h) {
			// Served from the archive, which keeps search attributes under their stored fields.
			aliases, err := audit.NamespaceAliases(ctx, c, conn.Namespace)
			if err != nil {
				fmt.Fprintf(r.stderr, "auditor: read the history of %s: %s\n", id, audit.OneLine(command.Message(err)))
				return ExitUnavailable
			}
			audit.AliasSearchAttributes(h, aliases)
		}
	}
	t, err := audit.BuildTrail(h, conv)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(command.Message(err)))
		return ExitFailed
	}
	if *asJSON {
		err = t.WriteJSON(r.stdout)
	} else {
		err = t.WriteTable(r.stdout)
	}
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}
