package readme

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// link finds a Markdown link or image's target: [text](target) or ![alt](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinksReachTheirPages checks that every link of the README and of the pages under docs/ to
// a file of the repository names one that exists, and that a link to a heading (#anchor) names
// a heading of that page, as GitHub makes its anchors.
func TestLinksReachTheirPages(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{filepath.Join(root, "README.md")}, pages...)
	anchors := map[string]map[string]bool{}
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(root, page)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(outsideCode(string(b)), "\n") {
			for _, m := range link.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, anchor, _ := strings.Cut(target, "#")
				path := page
				if file != "" {
					path = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s:%d: the link %s: %v", rel, n+1, target, err)
					continue
				}
				if anchor == "" {
					continue
				}
				if anchors[path] == nil {
					anchors[path] = headingAnchors(t, path)
				}
				if !anchors[path][anchor] {
					t.Errorf("%s:%d: the link %s: no heading of %s has the anchor #%s", rel, n+1, target, filepath.Base(path), anchor)
				}
			}
		}
	}
}

// outsideCode is a Markdown page with the lines of its fenced code blocks emptied, so that line
// numbers stay.
func outsideCode(page string) string {
	lines := strings.Split(page, "\n")
	fence := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fence = !fence
			lines[i] = ""
			continue
		}
		if fence {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// headingAnchors returns the anchors GitHub gives the headings of the Markdown file at path; a
// heading's text met again gets -1, -2, ... after it.
func headingAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range strings.Split(outsideCode(string(b)), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		a := anchor(strings.TrimLeft(line, "#"))
		if k := seen[a]; k > 0 {
			anchors[a+"-"+strconv.Itoa(k)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// anchor is GitHub's anchor of a heading's text: lower case, spaces to hyphens, and nothing
// but letters, digits, hyphens and underscores.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		" Decisions, reroutes, documents":   "decisions-reroutes-documents",
		" Time against the 20-day standard": "time-against-the-20-day-standard",
		" Who is calling: verified callers": "who-is-calling-verified-callers",
		" The `decision` signal":            "the-decision-signal",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}
