package command

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

// sub is a command with a flag of its own and a binary's global flag.
func sub() (s *Sub, global *flag.FlagSet, asJSON *bool, address *string) {
	global = flag.NewFlagSet("tool", flag.ContinueOnError)
	address = global.String("address", "localhost:7233", "the server")
	own := flag.NewFlagSet("show", flag.ContinueOnError)
	asJSON = own.Bool("json", false, "print JSON")
	s = &Sub{Binary: "tool", Name: "show", Synopsis: "ID [--json]", Summary: "Show a thing.", Flags: own, Global: global,
		Operands: []Operand{{Name: "ID", Meaning: "the thing's ID"}}, Examples: []string{"tool show T-1 --json"}}
	return s, global, asJSON, address
}

// TestSubTakesGlobalFlagsAfterTheCommand: the global flags, read before the command by Split,
// are read after it too, among the operands, into the same values; a command's own flags come
// before or after its operands.
func TestSubTakesGlobalFlagsAfterTheCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--address", "a:1", "show", "T-1", "--json"},
		{"show", "--address", "a:1", "T-1", "--json"},
		{"show", "T-1", "--json", "--address=a:1"},
	} {
		s, global, asJSON, address := sub()
		var stderr bytes.Buffer
		name, rest, code, ok := Split("tool", global, args, &stderr, func() { t.Error("help") })
		if !ok || name != "show" {
			t.Fatalf("%q: split %q, code %d, ok %v: %s", args, name, code, ok, stderr.String())
		}
		ops, code, ok := s.Parse(rest, &bytes.Buffer{}, &stderr)
		if !ok || code != OK || strings.Join(ops, ",") != "T-1" || !*asJSON || *address != "a:1" {
			t.Errorf("%q: operands %q, code %d, json %v, address %q: %s", args, ops, code, *asJSON, *address, stderr.String())
		}
	}
}

// TestSubHelpAndBadFlags: -h prints the command's help on stdout (exit 0): its synopsis, its
// operands, its own flags, the global flags by name, its examples and the exit codes; a bad flag
// is named on stderr with where the help is (exit 2), stdout untouched.
func TestSubHelpAndBadFlags(t *testing.T) {
	s, _, _, _ := sub()
	var stdout, stderr bytes.Buffer
	if _, code, ok := s.Parse([]string{"T-1", "-h"}, &stdout, &stderr); ok || code != OK || stderr.Len() != 0 {
		t.Errorf("-h: code %d ok %v stderr %q", code, ok, stderr.String())
	}
	for _, want := range []string{"usage: tool show ID [--json]\n\nShow a thing.\n", "arguments:\n  ID  the thing's ID\n", "flags:\n  -json",
		"global flags, before the command or after it (see 'tool -h'):\n  --address\n", "examples:\n  tool show T-1 --json\n", "exit codes"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
	stdout.Reset()
	if _, code, ok := s.Parse([]string{"--colour"}, &stdout, &stderr); ok || code != Usage || stdout.Len() != 0 ||
		stderr.String() != "flag provided but not defined: -colour\nrun 'tool show -h' for its usage\n" {
		t.Errorf("bad flag: code %d ok %v stdout %q stderr %q", code, ok, stdout.String(), stderr.String())
	}
}

// TestSplit: -h before the command is the binary's help; no command is an empty name; a bad
// global flag is a usage error that says where the flags go.
func TestSplit(t *testing.T) {
	_, global, _, _ := sub()
	helped := false
	if _, _, code, ok := Split("tool", global, []string{"-h"}, &bytes.Buffer{}, func() { helped = true }); ok || code != OK || !helped {
		t.Errorf("-h: code %d ok %v helped %v", code, ok, helped)
	}
	_, global, _, _ = sub()
	if name, rest, _, ok := Split("tool", global, []string{"--address", "a:1"}, &bytes.Buffer{}, nil); !ok || name != "" || len(rest) != 0 {
		t.Errorf("no command: %q %q %v", name, rest, ok)
	}
	_, global, _, _ = sub()
	var stderr bytes.Buffer
	if _, _, code, ok := Split("tool", global, []string{"--json", "show"}, &stderr, nil); ok || code != Usage ||
		!strings.Contains(stderr.String(), "-json") || !strings.Contains(stderr.String(), "run 'tool -h'") {
		t.Errorf("a command's flag before the command: code %d ok %v stderr %q", code, ok, stderr.String())
	}
}

func TestFill(t *testing.T) {
	if got, want := fill("one two three four", 9, "  "), "one two\n  three\n  four"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
