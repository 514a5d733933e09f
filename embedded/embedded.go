// Package embedded runs a Temporal server and its Web UI inside the engine's process, for one
// machine: persistence in a SQLite file (or in memory), the frontend on one address, every other
// service on loopback, and the namespace created with the engine's search attributes.
package embedded

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	serverlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

// Defaults applied by Start to zero fields of Config.
const (
	DefaultIP        = "127.0.0.1"
	DefaultGRPCPort  = 7233
	DefaultUIPort    = 8233
	DefaultNamespace = "default"
	DefaultRetention = 24 * time.Hour
)

// DBFile is the name of the SQLite database inside Config.DataDir.
const DBFile = "temporal.db"

// clusterName names the single cluster; it is stored in the database, so it never changes.
const clusterName = "active"

// loopback is where every service but the frontend listens.
const loopback = "127.0.0.1"

// Config configures an embedded server.
type Config struct {
	// DataDir holds the SQLite database (DataDir/temporal.db) and a lock file; it is created if
	// missing. Required unless InMemory.
	DataDir string
	// InMemory keeps everything in memory, lost on Stop; DataDir must then be empty.
	InMemory bool
	// IP is the address the frontend (gRPC) and the Web UI listen on; default 127.0.0.1.
	// 0.0.0.0 exposes both to the network, without TLS or authentication.
	IP string
	// GRPCPort is the frontend's port; default 7233.
	GRPCPort int
	// UIPort is the Web UI's port; default 8233.
	UIPort int
	// DisableUI turns the Web UI off.
	DisableUI bool
	// AdminUI serves the Web UI with all its controls. Without it the UI is the officers' desk:
	// its server hides Terminate, Reset, Request Cancellation, Signal, Pause, Start Workflow,
	// batch actions and activity commands (DeskControls), and keeps updates, the officers'
	// decisions. Hidden is not refused: the UI's API passes any call on, which the server's
	// authorizer (Auth) decides.
	AdminUI bool
	// Namespace is created on first start with the engine's search attributes; default
	// "default".
	Namespace string
	// Retention is how long closed workflows stay in a namespace this Start creates; default
	// 24h, as in the Temporal CLI's dev server. It does not change an existing namespace.
	Retention time.Duration
	// Logger receives the server's warnings and errors; nil discards them.
	Logger *zap.Logger
	// SyncNormal sets SQLite's synchronous=NORMAL in place of FULL: faster, and a process crash
	// still loses nothing, but a power loss may lose the last committed transactions.
	SyncNormal bool
	// HistoryCache bounds the workflows whose state the history service keeps in memory
	// (history.hostLevelCacheMaxSize); 0 keeps the server's default of 128,000. An entry idle past
	// history.cacheTTL (an hour) leaves only to make room. A workflow outside it is read from the
	// database on its next task.
	HistoryCache int
	// ArchiveDir, when set, keeps the history of every workflow that closes in the namespace as a
	// file under ArchiveDir, and its visibility record under ArchiveDir/visibility (the server's
	// archival, filestore provider), where they outlive the namespace's retention: the server
	// lists and reads them back once retention has removed the run, and the auditor replays the
	// directory (auditor replay --archive). The namespace is set to archive there on every start;
	// the server cannot move a namespace's archive once set.
	ArchiveDir string
	// ArchiveDelay bounds how long after a workflow closes its history is archived: each is
	// archived after a random part of it, so a burst of closures spreads out; 0 keeps the
	// server's default of 5 minutes.
	ArchiveDelay time.Duration
	// Settings are the server's dynamic config settings on top of this package's, as the stock
	// dev server's --dynamic-config-value gives them: to tune the server, or to measure it with
	// one of this package's settings turned back (Settings.Set reads them).
	Settings Settings
	// settings are dynamic config settings on top of this package's, for its tests.
	settings dynamicconfig.StaticClient
	// CodecEndpoint is the codec server the Web UI calls to decrypt payloads for officers;
	// empty when payloads are not encrypted.
	CodecEndpoint string
	// Auth, when set, makes the frontend verify every caller: its claim mapper reads the token,
	// its authorizer decides each call, and its interceptors run after them (package auth). The
	// server's own system workers and this package's setup calls then go through an internal
	// frontend on loopback, which admits every caller as a system administrator. So that only
	// the process itself gets in, it and all traffic between the server's services require
	// mutual TLS with a CA that Start makes anew and keeps in memory only; the frontend stays
	// plain gRPC. The server then delivers no Nexus operation: that takes the internal frontend's
	// HTTP port, which would admit every caller on this machine as an administrator.
	Auth *Auth
	// UILogin, when set, makes the Web UI sign its users in at an OpenID Connect provider and
	// send their tokens with every call; with Auth and no UILogin the UI's calls are refused.
	// The UI then answers at its callback's host only: a request by another name (localhost for
	// 127.0.0.1) is redirected there, since a sign-in begun on one host cannot end on another.
	UILogin *UILogin
}

// UILogin is the Web UI's OpenID Connect client.
type UILogin struct {
	// ProviderURL is the issuer, whose /.well-known/openid-configuration the UI reads.
	ProviderURL string
	// ClientID and ClientSecret are the UI's credentials at the provider.
	ClientID, ClientSecret string
	// CallbackURL is where the provider returns the browser: the UI's address (UIAddress)
	// followed by UICallbackPath.
	CallbackURL string
}

// UICallbackPath is the Web UI's OpenID Connect callback under its address.
const UICallbackPath = "/auth/sso/callback"

// UIAddress is the base URL of a Web UI listening on ip and port, as a browser on this machine
// reaches it.
func UIAddress(ip string, port int) string {
	return "http://" + net.JoinHostPort(dialHost(ip), strconv.Itoa(port))
}

// Auth is the frontend's verification of callers.
type Auth struct {
	ClaimMapper  authorization.ClaimMapper
	Authorizer   authorization.Authorizer
	Interceptors []grpc.UnaryServerInterceptor
}

// Server is a running embedded Temporal server.
type Server struct {
	server temporal.Server
	ui     *uiserver.Server
	uiDone chan struct{}
	// uiFront serves the UI at one host when it signs users in (UILogin), in front of ui.
	uiFront     *http.Server
	uiFrontDone chan struct{}
	lock        *dirLock
	frontend    string
	// own is the frontend this package's own calls use: the internal one with Auth, which
	// requires ownTLS.
	own       string
	ownTLS    *tls.Config
	uiAddress string
	namespace string

	// logLevel gates the server's logger, so Stop can quiet it: the server's own shutdown
	// warnings are noise, and v1.32.1 leaves some system workers running after Stop, retrying
	// the closed frontend.
	logLevel zap.AtomicLevel

	stopOnce sync.Once
	stopErr  error
}

func (cfg *Config) setDefaults() {
	if cfg.IP == "" {
		cfg.IP = DefaultIP
	}
	if cfg.GRPCPort == 0 {
		cfg.GRPCPort = DefaultGRPCPort
	}
	if cfg.UIPort == 0 {
		cfg.UIPort = DefaultUIPort
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
}

func (cfg *Config) validate() error {
	switch {
	case cfg.InMemory && cfg.DataDir != "":
		return errors.New("embedded server: DataDir must be empty when InMemory is set")
	case !cfg.InMemory && cfg.DataDir == "":
		return errors.New("embedded server: DataDir is required unless InMemory is set")
	case cfg.HistoryCache < 0:
		return fmt.Errorf("embedded server: history cache %d is negative", cfg.HistoryCache)
	case cfg.ArchiveDelay < 0:
		return fmt.Errorf("embedded server: archive delay %v is negative", cfg.ArchiveDelay)
	case cfg.ArchiveDelay > 0 && cfg.ArchiveDir == "":
		return errors.New("embedded server: an archive delay needs an archive directory")
	case net.ParseIP(cfg.IP) == nil:
		return fmt.Errorf("embedded server: IP %q is not an IP address", cfg.IP)
	case cfg.GRPCPort < 1 || cfg.GRPCPort > 65535:
		return fmt.Errorf("embedded server: gRPC port %d is out of range", cfg.GRPCPort)
	case !cfg.DisableUI && (cfg.UIPort < 1 || cfg.UIPort > 65535):
		return fmt.Errorf("embedded server: UI port %d is out of range", cfg.UIPort)
	case !cfg.DisableUI && cfg.UIPort == cfg.GRPCPort:
		return fmt.Errorf("embedded server: UI port and gRPC port are both %d", cfg.UIPort)
	case cfg.Retention < time.Hour:
		return fmt.Errorf("embedded server: retention %v is under the server's minimum of 1h", cfg.Retention)
	}
	return nil
}

// Start starts the server and, unless disabled, the Web UI, and returns once both answer. On the
// first start in DataDir it creates the database and its schema; afterwards it keeps the data.
// Either way it creates the namespace if missing and registers any of workflows.SearchAttributes
// the namespace lacks. ctx bounds the wait for the server to answer, not the server's life: call
// Stop.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	if cfg.ArchiveDir != "" {
		dir, err := filepath.Abs(cfg.ArchiveDir)
		if err == nil {
			err = os.MkdirAll(dir, 0o750)
		}
		if err != nil {
			return nil, fmt.Errorf("embedded server: archive dir: %w", err)
		}
		cfg.ArchiveDir = dir
	}

	s := &Server{namespace: cfg.Namespace}
	s.frontend = net.JoinHostPort(dialHost(cfg.IP), strconv.Itoa(cfg.GRPCPort))
	s.own = s.frontend

	// Ports in use would otherwise show up as a server start failure deep in its logs, or, for
	// the UI, as the UI server exiting the process.
	if err := checkPortFree(cfg.IP, cfg.GRPCPort); err != nil {
		return nil, fmt.Errorf("embedded server: gRPC %w", err)
	}
	if !cfg.DisableUI {
		if err := checkPortFree(cfg.IP, cfg.UIPort); err != nil {
			return nil, fmt.Errorf("embedded server: UI %w", err)
		}
	}

	sqlConf, err := s.prepareStore(&cfg)
	if err != nil {
		return nil, err
	}

	srv, err := s.newTemporalServer(&cfg, sqlConf, s.serverLogger(cfg.Logger))
	if err != nil {
		return nil, errors.Join(err, s.releaseLock())
	}
	if err := srv.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("embedded server: start: %w", err), s.releaseLock())
	}
	s.server = srv

	if err := s.prepareNamespace(ctx, &cfg); err != nil {
		return nil, errors.Join(err, s.Stop())
	}

	if !cfg.DisableUI {
		if err := s.startUI(ctx, &cfg); err != nil {
			return nil, errors.Join(err, s.Stop())
		}
	}
	return s, nil
}

// prepareStore locks DataDir, creates the schema on first use, creates the namespace if missing,
// and returns the SQLite configuration for the server.
func (s *Server) prepareStore(cfg *Config) (*config.SQL, error) {
	sqlConf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if cfg.InMemory {
		// The SQLite plugin creates the schema itself when it opens an in-memory database.
		sqlConf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		sqlConf.DatabaseName = fmt.Sprintf("embedded-%d", rand.Int64())
	} else {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("embedded server: data dir: %w", err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("embedded server: create data dir: %w", err)
		}
		lock, err := lockDir(dir)
		if err != nil {
			return nil, err
		}
		s.lock = lock
		// Plain pragma names: every attribute that is not a SQLite URI parameter becomes a
		// _pragma. WAL lets readers run beside the writer; FULL keeps every committed
		// transaction across power loss.
		synchronous := "full"
		if cfg.SyncNormal {
			synchronous = "normal"
		}
		sqlConf.ConnectAttributes = map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  synchronous,
		}
		sqlConf.DatabaseName = filepath.Join(dir, DBFile)
		if err := setupSchemaOnce(sqlConf.DatabaseName, sqlConf); err != nil {
			return nil, errors.Join(err, s.releaseLock())
		}
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, cfg.Namespace, false, workflows.SearchAttributes())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("embedded server: namespace %s: %w", cfg.Namespace, err), s.releaseLock())
	}
	ns.Detail.Config.Retention = durationpb.New(cfg.Retention)
	if cfg.ArchiveDir != "" {
		ns.Detail.Config.HistoryArchivalState = enumspb.ARCHIVAL_STATE_ENABLED
		ns.Detail.Config.HistoryArchivalUri = archiveURI(cfg.ArchiveDir)
		ns.Detail.Config.VisibilityArchivalState = enumspb.ARCHIVAL_STATE_ENABLED
		ns.Detail.Config.VisibilityArchivalUri = connect.VisibilityArchiveURI(archiveURI(cfg.ArchiveDir))
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, errors.Join(fmt.Errorf("embedded server: create namespace %s: %w", cfg.Namespace, err), s.releaseLock())
	}
	return sqlConf, nil
}

// setupSchemaOnce creates the schema when the database file does not exist yet. A failed setup
// removes the file, so the next start tries again instead of running on half a schema.
func setupSchemaOnce(path string, sqlConf *config.SQL) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("embedded server: database: %w", err)
	}
	if err := sqliteschema.SetupSchema(sqlConf); err != nil {
		errs := []error{fmt.Errorf("embedded server: create schema in %s: %w", path, err)}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return nil
}

// newTemporalServer returns the server. With cfg.Auth it runs an internal frontend, which s's
// own calls then use, with the certificate it requires.
func (s *Server) newTemporalServer(cfg *Config, sqlConf *config.SQL, logger serverlog.Logger) (temporal.Server, error) {
	frontendHost := net.JoinHostPort(dialHost(cfg.IP), strconv.Itoa(cfg.GRPCPort))
	ports := map[primitives.ServiceName]int{primitives.FrontendService: cfg.GRPCPort}
	internal := []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService}
	services := append([]string(nil), temporal.DefaultServices...)
	if cfg.Auth != nil {
		internal = append(internal, primitives.InternalFrontendService)
		services = append(services, string(primitives.InternalFrontendService))
	}
	// The internal services' ports are chosen before the frontend and the UI bind theirs: none
	// may be one of those, nor another's.
	taken := []int{cfg.GRPCPort, cfg.UIPort}
	for _, svc := range internal {
		p, err := freePort(loopback, taken...)
		if err != nil {
			return nil, fmt.Errorf("embedded server: port for %s: %w", svc, err)
		}
		ports[svc] = p
		taken = append(taken, p)
	}
	// The history service delivers a Nexus operation to the worker behind an endpoint through a
	// frontend's HTTP port (server v1.32.1, common/resource/fx.go getFrontendConnectionDetails):
	// without one, every operation's start fails and backs off for ever. Without Auth it is the
	// frontend's. With Auth it would be the internal frontend's, which the server calls with the
	// internode TLS but which would serve HTTP without TLS (the frontend's server TLS, none) and
	// admit every caller as an administrator, its claim mapper's; so with Auth no HTTP port is
	// opened, and Nexus operations are not delivered (Config.Auth).
	var httpPort int
	if cfg.Auth == nil {
		p, err := freePort(loopback, taken...)
		if err != nil {
			return nil, fmt.Errorf("embedded server: the frontend's HTTP port: %w", err)
		}
		httpPort = p
	}

	conf := &config.Config{}
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: loopback}
	conf.Persistence = config.Persistence{
		DefaultStore:     sqliteplugin.PluginName,
		VisibilityStore:  sqliteplugin.PluginName,
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlConf}},
	}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontendHost},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	hosts := map[primitives.ServiceName]static.Hosts{}
	conf.Services = map[string]config.Service{}
	for svc, port := range ports {
		rpc := config.RPC{GRPCPort: port, BindOnIP: loopback}
		host := net.JoinHostPort(loopback, strconv.Itoa(port))
		if svc == primitives.FrontendService {
			rpc.BindOnIP = cfg.IP
			host = frontendHost
		}
		if svc == primitives.FrontendService {
			rpc.HTTPPort = httpPort
		}
		conf.Services[string(svc)] = config.Service{RPC: rpc}
		hosts[svc] = static.SingleLocalHost(host)
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	if cfg.ArchiveDir != "" {
		// The filestore writes one history file per closed run, named by hashes of its
		// namespace, workflow and run IDs, and one visibility record per closed run under
		// visibility/<namespace ID>/; "enableRead" lets the frontend serve and list them once
		// retention removed the run.
		store := &config.FilestoreArchiver{FileMode: "0640", DirMode: "0750"}
		conf.Archival.History = config.HistoryArchival{
			State: "enabled", EnableRead: true, Provider: &config.HistoryArchiverProvider{Filestore: store},
		}
		conf.Archival.Visibility = config.VisibilityArchival{
			State: "enabled", EnableRead: true, Provider: &config.VisibilityArchiverProvider{Filestore: store},
		}
		uri := archiveURI(cfg.ArchiveDir)
		conf.NamespaceDefaults.Archival.History = config.HistoryArchivalNamespaceDefaults{State: "enabled", URI: uri}
		conf.NamespaceDefaults.Archival.Visibility = config.VisibilityArchivalNamespaceDefaults{State: "enabled", URI: connect.VisibilityArchiveURI(uri)}
	}
	if cfg.Auth == nil {
		// With Auth the system workers use the internal frontend, and the server wants no public client.
		conf.PublicClient.HostPort = frontendHost
	}

	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("embedded server: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("embedded server: claim mapper: %w", err)
	}
	var extra []temporal.ServerOption
	if cfg.Auth != nil {
		authorizer, claimMapper = cfg.Auth.Authorizer, cfg.Auth.ClaimMapper
		extra = append(extra, temporal.WithChainedFrontendGrpcInterceptors(cfg.Auth.Interceptors...))
		// The internal frontend's claim mapper makes every caller a system administrator
		// (server v1.32.1, temporal/fx.go) and it listens with the internode TLS: without it,
		// anyone on this machine could do anything. The system workers reach it with the
		// internode client TLS, as the services reach one another.
		certs, err := newInternodeTLS()
		if err == nil {
			s.ownTLS, err = certs.client()
		}
		if err != nil {
			return nil, fmt.Errorf("embedded server: internode TLS: %w", err)
		}
		conf.Global.TLS.Internode = certs.group()
		s.own = net.JoinHostPort(loopback, strconv.Itoa(ports[primitives.InternalFrontendService]))
	}
	srv, err := temporal.NewServer(append([]temporal.ServerOption{
		temporal.WithConfig(conf),
		temporal.ForServices(services),
		// Static hosts instead of the gossip ring: one process needs no membership, and a
		// restart does not wait on the previous run's members recorded in the database.
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig(cfg)),
	}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	return srv, nil
}

// dynamicConfig returns the server settings that differ from v1.32.1's defaults. Updates need
// nothing: frontend.enableUpdateWorkflowExecution and its AsyncAccepted variant default to true.
// Nor do the workers' versions: system.enableDeploymentVersions defaults to true.
func dynamicConfig(cfg *Config) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		// Officers' queues, the auditor and the Web UI are all visibility queries; the default
		// of 10 per second per namespace throttles a UI page that refreshes counts and lists.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// With the worker off, history applies a closing parent's policy to its children
		// itself, whatever their number; the worker is for clusters with huge fan-outs, and
		// the server never stops it.
		dynamicconfig.EnableParentClosePolicyWorker.Key(): false,
		// Every clearance's tasks carry a priority key (urgent first) and its exporter's code as
		// fairness key (workflows.TaskPriority). The server's priority-aware matcher
		// (matching.useNewMatcher, on by default) dispatches a backlog by key; fairness, off by
		// default, shares each key's turn among exporters, so that one exporter's thousands of
		// declarations do not hold up another's few. It implies the new matcher.
		dynamicconfig.MatchingEnableFairness.Key(): true,
		// Priority and fairness order a backlog within each partition of a task queue, and each
		// poll takes from whichever partition it reaches: with the server's four, an urgent task
		// waited behind another partition's normal ones for tens of seconds (BENCHMARKS.md).
		// Partitions spread a task queue over matching hosts; one process has one. New tasks go
		// to the root partition, and whatever the other three held before is still drained.
		// Polls that reach them are forwarded to the root, up to 20 at once from each (the
		// server's 1 halved the throughput).
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key():  1,
		dynamicconfig.MatchingForwarderMaxOutstandingPolls.Key(): 20,
	}
	if cfg.HistoryCache > 0 {
		dc[dynamicconfig.HistoryCacheHostLevelMaxSize.Key()] = cfg.HistoryCache
	}
	if cfg.ArchiveDelay > 0 {
		dc[dynamicconfig.ArchivalProcessorArchiveDelay.Key()] = cfg.ArchiveDelay
	}
	for k, v := range cfg.Settings {
		dc[k] = v
	}
	for k, v := range cfg.settings {
		dc[k] = v
	}
	if cfg.InMemory {
		// The scanners tidy a database that outlives the process; the server never stops
		// their workers either, which would pile up in a process that starts many servers.
		dc[dynamicconfig.TaskQueueScannerEnabled.Key()] = false
		dc[dynamicconfig.HistoryScannerEnabled.Key()] = false
	}
	return dc
}

// serverLogger adapts zl to the server's logger, at warn level at least (the server is chatty at
// info) and behind s.logLevel. The server records its own call site, so zap's is dropped.
func (s *Server) serverLogger(zl *zap.Logger) serverlog.Logger {
	lvl := zapcore.WarnLevel
	for lvl < zapcore.FatalLevel && !zl.Core().Enabled(lvl) {
		lvl++
	}
	s.logLevel = zap.NewAtomicLevelAt(lvl)
	zl = zl.Named("temporal").WithOptions(zap.WithCaller(false), zap.IncreaseLevel(s.logLevel))
	return serverlog.NewZapLogger(zl)
}

// atLeastWarn returns zl raised to warn level; a logger already above it is returned as is (zap
// refuses to lower a level).
func atLeastWarn(zl *zap.Logger) *zap.Logger {
	if zl.Core().Enabled(zapcore.InfoLevel) {
		return zl.WithOptions(zap.IncreaseLevel(zapcore.WarnLevel))
	}
	return zl
}

// prepareNamespace gives the namespace what the engine needs of it through the server's own
// frontend: its search attributes and, with an archive, its archival.
func (s *Server) prepareNamespace(ctx context.Context, cfg *Config) error {
	c, err := s.dialOwn(ctx, cfg.Logger)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := s.ensureSearchAttributes(ctx, c); err != nil {
		return err
	}
	if cfg.ArchiveDir != "" {
		return s.ensureArchival(ctx, c, cfg.ArchiveDir)
	}
	return nil
}

// dialOwn dials the frontend this package's own calls use.
func (s *Server) dialOwn(ctx context.Context, logger *zap.Logger) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:          s.own,
		Namespace:         s.namespace,
		Logger:            logging.NewSDKLogger(atLeastWarn(logger.Named("temporal-client"))),
		ConnectionOptions: client.ConnectionOptions{TLS: s.ownTLS},
	})
	if err != nil {
		return nil, fmt.Errorf("embedded server: dial own frontend %s: %w", s.own, err)
	}
	return c, nil
}

// ensureSearchAttributes registers any missing custom search attributes, then waits until the
// frontend accepts a visibility query naming all of them: attributes added now reach the
// services' namespace caches only at their next refresh.
func (s *Server) ensureSearchAttributes(ctx context.Context, c client.Client) error {
	if err := connect.RegisterSearchAttributes(ctx, c, s.namespace); err != nil {
		return fmt.Errorf("embedded server: %w", err)
	}

	var terms []string
	for name := range workflows.SearchAttributes() {
		terms = append(terms, name+" IS NULL")
	}
	query := strings.Join(terms, " OR ")
	for {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: s.namespace,
			Query:     query,
		})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded server: search attributes not usable in namespace %s: %w", s.namespace, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// archiveURI is the filestore URI of an absolute directory.
func archiveURI(dir string) string { return "file://" + filepath.ToSlash(dir) }

// ensureArchival sets the namespace to archive closed histories under dir: a namespace created
// by an earlier start without an archive, or before archival, gets it now. A namespace already
// archiving elsewhere is an error, since the server never moves a namespace's archive.
func (s *Server) ensureArchival(ctx context.Context, c client.Client, dir string) error {
	changed, err := connect.EnsureArchival(ctx, c, s.namespace, archiveURI(dir))
	if err != nil {
		return fmt.Errorf("embedded server: %w", err)
	}
	// The archived histories name search attributes by the fields they are stored under.
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.namespace})
	if err != nil {
		return fmt.Errorf("embedded server: namespace %s: %w", s.namespace, err)
	}
	if err := connect.WriteArchiveAliases(dir, desc.GetConfig().GetCustomSearchAttributeAliases()); err != nil {
		return fmt.Errorf("embedded server: archive: %w", err)
	}
	if !changed {
		return nil
	}
	// The services read namespaces through caches that refresh every namespaceRefresh; a
	// workflow that closed before they did would not be archived.
	select {
	case <-ctx.Done():
		return fmt.Errorf("embedded server: namespace %s: archive: %w", s.namespace, ctx.Err())
	case <-time.After(2 * namespaceRefresh):
	}
	return nil
}

// namespaceRefresh is how often the server's services reread namespaces
// (system.namespaceCacheRefreshInterval, left at its default).
const namespaceRefresh = 2 * time.Second

func (s *Server) startUI(ctx context.Context, cfg *Config) error {
	uiIP, uiPort := cfg.IP, cfg.UIPort
	var login uiconfig.Auth
	if l := cfg.UILogin; l != nil {
		login = uiconfig.Auth{Enabled: true, Providers: []uiconfig.AuthProvider{{
			Label: "customs clearance", Type: "oidc", ProviderURL: l.ProviderURL,
			ClientID: l.ClientID, ClientSecret: l.ClientSecret, CallbackURL: l.CallbackURL,
			Scopes: []string{"openid", "profile", "email"},
		}}}
		// The UI server moves to a loopback port behind oneHost, which takes its address.
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.UIPort)))
		if err != nil {
			return fmt.Errorf("embedded server: UI: %w", err)
		}
		if uiPort, err = freePort(loopback); err != nil {
			return errors.Join(fmt.Errorf("embedded server: UI port: %w", err), ln.Close())
		}
		uiIP = loopback
		front, err := oneHost(l.CallbackURL, &url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, strconv.Itoa(uiPort))})
		if err != nil {
			return errors.Join(fmt.Errorf("embedded server: UI callback %q: %w", l.CallbackURL, err), ln.Close())
		}
		s.uiFront = &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second}
		s.uiFrontDone = make(chan struct{})
		go func() {
			defer close(s.uiFrontDone)
			if err := s.uiFront.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("web UI front stopped", zap.Error(err))
			}
		}()
	}
	uiHost := uiIP
	if strings.Contains(uiHost, ":") {
		uiHost = "[" + uiHost + "]" // the UI server joins host and port with a plain colon
	}
	uiCfg := &uiconfig.Config{
		Auth:                login,
		Host:                uiHost,
		Port:                uiPort,
		TemporalGRPCAddress: s.frontend,
		EnableUI:            true,
		DefaultNamespace:    cfg.Namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true,
		// With a sign-in the codec server checks the signed-in user's token too.
		Codec: uiconfig.Codec{Endpoint: cfg.CodecEndpoint, PassAccessToken: cfg.UILogin != nil},
	}
	if !cfg.AdminUI {
		setDesk(uiCfg)
	}
	s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(uiCfg))
	s.uiAddress = UIAddress(cfg.IP, cfg.UIPort)
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		// Start blocks until Stop; it exits the process itself if it cannot listen.
		if err := s.ui.Start(); err != nil {
			cfg.Logger.Error("web UI stopped", zap.Error(err))
		}
	}()

	health := s.uiAddress + "/healthz"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		if err != nil {
			return fmt.Errorf("embedded server: UI health request: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("%s answered %s", health, resp.Status)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded server: UI at %s not answering: %w", s.uiAddress, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FrontendAddress returns the host:port clients dial; an unspecified IP becomes loopback.
func (s *Server) FrontendAddress() string { return s.frontend }

// InternalFrontendAddress returns the host:port of the internal frontend that the server's own
// system workers and this package's setup calls use with Auth, or "" without Auth. It answers
// only the certificate this process holds (Config.Auth).
func (s *Server) InternalFrontendAddress() string {
	if s.own == s.frontend {
		return ""
	}
	return s.own
}

// UIAddress returns the Web UI's base URL, such as http://127.0.0.1:8233, or "" when the UI is
// disabled.
func (s *Server) UIAddress() string { return s.uiAddress }

// Namespace returns the namespace Start created or found.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops the Web UI and the server and releases DataDir, so another Start may use it. It is
// safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.uiFront != nil {
			_ = s.uiFront.Close() // its only error is the listener's on closing
			<-s.uiFrontDone
		}
		if s.ui != nil {
			s.ui.Stop()
			<-s.uiDone
		}
		var errs []error
		if s.server != nil {
			if s.logLevel.Level() < zapcore.ErrorLevel {
				s.logLevel.SetLevel(zapcore.ErrorLevel)
			}
			if err := s.server.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("embedded server: stop: %w", err))
			}
			s.logLevel.SetLevel(zapcore.InvalidLevel)
		}
		errs = append(errs, s.releaseLock())
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func (s *Server) releaseLock() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.release()
	s.lock = nil
	if err != nil {
		return fmt.Errorf("embedded server: unlock data dir: %w", err)
	}
	return nil
}

// dialHost returns the host to dial for a listener on ip.
func dialHost(ip string) string {
	if net.ParseIP(ip).IsUnspecified() {
		return loopback
	}
	return ip
}

func checkPortFree(ip string, port int) error {
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("port %s is not free: %w", addr, err)
	}
	return l.Close()
}

// freePort returns a port on ip that the system had free a moment ago, none of avoid.
func freePort(ip string, avoid ...int) (int, error) {
	// A port the system hands out is free now; one of avoid, the ports the process binds later,
	// is held open while asking again, so that the system hands out another.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	for range 32 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !slices.Contains(avoid, port) {
			return port, l.Close()
		}
		held = append(held, l)
	}
	return 0, fmt.Errorf("no free port on %s but %v", ip, avoid)
}
