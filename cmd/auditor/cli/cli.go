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
	"strings"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

// Exit codes of the auditor.
const (
	ExitOK          = 0
	ExitFailed      = 1 // a history did not replay or could not be read
	ExitUsage       = 2 // bad usage
	ExitUnavailable = 3 // the server could not be reached or listed
	ExitNoMatch     = 4 // the query matched no workflow, or the clearance does not exist
)

// Dialer opens a client; tests pass one that returns their server's client.
type Dialer func(ctx context.Context, o connect.Options) (client.Client, error)

const usage = `usage: auditor COMMAND ...

commands:
  replay FILE...                     replay history files (Web UI download or
                                     'temporal workflow show --output json') against this build
  replay --query QUERY [conn flags]  replay every ExportClearance a visibility query matches
  trail ID [--json] [conn flags]     the decision trail of a clearance fetched from the server
                                     (ID: declaration ID or workflow ID)
  trail --file FILE [--json]         the decision trail of a history file

exit codes: 0 ok, 1 a history did not replay or could not be read, 2 bad usage,
3 the server could not be reached, 4 nothing matched

Run 'auditor COMMAND -h' for a command's flags, connection flags among them (defaults from the
TEMPORAL_* environment variables).
`

// Run runs the auditor's command line and returns its exit code. It never panics: a panic in a
// command becomes a one-line error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, dial Dialer) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "auditor: internal error: %v\n", p)
			code = ExitFailed
		}
	}()
	if dial == nil {
		dial = defaultDial
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	r := &runner{stdout: stdout, stderr: stderr, dial: dial}
	switch args[0] {
	case "replay":
		return r.replay(ctx, args[1:])
	case "trail":
		return r.trail(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(stderr, "auditor: unknown command %q\n%s", args[0], usage)
	return ExitUsage
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

// parseFlags parses a command's flags, which may come before or after its operands.
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

// connect dials the server within timeout.
func (r *runner) connect(ctx context.Context, o connect.Options, timeout time.Duration) (client.Client, int) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := r.dial(dctx, o)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(err.Error()))
		return nil, ExitUnavailable
	}
	return c, ExitOK
}

func (r *runner) replay(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("auditor replay", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	var conn connect.Options
	conn.RegisterFlags(fs)
	query := fs.String("query", "", "replay the workflows this visibility query matches, fetched from the server")
	every := fs.Int("progress-every", 100, "with --query: a progress line on stderr every N workflows (and every second)")
	timeout := fs.Duration("timeout", 10*time.Second, "with --query: how long to try reaching the server")
	fs.Usage = func() {
		fmt.Fprint(r.stderr, "usage: auditor replay FILE...\n       auditor replay --query QUERY [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return ExitUsage
	}
	conv, err := audit.ConvertersFor(conn)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(err.Error()))
		return ExitUsage
	}
	switch {
	case *query != "" && len(files) > 0:
		fmt.Fprintln(r.stderr, "auditor replay: give files or --query, not both")
		return ExitUsage
	case *query == "" && len(files) == 0:
		fmt.Fprintln(r.stderr, "auditor replay: name at least one history file, or give --query")
		return ExitUsage
	case *query != "":
		return r.replayQuery(ctx, conn, conv, *query, *every, *timeout)
	}
	return r.replayFiles(files, conv)
}

func (r *runner) replayFiles(files []string, conv audit.Converters) int {
	var replayed, failed int
	for _, f := range files {
		h, err := audit.ReadHistoryFile(f)
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

func (r *runner) replayQuery(ctx context.Context, conn connect.Options, conv audit.Converters, query string, every int, timeout time.Duration) int {
	c, code := r.connect(ctx, conn, timeout)
	if c == nil {
		return code
	}
	defer c.Close()
	s, err := audit.ReplayQuery(ctx, c, query, audit.QueryOptions{Progress: r.stderr, ProgressEvery: every, Report: r.stderr, Converters: conv})
	switch {
	case errors.Is(err, audit.ErrNoMatch):
		fmt.Fprintf(r.stderr, "auditor: no workflow in namespace %s matches the query %q: nothing was replayed\n", conn.Namespace, query)
		return ExitNoMatch
	case err != nil:
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(err.Error()))
		return ExitUnavailable
	}
	fmt.Fprintln(r.stdout, s)
	if s.Failed > 0 {
		return ExitFailed
	}
	return ExitOK
}

func (r *runner) trail(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("auditor trail", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	var conn connect.Options
	conn.RegisterFlags(fs)
	file := fs.String("file", "", "read the history from this file instead of the server")
	runID := fs.String("run-id", "", "the run to read (default: the latest)")
	asJSON := fs.Bool("json", false, "print the trail as JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to try reaching the server")
	fs.Usage = func() {
		fmt.Fprint(r.stderr, "usage: auditor trail ID [flags]\n       auditor trail --file FILE [--json]\n\nflags:\n")
		fs.PrintDefaults()
	}
	ids, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return ExitUsage
	}
	conv, err := audit.ConvertersFor(conn)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(err.Error()))
		return ExitUsage
	}
	var h *historypb.History
	switch {
	case *file != "" && len(ids) > 0, *file == "" && len(ids) != 1:
		fmt.Fprintln(r.stderr, "auditor trail: give one clearance ID, or --file FILE")
		return ExitUsage
	case *file != "":
		h, err = audit.ReadHistoryFile(*file)
		if err != nil {
			fmt.Fprintf(r.stderr, "auditor: %v\n", err)
			return ExitFailed
		}
	default:
		id := ids[0]
		if !strings.HasPrefix(id, workflows.WorkflowIDPrefix) {
			if id, err = workflows.WorkflowID(id); err != nil {
				fmt.Fprintf(r.stderr, "auditor: %v\n", err)
				return ExitUsage
			}
		}
		c, code := r.connect(ctx, conn, *timeout)
		if c == nil {
			return code
		}
		defer c.Close()
		h, err = audit.FetchHistory(ctx, c, id, *runID)
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			fmt.Fprintf(r.stderr, "auditor: no clearance %s in namespace %s\n", id, conn.Namespace)
			return ExitNoMatch
		case err != nil:
			fmt.Fprintf(r.stderr, "auditor: read the history of %s: %s\n", id, audit.OneLine(err.Error()))
			return ExitUnavailable
		}
	}
	t, err := audit.BuildTrail(h, conv)
	if err != nil {
		fmt.Fprintf(r.stderr, "auditor: %s\n", audit.OneLine(err.Error()))
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
