//go:build unix

package readme

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medsupply/customs/internal/testport"
)

// The README's commands use the devserver's default ports. The test runs each devserver on free
// ports instead, so that it never meets a devserver of the reader's or of another test: the
// clients reach it through TEMPORAL_ADDRESS (the starter, the auditor, the report and the
// temporal CLI all read it), cmd/token is given the issuer's --auth-port, and an address written
// in a command (--codec-endpoint http://localhost:8234) has its port replaced.
const (
	defaultGRPCPort  = 7233
	defaultUIPort    = 8233
	defaultCodecPort = 8234
	defaultAuthPort  = 8235
)

const (
	// serverTimeout bounds a devserver's start and its stop.
	serverTimeout = 2 * time.Minute
	// commandTimeout bounds one command; starter wait returns within it on every walk.
	commandTimeout = 2 * time.Minute
	// settleTimeout bounds how long a command that only reads is run again until its output
	// says what the README shows: the clearance moves on by itself between two commands.
	settleTimeout = time.Minute
	// pollInterval is how often a condition is checked again.
	pollInterval = 200 * time.Millisecond
)

// root is the repository's root, from this package's directory.
const root = "../.."

// devserverCmd starts a walk's engine; the test runs it in the background.
const devserverCmd = "go run ./deploy/devserver"

// TestReadmeWalks runs the README's walks in order, each command as written, and fails when a
// command fails, exits otherwise than the README says, or no longer prints what the README shows
// after it (# → ...). A command that only reads (starter status, auditor trail, report,
// temporal workflow list, describe, query or show) is run again until it does, for up to a
// minute: a reader who looks a moment later sees the clearance further on.
//
// The commands run one after another in one bash, as a reader types them into a second
// terminal, in a temporary directory holding a copy of examples/. `go run ./PKG` runs PKG built
// once at the start of the test. A devserver line starts that devserver in the background,
// after stopping the one before, as the README tells the reader to. Commands of the stock
// temporal CLI need it on PATH: without it, the rest of the walk that reaches one is skipped.
func TestReadmeWalks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the walks build the binaries and start a devserver for each engine of the README")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on PATH: the README's commands are bash")
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	walks, err := parseWalks(string(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"exporter", "officer", "auditor", "callers", "encrypted"} {
		if !slices.ContainsFunc(walks, func(w walk) bool { return w.name == want && len(w.steps) > 0 }) {
			t.Errorf("README.md has no walk %q", want)
		}
	}
	if t.Failed() {
		return
	}
	_, err = exec.LookPath("temporal")
	haveTemporal := err == nil
	if !haveTemporal {
		t.Log("the temporal CLI is not on PATH: the walks' commands from the first temporal command on are skipped " +
			"(go install github.com/temporalio/cli/cmd/temporal@v1.5.1)")
	}
	noticeSources(t)

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	buildBinaries(t, walks, bin)
	work := filepath.Join(dir, "work")
	if err := os.CopyFS(filepath.Join(work, "examples"), os.DirFS(filepath.Join(root, "examples"))); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv(home)
	sh := startShell(t, bash, work, env, bin)
	h := &harness{sh: sh, bin: bin, work: work, env: env, logs: dir}
	t.Cleanup(func() { h.stopServer(t) })

	for _, w := range walks {
		ok := t.Run(w.name, func(t *testing.T) {
			start := time.Now()
			for _, s := range w.steps {
				if isDevserver(s.cmd) {
					h.startServer(t, s)
					continue
				}
				if !haveTemporal && usesTemporal(s.cmd) {
					t.Skipf("%s: the temporal CLI is not on PATH; the rest of the walk is skipped", s)
				}
				h.run(t, s)
			}
			t.Logf("walk %s: %d commands in %.1fs", w.name, len(w.steps), time.Since(start).Seconds())
		})
		if !ok {
			// The walks after it may need what it would have left behind: a running engine.
			break
		}
	}
}

// harness is the state the walks share: the shell and the devserver running now.
type harness struct {
	sh *shell
	// bin holds the binaries, work is the walks' directory, logs the devservers' logs.
	bin, work, logs string
	env             []string
	// server is the devserver running now, nil before the first; serverDone gets its end.
	server     *exec.Cmd
	serverDone chan error
	serverLog  string
	seq        int
	// The running devserver's ports: gRPC, Web UI, codec server, issuer, health.
	grpc, ui, codec, auth, health int
}

// isDevserver reports whether cmd starts a devserver.
func isDevserver(cmd string) bool {
	return cmd == devserverCmd || strings.HasPrefix(cmd, devserverCmd+" ")
}

// temporalCommand finds the temporal CLI as a command: at the start, after a variable
// assignment, or after ;, &&, ||, | or $(.
var temporalCommand = regexp.MustCompile(`(^|[;&|(]\s*|^(\w+=\S*\s+)+)temporal\s`)

// usesTemporal reports whether cmd runs the stock temporal CLI.
func usesTemporal(cmd string) bool { return temporalCommand.MatchString(cmd) }

// goRun finds the packages `go run` runs.
var goRun = regexp.MustCompile(`\bgo run (\./[A-Za-z0-9_/.-]+)`)

// buildBinaries builds every package the walks `go run` into bin, once.
func buildBinaries(t *testing.T, walks []walk, bin string) {
	t.Helper()
	var pkgs []string
	for _, w := range walks {
		for _, s := range w.steps {
			for _, m := range goRun.FindAllStringSubmatch(s.cmd, -1) {
				if !slices.Contains(pkgs, m[1]) {
					pkgs = append(pkgs, m[1])
				}
			}
		}
	}
	for _, p := range pkgs {
		if slices.ContainsFunc(pkgs, func(q string) bool { return q != p && filepath.Base(q) == filepath.Base(p) }) {
			t.Fatalf("two packages the README runs share the name %s: the test builds both into one directory", filepath.Base(p))
		}
	}
	start := time.Now()
	// go test puts its own go first on PATH.
	build := exec.Command("go", append([]string{"build", "-o", bin + string(filepath.Separator)}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	t.Logf("built %s in %.1fs", strings.Join(pkgs, " "), time.Since(start).Seconds())
}

// noticeSources reads the module's Go sources and go.mod: go test caches a test's result until
// a file it read changes, and the binaries the walks run are built from these, not linked into
// the test.
func noticeSources(t *testing.T) {
	t.Helper()
	skip := map[string]bool{".git": true, "node_modules": true, "data": true, "artifacts": true, "testdata": true}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skip[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" {
			_, err := os.Stat(path)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cleanEnv is the test's environment without the Temporal and engine variables a reader's shell
// may hold, with HOME in the test's directory, so that no temporal.toml of the machine is read.
func cleanEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "CUSTOMS_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "TEMPORAL_CONFIG_FILE="+filepath.Join(home, "temporal.toml"))
}

// startServer stops the devserver running now, if any, and starts the one s names on free
// ports, in the background; it returns once its worker is ready.
func (h *harness) startServer(t *testing.T, s step) {
	t.Helper()
	h.stopServer(t)
	ports := testport.Free(t, 5)
	h.grpc, h.ui, h.codec, h.auth, h.health = ports[0], ports[1], ports[2], ports[3], ports[4]
	h.seq++
	h.serverLog = filepath.Join(h.logs, fmt.Sprintf("devserver-%d.log", h.seq))
	logf, err := os.Create(h.serverLog)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logf.Close() }()
	// bash splits the README's arguments as the reader's shell would.
	line := "exec " + filepath.Join(h.bin, "devserver") + strings.TrimPrefix(s.cmd, devserverCmd) +
		fmt.Sprintf(" --port %d --ui-port %d --codec-port %d --auth-port %d --health-addr 127.0.0.1:%d",
			h.grpc, h.ui, h.codec, h.auth, h.health)
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = h.work, h.env, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	h.server, h.serverDone = cmd, make(chan error, 1)
	go func() { h.serverDone <- cmd.Wait() }()

	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", h.health)
	for deadline := time.Now().Add(serverTimeout); ; {
		if resp, err := http.Get(ready); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-h.serverDone:
			h.serverDone <- err
			t.Fatalf("%s: the devserver exited (%v):\n%s", s, err, h.log())
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the devserver's worker was not ready within %s:\n%s", s, serverTimeout, h.log())
		}
	}
	t.Logf("%s: ready in %.1fs (gRPC %d, Web UI %d)", s, time.Since(start).Seconds(), h.grpc, h.ui)
	h.sh.setenv(t, "TEMPORAL_ADDRESS", fmt.Sprintf("127.0.0.1:%d", h.grpc))
	h.sh.setenv(t, "TEMPORAL_UI_URL", fmt.Sprintf("http://127.0.0.1:%d", h.ui))
	h.sh.setenv(t, "README_AUTH_PORT", strconv.Itoa(h.auth))
}

// stopServer stops the devserver running now, as Ctrl-C does, and waits for it to end.
func (h *harness) stopServer(t *testing.T) {
	t.Helper()
	if h.server == nil {
		return
	}
	cmd := h.server
	h.server = nil
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-h.serverDone:
		if err != nil {
			t.Errorf("the devserver stopped with %v:\n%s", err, h.log())
		}
	case <-time.After(serverTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err := <-h.serverDone
		t.Errorf("the devserver did not stop within %s of Ctrl-C, and was killed (%v):\n%s", serverTimeout, err, h.log())
	}
}

// log is the end of the running devserver's log.
func (h *harness) log() string {
	b, err := os.ReadFile(h.serverLog)
	if err != nil {
		return err.Error()
	}
	const tail = 8000
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return string(b)
}

// localPort finds a loopback address with one of the devserver's default ports.
var localPort = regexp.MustCompile(`\b(localhost|127\.0\.0\.1):(` + strconv.Itoa(defaultGRPCPort) + `|` +
	strconv.Itoa(defaultUIPort) + `|` + strconv.Itoa(defaultCodecPort) + `|` + strconv.Itoa(defaultAuthPort) + `)\b`)

// withPorts is cmd with the devserver's default ports replaced by the test devserver's.
func (h *harness) withPorts(cmd string) string {
	actual := map[string]int{
		strconv.Itoa(defaultGRPCPort): h.grpc, strconv.Itoa(defaultUIPort): h.ui,
		strconv.Itoa(defaultCodecPort): h.codec, strconv.Itoa(defaultAuthPort): h.auth,
	}
	return localPort.ReplaceAllStringFunc(cmd, func(m string) string {
		host, port, _ := strings.Cut(m, ":")
		return host + ":" + strconv.Itoa(actual[port])
	})
}

// run runs s in the shell and checks its exit status and output; a command that only reads is
// run again until its output says what the README shows.
func (h *harness) run(t *testing.T, s step) {
	t.Helper()
	if h.server == nil {
		t.Fatalf("%s: no devserver runs: the walk has no %s line before it", s, devserverCmd)
	}
	cmd := h.withPorts(s.cmd)
	start := time.Now()
	deadline := start.Add(settleTimeout)
	for tries := 1; ; tries++ {
		out, code := h.sh.run(t, s, cmd)
		ok := code == s.exit && says(out, s.expect)
		if ok {
			t.Logf("%s (%.1fs)", s, time.Since(start).Seconds())
			return
		}
		if !readOnly(s.cmd) || time.Now().After(deadline) {
			var why []string
			if code != s.exit {
				why = append(why, fmt.Sprintf("exit %d, the README says %d", code, s.exit))
			}
			if !says(out, s.expect) {
				why = append(why, fmt.Sprintf("the output does not say %q", s.expect))
			}
			t.Fatalf("%s\n%s (after %d run(s) in %.1fs); it printed:\n%s", s, strings.Join(why, "; "),
				tries, time.Since(start).Seconds(), out)
		}
		time.Sleep(pollInterval)
	}
}

// assignment is a variable assignment before a command: NAME=value.
var assignment = regexp.MustCompile(`^\w+=`)

// readOnly reports whether cmd only reads: running it again changes nothing.
func readOnly(cmd string) bool {
	f := strings.Fields(cmd)
	for len(f) > 0 && assignment.MatchString(f[0]) {
		f = f[1:]
	}
	switch {
	case len(f) >= 3 && f[0] == "go" && f[1] == "run":
		rest := f[3:]
		switch f[2] {
		case "./starter":
			return slices.Contains(rest, "status")
		case "./cmd/auditor":
			return slices.Contains(rest, "trail")
		case "./cmd/report":
			return true
		}
	case len(f) >= 3 && f[0] == "temporal" && f[1] == "workflow":
		return slices.Contains([]string{"list", "describe", "query", "show", "count"}, f[2])
	}
	return false
}

// shell is one bash that runs the walks' commands one after another, as a reader's terminal
// does: variables a command sets are there for the next.
type shell struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	dir   string
	seq   int
}

// startShell starts bash in dir with env and with a function go that runs `go run ./PKG` as the
// binary built from PKG in bin. cmd/token is also given the test devserver's issuer port.
func startShell(t *testing.T, bash, dir string, env []string, bin string) *shell {
	t.Helper()
	cmd := exec.Command(bash, "--noprofile", "--norc")
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sh := &shell{cmd: cmd, in: in, lines: make(chan string, 16), dir: t.TempDir()}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			sh.lines <- sc.Text()
		}
		close(sh.lines)
	}()
	t.Cleanup(func() {
		_ = in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Logf("the shell ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Logf("the shell did not end when its input closed, and was killed (%v)", <-done)
		}
	})
	goFunc := `README_BIN=` + quote(bin) + `
go() {
  if [ "$1" != run ] || [ $# -lt 2 ]; then
    echo "the README test runs only 'go run ./PKG', not: go $*" >&2; return 127
  fi
  local pkg=$2; shift 2
  case "$pkg" in
    ./cmd/token) "$README_BIN/token" "$@" --auth-port "$README_AUTH_PORT" ;;
    *) "$README_BIN/${pkg##*/}" "$@" ;;
  esac
}`
	if _, code := sh.run(t, step{line: 0, cmd: "(setup)"}, goFunc); code != 0 {
		t.Fatal("the shell's setup failed")
	}
	return sh
}

// setenv exports k=v in the shell.
func (sh *shell) setenv(t *testing.T, k, v string) {
	t.Helper()
	if out, code := sh.run(t, step{cmd: "(setup)"}, "export "+k+"="+quote(v)); code != 0 {
		t.Fatalf("export %s: exit %d: %s", k, code, out)
	}
}

// run runs cmd in the shell, its standard input empty, and returns what it printed on its
// standard output and error, and its exit status. It fails the test when cmd does not end
// within commandTimeout.
func (sh *shell) run(t *testing.T, s step, cmd string) (out string, code int) {
	t.Helper()
	sh.seq++
	file := filepath.Join(sh.dir, fmt.Sprintf("out-%d", sh.seq))
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	marker := "readme-test-done-" + hex.EncodeToString(nonce)
	script := "{ " + cmd + "\n} >" + quote(file) + " 2>&1 </dev/null\necho " + marker + " $?\n"
	if _, err := io.WriteString(sh.in, script); err != nil {
		t.Fatalf("%s: the shell: %v", s, err)
	}
	timeout := time.After(commandTimeout)
	for {
		select {
		case line, ok := <-sh.lines:
			if !ok {
				t.Fatalf("%s: the shell ended", s)
			}
			rest, found := strings.CutPrefix(line, marker+" ")
			if !found {
				t.Logf("shell: %s", line)
				continue
			}
			code, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("%s: exit status %q: %v", s, rest, err)
			}
			b, err := os.ReadFile(file)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			return string(b), code
		case <-timeout:
			_ = syscall.Kill(-sh.cmd.Process.Pid, syscall.SIGKILL)
			b, _ := os.ReadFile(file)
			t.Fatalf("%s: did not end within %s; it printed:\n%s", s, commandTimeout, b)
		}
	}
}

// quote is s quoted for bash.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
