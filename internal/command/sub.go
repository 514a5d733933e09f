package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Sub is one command of a binary that has several, such as "starter status" or "auditor trail":
// its own flags and what its help says. The binary's global flags, those given before the
// command (the connection flags, for one), are accepted after it too, among the operands.
type Sub struct {
	// Binary and Name name the command: "starter" and "status".
	Binary, Name string
	// Synopsis is the operands and the main flags in brief: "ID [--json]".
	Synopsis string
	// Summary says what the command does, in a sentence or a few lines.
	Summary string
	// Operands names each operand and says what it is, in order.
	Operands []Operand
	// Examples are complete command lines; a line starting with "#" is a comment.
	Examples []string
	// Flags are the command's own flags; nil when it has none.
	Flags *flag.FlagSet
	// Global are the binary's global flags; nil when it has none.
	Global *flag.FlagSet
}

// Operand is an operand of a command and what it is.
type Operand struct {
	Name, Meaning string
}

// Parse parses args: the command's flags, the global flags and the operands, in any order ("--"
// ends the flags). A flag sets the same value whether it comes before the command or after it.
// ok is false when the command should return code at once: 0 after -h or --help, with the help
// printed on stdout; 2 after a bad flag, with the flag named on stderr and where the help is.
func (s *Sub) Parse(args []string, stdout, stderr io.Writer) (operands []string, code int, ok bool) {
	fs := flag.NewFlagSet(s.Binary+" "+s.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // the help or the hint below, once Parse has said what went wrong
	for _, set := range []*flag.FlagSet{s.Flags, s.Global} {
		if set == nil {
			continue
		}
		set.VisitAll(func(f *flag.Flag) {
			if fs.Lookup(f.Name) == nil {
				fs.Var(f.Value, f.Name, f.Usage)
			}
		})
	}
	operands, code, ok = Parse(fs, args)
	switch {
	case ok:
		return operands, OK, true
	case code == OK:
		s.Help(stdout)
	default:
		fmt.Fprintf(stderr, "run '%s %s -h' for its usage\n", s.Binary, s.Name)
	}
	return nil, code, false
}

// Help writes the command's help: its synopsis and summary, its operands, its own flags, the
// global flags by name, its examples and the exit codes.
func (s *Sub) Help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s %s %s\n\n%s\n", s.Binary, s.Name, s.Synopsis, strings.TrimRight(s.Summary, "\n"))
	if len(s.Operands) > 0 {
		fmt.Fprint(w, "\narguments:\n")
		width := 0
		for _, o := range s.Operands {
			width = max(width, len(o.Name))
		}
		for _, o := range s.Operands {
			fmt.Fprintf(w, "  %-*s  %s\n", width, o.Name, fill(o.Meaning, 96-width-4, strings.Repeat(" ", width+4)))
		}
	}
	if s.Flags != nil && numFlags(s.Flags) > 0 {
		fmt.Fprint(w, "\nflags:\n")
		printDefaults(s.Flags, w)
	}
	if s.Global != nil && numFlags(s.Global) > 0 {
		fmt.Fprintf(w, "\nglobal flags, before the command or after it (see '%s -h'):\n%s\n", s.Binary, wrap(flagNames(s.Global), 96, "  "))
	}
	if len(s.Examples) > 0 {
		fmt.Fprint(w, "\nexamples:\n")
		for _, e := range s.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprint(w, "\n"+ExitCodes)
}

// Split reads the global flags before a binary's command from args, and returns the command's
// name ("" when args name none) and the arguments after it. ok is false when the binary should
// return code at once: 0 after -h or --help, having called help; 2 after a bad flag, which the
// flag package has named on stderr.
func Split(binary string, global *flag.FlagSet, args []string, stderr io.Writer, help func()) (name string, rest []string, code int, ok bool) {
	global.SetOutput(stderr)
	usage := global.Usage
	global.Usage = func() {}
	defer func() { global.Usage = usage }()
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help()
			return "", nil, OK, false
		}
		fmt.Fprintf(stderr, "run '%s -h' for the usage: global flags come before the command or after it, a command's own flags after it\n", binary)
		return "", nil, Usage, false
	}
	rest = global.Args()
	if len(rest) == 0 {
		return "", nil, OK, true
	}
	return rest[0], rest[1:], OK, true
}

// numFlags is how many flags fs defines.
func numFlags(fs *flag.FlagSet) int {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n
}

// printDefaults prints fs's flags on w, as fs.PrintDefaults does on the flag set's output.
func printDefaults(fs *flag.FlagSet, w io.Writer) {
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// flagNames lists fs's flags as --name, sorted.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	sort.Strings(names)
	return names
}

// wrap joins words with ", " into lines of at most width bytes, each starting with indent.
func wrap(words []string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for i, w := range words {
		if i < len(words)-1 {
			w += ","
		}
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}

// fill breaks text into lines of at most width bytes at spaces, indenting every line but the
// first with indent.
func fill(text string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		switch {
		case i == 0:
		case n+1+len(word) > width:
			b.WriteString("\n" + indent)
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
