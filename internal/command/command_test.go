package command

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
)

func flags() (*flag.FlagSet, *bool, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.Bool("json", false, ""), fs.String("reason", "", "")
}

func TestParseTakesFlagsBeforeAndAfterOperands(t *testing.T) {
	for _, args := range [][]string{
		{"--json", "--reason", "late", "A", "B"},
		{"A", "--json", "B", "--reason", "late"},
		{"A", "B", "--reason=late", "--json"},
	} {
		fs, asJSON, reason := flags()
		ops, code, ok := Parse(fs, args)
		if !ok || code != OK || strings.Join(ops, ",") != "A,B" || !*asJSON || *reason != "late" {
			t.Errorf("%q: operands %q, code %d, ok %v, json %v, reason %q", args, ops, code, ok, *asJSON, *reason)
		}
	}
}

func TestParseStopsAtDoubleDash(t *testing.T) {
	fs, asJSON, _ := flags()
	ops, _, ok := Parse(fs, []string{"A", "--", "--json", "-x"})
	if !ok || strings.Join(ops, " ") != "A --json -x" || *asJSON {
		t.Errorf("operands %q, ok %v, json %v", ops, ok, *asJSON)
	}
}

func TestParseHelpIsZeroAndBadFlagIsUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"-h"}, OK}, {[]string{"A", "--help"}, OK}, {[]string{"--nope"}, Usage}, {[]string{"--reason"}, Usage}} {
		fs, _, _ := flags()
		if _, code, ok := Parse(fs, c.args); ok || code != c.code {
			t.Errorf("%q: code %d ok %v, want code %d and stop", c.args, code, ok, c.code)
		}
	}
}

func TestNoOperandsNamesTheFirst(t *testing.T) {
	fs, _, _ := flags()
	var stderr bytes.Buffer
	code, ok := NoOperands("setup", fs, []string{"--json", "extra"}, &stderr)
	if ok || code != Usage || !strings.Contains(stderr.String(), `unexpected argument "extra"`) {
		t.Errorf("code %d ok %v stderr %q", code, ok, stderr.String())
	}
	fs, _, _ = flags()
	if code, ok := NoOperands("setup", fs, []string{"--json"}, &stderr); !ok || code != OK {
		t.Errorf("flags only: code %d ok %v", code, ok)
	}
}

func TestCodeOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, OK},
		{serviceerror.NewInvalidArgument("invalid query: unknown field Foo"), Usage},
		{serviceerror.NewPermissionDenied("Request unauthorized.", "the token has expired"), Denied},
		{fmt.Errorf("list: %w", serviceerror.NewInvalidArgument("bad")), Usage},
		{serviceerror.NewNamespaceNotFound("customs"), Usage},
		{serviceerror.NewNotFound("workflow not found"), NotFound},
		{serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", ""), Conflict},
		{serviceerror.NewUnavailable("connection refused"), Unavailable},
		{serviceerror.NewDeadlineExceeded("deadline"), Unavailable},
		{context.DeadlineExceeded, Unavailable},
		{errors.New("disk full"), Failure},
	} {
		if got := CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

type down struct{ error }

func (d down) Unwrap() error { return d.error }

func (down) Unreachable() bool { return true }

func TestDialCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{down{errors.New("connection refused")}, Unavailable},
		{down{serviceerror.NewPermissionDenied("Request unauthorized.", "no token")}, Denied},
		{errors.New("--tls-ca-path: no such file"), Usage},
	} {
		if got := DialCode(c.err); got != c.want {
			t.Errorf("DialCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestMessageCarriesTheReason(t *testing.T) {
	err := fmt.Errorf("query clearance-X: %w", serviceerror.NewPermissionDenied("Request unauthorized.", "doc-li (officer) may not StartWorkflowExecution"))
	if got := Message(err); got != "query clearance-X: Request unauthorized. (doc-li (officer) may not StartWorkflowExecution)" {
		t.Errorf("got %q", got)
	}
	if got := Message(errors.New("disk full")); got != "disk full" {
		t.Errorf("got %q", got)
	}
}

func TestExecVersionAndPanic(t *testing.T) {
	called := false
	run := func(context.Context, []string, io.Writer, io.Writer) int { called = true; return 7 }
	var out, errOut bytes.Buffer
	if code := Exec("report", run, []string{"--version"}, &out, &errOut); code != OK || called ||
		!strings.HasPrefix(out.String(), "report ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("--version: code %d, called %v, stdout %q", code, called, out.String())
	}
	if code := Exec("report", run, []string{"--query", "x"}, &out, &errOut); code != 7 || !called {
		t.Errorf("run: code %d, called %v", code, called)
	}
	boom := func(context.Context, []string, io.Writer, io.Writer) int { panic("nil map") }
	errOut.Reset()
	if code := Exec("auditor", boom, nil, &out, &errOut); code != Failure || errOut.String() != "auditor: internal error: nil map\n" {
		t.Errorf("panic: code %d, stderr %q", code, errOut.String())
	}
}

func TestVersionOfABuild(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	if got, want := versionOf(bi), "v1.4.0 (commit 0123456789ab 2026-11-30T10:00:00Z with local changes, go1.26.8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got, want := versionOf(bi), "devel (go1.26.8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBuildIDOfABuild(t *testing.T) {
	modified := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130100000-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"},
	}}
	clean := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}}
	for _, c := range []struct {
		name   string
		bi     *debug.BuildInfo
		linked string
		want   string
	}{
		{"given to the linker", modified, "1.4.0", "1.4.0"},
		{"a checkout with local changes", modified, "", "0123456789ab-modified"},
		{"a clean checkout", clean, "", "0123456789ab"},
		{"go install at a tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "", "v1.4.0"},
		{"no version control", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "devel"},
		{"no build information", nil, "", "devel"},
	} {
		if got := buildIDOf(c.bi, c.linked); got != c.want {
			t.Errorf("%s: build ID %q, want %q", c.name, got, c.want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	now := start
	var b bytes.Buffer
	p := newProgress(&b, "replay", 10000, func() time.Time { return now })
	now = start.Add(5 * time.Second)
	p.Set(4210, 0)
	if got, want := b.String(), "\rreplay  4,210/10,000   42%  [========>           ]  842/s  eta 7s"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Redraws are throttled: one within 100 ms draws nothing, the last item always draws.
	b.Reset()
	now = now.Add(10 * time.Millisecond)
	p.Add(1)
	if b.Len() != 0 {
		t.Errorf("throttled redraw wrote %q", b.String())
	}
	p.Set(10000, 0)
	if !strings.Contains(b.String(), "10,000/10,000  100%  [====================]") {
		t.Errorf("last redraw %q", b.String())
	}
	b.Reset()
	p.Finish()
	if s := b.String(); !strings.HasPrefix(s, "\r ") || !strings.HasSuffix(s, "\r") || strings.TrimSpace(s) != "" {
		t.Errorf("finish %q", s)
	}
	// A message above the line clears it first.
	b.Reset()
	p.Set(9000, 0)
	b.Reset()
	p.width = 10
	if _, err := fmt.Fprintln(p.Above(&b), "FAIL x"); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "\r          \rFAIL x\n" {
		t.Errorf("above: %q", got)
	}
	now = start
	unknown := newProgress(&b, "list", 0, func() time.Time { return now })
	now = start.Add(2 * time.Second)
	b.Reset()
	unknown.Set(1500, 0)
	if got := b.String(); got != "\rlist  1,500  750/s" {
		t.Errorf("unknown total: %q", got)
	}
}

func TestProgressIsSilentOffATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, w := range []io.Writer{&bytes.Buffer{}, f} {
		if IsTerminal(w) {
			t.Errorf("%T is not a terminal", w)
		}
		p := NewProgress(w, "replay", 10)
		p.Set(5, 0)
		p.Add(1)
		p.Finish()
		if p != nil {
			t.Errorf("%T: a progress line off a terminal", w)
		}
	}
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("wrote %d bytes to a file", st.Size())
	}
}
