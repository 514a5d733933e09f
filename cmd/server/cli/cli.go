// Package cli is the command line of server: the Temporal server (go.temporal.io/server, the
// version the engine is built with) started as the stock temporal-server start starts it, from
// the same configuration, with the engine's verification of callers built in: the claim mapper
// that reads the customs issuer's signed tokens, the authorizer that allows each role its own
// calls, and the frontend interceptor that writes the verified caller into every request (package
// auth). This is Temporal's documented way to run a custom authorizer: a server binary of one's
// own; the stock temporalio/server image cannot load one.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/mysql"      // the stock server's stores
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql" // the stock server's stores
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"     // the stock server's stores
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/internal/command"
)

// Environment variables of the flags, beside the stock server's own (TEMPORAL_*, and those its
// configuration template reads).
const (
	EnvIssuer      = "CUSTOMS_AUTH_ISSUER"
	EnvAudience    = "CUSTOMS_AUTH_AUDIENCE"
	EnvJWKS        = "CUSTOMS_AUTH_JWKS_URL"
	EnvNamespace   = "CUSTOMS_AUTH_NAMESPACE"
	EnvRevocations = "CUSTOMS_AUTH_REVOCATIONS"
	EnvWorkerCerts = "CUSTOMS_AUTH_WORKER_CERTS"
	EnvAgencies    = "CUSTOMS_AUTH_AGENCIES"
)

type serviceList []string

func (s *serviceList) String() string { return strings.Join(*s, ",") }
func (s *serviceList) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		if !slices.Contains(temporal.Services, name) {
			return fmt.Errorf("%q is not one of %s", name, strings.Join(temporal.Services, ", "))
		}
		*s = append(*s, name)
	}
	return nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Flags are the command line's flags.
type Flags struct {
	ConfigFile, Issuer, Audience, JWKS, Namespace, Revocations string
	Services                                                   serviceList
	WorkerCerts                                                string
	Agencies                                                   string

	servicesEnv string
}

// RegisterFlags defines the flags on fs, defaulting from the environment.
func (f *Flags) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.ConfigFile, "config-file", os.Getenv(config.EnvKeyConfigFile), "the server's configuration file (env "+config.EnvKeyConfigFile+"); default: the stock server's built-in template, rendered from the environment as the temporalio/server image renders it")
	if v := os.Getenv("TEMPORAL_SERVICES"); v != "" {
		// As the stock server: the Helm chart runs one service per pod this way. A bad name is
		// reported when the flags are parsed.
		f.servicesEnv = v
	}
	fs.Var(&f.Services, "service", "a service to start, repeatable or comma-separated: "+strings.Join(temporal.Services, ", ")+" (env TEMPORAL_SERVICES; default: every service the configuration defines)")
	fs.StringVar(&f.Issuer, "issuer", os.Getenv(EnvIssuer), "the customs service's token issuer: the iss every token must carry (env "+EnvIssuer+"; required)")
	fs.StringVar(&f.Audience, "audience", env(EnvAudience, auth.DevAudience), "the aud every token must carry (env "+EnvAudience+")")
	fs.StringVar(&f.JWKS, "jwks-url", os.Getenv(EnvJWKS), "where the issuer publishes its keys (env "+EnvJWKS+"; default: the configuration's global.authorization.jwtKeyProvider.keySourceURIs, else the issuer followed by "+auth.JWKSPath+")")
	fs.StringVar(&f.Namespace, "namespace", env(EnvNamespace, "default"), "the engine's namespace: callers other than admins work only in it (env "+EnvNamespace+")")
	fs.StringVar(&f.WorkerCerts, "worker-certs", os.Getenv(EnvWorkerCerts), "comma-separated common names of the client certificates that sign a worker in without a token (a prefix ends in *, such as customs-worker-*); needs the frontend's mutual TLS (env "+EnvWorkerCerts+")")
	fs.StringVar(&f.Revocations, "revocations", os.Getenv(EnvRevocations), "a file of revoked subjects, one per line, read again as it changes (env "+EnvRevocations+"; default none)")
	fs.StringVar(&f.Agencies, "agencies", env(EnvAgencies, strings.Join(agency.Agencies, ",")), "the partner agencies on the single window whose officers and workers the server admits, each in its namespace agency-<agency>, comma-separated; another agency than those whose checks ship runs with its roster and no automated checks (env "+EnvAgencies+")")
}

// Run is the command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f Flags
	f.RegisterFlags(fs)
	command.Help(fs, stdout, "usage: server [flags]\n       server healthcheck [--address HOST:PORT]\n\nThe Temporal server, started as temporal-server start starts it, that verifies every caller's\nsigned token and allows each role of the clearance engine its own calls only; healthcheck\nasks a running one's frontend whether it serves, and exits 0 when it does.\n\nflags:\n")
	if code, ok := command.NoOperands("server", fs, args, stderr); !ok {
		return code
	}
	if len(f.Services) == 0 && f.servicesEnv != "" {
		if err := f.Services.Set(f.servicesEnv); err != nil {
			fmt.Fprintf(stderr, "server: TEMPORAL_SERVICES: %v\n", err)
			return command.Usage
		}
	}

	if err := setBroadcastAddress(); err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return command.Usage
	}
	var cfg *config.Config
	var err error
	if f.ConfigFile != "" {
		cfg, err = config.Load(config.WithConfigFile(f.ConfigFile))
	} else {
		cfg, err = config.Load(config.WithEmbedded())
	}
	if err != nil {
		fmt.Fprintf(stderr, "server: the configuration: %v\n", err)
		return command.Usage
	}
	opts, problems := authOptions(cfg, f.Issuer, f.Audience, f.JWKS, f.Namespace, f.Revocations)
	services := f.Services
	if len(services) == 0 {
		for _, s := range temporal.Services {
			if _, ok := cfg.Services[s]; ok {
				services = append(services, s)
			}
		}
	}
	var workerCerts []string
	for _, n := range strings.Split(f.WorkerCerts, ",") {
		if n = strings.TrimSpace(n); n != "" {
			workerCerts = append(workerCerts, n)
		}
	}
	agencies, err := agency.ParseList(f.Agencies)
	if err != nil {
		problems = append(problems, fmt.Sprintf("--agencies: %v", err))
	}
	if len(workerCerts) > 0 && !cfg.Global.TLS.Frontend.Server.RequireClientAuth {
		problems = append(problems, "--worker-certs: the frontend does not require client certificates (global.tls.frontend.server.requireClientAuth), so none would be verified")
	}
	if _, ok := cfg.Services[string(primitives.InternalFrontendService)]; !ok {
		problems = append(problems, "the configuration defines no internal-frontend service: with callers verified, the server's own system workers reach it alone (set USE_INTERNAL_FRONTEND=true for the built-in template or the Helm chart, or define services.internal-frontend)")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "server: %s\n", p)
		}
		return command.Usage
	}

	logger := log.NewZapLogger(log.BuildZapLogger(cfg.Log))
	keys := authorization.NewDefaultTokenKeyProvider(&config.Authorization{JWTKeyProvider: opts.keys}, logger)
	defer keys.Close()
	srv, err := temporal.NewServer(
		temporal.ForServices(services),
		temporal.WithConfig(cfg),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(&auth.Authorizer{Namespace: f.Namespace, Revoked: opts.revoked}),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return &auth.ClaimMapper{Keys: keys, Issuer: f.Issuer, Audience: f.Audience, WorkerCertificates: workerCerts, Agencies: orNone(agencies)}
		}),
		temporal.WithChainedFrontendGrpcInterceptors(auth.Interceptor()),
	)
	if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return command.Failure
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(stderr, "server: start: %v\n", err)
		return command.Failure
	}
	logger.Info("Temporal server started; every caller is verified",
		tag.NewStringsTag("services", services), tag.NewStringTag("issuer", f.Issuer), tag.NewStringTag("namespace", f.Namespace),
		tag.NewStringsTag("agencies", agencies))
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(stderr, "server: stop: %v\n", err)
		return command.Failure
	}
	return command.OK
}

// orNone makes an empty list of agencies a list of none, which the claim mapper tells apart from
// nil (the agencies whose checks ship).
func orNone(agencies []string) []string {
	if agencies == nil {
		return []string{}
	}
	return agencies
}

type authOpts struct {
	keys    config.JWTKeyProvider
	revoked *auth.Revocations
}

// authOptions checks the verification's settings, all at once.
func authOptions(cfg *config.Config, issuer, audience, jwks, namespace, revocations string) (authOpts, []string) {
	var o authOpts
	var problems []string
	if u, err := url.Parse(issuer); issuer == "" || err != nil || u.Scheme == "" || u.Host == "" {
		problems = append(problems, fmt.Sprintf("--issuer: %q is not an issuer URL (such as https://login.customs.example); every token's iss must equal it", issuer))
	}
	if strings.TrimSpace(audience) == "" {
		problems = append(problems, "--audience: empty")
	}
	if strings.TrimSpace(namespace) == "" {
		problems = append(problems, "--namespace: empty")
	}
	o.keys = cfg.Global.Authorization.JWTKeyProvider
	if jwks != "" {
		o.keys.KeySourceURIs = []string{jwks}
	}
	o.keys.KeySourceURIs = slices.DeleteFunc(slices.Clone(o.keys.KeySourceURIs), func(s string) bool { return strings.TrimSpace(s) == "" })
	if len(o.keys.KeySourceURIs) == 0 && len(problems) == 0 {
		o.keys.KeySourceURIs = []string{strings.TrimRight(issuer, "/") + auth.JWKSPath}
	}
	for _, k := range o.keys.KeySourceURIs {
		if u, err := url.Parse(k); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("--jwks-url: %q is not an http(s) URL", k))
		}
	}
	if o.keys.RefreshInterval <= 0 {
		o.keys.RefreshInterval = time.Minute
	}
	if revocations != "" {
		if _, err := os.Stat(revocations); err != nil && !errors.Is(err, os.ErrNotExist) {
			problems = append(problems, fmt.Sprintf("--revocations: %v", err))
		}
		o.revoked = &auth.Revocations{Path: revocations}
	}
	return o, problems
}

// setBroadcastAddress sets TEMPORAL_BROADCAST_ADDRESS, which the built-in template reads, to this
// host's first non-loopback IPv4 address when the services bind to every address and it is not
// set: what the temporalio/server image's entrypoint does with hostname -i, for an image with no
// shell.
func setBroadcastAddress() error {
	if os.Getenv("TEMPORAL_BROADCAST_ADDRESS") != "" {
		return nil
	}
	if bind := os.Getenv("BIND_ON_IP"); bind != "0.0.0.0" && bind != "::" {
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("TEMPORAL_BROADCAST_ADDRESS: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
			return os.Setenv("TEMPORAL_BROADCAST_ADDRESS", ip.IP.String())
		}
	}
	return errors.New("TEMPORAL_BROADCAST_ADDRESS: unset, and this host has no address other than loopback to announce")
}

// RegisterHealthcheckFlags defines server healthcheck's flags on fs.
func RegisterHealthcheckFlags(fs *flag.FlagSet) (address *string, timeout *time.Duration) {
	return fs.String("address", "127.0.0.1:7233", "the frontend's host:port"),
		fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
}

// healthcheck asks the frontend's gRPC health service about the workflow service.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	address, timeout := RegisterHealthcheckFlags(fs)
	command.Help(fs, stdout, "usage: server healthcheck [flags]\n\nflags:\n")
	if code, ok := command.NoOperands("server healthcheck", fs, args, stderr); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn, err := grpc.NewClient(*address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(stderr, "server healthcheck: %v\n", err)
		return command.Usage
	}
	defer func() { _ = conn.Close() }()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: workflowservice.WorkflowService_ServiceDesc.ServiceName})
	if err != nil {
		fmt.Fprintf(stderr, "server healthcheck: %s: %v\n", *address, err)
		return command.Unavailable
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		fmt.Fprintf(stderr, "server healthcheck: %s: %s\n", *address, resp.GetStatus())
		return command.Unavailable
	}
	fmt.Fprintf(stdout, "%s: serving\n", *address)
	return command.OK
}
