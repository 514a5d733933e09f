// Package command is what every binary of the engine shares on its command line: one scheme of
// exit codes, -h and --help that exit 0, --version from the build's own information, flags
// given before or after operands, and a progress line that shows on a terminal only. A binary
// with several commands (the starter, the auditor) reads its global flags before the command
// with Split and describes each command as a Sub, which takes the global flags after the command
// too and prints the command's help: its arguments, its flags and examples.
//
// Each binary is a thin main.go over a package named cli in its folder:
//
//	func main() { command.Main("auditor", cli.Run) }
//
// cli.Run(ctx, args, stdout, stderr) returns the exit code; tests call it directly.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"go.temporal.io/api/serviceerror"
)

// Exit codes, the same in every binary.
const (
	OK          = 0  // done
	Failure     = 1  // the work ran and failed: a history did not replay, the worker stopped on an error
	Usage       = 2  // bad usage or invalid input (flags, files, a query the server refuses); nothing was changed
	Unavailable = 3  // the Temporal server, or another service, could not be reached
	NotFound    = 4  // the clearance does not exist, or a query matched nothing
	Conflict    = 5  // it exists already: a clearance of the declaration was lodged before
	Denied      = 6  // the caller may not do this (the server refused it; the message says why)
	Refused     = 10 // starter wait: the clearance ended refused; starter submit: a lodgement was refused
	Lapsed      = 11 // starter wait: the declaration lapsed
	Withdrawn   = 12 // starter wait: the declaration was withdrawn
)

// ExitCodes describes the scheme for help texts.
const ExitCodes = `exit codes (every binary):
  0 ok                       3 the server could not be reached
  1 failed                   4 not found, or the query matched nothing
  2 usage or invalid input;  5 already exists
    nothing was changed      6 not permitted for this caller
                             10 refused, 11 lapsed, 12 withdrawn (starter wait;
                                10 also starter submit)
`

// Run is a command line: it reads args and writes to stdout and stderr, and returns the exit
// code. It stops early when ctx is done.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Main runs a binary: --version (or "version") as the first argument prints the build and
// exits 0; otherwise run gets a context that SIGINT and SIGTERM cancel. A panic becomes a
// one-line internal error with exit code 1, never a stack trace on an exporter's terminal.
func Main(name string, run Run) {
	os.Exit(Exec(name, run, os.Args[1:], os.Stdout, os.Stderr))
}

// Exec is Main without the process: it returns the exit code.
func Exec(name string, run Run, args []string, stdout, stderr io.Writer) (code int) {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintln(stdout, Version(name))
		return OK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "%s: internal error: %v\n", name, p)
			code = Failure
		}
	}()
	return run(ctx, args, stdout, stderr)
}

// buildID names this build for Worker Versioning when the linker sets it:
//
//	go build -ldflags "-X github.com/medsupply/customs/internal/command.buildID=1.4.0" ./worker
var buildID string

// BuildID names this build as a version of the worker deployment: the build ID given to the
// linker (buildID), else the commit it was built from (12 hex digits, with "-modified" when the
// tree had local changes), else the module version it was installed at (go install ...@v1.4.0),
// else "devel". The worker's --build-id overrides it.
func BuildID() string {
	bi, _ := debug.ReadBuildInfo()
	return buildIDOf(bi, buildID)
}

func buildIDOf(bi *debug.BuildInfo, linked string) string {
	if linked != "" {
		return linked
	}
	if bi == nil {
		return "devel"
	}
	setting := map[string]string{}
	for _, s := range bi.Settings {
		setting[s.Key] = s.Value
	}
	if rev := setting["vcs.revision"]; rev != "" {
		id := rev[:min(12, len(rev))]
		if setting["vcs.modified"] == "true" {
			id += "-modified"
		}
		return id
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "devel"
}

// Version describes this build: the module version (a tag when installed with go install, "devel"
// when built from a checkout), the commit and its time, whether the tree had local changes, and
// the Go version.
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (no build information)"
	}
	return name + " " + versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var parts []string
	setting := map[string]string{}
	for _, s := range bi.Settings {
		setting[s.Key] = s.Value
	}
	if rev := setting["vcs.revision"]; rev != "" {
		c := "commit " + rev[:min(12, len(rev))]
		if t := setting["vcs.time"]; t != "" {
			c += " " + t
		}
		if setting["vcs.modified"] == "true" {
			c += " with local changes"
		}
		parts = append(parts, c)
	}
	if buildID != "" {
		parts = append([]string{"build " + buildID}, parts...)
	}
	parts = append(parts, bi.GoVersion)
	return v + " (" + strings.Join(parts, ", ") + ")"
}

// Parse parses fs from args, flags and operands in any order ("trail ID --json" and "trail
// --json ID" mean the same; "--" ends the flags). ok is false when the command should return
// code at once: 0 after -h or --help (fs.Usage has printed the help), 2 after a bad flag (the
// flag package has said which).
func Parse(fs *flag.FlagSet, args []string) (operands []string, code int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, OK, false
		}
		if err != nil {
			return nil, Usage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return operands, OK, true
		}
		// The flag package stops at "--" and consumes it: all that follows is operands.
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(operands, rest...), OK, true
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// Help makes fs's -h print synopsis, every flag and the exit codes on stdout; a bad flag's
// complaint stays on the flag set's output (stderr).
func Help(fs *flag.FlagSet, stdout io.Writer, synopsis string) {
	fs.Usage = func() {
		out := fs.Output()
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, synopsis)
		fs.PrintDefaults()
		fmt.Fprint(stdout, "\n"+ExitCodes)
		fs.SetOutput(out)
	}
}

// NoOperands parses fs from args and refuses operands, naming the first.
func NoOperands(name string, fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	ops, code, ok := Parse(fs, args)
	if !ok {
		return code, false
	}
	if len(ops) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (run '%s -h' for the usage)\n", name, ops[0], name)
		return Usage, false
	}
	return OK, true
}

// Message is err's text for a person, with the server's reason when it refused the call: a
// PermissionDenied says only "Request unauthorized." and keeps the why apart.
func Message(err error) string {
	var pd *serviceerror.PermissionDenied
	msg := err.Error()
	if errors.As(err, &pd) && pd.Reason != "" && !strings.Contains(msg, pd.Reason) {
		msg += " (" + pd.Reason + ")"
	}
	return msg
}

// unreachable is an error saying a service did not answer (connect.UnreachableError).
type unreachable interface{ Unreachable() bool }

// DialCode is the exit code for a client that could not be opened: unavailable when the server
// did not answer, usage when the connection options cannot work (a missing certificate file, an
// unknown profile).
func DialCode(err error) int {
	var (
		u  unreachable
		pd *serviceerror.PermissionDenied
	)
	switch {
	case errors.As(err, &pd):
		return Denied // the server answered: the caller may not connect
	case errors.As(err, &u) && u.Unreachable():
		return Unavailable
	}
	return Usage
}

// CodeOf is the exit code for an error from the Temporal service: a refused query or argument
// is usage, an unreachable server is unavailable, an absent workflow is not found, a workflow
// that exists already is a conflict; anything else failed.
func CodeOf(err error) int {
	var (
		forbidden *serviceerror.PermissionDenied
		invalid   *serviceerror.InvalidArgument
		notFound  *serviceerror.NotFound
		nsMissing *serviceerror.NamespaceNotFound
		started   *serviceerror.WorkflowExecutionAlreadyStarted
		exists    *serviceerror.AlreadyExists
		down      *serviceerror.Unavailable
		deadline  *serviceerror.DeadlineExceeded
	)
	var u unreachable
	switch {
	case err == nil:
		return OK
	case errors.As(err, &forbidden):
		return Denied
	case errors.As(err, &u) && u.Unreachable():
		return Unavailable
	case errors.As(err, &invalid):
		return Usage
	case errors.As(err, &nsMissing):
		return Usage
	case errors.As(err, &notFound):
		return NotFound
	case errors.As(err, &started), errors.As(err, &exists):
		return Conflict
	case errors.As(err, &down), errors.As(err, &deadline), errors.Is(err, context.DeadlineExceeded):
		return Unavailable
	}
	return Failure
}
