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

const usage = `usage: auditor COMMAND ...

The auditor replays recorded clearance histories against this build's workflow code and reads
a clearance's decision trail: who decided what, and when.

commands:
  replay FILE...                     replay history files (Web UI download or
                                     'temporal workflow show --output json') against this build
  replay --query QUERY [conn flags]  replay every ExportClearance a visibility query matches,
                                     --parallel at once (default 4 per processor)
  replay --archive DIR               replay every ExportClearance history the server archived
                                     in DIR (history archival, filestore), --parallel at once
  trail ID [--json] [conn flags]     the decision trail of a clearance fetched from the server
                                     (ID: workflow ID, or declaration ID with --exporter
                                     where several exporters use it)
  trail --file FILE [--json]         the decision trail of a history file
  version                            print the build's version and commit

Connection flags default from the TEMPORAL_* environment variables.
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
		if len(args) == 0 {
			fmt.Fprint(stderr, usage)
			return ExitUsage
		}
		switch args[0] {
		case "replay":
			return r.replay(ctx, args[1:])
		case "trail":
			return r.trail(ctx, args[1:])
		case "help", "-h", "-help", "--help":
			r.help()
			return ExitOK
		}
		fmt.Fprintf(stderr, "auditor: unknown command %q\n%s", args[0], usage)
		return ExitUsage
	}
}

// help prints the synopsis, every command's flags and the exit codes.
func (r *runner) help() {
	fmt.Fprint(r.stdout, usage)
	for _, fs := range []*flag.FlagSet{r.replayFlags(&replayArgs{}), r.trailFlags(&trailArgs{})} {
		fmt.Fprintf(r.stdout, "\n%s flags:\n", fs.Name())
		fs.SetOutput(r.stdout)
		fs.PrintDefaults()
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
	conn     connect.Options
	query    string
	archive  string
	timeout  time.Duration
	parallel int
}

func (r *runner) replayFlags(a *replayArgs) *flag.FlagSet {
	fs := flag.NewFlagSet("auditor replay", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	a.conn.RegisterFlags(fs)
	fs.StringVar(&a.query, "query", "", "replay the workflows this visibility query matches, fetched from the server")
	fs.DurationVar(&a.timeout, "timeout", 10*time.Second, "with --query: how long to try reaching the server")
	fs.StringVar(&a.archive, "archive", "", "replay the histories the server archived in this directory (no server needed)")
	fs.IntVar(&a.parallel, "parallel", audit.DefaultParallel, "with --query or --archive: histories read and replayed at once")
	fs.Usage = func() {
		fmt.Fprint(r.stderr, "usage: auditor replay FILE...\n       auditor replay --query QUERY [flags]\n       auditor replay --archive DIR [--parallel N]\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func (r *runner) replay(ctx context.Context, args []string) int {
	var a replayArgs
	fs := r.replayFlags(&a)
	files, code, ok := command.Parse(fs, args)
	if !ok {
		return code
	}
	conn, query, timeout := a.conn, &a.query, &a.timeout
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
	conn     connect.Options
	file     string
	runID    string
	exporter string
	asJSON   bool
	timeout  time.Duration
}

// findClearance returns the workflow ID of the clearance of a declaration, given its declaration
// ID and, optionally, its exporter's code. Declaration IDs are unique per exporter only: without
// the exporter, a declaration ID that names the clearances of several exporters is an error that
// lists them. A declaration ID that visibility does not list names, with the exporter, the
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
	return "", fmt.Errorf("declaration %s names %d clearances (%s): give --exporter or the workflow ID",
		declarationID, len(ids), strings.Join(ids, ", "))
}

func (r *runner) trailFlags(a *trailArgs) *flag.FlagSet {
	fs := flag.NewFlagSet("auditor trail", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	a.conn.RegisterFlags(fs)
	fs.StringVar(&a.file, "file", "", "read the history from this file instead of the server")
	fs.StringVar(&a.runID, "run-id", "", "the run to read (default: the latest)")
	fs.StringVar(&a.exporter, "exporter", "", "the exporter's code, when ID is a declaration ID that several exporters use")
	fs.BoolVar(&a.asJSON, "json", false, "print the trail as JSON")
	fs.DurationVar(&a.timeout, "timeout", 10*time.Second, "how long to try reaching the server")
	fs.Usage = func() {
		fmt.Fprint(r.stderr, "usage: auditor trail ID [flags]\n       auditor trail --file FILE [--json]\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

func (r *runner) trail(ctx context.Context, args []string) int {
	var a trailArgs
	fs := r.trailFlags(&a)
	ids, code, ok := command.Parse(fs, args)
	if !ok {
		return code
	}
	conn, file, runID, asJSON, timeout := a.conn, &a.file, &a.runID, &a.asJSON, &a.timeout
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
				return ExitNoMatch
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
