package readme

import (
	"bufio"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A walk is the commands of the README's code blocks marked with one walk's name, in the order
// they appear.
type walk struct {
	name  string
	steps []step
}

// A step is one command of a walk.
type step struct {
	line int    // README.md's line where the command starts
	cmd  string // the command as written, continuation lines included, without its expectation
	// expect is the text the output must contain (whitespace runs compare equal), "" for any.
	expect string
	// exit is the exit status the README gives the command: 0 unless its expectation names one.
	exit int
}

// String is the step as a message names it.
func (s step) String() string { return fmt.Sprintf("README.md:%d: %s", s.line, s.cmd) }

var (
	// walkMark precedes each code block a walk runs: <!-- walk: NAME -->.
	walkMark = regexp.MustCompile(`^<!--\s*walk:\s*([a-z0-9-]+)\s*-->\s*$`)
	// exitExpect is an expectation that names the exit status: "exit 12" or "exit 12: withdrawn".
	exitExpect = regexp.MustCompile(`^exit (\d+)(?:[:,]\s*(.*))?$`)
)

// arrow starts a command's expectation: cmd   # → what the output says.
const arrow = "# →"

// parseWalks reads the walks of a README. A line <!-- walk: NAME --> marks the ```sh block that
// follows it (blank lines between them are allowed) as part of walk NAME. In a block, blank lines
// and lines that start with # are skipped, a line ending in \ continues on the next, and a
// command's last line may end with "# → TEXT": its output must contain TEXT, or with
// "# → exit N: TEXT" (or just "# → exit N"): it must also exit N.
func parseWalks(readme string) ([]walk, error) {
	var walks []walk
	index := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(readme))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		n++
		return sc.Text(), true
	}
	for {
		line, ok := next()
		if !ok {
			break
		}
		m := walkMark.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		name, markLine := m[1], n
		for {
			line, ok = next()
			if !ok || strings.TrimSpace(line) != "" {
				break
			}
		}
		if !ok || strings.TrimSpace(line) != "```sh" {
			return nil, fmt.Errorf("README.md:%d: the walk mark %q is not followed by a ```sh block", markLine, name)
		}
		i, seen := index[name]
		if !seen {
			i = len(walks)
			index[name] = i
			walks = append(walks, walk{name: name})
		}
		var cmd []string
		start := 0
		for {
			line, ok = next()
			if !ok {
				return nil, fmt.Errorf("README.md:%d: the block of walk %q does not end", markLine, name)
			}
			if strings.TrimSpace(line) == "```" {
				break
			}
			if len(cmd) == 0 {
				trimmed := strings.TrimSpace(line)
				if trimmed == "" || strings.HasPrefix(trimmed, "#") {
					continue
				}
				start = n
			}
			if body, more := strings.CutSuffix(line, `\`); more {
				cmd = append(cmd, body)
				continue
			}
			cmd = append(cmd, line)
			s, err := newStep(start, cmd)
			if err != nil {
				return nil, err
			}
			walks[i].steps = append(walks[i].steps, s)
			cmd = nil
		}
		if len(cmd) > 0 {
			return nil, fmt.Errorf("README.md:%d: the command continues past the end of its block", start)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return walks, nil
}

// newStep makes the step of a command's lines: its expectation is cut from the last one.
func newStep(line int, lines []string) (step, error) {
	s := step{line: line}
	last := lines[len(lines)-1]
	if at := strings.LastIndex(last, arrow); at >= 0 {
		want := strings.TrimSpace(last[at+len(arrow):])
		lines[len(lines)-1] = last[:at]
		if m := exitExpect.FindStringSubmatch(want); m != nil {
			code, err := strconv.Atoi(m[1])
			if err != nil {
				return s, fmt.Errorf("README.md:%d: exit status %q: %v", line, m[1], err)
			}
			s.exit, want = code, m[2]
		}
		if want == "" && s.exit == 0 {
			return s, fmt.Errorf("README.md:%d: an expectation that says nothing", line)
		}
		s.expect = want
	}
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t")
	}
	s.cmd = strings.Join(lines, " \\\n")
	return s, nil
}

// says reports whether out says want: want's words appear in out in a row, however the
// whitespace between them runs (tables align their columns with spaces).
func says(out, want string) bool {
	return strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " "))
}

func TestParseWalks(t *testing.T) {
	readme := "# Title\n\n" +
		"<!-- walk: first -->\n\n" +
		"```sh\n" +
		"go run ./deploy/devserver\n" +
		"```\n\n" +
		"Text, and a block no walk runs:\n\n" +
		"```sh\nrm -rf /\n```\n\n" +
		"<!-- walk: second -->\n" +
		"```sh\n" +
		"# a comment line\n" +
		"go run ./starter submit a.json   # → submitted\n" +
		"\n" +
		"temporal workflow update execute --workflow-id w \\\n" +
		"  --input '{\"a\":1}'    # → exit 1: not the caller\n" +
		"go run ./starter wait X   # → exit 12\n" +
		"```\n\n" +
		"<!-- walk: first -->\n" +
		"```sh\n" +
		"go run ./starter status Y   # a comment, not an expectation\n" +
		"```\n"
	walks, err := parseWalks(readme)
	if err != nil {
		t.Fatal(err)
	}
	want := []walk{
		{name: "first", steps: []step{
			{line: 6, cmd: "go run ./deploy/devserver"},
			{line: 27, cmd: "go run ./starter status Y   # a comment, not an expectation"},
		}},
		{name: "second", steps: []step{
			{line: 18, cmd: "go run ./starter submit a.json", expect: "submitted"},
			{line: 20, cmd: "temporal workflow update execute --workflow-id w \\\n  --input '{\"a\":1}'", expect: "not the caller", exit: 1},
			{line: 22, cmd: "go run ./starter wait X", exit: 12},
		}},
	}
	if !reflect.DeepEqual(walks, want) {
		t.Errorf("parseWalks:\n got %#v\nwant %#v", walks, want)
	}
}

func TestParseWalksRefusesAMarkWithoutItsBlock(t *testing.T) {
	for _, readme := range []string{
		"<!-- walk: w -->\nSome text.\n```sh\nls\n```\n",
		"<!-- walk: w -->\n```sh\nls \\\n```\n",
		"<!-- walk: w -->\n```sh\nls\n",
		"<!-- walk: w -->\n```sh\nls   # →\n```\n",
	} {
		if walks, err := parseWalks(readme); err == nil {
			t.Errorf("parseWalks(%q) = %v, want an error", readme, walks)
		}
	}
}

func TestSays(t *testing.T) {
	out := "State           released\nRelease notice  RN-2026-00000001\n"
	for want, ok := range map[string]bool{
		"State released":             true,
		"released Release notice RN": true,
		"State refused":              false,
		"":                           true,
	} {
		if says(out, want) != ok {
			t.Errorf("says(%q, %q) = %v, want %v", out, want, !ok, ok)
		}
	}
}
