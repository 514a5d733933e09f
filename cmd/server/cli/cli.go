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
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/mysql"      // the stock server's stores
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql" // the stock server's stores
	_ "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"     // the stock server's stores
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"

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

// Run is the command line.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config-file", os.Getenv(config.EnvKeyConfigFile), "the server's configuration file (env "+config.EnvKeyConfigFile+"); default: the stock server's built-in template, rendered from the environment as the temporalio/server image renders it")
	var services serviceList
	fs.Var(&services, "service", "a service to start, repeatable or comma-separated: "+strings.Join(temporal.Services, ", ")+" (default: every service the configuration defines)")
	issuer := fs.String("issuer", os.Getenv(EnvIssuer), "the customs service's token issuer: the iss every token must carry (env "+EnvIssuer+"; required)")
	audience := fs.String("audience", env(EnvAudience, auth.DevAudience), "the aud every token must carry (env "+EnvAudience+")")
	jwks := fs.String("jwks-url", os.Getenv(EnvJWKS), "where the issuer publishes its keys (env "+EnvJWKS+"; default: the configuration's global.authorization.jwtKeyProvider.keySourceURIs, else the issuer followed by "+auth.JWKSPath+")")
	namespace := fs.String("namespace", env(EnvNamespace, "default"), "the engine's namespace: callers other than admins work only in it (env "+EnvNamespace+")")
	revocations := fs.String("revocations", os.Getenv(EnvRevocations), "a file of revoked subjects, one per line, read again as it changes (env "+EnvRevocations+"; default none)")
	command.Help(fs, stdout, "usage: server [flags]\n\nThe Temporal server, started as temporal-server start starts it, that verifies every caller's\nsigned token and allows each role of the clearance engine its own calls only.\n\nflags:\n")
	if code, ok := command.NoOperands("server", fs, args, stderr); !ok {
		return code
	}

	var cfg *config.Config
	var err error
	if *configFile != "" {
		cfg, err = config.Load(config.WithConfigFile(*configFile))
	} else {
		cfg, err = config.Load(config.WithEmbedded())
	}
	if err != nil {
		fmt.Fprintf(stderr, "server: the configuration: %v\n", err)
		return command.Usage
	}
	opts, problems := authOptions(cfg, *issuer, *audience, *jwks, *namespace, *revocations)
	if len(services) == 0 {
		for _, s := range temporal.Services {
			if _, ok := cfg.Services[s]; ok {
				services = append(services, s)
			}
		}
	}
	if !slices.Contains(services, string(primitives.InternalFrontendService)) {
		problems = append(problems, "the services include no internal-frontend: with callers verified, the server's own system workers reach it alone (set USE_INTERNAL_FRONTEND=true for the built-in template, or define services.internal-frontend)")
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
		temporal.WithAuthorizer(&auth.Authorizer{Namespace: *namespace, Revoked: opts.revoked}),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return &auth.ClaimMapper{Keys: keys, Issuer: *issuer, Audience: *audience}
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
		tag.NewStringsTag("services", services), tag.NewStringTag("issuer", *issuer), tag.NewStringTag("namespace", *namespace))
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(stderr, "server: stop: %v\n", err)
		return command.Failure
	}
	return command.OK
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
