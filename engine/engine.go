// Package engine assembles the clearance worker: it opens the worker's dependencies (registry
// data, release register, exporter notifications, policy and roster), registers the workflow
// and activities on the customs-clearance task queue, and runs until stopped. The worker binary
// and the embedded default both run it.
package engine

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/interceptor"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/appeal"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/health"
	"github.com/medsupply/customs/register"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// Config is what the worker needs besides its Temporal connection.
type Config struct {
	// DataDir holds the release register and the exporter notifications log by default.
	DataDir string
	// ReleaseDB is the release register: a PostgreSQL URL (postgres://...), which every worker of
	// a cluster shares, or a SQLite file for one machine; default DataDir/releases.db.
	ReleaseDB string
	// Notifications is a JSON-lines file exporters' notifications are appended to; default
	// DataDir/notifications.jsonl; "-" only logs them.
	Notifications string
	// Webhooks is a file naming exporters' webhook endpoints (activities.LoadWebhooks): their
	// notifications are delivered there, signed, and the others go to Notifications.
	Webhooks string
	// PolicyFile and RosterFile override the built-in policy and roster.
	PolicyFile string
	RosterFile string
	// RegistryDir overrides the shipped registry data with the JSON files in a directory.
	RegistryDir string
	// ShutdownTimeout bounds how long running activities may take to finish on stop.
	ShutdownTimeout time.Duration
	// FatalPollsAfter is how long every poll may be refused for a lasting reason (namespace not
	// found, permission denied, unauthenticated) before the worker stops with an error.
	FatalPollsAfter time.Duration
	// MaxConcurrentActivities and MaxConcurrentWorkflowTasks size the worker's slots (0: SDK
	// defaults).
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
	// Pollers is the number of pollers for workflow tasks and again for activity tasks (0: SDK
	// default, 2 each).
	Pollers int
	// StickyCacheSize is how many workflow executions the process keeps cached between tasks
	// (0: SDK default, 10000). It is process-wide.
	StickyCacheSize int
	// HealthAddr, when set, is the host:port the health endpoints listen on (/healthz, /readyz).
	HealthAddr string
	// MetricsAddr, when set, is the host:port Prometheus scrapes /metrics from.
	MetricsAddr string
	// Versioning makes the worker a version of its worker deployment, which takes work while
	// it is the deployment's current or ramping version, and says when it makes itself current
	// (RegisterVersioningFlags). The zero value is an unversioned worker.
	Versioning connect.Versioning
	// Agency, when set, makes the worker a partner agency's on the single window (package
	// agency) in place of customs' clearance worker: it runs the agency's permit reviews and its
	// Nexus service in the agency's namespace, on agency.TaskQueue, with AgencyRoster (default
	// the agency's built-in roster), taking requests only from AgencyCallers' namespaces.
	Agency        string
	AgencyRoster  string
	AgencyCallers []string
	// SingleWindow names the agencies whose permits customs' built-in policy asks, by their
	// standard rules (policy.StandardAgencyRules); a policy file names its own (singleWindow).
	SingleWindow []string
}

// RegisterFlags adds the worker's flags, with defaults from CUSTOMS_* environment variables.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", envOr("CUSTOMS_DATA_DIR", "data"), "directory for the release register and notifications (env CUSTOMS_DATA_DIR)")
	fs.StringVar(&c.ReleaseDB, "release-db", os.Getenv("CUSTOMS_RELEASE_DB"), "release register: postgres://user:password@host/db shared by every worker, or a SQLite file (default DATA_DIR/releases.db; env CUSTOMS_RELEASE_DB)")
	fs.StringVar(&c.Webhooks, "webhooks", os.Getenv("CUSTOMS_WEBHOOKS"), "file of exporters' webhook endpoints and secret files: their notifications are POSTed there, signed (env CUSTOMS_WEBHOOKS)")
	fs.StringVar(&c.Notifications, "notifications", os.Getenv("CUSTOMS_NOTIFICATIONS"), `exporter notifications JSON-lines file (default DATA_DIR/notifications.jsonl; "-" logs only; env CUSTOMS_NOTIFICATIONS)`)
	fs.StringVar(&c.PolicyFile, "policy", os.Getenv("CUSTOMS_POLICY"), "clearance policy JSON file (default: built in; env CUSTOMS_POLICY)")
	fs.StringVar(&c.RosterFile, "roster", os.Getenv("CUSTOMS_ROSTER"), "officer roster JSON file (default: built in; env CUSTOMS_ROSTER)")
	fs.StringVar(&c.RegistryDir, "registry-dir", os.Getenv("CUSTOMS_REGISTRY_DIR"), "directory of registry JSON files (default: shipped data; env CUSTOMS_REGISTRY_DIR)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running activities may take to finish on stop")
	fs.DurationVar(&c.FatalPollsAfter, "fatal-polls-after", time.Minute, "stop with an error once every poll has been refused this long for a lasting reason (namespace not found, permission denied)")
	fs.IntVar(&c.MaxConcurrentActivities, "max-activities", 0, "activity slots (0: SDK default)")
	fs.IntVar(&c.MaxConcurrentWorkflowTasks, "max-workflow-tasks", 0, "workflow task slots (0: SDK default)")
	fs.IntVar(&c.Pollers, "pollers", 0, "pollers for workflow tasks and again for activity tasks; 0 or at least 2 (0: SDK default, 2)")
	fs.IntVar(&c.StickyCacheSize, "sticky-cache", 0, "workflow executions cached between tasks, process-wide (0: SDK default, 10000)")
	fs.StringVar(&c.HealthAddr, "health-addr", os.Getenv(health.EnvAddr), "serve /healthz and /readyz on this host:port, e.g. :8080 (default off; env "+health.EnvAddr+")")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", os.Getenv("CUSTOMS_METRICS_ADDR"), "serve Prometheus metrics at /metrics on this host:port, e.g. :9090 (default off; env CUSTOMS_METRICS_ADDR)")
}

// RegisterAgencyFlags adds --agency, --agency-roster and --agency-callers, with defaults from
// CUSTOMS_AGENCY* environment variables.
func (c *Config) RegisterAgencyFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Agency, "agency", os.Getenv("CUSTOMS_AGENCY"), "run a partner agency's single-window worker instead of customs' ("+
		strings.Join(agency.Agencies, ", ")+"), in the agency's namespace (--namespace agency-<agency>; env CUSTOMS_AGENCY)")
	fs.StringVar(&c.AgencyRoster, "agency-roster", os.Getenv("CUSTOMS_AGENCY_ROSTER"), "with --agency, the agency's officer roster JSON file (default: built in; env CUSTOMS_AGENCY_ROSTER)")
	c.AgencyCallers = splitList(os.Getenv("CUSTOMS_AGENCY_CALLERS"))
	c.SingleWindow = splitList(os.Getenv("CUSTOMS_SINGLE_WINDOW"))
	fs.Func("single-window", "agencies whose permits the built-in policy asks through the single window, by their standard rules, comma-separated (NMPA,SAMR; env CUSTOMS_SINGLE_WINDOW); a --policy file names its own",
		func(s string) error {
			c.SingleWindow = splitList(s)
			return nil
		})
	fs.Func("agency-callers", "with --agency, customs' namespace whose clearances may ask the agency; comma-separated for more (env CUSTOMS_AGENCY_CALLERS)",
		func(s string) error {
			c.AgencyCallers = splitList(s)
			return nil
		})
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// RegisterVersioningFlags adds --versioning (on by default), --deployment-name, --build-id and
// --make-current, with defaults from CUSTOMS_* environment variables. A Versioning.MakeCurrent
// set before is the default of --make-current (the devserver's is always), else if-none.
func (c *Config) RegisterVersioningFlags(fs *flag.FlagSet) {
	c.Versioning.RegisterFlags(fs, true)
}

// WorkerOptions is the worker binary's command line: how to reach Temporal, the engine's Config,
// logging, and whether to register the search attributes at start. It lives here rather than in
// the binary so the deployment manifests can be checked against the flags the worker really has.
type WorkerOptions struct {
	Connect                  connect.Options
	Config                   Config
	LogLevel                 string
	LogJSON                  bool
	RegisterSearchAttributes bool
	// Wait is how long to keep trying to reach the server at start.
	Wait time.Duration
}

// RegisterFlags defines every flag of the worker binary on fs.
func (o *WorkerOptions) RegisterFlags(fs *flag.FlagSet) {
	o.Connect.RegisterFlags(fs)
	o.Config.RegisterFlags(fs)
	o.Config.RegisterVersioningFlags(fs)
	o.Config.RegisterAgencyFlags(fs)
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&o.LogJSON, "log-json", false, "log JSON lines instead of console text")
	fs.BoolVar(&o.RegisterSearchAttributes, "register-search-attributes", false,
		"register the custom search attributes on the namespace before starting (needs operator rights)")
	fs.DurationVar(&o.Wait, "wait", 0, "at start, keep trying this long to reach the server (0: exit at once, for a supervisor that restarts the worker)")
}

// Validate reports a setting the SDK would refuse or panic on.
func (c Config) Validate() error {
	var errs []error
	if c.FatalPollsAfter < 0 {
		errs = append(errs, fmt.Errorf("--fatal-polls-after %s is negative", c.FatalPollsAfter))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout %s is negative", c.ShutdownTimeout))
	}
	if c.MaxConcurrentActivities < 0 || c.MaxConcurrentWorkflowTasks < 0 || c.StickyCacheSize < 0 {
		errs = append(errs, errors.New("--max-activities, --max-workflow-tasks and --sticky-cache must not be negative"))
	}
	if c.MaxConcurrentWorkflowTasks == 1 {
		errs = append(errs, errors.New("--max-workflow-tasks must be 0 or at least 2"))
	}
	if c.Pollers < 0 || c.Pollers == 1 {
		errs = append(errs, fmt.Errorf("--pollers %d: want 0 or at least 2", c.Pollers))
	}
	if err := c.Versioning.Validate(c.Versioning.Enabled); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateAgency())
	return errors.Join(errs...)
}

// IsPostgresURL reports whether a --release-db value names a PostgreSQL database rather than a
// SQLite file.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Engine is an opened worker's dependencies.
type Engine struct {
	Activities *activities.Activities
	// Hearings is the register of refusals heard on appeal, in the release register's database.
	Hearings appeal.HearingRegister
	// Polls watches the worker's polls; install Polls.Interceptor on the client Run is given
	// (connect.Options.Interceptors), or the worker never reports ready.
	Polls *health.Polls
	// Deployments, when set, is the client Run makes the worker's version current through
	// (Config.Versioning.MakeCurrent); nil uses the worker's own. Where callers are verified a
	// worker may not change its deployment, and an administrator's client can.
	Deployments client.Client
	// health serves the health endpoints from ServeHealth on; Close closes it.
	health *health.Server
	// Agency is the agency's checks, for an agency's worker (Config.Agency); it has no
	// Activities then.
	Agency *agency.Activities

	logger  *zap.Logger
	closers []func() error
}

// Open opens the registry, the release register and the notification sink, and checks the
// policy and roster load.
func Open(cfg Config, logger *zap.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{logger: logger, Polls: health.NewPolls()}
	reg := registry.Default()
	if cfg.RegistryDir != "" {
		r, err := registry.LoadDir(cfg.RegistryDir)
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		reg = r
	}
	if cfg.Agency != "" {
		return e, e.openAgency(cfg, reg)
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	releases, where, err := openReleases(cfg)
	if err != nil {
		return nil, fmt.Errorf("release register: %w", err)
	}
	e.closers = append(e.closers, releases.Close)

	var notifier activities.Notifier = activities.LogNotifier{}
	switch cfg.Notifications {
	case "-":
	default:
		path := cfg.Notifications
		if path == "" {
			path = filepath.Join(cfg.DataDir, "notifications.jsonl")
		}
		fn, err := activities.OpenFileNotifier(path)
		if err != nil {
			_ = e.Close()
			return nil, fmt.Errorf("notifications: %w", err)
		}
		e.closers = append(e.closers, fn.Close)
		notifier = fn
	}
	if cfg.Webhooks != "" {
		endpoints, err := activities.LoadWebhooks(cfg.Webhooks)
		if err != nil {
			_ = e.Close()
			return nil, err
		}
		notifier = &activities.WebhookNotifier{Endpoints: endpoints, Fallback: notifier}
		logger.Info("exporters' webhooks loaded", zap.Int("endpoints", len(endpoints)))
	}
	source := activities.FileConfig(cfg.PolicyFile, cfg.RosterFile)
	if len(cfg.SingleWindow) > 0 {
		source = withSingleWindow(source, cfg.SingleWindow)
		logger.Info("the built-in policy asks agencies' permits through the single window", zap.Strings("agencies", cfg.SingleWindow))
	}
	loaded, err := source()
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	for _, a := range workflows.PathsOverStandard(loaded.Policy) {
		logger.Warn("a path's stage allowances add up past the standard: a clearance that takes every allowance misses the standard",
			zap.String("path", a.String()), zap.Stringer("standard", loaded.Policy.Standard))
	}
	e.Activities = &activities.Activities{Registry: reg, Releases: releases, Declarations: releases, Notifier: notifier, Config: source}
	e.Hearings = releases
	logger.Info("engine opened", zap.String("releaseDB", where), zap.String("policy", orBuiltIn(cfg.PolicyFile)),
		zap.String("roster", orBuiltIn(cfg.RosterFile)), zap.String("registry", orBuiltIn(cfg.RegistryDir)))
	return e, nil
}

// releaseRegister is a register the engine opens and closes: the release notices, the
// declarations and the appeal hearings, in one database.
type releaseRegister interface {
	activities.ReleaseRegister
	activities.DeclarationRegister
	appeal.HearingRegister
	Close() error
}

// openReleases opens the register --release-db names and says where it is, without a password.
func openReleases(cfg Config) (releaseRegister, string, error) {
	if IsPostgresURL(cfg.ReleaseDB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := register.OpenPostgres(ctx, cfg.ReleaseDB)
		if err != nil {
			return nil, "", err
		}
		return r, r.Where(), nil
	}
	path := cfg.ReleaseDB
	if path == "" {
		path = filepath.Join(cfg.DataDir, "releases.db")
	}
	r, err := register.OpenSQLite(path)
	if err != nil {
		return nil, "", err
	}
	return r, path, nil
}

func orBuiltIn(s string) string {
	if s == "" {
		return "built-in"
	}
	return s
}

// ServeHealth serves the health endpoints on ln, bound by the caller, from now until Close:
// alive, and not ready until Run's worker polls; Run then serves them there in place of binding
// Config.HealthAddr. A process binds ln before it starts servers of its own, so that none of
// theirs takes the port, and before it waits for Temporal, so that a probe finds it alive.
func (e *Engine) ServeHealth(ln net.Listener) {
	if e.Polls == nil {
		e.Polls = health.NewPolls()
	}
	hs := health.Serve(ln, readyWhile(e.Polls))
	e.logHealth(hs)
	e.health = hs
	e.closers = append(e.closers, func() error { return closeHealth(hs) })
}

// readyWhile is the readiness of a worker whose polls are polls.
func readyWhile(polls *health.Polls) health.Checker {
	return func(context.Context) error { return polls.Ready() }
}

// logHealth logs where the health endpoints listen.
func (e *Engine) logHealth(hs *health.Server) {
	e.log().Info("health endpoints listening", zap.String("address", hs.Addr()),
		zap.Strings("paths", []string{health.LivePath, health.ReadyPath}))
}

// closeHealth stops the health endpoints, letting answers in progress finish for a few seconds.
func closeHealth(hs *health.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Close(ctx)
}

// Close releases what Open opened.
func (e *Engine) Close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}

// Register registers the clearance workflow and the activities on a worker.
//
// Clearances are auto-upgrade workflows: a clearance runs for weeks, so it moves to the
// deployment's current (or ramping) version at its next task rather than pinning the build it
// started on, and a change to what a running clearance does stays behind workflow.GetVersion
// (workflows/releases.go). An unversioned worker ignores the behaviour.
func Register(r worker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.ExportClearance, workflow.RegisterOptions{Name: workflows.WorkflowName,
		VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade})
	r.RegisterActivity(acts)
}

// RegisterAppeals registers the appeal workflow and its activities, which read the appealed
// clearance through c and keep the hearings in h, on a worker that also runs the clearances.
// Appeals run for weeks too, and upgrade as clearances do.
func RegisterAppeals(r worker.Registry, c client.Client, h appeal.HearingRegister) {
	r.RegisterWorkflowWithOptions(appeal.ClearanceAppeal, workflow.RegisterOptions{Name: appeal.WorkflowName,
		VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade})
	r.RegisterActivity(&appeal.Activities{Client: c, Hearings: h})
}

// SDKWorkerOptions are the SDK's worker options the configuration asks for.
func (c Config) SDKWorkerOptions() worker.Options {
	o := worker.Options{
		WorkerStopTimeout:                      c.ShutdownTimeout,
		MaxConcurrentActivityExecutionSize:     c.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: c.MaxConcurrentWorkflowTasks,
		MaxConcurrentWorkflowTaskPollers:       c.Pollers,
		MaxConcurrentActivityTaskPollers:       c.Pollers,
		// The clearance reads its verified callers through it (workflows.HeaderPrincipal).
		Interceptors: []interceptor.WorkerInterceptor{workflows.Interceptor()},
	}
	if c.Versioning.Enabled && c.Agency == "" {
		// An agency's worker is unversioned (Run).
		o.DeploymentOptions = worker.DeploymentOptions{
			UseVersioning: true,
			Version:       c.Versioning.Version(),
			// Any workflow registered without a behaviour of its own upgrades too.
			DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
		}
	}
	return o
}

// NewWorker creates a worker on the clearance task queue with the engine's activities.
func (e *Engine) NewWorker(c client.Client, cfg Config) worker.Worker {
	return e.newWorker(c, cfg, cfg.SDKWorkerOptions())
}

// newWorker is customs' clearance worker, or the agency's (Config.Agency).
func (e *Engine) newWorker(c client.Client, cfg Config, opts worker.Options) worker.Worker {
	if e.Agency != nil {
		return agency.NewWorker(c, e.Agency, cfg.AgencyCallers, opts)
	}
	w := worker.New(c, workflows.TaskQueue, opts)
	Register(w, e.Activities)
	RegisterAppeals(w, c, e.Hearings)
	return w
}

// Run runs a worker until ctx is done, then stops it gracefully: it stops polling and lets
// running activities finish within the shutdown timeout. It returns an error, after stopping the
// worker, when the worker fails: a fatal error from the SDK, or polls refused past
// cfg.FatalPollsAfter for a reason waiting does not cure (the namespace was deleted, the
// worker's credentials revoked). With cfg.HealthAddr it serves the health endpoints meanwhile:
// alive until such a failure, ready only while the worker polls successfully.
func (e *Engine) Run(ctx context.Context, c client.Client, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if e.Agency != nil && cfg.Versioning.Enabled {
		// An agency's reviews take hours, and nothing in its namespace would make a version
		// current: its worker is unversioned.
		e.log().Info("an agency's worker is unversioned", zap.String("agency", e.Agency.Agency))
		cfg.Versioning = connect.Versioning{}
	}
	if cfg.StickyCacheSize > 0 {
		// The cache is created with the process's first worker; set its size before.
		worker.SetStickyWorkflowCacheSize(cfg.StickyCacheSize)
	}
	polls := e.Polls
	if polls == nil {
		polls = health.NewPolls()
	}
	polls.FatalAfter = cfg.FatalPollsAfter
	hs := e.health
	if hs == nil && cfg.HealthAddr != "" {
		var err error
		if hs, err = health.Listen(cfg.HealthAddr, readyWhile(polls)); err != nil {
			return err
		}
		e.logHealth(hs)
		defer func() {
			if err := closeHealth(hs); err != nil {
				e.log().Warn("close health endpoints", zap.Error(err))
			}
		}()
	}
	fatal := make(chan error, 1)
	opts := cfg.SDKWorkerOptions()
	opts.OnFatalError = func(err error) {
		select {
		case fatal <- err:
		default:
		}
	}
	w := e.newWorker(c, cfg, opts)
	if err := w.Start(); err != nil {
		if hs != nil {
			hs.Failed(err)
		}
		return fmt.Errorf("start worker: %w", err)
	}
	if hs != nil {
		hs.Serving()
	}
	if v := cfg.Versioning; (v.Enabled && v.MakeCurrent != connect.CurrentNever) || v.MakeCurrent == connect.CurrentAlways {
		dc := e.Deployments
		if dc == nil {
			dc = c
		}
		mctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.makeCurrent(mctx, dc, v)
		}()
		defer func() {
			stop()
			<-done
		}()
	}
	err := waitForEnd(ctx, fatal, polls)
	if hs != nil {
		if err != nil {
			hs.Failed(err)
		} else {
			hs.Stopping()
		}
	}
	if err != nil {
		e.log().Error("the worker failed; stopping it", zap.Error(err))
	} else {
		e.log().Info("stopping the worker", zap.Duration("shutdownTimeout", cfg.ShutdownTimeout))
	}
	w.Stop()
	return err
}

// waitForEnd waits until ctx is done (nil) or the worker fails (the failure).
func waitForEnd(ctx context.Context, fatal <-chan error, polls *health.Polls) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-fatal:
			return fmt.Errorf("worker: %w", err)
		case <-tick.C:
			if err := polls.Fatal(); err != nil {
				return fmt.Errorf("worker: %w", err)
			}
		}
	}
}

func (e *Engine) log() *zap.Logger {
	if e.logger == nil {
		return zap.NewNop()
	}
	return e.logger
}
