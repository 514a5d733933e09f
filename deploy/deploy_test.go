// Package deploy_test checks the deployment files against the code they deploy: the Compose file,
// the Kubernetes manifests, the Helm values and the Dockerfile parse, every flag they give the
// worker, setup or starter exists in that binary and takes the value given, images are ours or
// official, grace periods outlast the shutdown timeout, and probes hit paths the health server
// serves.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	servercli "github.com/medsupply/customs/cmd/server/cli"
	tokencli "github.com/medsupply/customs/cmd/token/cli"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/health"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/starter/cli"
	"github.com/medsupply/customs/workflows"
)

// ourImage is the repository the deployments give the image built from deploy/Dockerfile.
const ourImage = "medsupply/customs"

// longestActivity is the longest StartToCloseTimeout of the clearance's activities (the
// automated checks, workflows/clearance.go): the shutdown timeout must let one finish.
const longestActivity = time.Minute

// officialImage reports whether an image comes from Temporal, PostgreSQL, Prometheus or Grafana.
func officialImage(image string) bool {
	for _, prefix := range []string{"temporalio/", "postgres:", "prom/", "grafana/"} {
		if strings.HasPrefix(image, prefix) {
			return true
		}
	}
	return false
}

// binary is a command the image holds, with a parser of its command line.
type binary struct {
	name string
	// parse parses args as the binary would and returns the worker options it sets, if any.
	parse func(args []string) (*engine.WorkerOptions, error)
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

var binaries = map[string]binary{
	"worker": {"worker", func(args []string) (*engine.WorkerOptions, error) {
		if len(args) > 0 && args[0] == "healthcheck" {
			var o health.ProbeOptions
			fs := newFlagSet("healthcheck")
			o.RegisterFlags(fs)
			return nil, parseAll(fs, args[1:], false)
		}
		var o engine.WorkerOptions
		fs := newFlagSet("worker")
		o.RegisterFlags(fs)
		if err := parseAll(fs, args, false); err != nil {
			return nil, err
		}
		// As the binary: an agency's worker works in its agency's namespace only.
		return &o, errors.Join(o.Config.Validate(), o.Config.CheckAgencyNamespace(o.Connect.Namespace))
	}},
	"setup": {"setup", func(args []string) (*engine.WorkerOptions, error) {
		_, err := parseSetup(args)
		return nil, err
	}},
	"token": {"token", func(args []string) (*engine.WorkerOptions, error) {
		var f tokencli.Flags
		fs := newFlagSet("token")
		f.RegisterFlags(fs)
		return nil, parseAll(fs, args, false)
	}},
	"server": {"server", func(args []string) (*engine.WorkerOptions, error) {
		if len(args) > 0 && args[0] == "healthcheck" {
			fs := newFlagSet("healthcheck")
			servercli.RegisterHealthcheckFlags(fs)
			return nil, parseAll(fs, args[1:], false)
		}
		var f servercli.Flags
		fs := newFlagSet("server")
		f.RegisterFlags(fs)
		return nil, parseAll(fs, args, false)
	}},
	"starter": {"starter", func(args []string) (*engine.WorkerOptions, error) {
		var conn connect.Options
		var ui string
		fs := newFlagSet("starter")
		cli.RegisterFlags(fs, &conn, &ui)
		// The starter's own flags come before its command; the command's are its business.
		return nil, parseAll(fs, args, true)
	}},
}

// parseAll parses args; without commandFollows no operand may remain.
func parseAll(fs *flag.FlagSet, args []string, commandFollows bool) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 && !commandFollows {
		return fmt.Errorf("%s: unexpected operand %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// expandDefaults replaces Compose's ${VAR:-default} and ${VAR} with the default (or nothing).
var composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}`)

func expandDefaults(s string) string {
	return composeVar.ReplaceAllString(s, "$2")
}

func readYAML(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		t.Fatalf("%s holds no YAML document", path)
	}
	return docs
}

// get walks a YAML tree along keys (string keys for maps, int for lists).
func get(v any, path ...any) any {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			out[i] = str(e)
		}
		return out
	}
	t.Fatalf("not a command: %#v", v)
	return nil
}

// dockerfile is what the tests need to know of deploy/Dockerfile: of its final stage, the default
// target, with the other named stages in stages.
type dockerfile struct {
	built       []string // package directories built
	installed   map[string]bool
	entrypoint  string
	env         map[string]string
	healthcheck []string
	finalImage  string
	user        string
	stages      map[string]*dockerfile
}

// target is the stage a Compose service's build names (the final one when it names none).
func (d *dockerfile) target(t *testing.T, name string) *dockerfile {
	t.Helper()
	if name == "" {
		return d
	}
	st, ok := d.stages[name]
	if !ok {
		t.Fatalf("deploy/Dockerfile has no stage %q", name)
	}
	return st
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continued lines.
	text := regexp.MustCompile(`\\\n`).ReplaceAllString(string(b), " ")
	args := map[string]string{}
	var stages []string
	named := map[string]*dockerfile{}
	var built []string
	cur := &dockerfile{installed: map[string]bool{}, env: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case "FROM":
			fields := strings.Fields(rest)
			img := fields[0]
			for k, v := range args {
				img = strings.ReplaceAll(img, "${"+k+"}", v)
			}
			stages = append(stages, img)
			cur = &dockerfile{installed: map[string]bool{}, env: map[string]string{}, finalImage: img}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				named[fields[2]] = cur
			}
		case "RUN":
			if i := strings.Index(rest, "go build"); i >= 0 {
				for _, f := range strings.Fields(rest[i:]) {
					if strings.HasPrefix(f, "./") {
						built = append(built, f)
					}
				}
			}
		case "COPY":
			f := strings.Fields(rest)
			if len(f) > 1 && strings.HasPrefix(f[0], "--from=") && f[len(f)-1] == "/usr/local/bin/" {
				for _, src := range f[1 : len(f)-1] {
					if !strings.HasPrefix(src, "--") {
						cur.installed[filepath.Base(src)] = true
					}
				}
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				cur.env[k] = v
			}
		case "USER":
			cur.user = rest
		case "HEALTHCHECK":
			if i := strings.Index(rest, "CMD "); i >= 0 {
				if err := json.Unmarshal([]byte(strings.TrimSpace(rest[i+4:])), &cur.healthcheck); err != nil {
					t.Fatalf("HEALTHCHECK CMD is not an exec form: %v", err)
				}
			}
		case "ENTRYPOINT":
			var ep []string
			if err := json.Unmarshal([]byte(rest), &ep); err != nil || len(ep) != 1 {
				t.Fatalf("ENTRYPOINT %s: want one exec-form element (%v)", rest, err)
			}
			cur.entrypoint = ep[0]
		}
	}
	if len(stages) < 2 || !strings.HasPrefix(stages[0], "golang:1.26") {
		t.Errorf("stages %v: want a golang:1.26 builder and a final stage", stages)
	}
	d := *cur
	d.built, d.stages = built, named
	return d
}

func TestDockerfile(t *testing.T) {
	d := readDockerfile(t)
	if !slices.Equal(sortedCopy(d.built), []string{"./cmd/server", "./cmd/setup", "./cmd/token", "./starter", "./worker"}) {
		t.Errorf("go build builds %v, want ./worker ./cmd/setup ./starter ./cmd/token ./cmd/server", d.built)
	}
	server := d.target(t, "server")
	for _, dir := range d.built {
		b, err := os.ReadFile(filepath.Join("..", dir, "main.go"))
		if err != nil || !bytes.Contains(b, []byte("package main")) {
			t.Errorf("%s is not a command: %v", dir, err)
		}
		if !d.installed[filepath.Base(dir)] && !server.installed[filepath.Base(dir)] {
			t.Errorf("%s is built but not copied to /usr/local/bin/", dir)
		}
	}
	// The server stage holds the server alone, runs as a non-root user and checks itself.
	if !maps.Equal(server.installed, map[string]bool{"server": true}) || server.entrypoint != "/usr/local/bin/server" ||
		server.user == "" || strings.HasPrefix(server.user, "0") || server.finalImage != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("server stage: installs %v, entrypoint %s, user %q, image %s", server.installed, server.entrypoint, server.user, server.finalImage)
	}
	if _, err := binaries["server"].parse(server.healthcheck[1:]); err != nil || server.healthcheck[0] != "/usr/local/bin/server" {
		t.Errorf("server stage HEALTHCHECK %v: %v", server.healthcheck, err)
	}
	if d.finalImage != "gcr.io/distroless/static-debian12:nonroot" && d.finalImage != "scratch" {
		t.Errorf("final image %s: want distroless static nonroot or scratch", d.finalImage)
	}
	if d.user == "" || d.user == "root" || strings.HasPrefix(d.user, "0") {
		t.Errorf("USER %q: the image must not run as root", d.user)
	}
	if d.entrypoint != "/usr/local/bin/worker" {
		t.Errorf("ENTRYPOINT %s, want the worker", d.entrypoint)
	}
	if !slices.Equal(d.healthcheck, []string{"/usr/local/bin/worker", "healthcheck"}) {
		t.Errorf("HEALTHCHECK runs %v, want the worker's healthcheck", d.healthcheck)
	}
	if _, err := binaries["worker"].parse(d.healthcheck[1:]); err != nil {
		t.Errorf("HEALTHCHECK: %v", err)
	}
	if d.env[health.EnvAddr] == "" {
		t.Errorf("the image does not set %s, so the worker serves no health endpoint for HEALTHCHECK", health.EnvAddr)
	}
	// The worker's flag defaults come from these variables: each must parse.
	for k, v := range d.env {
		t.Setenv(k, v)
	}
	o, err := binaries["worker"].parse(nil)
	if err != nil {
		t.Fatalf("the worker with the image's environment: %v", err)
	}
	if o.Config.HealthAddr != d.env[health.EnvAddr] || o.Config.Notifications != "-" {
		t.Errorf("worker options from the image's environment: %+v", o.Config)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// command returns the binary a container runs and its arguments.
func command(t *testing.T, d dockerfile, entrypoint, args any) (binary, []string) {
	t.Helper()
	ep := strs(t, entrypoint)
	if len(ep) == 0 {
		ep = []string{d.entrypoint}
	}
	name := filepath.Base(ep[0])
	if !d.installed[name] {
		t.Fatalf("%s is not in the image", ep[0])
	}
	b, ok := binaries[name]
	if !ok {
		t.Fatalf("no flag set known for %s", name)
	}
	return b, append(ep[1:], strs(t, args)...)
}

// serviceEnv is a Compose service's environment, defaults expanded.
func serviceEnv(s any) map[string]string {
	env := map[string]string{}
	if m, ok := get(s, "environment").(map[string]any); ok {
		for k, v := range m {
			env[k] = expandDefaults(fmt.Sprint(v))
		}
	}
	return env
}

// withEnv runs fn with env set in the process environment, then restores it.
func withEnv(t *testing.T, env map[string]string, fn func()) {
	t.Helper()
	old := map[string]*string{}
	for k, v := range env {
		if was, ok := os.LookupEnv(k); ok {
			old[k] = &was
		} else {
			old[k] = nil
		}
		if err := os.Setenv(k, v); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for k, v := range old {
			if v == nil {
				_ = os.Unsetenv(k)
			} else {
				_ = os.Setenv(k, *v)
			}
		}
	}()
	fn()
}

func TestCompose(t *testing.T) {
	d := readDockerfile(t)
	doc := readYAML(t, "compose.yaml")[0]
	services, ok := doc["services"].(map[string]any)
	if !ok {
		t.Fatal("compose.yaml has no services")
	}
	for _, want := range []string{"postgresql", "temporal-schema", "identity", "admin-token", "worker-token", "temporal", "temporal-ui", "setup", "worker", "prometheus", "grafana"} {
		if services[want] == nil {
			t.Errorf("compose.yaml has no %s service", want)
		}
	}

	var worker *engine.WorkerOptions
	var setupNamespace string
	for name, s := range services {
		image := expandDefaults(str(get(s, "image")))
		switch {
		case strings.HasPrefix(image, ourImage):
			if df := str(get(s, "build", "dockerfile")); df != "deploy/Dockerfile" || str(get(s, "build", "context")) != ".." {
				t.Errorf("%s: image %s is built from %q in %q, want deploy/Dockerfile in ..", name, image, df, get(s, "build", "context"))
			}
			stage := d.target(t, str(get(s, "build", "target")))
			b, args := command(t, *stage, get(s, "entrypoint"), get(s, "command"))
			for i := range args {
				args[i] = expandDefaults(args[i])
			}
			var o *engine.WorkerOptions
			var err error
			// Flags default from the service's environment, as in the container.
			withEnv(t, serviceEnv(s), func() { o, err = b.parse(args) })
			if err != nil {
				t.Errorf("%s: %s %v: %v", name, b.name, args, err)
			}
			switch {
			// Customs' workers; the agencies' are TestComposeRunsEachAgencysWorker's.
			case b.name == "worker" && name == "worker":
				worker = o
			case b.name == "worker" && o != nil && o.Config.Agency == "":
				t.Errorf("%s runs customs' worker beside the worker service", name)
			case b.name == "setup":
				setupNamespace = flagValue(args, "namespace")
			}
			if own := filepath.Base(stage.healthcheck[0]); b.name != own && get(s, "healthcheck", "disable") != true {
				t.Errorf("%s runs %s but keeps the image's %s HEALTHCHECK", name, b.name, own)
			}
		case officialImage(image):
		default:
			t.Errorf("%s: image %q is neither ours nor official", name, image)
		}
		for _, v := range strs(t, get(s, "volumes")) {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	if worker == nil {
		t.Fatal("no worker service runs the worker")
	}
	w := services["worker"]
	if n, _ := get(w, "deploy", "replicas").(int); n != 3 {
		t.Errorf("worker replicas = %v, want 3", get(w, "deploy", "replicas"))
	}
	if !engine.IsPostgresURL(worker.Config.ReleaseDB) {
		t.Errorf("workers share no PostgreSQL release register: --release-db %q", worker.Config.ReleaseDB)
	}
	// No password on a command line: every process on the host can read one.
	for name, s := range services {
		for _, a := range append(strs(t, get(s, "command")), strs(t, get(s, "entrypoint"))...) {
			if strings.Contains(a, "PASSWORD") || regexp.MustCompile(`://[^/@]*:[^/@]*@`).MatchString(a) {
				t.Errorf("%s passes a password in its arguments: %s", name, a)
			}
		}
	}
	// The release register's password is the one postgres/init-customs.sh gives the role.
	pg := serviceEnv(services["postgresql"])
	if pw := pg["CUSTOMS_DB_PASSWORD"]; pw == "" || !strings.Contains(worker.Config.ReleaseDB, ":"+pw+"@") {
		t.Errorf("the workers' register URL %q does not use the password postgresql's CUSTOMS_DB_PASSWORD (%q) sets", worker.Config.ReleaseDB, pw)
	}
	// The server image's configuration reads the dynamic configuration file it is given.
	tmp := services["temporal"]
	dcPath := serviceEnv(tmp)["DYNAMIC_CONFIG_FILE_PATH"]
	mounted := false
	for _, v := range strs(t, get(tmp, "volumes")) {
		parts := strings.Split(v, ":")
		mounted = mounted || (len(parts) >= 2 && parts[1] == dcPath)
	}
	if dcPath == "" || !mounted {
		t.Errorf("temporal: DYNAMIC_CONFIG_FILE_PATH %q is not a mounted file", dcPath)
	}
	if worker.Connect.Namespace != setupNamespace {
		t.Errorf("setup prepares namespace %q, the workers serve %q", setupNamespace, worker.Connect.Namespace)
	}
	checkShutdown(t, "compose worker", worker.Config.ShutdownTimeout, mustDuration(t, str(get(w, "stop_grace_period"))))
	if worker.Config.HealthAddr != "" && worker.Config.HealthAddr != d.env[health.EnvAddr] {
		t.Errorf("worker --health-addr %s, but the image's HEALTHCHECK probes %s", worker.Config.HealthAddr, d.env[health.EnvAddr])
	}
	if get(w, "depends_on", "setup", "condition") != "service_completed_successfully" {
		t.Error("the workers do not wait for the setup to complete")
	}
	if get(services["setup"], "depends_on", "temporal", "condition") != "service_healthy" {
		t.Error("the setup does not wait for a healthy Temporal server")
	}
	// The server verifies callers: it is the project's server image, trusting the identity
	// service's tokens, and every process of ours that calls it has a token of its own.
	tmp = services["temporal"]
	if get(tmp, "build", "target") != "server" || !strings.HasPrefix(expandDefaults(str(get(tmp, "image"))), ourImage+"-server:") {
		t.Errorf("the temporal service runs %v (target %v), want the server stage of deploy/Dockerfile", get(tmp, "image"), get(tmp, "build", "target"))
	}
	serverEnv := serviceEnv(tmp)
	idArgs := strs(t, get(services["identity"], "command"))
	if serverEnv["CUSTOMS_AUTH_ISSUER"] == "" || serverEnv["CUSTOMS_AUTH_ISSUER"] != flagValue(idArgs, "issuer-url") {
		t.Errorf("the server trusts issuer %q, the identity service is %q", serverEnv["CUSTOMS_AUTH_ISSUER"], flagValue(idArgs, "issuer-url"))
	}
	if want := flagValue(idArgs, "backchannel-url") + "/.well-known/jwks.json"; serverEnv["CUSTOMS_AUTH_JWKS_URL"] != want {
		t.Errorf("the server reads keys at %q, the identity service publishes them at %q", serverEnv["CUSTOMS_AUTH_JWKS_URL"], want)
	}
	if serverEnv["USE_INTERNAL_FRONTEND"] != "true" {
		t.Error("the server runs no internal frontend: its system workers would be refused")
	}
	for _, name := range []string{"setup", "worker"} {
		env := serviceEnv(services[name])
		file := env["CUSTOMS_API_KEY_FILE"]
		var signedBy string
		for tokName, ts := range services {
			if flagValue(strs(t, get(ts, "command")), "out") == file && file != "" {
				signedBy = tokName
				if get(services[name], "depends_on", tokName, "condition") != "service_completed_successfully" {
					t.Errorf("%s does not wait for %s, which writes its token", name, tokName)
				}
				if iss := flagValue(strs(t, get(ts, "command")), "issuer-url"); iss != serverEnv["CUSTOMS_AUTH_ISSUER"] {
					t.Errorf("%s signs %s's token for issuer %q, the server trusts %q", tokName, name, iss, serverEnv["CUSTOMS_AUTH_ISSUER"])
				}
			}
		}
		if signedBy == "" {
			t.Errorf("%s reads its token from %q, which no service writes", name, file)
		}
	}
	ui := serviceEnv(services["temporal-ui"])
	if ui["TEMPORAL_AUTH_ENABLED"] != "true" || ui["TEMPORAL_AUTH_ISSUER_URL"] != serverEnv["CUSTOMS_AUTH_ISSUER"] ||
		ui["TEMPORAL_AUTH_CALLBACK_URL"] != flagValue(idArgs, "ui-callback") ||
		ui["TEMPORAL_AUTH_CLIENT_SECRET"] != serviceEnv(services["identity"])["CUSTOMS_UI_CLIENT_SECRET"] {
		t.Errorf("the Web UI's sign-in %v does not match the identity service %v", ui, idArgs)
	}
	checkDesk(t, "compose.yaml temporal-ui", ui)
}

// checkDesk checks that a stock Web UI's environment makes it the officers' desk, as the
// embedded UI is by default: every control of embedded.DeskControls hidden, updates (the
// officers' decisions) kept, and with them write actions as a whole, whose switch would hide the
// update dialog and make the UI's server refuse updates.
func checkDesk(t *testing.T, what string, env map[string]string) {
	t.Helper()
	for _, d := range embedded.DeskControls() {
		if env[d.Env] != "true" {
			t.Errorf("%s: %s=%q; want \"true\", so that officers see no %s", what, d.Env, env[d.Env], d.Hides)
		}
	}
	for _, keep := range []string{"TEMPORAL_WORKFLOW_UPDATE_DISABLED", "TEMPORAL_DISABLE_WRITE_ACTIONS"} {
		if v, ok := env[keep]; ok && v != "false" {
			t.Errorf("%s: %s=%q: officers could not decide", what, keep, v)
		}
	}
}

func TestMonitoring(t *testing.T) {
	prom := readYAML(t, "grafana/prometheus.yml")[0]
	jobs := map[string]any{}
	for _, j := range get(prom, "scrape_configs").([]any) {
		jobs[str(get(j, "job_name"))] = j
	}
	if get(jobs["customs-worker"], "dns_sd_configs", 0, "port") != 9090 || get(jobs["customs-worker"], "dns_sd_configs", 0, "names", 0) != "worker" {
		t.Errorf("Prometheus does not scrape the workers on :9090: %v", jobs["customs-worker"])
	}
	if jobs["temporal-server"] == nil {
		t.Error("Prometheus does not scrape the Temporal server")
	}
	ds := readYAML(t, "grafana/provisioning/datasources/prometheus.yaml")[0]
	uid := str(get(ds, "datasources", 0, "uid"))

	b, err := os.ReadFile("grafana/dashboards/customs.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title      string `json:"title"`
			Type       string `json:"type"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "timeseries" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != uid {
			t.Errorf("panel %q does not use the provisioned data source %q", p.Title, uid)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	// Every metric the clearance exports has a panel, under the name the OpenTelemetry
	// Prometheus exporter gives it; the server's and the SDK's are left to Temporal's dashboards.
	for _, metric := range []string{workflows.MetricStageDuration + "_seconds_bucket", workflows.MetricClearanceDuration + "_seconds_bucket",
		workflows.MetricClearancesEnded + "_total", workflows.MetricDecisions + "_total", workflows.MetricSLABreaches + "_total", "clearance_open"} {
		if !slices.ContainsFunc(exprs, func(e string) bool {
			return strings.Contains(e, metric+"{") || strings.Contains(e, metric+"[") || strings.Contains(e, metric+")")
		}) {
			t.Errorf("no panel shows %s", metric)
		}
	}
	for _, e := range exprs {
		if !strings.Contains(e, "clearance_") {
			t.Errorf("panel expression %q reads no clearance metric: the server's and the SDK's belong to Temporal's dashboards", e)
		}
	}
}

// manifests reads every Kubernetes object under k8s/, by kind and name.
func manifests(t *testing.T) map[string]map[string]any {
	t.Helper()
	kust := readYAML(t, "k8s/kustomization.yaml")[0]
	listed := strs(t, kust["resources"])
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		if !slices.Contains(listed, filepath.Base(f)) {
			t.Errorf("%s is not in kustomization.yaml's resources", f)
		}
		for _, doc := range readYAML(t, f) {
			key := str(doc["kind"]) + "/" + str(get(doc, "metadata", "name"))
			if str(doc["apiVersion"]) == "" || key == "/" {
				t.Errorf("%s: an object without apiVersion, kind or name", f)
			}
			objs[key] = doc
		}
	}
	for _, r := range listed {
		if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	return objs
}

func TestKubernetes(t *testing.T) {
	d := readDockerfile(t)
	objs := manifests(t)
	dep := objs["Deployment/customs-worker"]
	job := objs["Job/customs-setup"]
	cm := objs["ConfigMap/customs-config"]
	for key, o := range map[string]map[string]any{"Deployment/customs-worker": dep, "Job/customs-setup": job,
		"ConfigMap/customs-config": cm, "HorizontalPodAutoscaler/customs-worker": objs["HorizontalPodAutoscaler/customs-worker"],
		"PodDisruptionBudget/customs-worker": objs["PodDisruptionBudget/customs-worker"], "ServiceAccount/customs": objs["ServiceAccount/customs"],
		"Secret/customs-temporal-client": objs["Secret/customs-temporal-client"]} {
		if o == nil {
			t.Errorf("no %s", key)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	pod := get(dep, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	b, args := command(t, d, get(c, "command"), get(c, "args"))
	if b.name != "worker" {
		t.Fatalf("the Deployment runs %s", b.name)
	}
	w, err := b.parse(args)
	if err != nil {
		t.Fatalf("worker %v: %v", args, err)
	}
	checkImage(t, "Deployment", str(get(c, "image")))
	grace, _ := get(pod, "terminationGracePeriodSeconds").(int)
	checkShutdown(t, "Deployment", w.Config.ShutdownTimeout, time.Duration(grace)*time.Second)

	// Probes hit the health server's paths on its port.
	_, port, err := net.SplitHostPort(w.Config.HealthAddr)
	if err != nil {
		t.Fatalf("--health-addr %q: %v", w.Config.HealthAddr, err)
	}
	ports := map[string]string{}
	for _, p := range get(c, "ports").([]any) {
		ports[str(get(p, "name"))] = str(get(p, "containerPort"))
	}
	for probe, path := range map[string]string{"livenessProbe": health.LivePath, "readinessProbe": health.ReadyPath, "startupProbe": health.LivePath} {
		got := str(get(c, probe, "httpGet", "path"))
		if got != path {
			t.Errorf("%s GETs %q, want %s", probe, got, path)
		}
		p := str(get(c, probe, "httpGet", "port"))
		if named, ok := ports[p]; ok {
			p = named
		}
		if p != port {
			t.Errorf("%s probes port %s, the worker serves health on %s", probe, p, port)
		}
	}
	if get(c, "resources", "requests") == nil || get(c, "resources", "limits", "memory") == nil {
		t.Error("the worker has no resource requests or memory limit")
	}

	// --policy and --roster are files of the mounted ConfigMap, and they parse.
	mounts := map[string]string{}
	for _, m := range get(c, "volumeMounts").([]any) {
		mounts[str(get(m, "name"))] = str(get(m, "mountPath"))
	}
	volumes := map[string]any{}
	for _, v := range get(pod, "volumes").([]any) {
		volumes[str(get(v, "name"))] = v
	}
	for flagName, file := range map[string]string{"--policy": w.Config.PolicyFile, "--roster": w.Config.RosterFile} {
		dir, key := filepath.Dir(file), filepath.Base(file)
		var found bool
		for vol, mp := range mounts {
			if mp == dir && get(volumes[vol], "configMap", "name") == "customs-config" {
				found = true
			}
		}
		data := str(get(cm, "data", key))
		if !found || data == "" {
			t.Errorf("%s %s is not a key of the mounted ConfigMap customs-config", flagName, file)
		}
	}
	if _, err := policy.ParsePolicy([]byte(str(get(cm, "data", "policy.json")))); err != nil {
		t.Errorf("ConfigMap policy.json: %v", err)
	}
	if _, err := policy.ParseRoster([]byte(str(get(cm, "data", "roster.json")))); err != nil {
		t.Errorf("ConfigMap roster.json: %v", err)
	}

	// The release register comes from a Secret that exists, and is PostgreSQL.
	for _, e := range get(c, "env").([]any) {
		ref := get(e, "valueFrom", "secretKeyRef")
		if ref == nil {
			continue
		}
		secret := objs["Secret/"+str(get(ref, "name"))]
		if secret == nil {
			t.Errorf("env %s reads Secret %s, which is not defined", get(e, "name"), get(ref, "name"))
			continue
		}
		value, ok := get(secret, "stringData", str(get(ref, "key"))).(string)
		if !ok && get(ref, "optional") != true {
			t.Errorf("env %s reads key %s, which Secret %s lacks", get(e, "name"), get(ref, "key"), get(ref, "name"))
		}
		if get(e, "name") == "CUSTOMS_RELEASE_DB" && !engine.IsPostgresURL(value) {
			t.Errorf("CUSTOMS_RELEASE_DB is %q, not a PostgreSQL URL", value)
		}
	}
	if str(get(pod, "serviceAccountName")) != "customs" || str(get(job, "spec", "template", "spec", "serviceAccountName")) != "customs" {
		t.Error("the pods do not run as the customs service account")
	}

	// The autoscaler and the disruption budget govern the Deployment's pods.
	hpa, pdb := objs["HorizontalPodAutoscaler/customs-worker"], objs["PodDisruptionBudget/customs-worker"]
	if get(hpa, "spec", "scaleTargetRef", "name") != "customs-worker" || get(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" {
		t.Errorf("the HPA scales %v", get(hpa, "spec", "scaleTargetRef"))
	}
	if min, _ := get(hpa, "spec", "minReplicas").(int); min < 2 {
		t.Errorf("the HPA may scale to %d replica", min)
	}
	labels := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range get(pdb, "spec", "selector", "matchLabels").(map[string]any) {
		if labels[k] != v {
			t.Errorf("the PDB selects %s=%v, the pods have %v", k, v, labels[k])
		}
	}

	// The setup job prepares the namespace the workers serve, on the same cluster.
	jc := get(job, "spec", "template", "spec", "containers", 0)
	jb, jargs := command(t, d, get(jc, "command"), get(jc, "args"))
	if jb.name != "setup" {
		t.Fatalf("the Job runs %s", jb.name)
	}
	if _, err := jb.parse(jargs); err != nil {
		t.Errorf("setup %v: %v", jargs, err)
	}
	checkImage(t, "Job", str(get(jc, "image")))
	if flagValue(jargs, "namespace") != w.Connect.Namespace || flagValue(jargs, "address") != w.Connect.Address {
		t.Errorf("setup prepares %s on %s, the workers serve %s on %s", flagValue(jargs, "namespace"), flagValue(jargs, "address"),
			w.Connect.Namespace, w.Connect.Address)
	}
}

func checkImage(t *testing.T, what, image string) {
	t.Helper()
	if image != ourImage && !strings.HasPrefix(image, ourImage+":") && !officialImage(image) {
		t.Errorf("%s: image %q is neither ours nor official", what, image)
	}
}

func TestHelmValues(t *testing.T) {
	v := readYAML(t, "helm/temporal-values.yaml")[0]
	// The server is the project's, which verifies callers: it needs the issuer and the internal
	// frontend; the Web UI signs officers in.
	if get(v, "server", "image", "repository") != ourImage+"-server" {
		t.Errorf("server image %v, want %s-server (deploy/Dockerfile, target server)", get(v, "server", "image", "repository"), ourImage)
	}
	env := map[string]any{}
	for _, e := range get(v, "server", "additionalEnv").([]any) {
		env[str(get(e, "name"))] = get(e, "value")
	}
	if iss := str(env["CUSTOMS_AUTH_ISSUER"]); !strings.HasPrefix(iss, "https://") {
		t.Errorf("server.additionalEnv CUSTOMS_AUTH_ISSUER = %q, want the customs service's https issuer", iss)
	}
	if get(v, "server", "internal-frontend", "enabled") != true {
		t.Error("server.internal-frontend.enabled is not true: the system workers would be refused")
	}
	uiEnv := map[string]any{}
	for _, e := range get(v, "web", "additionalEnv").([]any) {
		uiEnv[str(get(e, "name"))] = e
	}
	if str(get(uiEnv["TEMPORAL_AUTH_ENABLED"], "value")) != "true" || get(uiEnv["TEMPORAL_AUTH_CLIENT_SECRET"], "valueFrom", "secretKeyRef", "name") == nil {
		t.Errorf("the Web UI does not sign officers in, or holds its client secret inline: %v", uiEnv)
	}
	uiValues := map[string]string{}
	for name, e := range uiEnv {
		if v := get(e, "value"); v != nil {
			uiValues[name] = str(v)
		}
	}
	checkDesk(t, "helm web.additionalEnv", uiValues)
	if tag := str(get(v, "admintools", "image", "tag")); !strings.HasPrefix(tag, "1.32.") {
		t.Errorf("admin-tools tag %s, want 1.32.x", tag)
	}
	p := get(v, "server", "config", "persistence")
	for _, role := range []string{"defaultStore", "visibilityStore"} {
		store := str(get(p, role))
		sql := get(p, "datastores", store, "sql")
		if !strings.HasPrefix(str(get(sql, "pluginName")), "postgres") || str(get(sql, "connectAddr")) == "" {
			t.Errorf("%s %q is not on PostgreSQL: %v", role, store, sql)
		}
	}
	if get(v, "web", "enabled") != true || !strings.HasPrefix(str(get(v, "web", "image", "repository")), "temporalio/ui") {
		t.Error("the Web UI is not enabled")
	}
	// Chart 1.x refuses the bundled dependencies' keys of the 0.x charts.
	for _, old := range []string{"cassandra", "elasticsearch", "mysql", "prometheus", "grafana"} {
		if _, ok := v[old]; ok {
			t.Errorf("top-level key %s: the chart bundles no %s any more", old, old)
		}
	}
}

// checkShutdown checks that the time a platform waits after SIGTERM outlasts the worker's
// shutdown timeout, which itself lets the longest activity finish.
func checkShutdown(t *testing.T, what string, shutdown, grace time.Duration) {
	t.Helper()
	if shutdown < longestActivity {
		t.Errorf("%s: --shutdown-timeout %s is shorter than the longest activity (%s)", what, shutdown, longestActivity)
	}
	if grace <= shutdown {
		t.Errorf("%s: the grace period %s does not outlast --shutdown-timeout %s", what, grace, shutdown)
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

// flagValue returns the value given to --name in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(a, "="); ok && k == name {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// TestPostgresScriptRunsTheComposeServer holds .ci/postgres.sh, which runs the real server, to
// the Compose temporal service it stands for: the same variables, the same values except those
// naming the network, the database's password and the mounted file, and that file the one
// compose.yaml mounts there.
func TestPostgresScriptRunsTheComposeServer(t *testing.T) {
	b, err := os.ReadFile("../.ci/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	_, block, ok := strings.Cut(script, "\ntemporal_env=(\n")
	block, _, ok2 := strings.Cut(block, "\n)\n")
	if !ok || !ok2 {
		t.Fatal(".ci/postgres.sh has no temporal_env=( ... ) block")
	}
	if !strings.Contains(script, `env "${temporal_env[@]}" bin/server >`) {
		t.Error(".ci/postgres.sh does not start the server as the image does: bin/server with temporal_env")
	}
	scriptEnv := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		scriptEnv[k] = v
	}
	services := readYAML(t, "compose.yaml")[0]["services"].(map[string]any)
	tmp := services["temporal"]
	composeEnv := serviceEnv(tmp)
	// What names the network, the password or a path in the container, and what the image's
	// entrypoint adds.
	differs := map[string]bool{"DB_PORT": true, "POSTGRES_SEEDS": true, "POSTGRES_PWD": true, "BIND_ON_IP": true,
		"PROMETHEUS_ENDPOINT": true, "DYNAMIC_CONFIG_FILE_PATH": true, "CUSTOMS_AUTH_ISSUER": true, "CUSTOMS_AUTH_JWKS_URL": true}
	for k, v := range composeEnv {
		got, ok := scriptEnv[k]
		switch {
		case !ok:
			t.Errorf("compose.yaml gives the server %s=%s; .ci/postgres.sh does not", k, v)
		case !differs[k] && got != v:
			t.Errorf("%s: compose.yaml %q, .ci/postgres.sh %q", k, v, got)
		}
	}
	for k := range scriptEnv {
		if _, ok := composeEnv[k]; !ok && k != "TEMPORAL_BROADCAST_ADDRESS" {
			t.Errorf(".ci/postgres.sh gives the server %s, which compose.yaml does not", k)
		}
	}
	mountedFrom := ""
	for _, v := range strs(t, get(tmp, "volumes")) {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == composeEnv["DYNAMIC_CONFIG_FILE_PATH"] {
			mountedFrom = strings.TrimPrefix(parts[0], "./")
		}
	}
	if want := "$PWD/deploy/" + mountedFrom; mountedFrom == "" || scriptEnv["DYNAMIC_CONFIG_FILE_PATH"] != want {
		t.Errorf(".ci/postgres.sh reads the dynamic configuration from %q, compose.yaml mounts %q", scriptEnv["DYNAMIC_CONFIG_FILE_PATH"], want)
	}
}

// TestPostgresScriptRunsTheComposeUI: .ci/postgres.sh runs Temporal's UI server with the
// environment compose.yaml gives the temporal-ui service, so the Web UI's sign-in that the
// cluster test drives there is the one Compose configures; only the addresses and the secret
// differ.
func TestPostgresScriptRunsTheComposeUI(t *testing.T) {
	b, err := os.ReadFile("../.ci/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	_, block, ok := strings.Cut(script, "\nui_env=(\n")
	block, _, ok2 := strings.Cut(block, "\n)\n")
	if !ok || !ok2 {
		t.Fatal(".ci/postgres.sh has no ui_env=( ... ) block")
	}
	if !strings.Contains(script, `env "${ui_env[@]}" bin/ui-server --root "$ui_server_dir" --env docker start`) {
		t.Error(".ci/postgres.sh does not start the UI server as the image does: ui-server --env docker start with ui_env")
	}
	scriptEnv := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		scriptEnv[k] = v
	}
	composeEnv := serviceEnv(readYAML(t, "compose.yaml")[0]["services"].(map[string]any)["temporal-ui"])
	differs := map[string]bool{"TEMPORAL_ADDRESS": true, "TEMPORAL_CORS_ORIGINS": true, "TEMPORAL_AUTH_PROVIDER_URL": true,
		"TEMPORAL_AUTH_ISSUER_URL": true, "TEMPORAL_AUTH_CLIENT_SECRET": true, "TEMPORAL_AUTH_CALLBACK_URL": true}
	for k, v := range composeEnv {
		got, ok := scriptEnv[k]
		switch {
		case !ok:
			t.Errorf("compose.yaml gives the UI %s=%s; .ci/postgres.sh does not", k, v)
		case !differs[k] && got != v:
			t.Errorf("%s: compose.yaml %q, .ci/postgres.sh %q", k, v, got)
		}
	}
	for k := range scriptEnv {
		// The port is the image's own (8080) in Compose, a free one here.
		if _, ok := composeEnv[k]; !ok && k != "TEMPORAL_UI_PORT" {
			t.Errorf(".ci/postgres.sh gives the UI %s, which compose.yaml does not", k)
		}
	}
}

// scriptArray reads the bash array name=( ... ) of .ci/postgres.sh as words, quotes removed.
func scriptArray(t *testing.T, script, name string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(script, "\n"+name+"=(")
	if !ok {
		_, rest, ok = strings.Cut(script, " "+name+"=(")
	}
	body, _, ok2 := strings.Cut(rest, ")")
	if !ok || !ok2 {
		t.Fatalf(".ci/postgres.sh has no %s=( ... )", name)
	}
	var words []string
	for _, w := range strings.Fields(body) {
		words = append(words, strings.Trim(w, `"`))
	}
	return words
}

// TestPostgresScriptRunsTheComposeSetupAndWorkers: .ci/postgres.sh runs setup and the workers
// with the arguments compose.yaml gives them, the tokens as the token jobs write them, and the
// environment the services set; only what names the network (the address, the ports) differs.
func TestPostgresScriptRunsTheComposeSetupAndWorkers(t *testing.T) {
	b, err := os.ReadFile("../.ci/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	services := readYAML(t, "compose.yaml")[0]["services"].(map[string]any)
	// Flags that name the network or a place on disk differ.
	network := map[string]bool{"address": true, "health-addr": true, "metrics-addr": true, "archive": true}
	for _, c := range []struct{ array, service string }{{"setup_args", "setup"}, {"worker_args", "worker"}} {
		got := scriptArray(t, script, c.array)
		want := strs(t, get(services[c.service], "command"))
		flags := func(args []string) map[string]string {
			m := map[string]string{}
			for i := 0; i < len(args); i++ {
				name := strings.TrimLeft(args[i], "-")
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
					m[name] = args[i+1]
					i++
				} else {
					m[name] = "true"
				}
			}
			return m
		}
		g, w := flags(got), flags(want)
		for k, v := range w {
			if gv, ok := g[k]; !ok || (!network[k] && gv != v) {
				t.Errorf("%s: compose.yaml gives --%s %s; .ci/postgres.sh %q", c.service, k, v, gv)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s: .ci/postgres.sh gives --%s, which compose.yaml does not", c.service, k)
			}
		}
		// The service's environment names the token file the script gives it, and TLS off.
		env := serviceEnv(services[c.service])
		file := strings.TrimPrefix(env["CUSTOMS_API_KEY_FILE"], "/run/customs/")
		if file == "" || !strings.Contains(script, "CUSTOMS_API_KEY_FILE=$work/tokens/"+file) || env["TEMPORAL_TLS"] != "false" {
			t.Errorf("%s: compose.yaml reads its token from %q (TLS %q); .ci/postgres.sh does not give it that file", c.service, env["CUSTOMS_API_KEY_FILE"], env["TEMPORAL_TLS"])
		}
	}
	// The token jobs' subjects, roles and lifetimes.
	for _, job := range []string{"admin-token", "worker-token"} {
		args := strs(t, get(services[job], "command"))
		line := fmt.Sprintf("sign --role %s --subject %s --ttl %s --out \"$work/tokens/%s\"", flagValue(args, "role"), flagValue(args, "subject"),
			flagValue(args, "ttl"), strings.TrimPrefix(flagValue(args, "out"), "/run/customs/"))
		if !strings.Contains(script, line) {
			t.Errorf("%s: .ci/postgres.sh does not sign as the job does: %s", job, line)
		}
	}
}
