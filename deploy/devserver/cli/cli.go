// Package cli is the command line of devserver: the engine on one machine, an embedded Temporal
// server persisted in a SQLite file, the Temporal Web UI, the custom search attributes registered
// and the clearance worker in the same process, until its context ends. The devserver binary is a
// thin wrapper over Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/workflows"

	"github.com/medsupply/customs/internal/command"
	"google.golang.org/grpc"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/medsupply/customs/codec"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/metrics"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
)

// Run runs the command line and returns the exit code. The server and the worker stop when ctx
// ends.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg engine.Config
	cfg.RegisterFlags(fs)
	// The devserver's worker is its deployment's only one: each start makes its build current.
	cfg.Versioning.MakeCurrent = connect.CurrentAlways
	cfg.RegisterVersioningFlags(fs)
	memory := fs.Bool("memory", false, "keep Temporal's data in memory only (lost on exit)")
	ip := fs.String("ip", embedded.DefaultIP, "address to bind gRPC and the Web UI to")
	port := fs.Int("port", embedded.DefaultGRPCPort, "Temporal gRPC port")
	uiPort := fs.Int("ui-port", embedded.DefaultUIPort, "Web UI port")
	noUI := fs.Bool("no-ui", false, "do not serve the Web UI")
	adminUI := fs.Bool("admin-ui", false, "serve the full Web UI, for an administrator: Terminate, Reset, Request Cancellation, Signal, Pause, Start Workflow, batch and activity actions; without it the UI is the officers' desk, which decides through updates only (administrators use the temporal CLI)")
	syncNormal := fs.Bool("sqlite-sync-normal", false, "SQLite synchronous=NORMAL instead of FULL: faster; a power loss may lose the last transactions (a crash loses none)")
	historyCache := fs.Int("history-cache", 0, "workflows whose state the server keeps in memory (0: the server's default, 128,000); the server grows by tens of KiB per open clearance until then")
	archive := fs.String("archive", "", "directory that keeps the history of every closed workflow past retention, for auditors (auditor replay --archive); \"\" archives nothing")
	archiveDelay := fs.Duration("archive-delay", 0, "with --archive: a closed workflow's history is archived within this time (0: the server's default, 5m)")
	runWorker := fs.Bool("worker", true, "run the clearance worker in this process (false: the server and UI only, for external workers)")
	agencies := fs.String("agencies", strings.Join(agency.Agencies, ","), "partner agencies on the single window, comma-separated: their namespaces and Nexus endpoints are set up, and with --worker their workers run in this process; \"\" for none")
	namespace := fs.String("namespace", embedded.DefaultNamespace, "namespace to create and serve")
	retention := fs.Duration("retention", 30*24*time.Hour, "how long closed clearances are kept (set when the namespace is created)")
	codecKeys := fs.String("codec-keys", os.Getenv(connect.EnvCodecKeys), "keyring file that encrypts payloads; the Web UI then decrypts through a codec server (env "+connect.EnvCodecKeys+")")
	codecPort := fs.Int("codec-port", 8234, "codec server port, with --codec-keys")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	withAuth := fs.Bool("auth", false, "verify every caller's signed token (a development issuer keeps its key under --data-dir; go run ./cmd/token signs tokens)")
	authPort := fs.Int("auth-port", auth.DefaultDevPort, "with --auth, the port the issuer publishes its keys on")
	var settings embedded.Settings
	fs.Var(&settings, "dynamic-config-value", "a setting of the Temporal server's dynamic configuration as KEY=VALUE, the value in JSON or YAML (matching.enableFairness=false), over the engine's; repeat for more")
	pprofPort := fs.Int("pprof-port", 0, "serve this process's Go profiles (net/http/pprof: processor, heap, goroutines) on 127.0.0.1 at this port, to see where the server and the worker spend their time; 0 serves none")
	command.Help(fs, stdout, "usage: devserver [flags]\n\nThe engine on one machine: an embedded Temporal server (SQLite file, or --memory), the Web UI\nand the clearance worker in one process, on loopback unless told otherwise. The Web UI is the\nofficers' desk: decisions through updates, no Terminate, Reset, Cancel, Signal or Start\nWorkflow (--admin-ui serves them all).\n\nflags:\n")
	if code, ok := command.NoOperands("devserver", fs, args, stderr); !ok {
		return code
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "devserver: %v\n", err)
		return command.Usage
	}
	onWindow, err := parseAgencies(*agencies, *namespace)
	if err != nil {
		fmt.Fprintf(stderr, "devserver: --agencies %q: %v\n", *agencies, err)
		return command.Usage
	}
	if *withAuth {
		// The embedded server delivers Nexus operations only through an HTTP port that would admit
		// anyone on this machine when it verifies callers (embedded.Config.Auth).
		explicit := false
		fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "agencies" })
		if explicit && len(onWindow) > 0 {
			fmt.Fprintf(stderr, "devserver: --agencies %q with --auth: the embedded server does not deliver Nexus operations while it verifies callers; run the single window on a cluster (docs/single-window.md), or give --agencies \"\"\n", *agencies)
			return command.Usage
		}
		onWindow = nil
	}
	if cfg.PolicyFile == "" {
		// The built-in policy asks the permits of the agencies this process sets up.
		cfg.SingleWindow = onWindow
	}
	if *historyCache < 0 {
		fmt.Fprintf(stderr, "devserver: --history-cache %d: give a number of workflows, or 0 for the server's default\n", *historyCache)
		return command.Usage
	}
	if *pprofPort < 0 || *pprofPort > 65535 {
		fmt.Fprintf(stderr, "devserver: --pprof-port %d: give a port from 1 to 65535, or 0 for none\n", *pprofPort)
		return command.Usage
	}
	if *archiveDelay < 0 || (*archiveDelay > 0 && *archive == "") {
		fmt.Fprintf(stderr, "devserver: --archive-delay %v: give a positive time, with --archive\n", *archiveDelay)
		return command.Usage
	}
	zl, err := logging.New(*level, false)
	if err != nil {
		fmt.Fprintf(stderr, "devserver: --log-level: %v\n", err)
		return command.Usage
	}
	defer func() { _ = zl.Sync() }()
	// The Web UI's server logs each call it authenticates through the standard logger.
	if restore, err := zap.RedirectStdLogAt(zl.Named("ui"), zapcore.DebugLevel); err == nil {
		defer restore()
	}

	scfg := embedded.Config{
		InMemory: *memory, IP: *ip, GRPCPort: *port, UIPort: *uiPort, DisableUI: *noUI, AdminUI: *adminUI,
		Namespace: *namespace, Retention: *retention, Logger: zl, SyncNormal: *syncNormal, HistoryCache: *historyCache,
		ArchiveDir: *archive, ArchiveDelay: *archiveDelay, Settings: settings,
	}
	if *pprofPort != 0 {
		stopProfiles, err := serveProfiles(*pprofPort, zl)
		if err != nil {
			fmt.Fprintf(stderr, "devserver: --pprof-port %d: %v\n", *pprofPort, err)
			return command.Failure
		}
		defer stopProfiles()
	}
	// The worker's health address is bound before the server starts, whose own ports are chosen
	// among those free then: it can take none that the worker binds later.
	var healthLn net.Listener
	if *runWorker && cfg.HealthAddr != "" {
		if healthLn, err = net.Listen("tcp", cfg.HealthAddr); err != nil {
			fmt.Fprintf(stderr, "devserver: --health-addr %s: %v\n", cfg.HealthAddr, err)
			return command.Failure
		}
		// The engine closes it once it serves there; closing it again on the way out is harmless.
		defer func() { _ = healthLn.Close() }()
	}
	var dev *auth.Dev
	if *withAuth {
		var web *auth.WebLogin
		if !*noUI {
			people, err := devPeople(cfg, onWindow)
			if err != nil {
				zl.Error("--auth", zap.Error(err))
				return command.Usage
			}
			web = &auth.WebLogin{People: people, CallbackURL: embedded.UIAddress(*ip, *uiPort) + embedded.UICallbackPath}
		}
		if dev, err = auth.StartDev(cfg.DataDir, *ip, *authPort, web); err != nil {
			zl.Error("--auth", zap.Error(err))
			return command.Failure
		}
		defer func() {
			if err := dev.Close(); err != nil {
				zl.Warn("stop the issuer", zap.Error(err))
			}
		}()
		scfg.Auth = dev.Server(*namespace)
		scfg.UILogin = dev.UILogin()
	}
	var cd *codec.Codec
	if *codecKeys != "" {
		ring, err := codec.LoadKeyring(*codecKeys)
		if err != nil {
			zl.Error("--codec-keys", zap.Error(err))
			return command.Usage
		}
		cd = codec.New(ring)
		addr := net.JoinHostPort(*ip, strconv.Itoa(*codecPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			zl.Error("cannot serve the codec", zap.Error(err))
			return command.Failure
		}
		origins := []string{"http://" + net.JoinHostPort(*ip, strconv.Itoa(*uiPort)), "http://localhost:" + strconv.Itoa(*uiPort)}
		copts := codec.ServerOptions{Origins: origins, Token: os.Getenv("CUSTOMS_CODEC_TOKEN")}
		if dev != nil {
			// The same tokens as the server's: the signed-in officer's, which the Web UI passes.
			copts.Token, copts.Authorize = "", dev.HTTPAuthorizer(auth.Readers...)
		}
		cs := &http.Server{Handler: codec.NewHandler(cd, copts), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := cs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				zl.Error("the codec server stopped", zap.Error(err))
			}
		}()
		defer func() {
			if err := cs.Close(); err != nil {
				zl.Warn("close the codec server", zap.Error(err))
			}
		}()
		scfg.CodecEndpoint = "http://" + addr
	}
	if !*memory {
		scfg.DataDir = filepath.Join(cfg.DataDir, "temporal")
	}
	srv, err := embedded.Start(ctx, scfg)
	if err != nil {
		zl.Error("cannot start the embedded Temporal server", zap.Error(err))
		return command.Failure
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			zl.Warn("stop server", zap.Error(err))
		}
	}()

	e, err := engine.Open(cfg, zl)
	if err != nil {
		zl.Error("cannot open the engine", zap.Error(err))
		return command.Failure
	}
	defer func() {
		if err := e.Close(); err != nil {
			zl.Warn("close engine", zap.Error(err))
		}
	}()
	if healthLn != nil {
		e.ServeHealth(healthLn)
	}
	copts := client.Options{
		HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: logging.NewSDKLogger(zl.Named("sdk")),
		ConnectionOptions: client.ConnectionOptions{
			// The worker's own polls tell whether it is ready (--health-addr).
			DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(e.Polls.Interceptor())},
			// The server is in this process: compressing calls would only cost processor time.
			GrpcCompression: &client.GrpcCompressionNone{},
		},
	}
	if cd != nil {
		codec.Apply(&copts, cd)
	}
	admin := copts
	if dev != nil {
		// The worker in this process signs in as a worker; a worker may not change its
		// deployment, nor set up the agencies, so this process does that as an administrator.
		admin.HeadersProvider = dev.Headers(workflows.Principal{Subject: "devserver", Roles: []string{workflows.RoleAdmin}})
		copts.HeadersProvider = dev.Headers(workflows.Principal{Subject: "devserver-worker", Roles: []string{workflows.RoleWorker}})
	}
	agencyOpts := func(a string) client.Options {
		o := copts
		o.Namespace = agency.Namespace(a)
		o.ConnectionOptions.DialOptions = nil // customs' worker's polls say whether it is ready
		o.MetricsHandler = nil
		if dev != nil {
			o.HeadersProvider = dev.Headers(agencyWorker(a))
		}
		return o
	}
	var mx *metrics.Metrics
	if cfg.MetricsAddr != "" {
		if mx, err = metrics.New(); err != nil {
			zl.Error("metrics", zap.Error(err))
			return command.Failure
		}
		mx.OnError = func(err error) { zl.Warn("metrics", zap.Error(err)) }
		copts.MetricsHandler = mx.Handler
	}
	c, err := client.DialContext(ctx, copts)
	if err != nil {
		zl.Error("cannot connect to the embedded server", zap.Error(err))
		return command.Failure
	}
	defer c.Close()
	if mx != nil {
		go func() {
			if err := mx.Run(ctx, cfg.MetricsAddr, c, srv.Namespace()); err != nil {
				zl.Error("metrics endpoint", zap.Error(err))
			}
		}()
	}

	ac, err := client.DialContext(ctx, admin)
	if err != nil {
		zl.Error("cannot connect to the embedded server", zap.Error(err))
		return command.Failure
	}
	defer ac.Close()
	if len(onWindow) > 0 {
		if err := agency.Setup(ctx, ac, srv.Namespace(), onWindow...); err != nil {
			zl.Error("cannot set up the single window's agencies", zap.Error(err))
			return command.Failure
		}
		zl.Info("single window set up", zap.Strings("agencies", onWindow))
	}

	fmt.Fprintf(stdout, `
Customs clearance engine is running.
  Temporal gRPC  %s (namespace %q)
  Web UI         %s
  Data           %s
  Worker         %s
  Single window  %s

From another terminal, follow README.md's five-minute walks: the exporter lodges, the officer
decides, the auditor reads. Check a declaration without lodging it:
  go run ./starter submit --dry-run examples/us-nasal-cannulas-anaesthesia-masks.json
Officers' queues are list filters in the Web UI, for example
  ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'biological-review'

Stop with Ctrl-C.
`, srv.FrontendAddress(), srv.Namespace(), orNone(srv.UIAddress()), dataWhere(*memory, cfg.DataDir), workerWhat(*runWorker, cfg.Versioning), windowWhat(onWindow, *runWorker, *withAuth))
	if dev != nil {
		fmt.Fprintf(stdout, `
Authentication is on: every call needs a token from the issuer %s.
  export TEMPORAL_TLS=false TEMPORAL_API_KEY=$(go run ./cmd/token --exporter 3301960412 --subject labor-berlin)
  go run ./starter submit examples/de-antibody-test-kits.json
  go run ./cmd/token --role officer --subject doc-li     # an officer of the roster
  go run ./cmd/token --role auditor --subject audit-1    # read only
`, dev.Issuer.URL)
		if dev.Login != nil {
			fmt.Fprintf(stdout, "The Web UI signs officers in at the issuer: open %s and choose who you are.\n", srv.UIAddress())
		}
	}
	if !*runWorker {
		zl.Info("no worker in this process; start one with go run ./worker")
		<-ctx.Done()
		return 0
	}
	if dev != nil && cfg.Versioning.Enabled {
		e.Deployments = ac
	}
	for _, a := range onWindow {
		stop, err := runAgency(ctx, cfg, a, agencyOpts(a), srv.Namespace(), zl)
		if err != nil {
			zl.Error("cannot run the agency's worker", zap.String("agency", a), zap.Error(err))
			return command.Failure
		}
		defer stop()
	}
	if err := e.Run(ctx, c, cfg); err != nil {
		zl.Error("worker failed", zap.Error(err))
		return command.Failure
	}
	zl.Info("stopping")
	return 0
}

// parseAgencies reads --agencies: known agencies, each once, none working in customs' namespace.
func parseAgencies(list, namespace string) ([]string, error) {
	out, err := agency.ParseList(list)
	if err != nil {
		return nil, err
	}
	for _, a := range out {
		if agency.Namespace(a) == namespace {
			return nil, fmt.Errorf("%s works in namespace %s, which is customs' (--namespace)", a, namespace)
		}
	}
	return out, nil
}

// agencyWorker is who an agency's worker in this process signs in as.
func agencyWorker(a string) workflows.Principal {
	return workflows.Principal{Subject: "devserver-" + strings.ToLower(a) + "-worker", Roles: []string{workflows.RoleWorker}, Agency: a}
}

// runAgency starts agency a's worker in its namespace with the built-in roster, answering
// customs' namespace, as the worker binary runs it with --agency; stop stops it.
func runAgency(ctx context.Context, cfg engine.Config, a string, opts client.Options, customs string, zl *zap.Logger) (stop func(), err error) {
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to namespace %s: %w", opts.Namespace, err)
	}
	stopWorker, err := engine.StartAgencyWorker(c, engine.Config{Agency: a, AgencyCallers: []string{customs}, RegistryDir: cfg.RegistryDir}, zl)
	if err != nil {
		c.Close()
		return nil, err
	}
	return func() {
		stopWorker()
		c.Close()
	}, nil
}

// windowWhat says which agencies are on the single window, and where their workers run.
func windowWhat(agencies []string, run bool, verified bool) string {
	switch {
	case len(agencies) == 0 && verified:
		return "none: with --auth the embedded server delivers no Nexus operations (docs/single-window.md)"
	case len(agencies) == 0:
		return "none (--agencies)"
	}
	var names []string
	for _, a := range agencies {
		names = append(names, fmt.Sprintf("%s (namespace %s)", a, agency.Namespace(a)))
	}
	if !run {
		return strings.Join(names, ", ") + "; workers: go run ./worker --agency A --namespace agency-a --agency-callers customs' namespace"
	}
	return strings.Join(names, ", ") + ", workers in this process"
}

// serveProfiles serves Go's profiles of this process on loopback only: they show its insides
// (command line, goroutines' stacks), so they are for the operator at the machine.
func serveProfiles(port int, zl *zap.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := ps.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			zl.Error("the profiles' server stopped", zap.Error(err))
		}
	}()
	zl.Info("serving Go profiles", zap.String("url", "http://"+ln.Addr().String()+"/debug/pprof/"))
	return func() {
		if err := ps.Close(); err != nil {
			zl.Warn("close the profiles' server", zap.Error(err))
		}
	}, nil
}

// devPeople are those the development identity provider signs in: the roster the worker uses,
// the exporters of its trader registry, an auditor, and the officers of the agencies on the
// single window (their built-in rosters).
func devPeople(cfg engine.Config, agencies []string) ([]auth.Person, error) {
	roster := policy.DefaultRoster()
	if cfg.RosterFile != "" {
		var err error
		if roster, err = policy.LoadRoster(cfg.RosterFile); err != nil {
			return nil, fmt.Errorf("--roster: %w", err)
		}
	}
	reg := registry.Default()
	if cfg.RegistryDir != "" {
		var err error
		if reg, err = registry.LoadDir(cfg.RegistryDir); err != nil {
			return nil, fmt.Errorf("--registry-dir: %w", err)
		}
	}
	people := auth.DevPeople(roster, reg.Exporters())
	for _, a := range agencies {
		r, err := agency.DefaultRoster(a)
		if err != nil {
			return nil, err
		}
		people = append(people, auth.AgencyPeople(r)...)
	}
	return people, nil
}

// workerWhat says which worker runs in this process.
func workerWhat(run bool, v connect.Versioning) string {
	switch {
	case !run:
		return "none in this process (go run ./worker)"
	case !v.Enabled:
		return "unversioned"
	}
	return fmt.Sprintf("build %s of the worker deployment %s (--make-current %s)", v.BuildID, v.DeploymentName, v.MakeCurrent)
}

func orNone(s string) string {
	if s == "" {
		return "(disabled)"
	}
	return s
}

func dataWhere(memory bool, dir string) string {
	if memory {
		return "in memory (lost on exit); release register in " + dir
	}
	return dir
}
