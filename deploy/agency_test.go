package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/primitives"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/auth/authtest"
	setupcli "github.com/medsupply/customs/cmd/setup/cli"
	tokencli "github.com/medsupply/customs/cmd/token/cli"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/health"
	exitcode "github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// setupArgs is setup's command line: its options and the agencies --agencies puts on the single
// window.
type setupArgs struct {
	connect.SetupOptions
	Agencies []string
}

// parseSetup parses setup's command line. The setup binary itself parses it first, up to a help
// flag added at the end (exit 0 when every flag before it is one of its own and takes its
// value); the test's flag set, the same options and --agencies as the binary splits it, then
// gives the values and refuses operands.
func parseSetup(args []string) (setupArgs, error) {
	var stderr bytes.Buffer
	if code := setupcli.Run(context.Background(), append(slices.Clone(args), "-h"), io.Discard, &stderr); code != exitcode.OK {
		return setupArgs{}, fmt.Errorf("the setup binary: exit %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	var s setupArgs
	fs := newFlagSet("setup")
	s.RegisterFlags(fs)
	fs.Func("agencies", "", func(v string) error {
		s.Agencies = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				s.Agencies = append(s.Agencies, a)
			}
		}
		return nil
	})
	if err := parseAll(fs, args, false); err != nil {
		return s, err
	}
	return s, s.Versioning.Validate(true)
}

// agencyService is the Compose service of agency a's worker, and its Deployment's name.
func agencyService(a string) string { return "agency-" + strings.ToLower(a) + "-worker" }

// signAsTheJob runs a token job's command line (the token binary's Run), with its data directory
// and output file moved into a directory of the test's, and returns the claims the server's claim
// mapper reads from the token it wrote, for the issuer and audience the server trusts.
func signAsTheJob(t *testing.T, args []string, issuer, audience string) *authorization.Claims {
	t.Helper()
	dir := t.TempDir()
	key, err := auth.LoadOrCreateKey(auth.KeyPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "job.token")
	args = slices.Clone(args)
	for i := 0; i+1 < len(args); i++ {
		switch strings.TrimLeft(args[i], "-") {
		case "data-dir":
			args[i+1] = dir
		case "out":
			args[i+1] = out
		}
	}
	var stderr bytes.Buffer
	if code := tokencli.Run(context.Background(), args, io.Discard, &stderr); code != exitcode.OK {
		t.Fatalf("token %v: exit %d: %s", args, code, stderr.String())
	}
	tok, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("token %v wrote no token: %v", args, err)
	}
	m := &auth.ClaimMapper{Keys: authtest.Keys(&key.PublicKey), Issuer: issuer, Audience: audience}
	claims, err := m.GetClaims(&authorization.AuthInfo{AuthToken: "Bearer " + strings.TrimSpace(string(tok))})
	if err != nil {
		t.Fatalf("the server reads token %v: %v", args, err)
	}
	if id, ok := claims.Extensions.(auth.Identity); !ok || id.Refused != "" {
		t.Fatalf("the server refuses token %v: %+v", args, claims.Extensions)
	}
	return claims
}

// polls reports, for each of a worker's polls of the task queue in namespace ns, whether the
// server's authorizer for customs' namespace allows it to the caller of claims; refused holds
// the reasons.
func polls(t *testing.T, customs string, claims *authorization.Claims, ns, queue string) (allowed bool, refused []string) {
	t.Helper()
	tq := &taskqueuepb.TaskQueue{Name: queue}
	a := &auth.Authorizer{Namespace: customs}
	allowed = true
	for api, req := range map[string]any{
		"PollWorkflowTaskQueue": &workflowservice.PollWorkflowTaskQueueRequest{Namespace: ns, TaskQueue: tq},
		"PollActivityTaskQueue": &workflowservice.PollActivityTaskQueueRequest{Namespace: ns, TaskQueue: tq},
		"PollNexusTaskQueue":    &workflowservice.PollNexusTaskQueueRequest{Namespace: ns, TaskQueue: tq},
	} {
		res, err := a.Authorize(context.Background(), claims, &authorization.CallTarget{
			APIName: "/temporal.api.workflowservice.v1.WorkflowService/" + api, Namespace: ns, Request: req})
		if err != nil {
			t.Fatal(err)
		}
		if res.Decision != authorization.DecisionAllow {
			allowed = false
			refused = append(refused, api+": "+res.Reason)
		}
	}
	return allowed, refused
}

// TestComposeRunsEachAgencysWorker: the Compose file puts NMPA and SAMR on the single window and
// runs each agency's worker as the worker binary takes it: setup creates the agencies'
// namespaces and endpoints for customs' namespace, customs' workers ask those agencies, and each
// agency's service runs the same image's worker with --agency in its agency's namespace,
// answering customs alone, one replica within limits, with a token a job of its own signs for the
// issuer the server trusts. Run through the server's claim mapper and authorizer, that token
// polls the agency's task queue in its namespace and nowhere else, and customs' worker token polls
// in no agency's namespace.
func TestComposeRunsEachAgencysWorker(t *testing.T) {
	d := readDockerfile(t)
	services := readYAML(t, "compose.yaml")[0]["services"].(map[string]any)
	parse := func(name string) (*engine.WorkerOptions, []string) {
		t.Helper()
		s := services[name]
		if s == nil {
			t.Fatalf("compose.yaml has no %s service", name)
		}
		b, args := command(t, d, get(s, "entrypoint"), get(s, "command"))
		if b.name != "worker" {
			t.Fatalf("%s runs %s, not the worker", name, b.name)
		}
		var o *engine.WorkerOptions
		var err error
		withEnv(t, serviceEnv(s), func() { o, err = b.parse(args) })
		if err != nil {
			t.Fatalf("%s: worker %v: %v", name, args, err)
		}
		return o, args
	}

	setup := services["setup"]
	_, sargs := command(t, d, get(setup, "entrypoint"), get(setup, "command"))
	var so setupArgs
	var err error
	withEnv(t, serviceEnv(setup), func() { so, err = parseSetup(sargs) })
	if err != nil {
		t.Fatalf("setup %v: %v", sargs, err)
	}
	if len(so.Agencies) == 0 {
		t.Fatal("setup puts no agency on the single window (--agencies)")
	}
	customs := so.Connect.Namespace

	// Customs' workers ask the agencies that setup puts on the single window, and those only.
	cw, _ := parse("worker")
	if !slices.Equal(sortedCopy(cw.Config.SingleWindow), sortedCopy(so.Agencies)) {
		t.Errorf("customs' workers ask %v through the single window (--single-window), setup puts %v on it", cw.Config.SingleWindow, so.Agencies)
	}
	if _, err := policy.StandardSingleWindow(cw.Config.SingleWindow); err != nil {
		t.Errorf("customs' workers' --single-window: %v", err)
	}

	serverEnv := serviceEnv(services["temporal"])
	issuer := serverEnv["CUSTOMS_AUTH_ISSUER"]
	audience := serverEnv["CUSTOMS_AUTH_AUDIENCE"]
	if audience == "" {
		audience = auth.DevAudience
	}
	if serverEnv["CUSTOMS_AUTH_NAMESPACE"] != customs {
		t.Errorf("the server's authorizer takes %q for customs' namespace, setup prepares %q", serverEnv["CUSTOMS_AUTH_NAMESPACE"], customs)
	}
	// tokenJob is the service that writes the token file a service reads, and its arguments.
	tokenJob := func(name string) (string, []string) {
		t.Helper()
		file := serviceEnv(services[name])["CUSTOMS_API_KEY_FILE"]
		for jobName, js := range services {
			if args := strs(t, get(js, "command")); file != "" && flagValue(args, "out") == file {
				if get(services[name], "depends_on", jobName, "condition") != "service_completed_successfully" {
					t.Errorf("%s does not wait for %s, which writes its token", name, jobName)
				}
				if iss := flagValue(args, "issuer-url"); iss != issuer {
					t.Errorf("%s signs %s's token for issuer %q, the server trusts %q", jobName, name, iss, issuer)
				}
				_, full := command(t, d, get(js, "entrypoint"), get(js, "command"))
				return jobName, full
			}
		}
		t.Fatalf("%s reads its token from %q, which no service writes", name, file)
		return "", nil
	}
	_, customsTokenArgs := tokenJob("worker")
	customsToken := signAsTheJob(t, customsTokenArgs, issuer, audience)

	for _, a := range so.Agencies {
		name := agencyService(a)
		t.Run(a, func(t *testing.T) {
			o, _ := parse(name)
			s := services[name]
			if o.Config.Agency != a || o.Connect.Namespace != agency.Namespace(a) {
				t.Errorf("%s runs the worker of agency %q in namespace %q, want %s's in %s", name, o.Config.Agency, o.Connect.Namespace, a, agency.Namespace(a))
			}
			if !slices.Equal(o.Config.AgencyCallers, []string{customs}) {
				t.Errorf("%s answers the clearances of %v, want customs' namespace %s alone", name, o.Config.AgencyCallers, customs)
			}
			if o.Connect.Address != cw.Connect.Address {
				t.Errorf("%s dials %s, customs' workers %s", name, o.Connect.Address, cw.Connect.Address)
			}
			// Nothing makes a version current in the agency's namespace: a versioned worker there
			// would get no work.
			if o.Config.Versioning.Enabled {
				t.Errorf("%s runs as a version of %s, which nothing makes current in %s", name, o.Config.Versioning.DeploymentName, o.Connect.Namespace)
			}
			if o.Config.HealthAddr != d.env[health.EnvAddr] {
				t.Errorf("%s: --health-addr %q, but the image's HEALTHCHECK probes %s", name, o.Config.HealthAddr, d.env[health.EnvAddr])
			}
			if o.Config.MetricsAddr != ":9090" {
				t.Errorf("%s serves metrics at %q, Prometheus scrapes :9090", name, o.Config.MetricsAddr)
			}
			if n, _ := get(s, "deploy", "replicas").(int); n != 1 {
				t.Errorf("%s: replicas %v, want 1", name, get(s, "deploy", "replicas"))
			}
			if str(get(s, "deploy", "resources", "limits", "memory")) == "" || str(get(s, "deploy", "resources", "limits", "cpus")) == "" {
				t.Errorf("%s has no CPU and memory limits", name)
			}
			checkShutdown(t, name, o.Config.ShutdownTimeout, mustDuration(t, str(get(s, "stop_grace_period"))))
			if get(s, "depends_on", "setup", "condition") != "service_completed_successfully" {
				t.Errorf("%s does not wait for setup, which creates %s and its endpoint", name, o.Connect.Namespace)
			}
			if env := serviceEnv(s); env["TEMPORAL_TLS"] != "false" {
				t.Errorf("%s: TEMPORAL_TLS %q; the Compose server's frontend has no TLS", name, env["TEMPORAL_TLS"])
			}

			// Its token: a worker's, with the agency's claim, admitted to the agency's task queue
			// in its namespace and nowhere else.
			job, args := tokenJob(name)
			claims := signAsTheJob(t, args, issuer, audience)
			p := claims.Extensions.(auth.Identity).Principal
			if p.Agency != a || !slices.Equal(p.Roles, []string{workflows.RoleWorker}) {
				t.Errorf("%s signs %s a token of agency %q with roles %v, want %s's worker's", job, name, p.Agency, p.Roles, a)
			}
			if ok, why := polls(t, customs, claims, agency.Namespace(a), agency.TaskQueue); !ok {
				t.Errorf("%s's token may not poll %s in %s: %v", name, agency.TaskQueue, agency.Namespace(a), why)
			}
			others := []string{customs}
			for _, b := range agency.Agencies {
				if b != a {
					others = append(others, agency.Namespace(b))
				}
			}
			for _, ns := range others {
				if ok, _ := polls(t, customs, claims, ns, agency.TaskQueue); ok {
					t.Errorf("%s's token polls in %s too", name, ns)
				}
			}
			if ok, _ := polls(t, customs, customsToken, agency.Namespace(a), agency.TaskQueue); ok {
				t.Errorf("customs' worker token polls in %s", agency.Namespace(a))
			}
		})
	}
	if ok, why := polls(t, customs, customsToken, customs, workflows.TaskQueue); !ok {
		t.Errorf("customs' worker token may not poll %s in %s: %v", workflows.TaskQueue, customs, why)
	}

	// No agency's worker runs that setup does not put on the single window.
	for name, s := range services {
		if !strings.HasPrefix(expandDefaults(str(get(s, "image"))), ourImage) || strs(t, get(s, "entrypoint")) != nil {
			continue
		}
		if o, _ := parse(name); o.Config.Agency != "" && !slices.Contains(so.Agencies, o.Config.Agency) {
			t.Errorf("%s runs %s's worker, which setup does not put on the single window", name, o.Config.Agency)
		}
	}

	// Prometheus scrapes every agency's worker.
	prom := readYAML(t, "grafana/prometheus.yml")[0]
	var names []string
	for _, j := range get(prom, "scrape_configs").([]any) {
		if str(get(j, "job_name")) != "agency-worker" {
			continue
		}
		for _, sd := range get(j, "dns_sd_configs").([]any) {
			if get(sd, "port") == 9090 {
				names = append(names, strs(t, get(sd, "names"))...)
			}
		}
	}
	for _, a := range so.Agencies {
		if !slices.Contains(names, agencyService(a)) {
			t.Errorf("Prometheus's job agency-worker does not scrape %s on :9090 (it names %v)", agencyService(a), names)
		}
	}
}

// TestKubernetesRunsEachAgencysWorker: the setup Job puts the agencies on the single window, the
// ConfigMap's policy asks them by their standard rules (a --policy file names its own agencies,
// so the workers' --single-window is not for it), and each has a Deployment of its own, in the
// worker Deployment's manner: the image's worker with --agency in the agency's namespace,
// answering customs' namespace, unversioned, probed on the health server's paths, non-root, with
// requests and a memory limit, its token from a Secret of its own, and a disruption budget over
// its pods.
func TestKubernetesRunsEachAgencysWorker(t *testing.T) {
	d := readDockerfile(t)
	objs := manifests(t)
	job := objs["Job/customs-setup"]
	jc := get(job, "spec", "template", "spec", "containers", 0)
	_, jargs := command(t, d, get(jc, "command"), get(jc, "args"))
	var so setupArgs
	var err error
	withEnv(t, containerEnv(jc), func() { so, err = parseSetup(jargs) })
	if err != nil {
		t.Fatalf("setup %v: %v", jargs, err)
	}
	if len(so.Agencies) == 0 {
		t.Fatal("the setup Job puts no agency on the single window (--agencies)")
	}
	customs := so.Connect.Namespace

	// Customs' workers ask those agencies, by their standard rules, through the policy file.
	pol, err := policy.ParsePolicy([]byte(str(get(objs["ConfigMap/customs-config"], "data", "policy.json"))))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	for _, r := range pol.SingleWindow {
		asked = append(asked, r.Agency)
	}
	if !slices.Equal(sortedCopy(asked), sortedCopy(so.Agencies)) {
		t.Errorf("the policy's singleWindow asks %v, the setup Job puts %v on the single window", asked, so.Agencies)
	}
	if std, err := policy.StandardSingleWindow(asked); err != nil || fmt.Sprint(std) != fmt.Sprint(pol.SingleWindow) {
		t.Errorf("the policy's singleWindow %+v is not the standard rules %+v (%v)", pol.SingleWindow, std, err)
	}
	cc := get(objs["Deployment/customs-worker"], "spec", "template", "spec", "containers", 0)
	_, cargs := command(t, d, get(cc, "command"), get(cc, "args"))
	if flagValue(cargs, "single-window") != "" {
		t.Error("customs' worker Deployment gives --single-window beside --policy, which the worker refuses")
	}

	for _, a := range so.Agencies {
		name := agencyService(a)
		t.Run(a, func(t *testing.T) {
			dep := objs["Deployment/"+name]
			if dep == nil {
				t.Fatalf("no Deployment %s", name)
			}
			pod := get(dep, "spec", "template", "spec")
			c := get(pod, "containers", 0)
			b, args := command(t, d, get(c, "command"), get(c, "args"))
			if b.name != "worker" {
				t.Fatalf("%s runs %s", name, b.name)
			}
			checkImage(t, name, str(get(c, "image")))
			var o *engine.WorkerOptions
			withEnv(t, containerEnv(c), func() { o, err = b.parse(args) })
			if err != nil {
				t.Fatalf("%s: worker %v: %v", name, args, err)
			}
			if o.Config.Agency != a || o.Connect.Namespace != agency.Namespace(a) || !slices.Equal(o.Config.AgencyCallers, []string{customs}) {
				t.Errorf("%s runs agency %q in %q for %v, want %s in %s for %s", name, o.Config.Agency, o.Connect.Namespace,
					o.Config.AgencyCallers, a, agency.Namespace(a), customs)
			}
			if o.Connect.Address != so.Connect.Address {
				t.Errorf("%s dials %s, the setup Job %s", name, o.Connect.Address, so.Connect.Address)
			}
			if o.Config.Versioning.Enabled {
				t.Errorf("%s is a version of %s, which nothing makes current in %s", name, o.Config.Versioning.DeploymentName, o.Connect.Namespace)
			}
			grace, _ := get(pod, "terminationGracePeriodSeconds").(int)
			checkShutdown(t, name, o.Config.ShutdownTimeout, time.Duration(grace)*time.Second)

			// Probes hit the health server's paths on its port; metrics on the port named so.
			_, port, _ := strings.Cut(o.Config.HealthAddr, ":")
			ports := map[string]string{}
			for _, p := range get(c, "ports").([]any) {
				ports[str(get(p, "name"))] = str(get(p, "containerPort"))
			}
			for probe, path := range map[string]string{"livenessProbe": health.LivePath, "readinessProbe": health.ReadyPath, "startupProbe": health.LivePath} {
				p := str(get(c, probe, "httpGet", "port"))
				if named, ok := ports[p]; ok {
					p = named
				}
				if got := str(get(c, probe, "httpGet", "path")); got != path || p != port {
					t.Errorf("%s: %s GETs %s on %s, the health server serves %s on %s", name, probe, got, p, path, port)
				}
			}
			if _, mport, _ := strings.Cut(o.Config.MetricsAddr, ":"); ports["metrics"] != mport ||
				str(get(dep, "spec", "template", "metadata", "annotations", "prometheus.io/port")) != mport {
				t.Errorf("%s serves metrics on %q; its port metrics is %q", name, o.Config.MetricsAddr, ports["metrics"])
			}
			if get(c, "resources", "requests") == nil || get(c, "resources", "limits", "memory") == nil {
				t.Errorf("%s has no resource requests or memory limit", name)
			}
			if get(pod, "securityContext", "runAsNonRoot") != true || get(c, "securityContext", "readOnlyRootFilesystem") != true ||
				get(c, "securityContext", "allowPrivilegeEscalation") != false {
				t.Errorf("%s runs without the worker's security context", name)
			}
			if str(get(pod, "serviceAccountName")) != "customs" {
				t.Errorf("%s runs as service account %v", name, get(pod, "serviceAccountName"))
			}

			// The token file is the key token of a Secret of the agency's own, mounted there.
			file := flagValue(args, "api-key-file")
			var secret string
			for _, m := range get(c, "volumeMounts").([]any) {
				if str(get(m, "mountPath")) != filepath.Dir(file) {
					continue
				}
				for _, v := range get(pod, "volumes").([]any) {
					if get(v, "name") == get(m, "name") {
						secret = str(get(v, "secret", "secretName"))
					}
				}
			}
			if s := objs["Secret/"+secret]; secret == "" || get(s, "stringData", filepath.Base(file)) == nil {
				t.Errorf("%s reads its token from %s, which is no key of a Secret it mounts (%q)", name, file, secret)
			}
			if secret == "customs-temporal-client" || secret == "customs-setup-client" {
				t.Errorf("%s signs in with customs' token (Secret %s), which its namespace refuses", name, secret)
			}
			for _, e := range get(c, "env").([]any) {
				if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
					s := objs["Secret/"+str(get(ref, "name"))]
					if s == nil || (get(s, "stringData", str(get(ref, "key"))) == nil && get(ref, "optional") != true) {
						t.Errorf("%s: env %s reads %s/%s, which is not defined", name, get(e, "name"), get(ref, "name"), get(ref, "key"))
					}
				}
			}

			// Its pods are its own: apart from customs' workers and the other agencies', with a
			// disruption budget over them.
			labels, _ := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
			sel, _ := get(dep, "spec", "selector", "matchLabels").(map[string]any)
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("%s selects %s=%v, its pods have %v", name, k, v, labels[k])
				}
			}
			if labels["app.kubernetes.io/name"] != name {
				t.Errorf("%s's pods are named %v", name, labels["app.kubernetes.io/name"])
			}
			pdb := objs["PodDisruptionBudget/"+name]
			if pdb == nil {
				t.Errorf("no disruption budget %s", name)
			} else {
				for k, v := range get(pdb, "spec", "selector", "matchLabels").(map[string]any) {
					if labels[k] != v {
						t.Errorf("the disruption budget %s selects %s=%v, the pods have %v", name, k, v, labels[k])
					}
				}
			}
			if n, _ := get(dep, "spec", "replicas").(int); n < 1 {
				t.Errorf("%s: replicas %v", name, get(dep, "spec", "replicas"))
			}
		})
	}
	// Customs' disruption budget and autoscaler govern customs' workers only.
	for _, key := range []string{"PodDisruptionBudget/customs-worker"} {
		for k, v := range get(objs[key], "spec", "selector", "matchLabels").(map[string]any) {
			for _, a := range so.Agencies {
				if get(objs["Deployment/"+agencyService(a)], "spec", "template", "metadata", "labels", k) == v {
					t.Errorf("%s selects %s=%v, which %s's pods carry too", key, k, v, a)
				}
			}
		}
	}
}

// TestServersServeNexusOverHTTP: the history service delivers the single window's Nexus
// operations over HTTP through the internal frontend (the Compose server and the Helm values
// both run one), else the frontend (server v1.32.1 common/resource/fx.go
// getFrontendConnectionDetails). The configuration the Compose server renders from its
// environment (the stock template, as cmd/server renders it) and the Helm values give both an
// HTTP port.
func TestServersServeNexusOverHTTP(t *testing.T) {
	env := serviceEnv(readYAML(t, "compose.yaml")[0]["services"].(map[string]any)["temporal"])
	// What cmd/server sets itself, in the image.
	env["TEMPORAL_BROADCAST_ADDRESS"] = "127.0.0.1"
	var cfg *config.Config
	var err error
	withEnv(t, env, func() { cfg, err = config.Load(config.WithEmbedded()) })
	if err != nil {
		t.Fatalf("the server's configuration with compose.yaml's environment: %v", err)
	}
	for _, svc := range []primitives.ServiceName{primitives.FrontendService, primitives.InternalFrontendService} {
		s, ok := cfg.Services[string(svc)]
		if !ok {
			t.Errorf("compose.yaml: the server's configuration defines no %s", svc)
			continue
		}
		if s.RPC.HTTPPort == 0 || s.RPC.HTTPPort == s.RPC.GRPCPort {
			t.Errorf("compose.yaml: the %s's httpPort is %d: the server cannot deliver a Nexus operation", svc, s.RPC.HTTPPort)
		}
	}

	v := readYAML(t, "helm/temporal-values.yaml")[0]
	for _, svc := range []string{"frontend", "internal-frontend"} {
		p, ok := get(v, "server", svc, "service", "httpPort").(int)
		if !ok || p <= 0 || p > 65535 {
			t.Errorf("helm/temporal-values.yaml: server.%s.service.httpPort %v is not a port", svc, get(v, "server", svc, "service", "httpPort"))
		}
		if grpc, ok := get(v, "server", svc, "service", "port").(int); ok && grpc == p {
			t.Errorf("helm/temporal-values.yaml: server.%s serves gRPC and HTTP on one port %d", svc, p)
		}
	}
}

// TestPostgresScriptRunsTheComposeAgencyWorkers: .ci/postgres.sh runs each agency's worker with
// the arguments its Compose service gives it, and signs its token as the service's token job does;
// only what names the network differs.
func TestPostgresScriptRunsTheComposeAgencyWorkers(t *testing.T) {
	b, err := os.ReadFile("../.ci/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	services := readYAML(t, "compose.yaml")[0]["services"].(map[string]any)
	network := map[string]bool{"address": true, "health-addr": true, "metrics-addr": true}
	for _, a := range agency.Agencies {
		name := agencyService(a)
		s := services[name]
		if s == nil {
			t.Errorf("compose.yaml has no %s", name)
			continue
		}
		got := scriptArray(t, script, strings.ReplaceAll(name, "-", "_")+"_args")
		want := strs(t, get(s, "command"))
		g, w := argMap(got), argMap(want)
		for k, v := range w {
			if gv, ok := g[k]; !ok || (!network[k] && gv != v) {
				t.Errorf("%s: compose.yaml gives --%s %s; .ci/postgres.sh %q", name, k, v, gv)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s: .ci/postgres.sh gives --%s, which compose.yaml does not", name, k)
			}
		}
		file := strings.TrimPrefix(serviceEnv(s)["CUSTOMS_API_KEY_FILE"], "/run/customs/")
		if file == "" || !strings.Contains(script, "CUSTOMS_API_KEY_FILE=$work/tokens/"+file) {
			t.Errorf("%s: .ci/postgres.sh does not give it the token file %q", name, file)
		}
		for jobName, js := range services {
			args := strs(t, get(js, "command"))
			if flagValue(args, "out") != "/run/customs/"+file {
				continue
			}
			line := fmt.Sprintf("sign --agency %s --role %s --subject %s --ttl %s --out \"$work/tokens/%s\"", flagValue(args, "agency"),
				flagValue(args, "role"), flagValue(args, "subject"), flagValue(args, "ttl"), file)
			if !strings.Contains(script, line) {
				t.Errorf("%s: .ci/postgres.sh does not sign as the job does: %s", jobName, line)
			}
		}
	}
}

// argMap is a command line's flags by name ("true" for one without a value).
func argMap(args []string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(args); i++ {
		name := strings.TrimLeft(args[i], "-")
		if k, v, ok := strings.Cut(name, "="); ok {
			m[k] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			m[name] = args[i+1]
			i++
		} else {
			m[name] = strconv.FormatBool(true)
		}
	}
	return m
}
