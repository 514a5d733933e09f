package readme

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTwoCommands checks the README's first section: the two commands a newcomer needs, one that
// runs the engine and one that runs all tests, and that the second runs the go test command the
// README says it runs.
func TestTwoCommands(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Two commands\n")
	if start < 0 {
		t.Fatal("README.md has no section ## Two commands")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, strings.TrimSpace(m[1]))
	}
	want := []string{devserverCmd, "bash .ci/run"}
	if strings.Join(blocks, "\n") != strings.Join(want, "\n") {
		t.Errorf("the commands of ## Two commands are %q, want %q", blocks, want)
	}

	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	const goTest = "go test ./..."
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(goTest) + `$`).Match(ci) {
		t.Errorf(".ci/run does not run %q", goTest)
	}
	if !strings.Contains(section, "runs `"+goTest+"`") {
		t.Errorf("## Two commands does not say that bash .ci/run runs `%s`", goTest)
	}
}
