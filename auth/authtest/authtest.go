// Package authtest starts, for tests, a real Temporal server that verifies every caller as
// devserver --auth and cmd/server do: an issuer publishing its keys over HTTP, the engine's claim
// mapper, authorizer and principal interceptor, and a clearance worker signed in as a worker;
// with WithAgencies, the partner agencies' namespaces of the single window too.
package authtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

// Audience is the audience of the stack's tokens.
const Audience = "customs-clearance"

// Stack is a running server that verifies its callers, with a clearance worker.
type Stack struct {
	Server    *embedded.Server
	Issuer    *auth.Issuer
	Namespace string
	// Revoked is the revocation list, read again on every call.
	Revoked *auth.Revocations
}

// Option changes what Start sets up.
type Option func(*options)

type options struct {
	agencies []string
}

// WithAgencies also puts agencies on the server's single window, as an admin (agency.Setup):
// their namespaces (agency.Namespace), the search attributes of their officers' queues and their
// Nexus endpoints, for customs' namespace. It starts no agency's worker.
func WithAgencies(agencies ...string) Option {
	return func(o *options) { o.agencies = append(o.agencies, agencies...) }
}

// Start starts a Stack, stopped when t ends. Under -short it skips t.
func Start(t *testing.T, opts ...Option) *Stack {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(nil)
	t.Cleanup(jwks.Close)
	issuer := auth.NewIssuer(jwks.URL, Audience, key)
	jwks.Config.Handler = issuer.Handler()
	keys := authorization.NewDefaultTokenKeyProvider(&config.Authorization{JWTKeyProvider: config.JWTKeyProvider{
		KeySourceURIs: []string{jwks.URL + auth.JWKSPath}, RefreshInterval: time.Minute}}, log.NewNoopLogger())
	t.Cleanup(keys.Close)
	ns := "customs"
	revoked := &auth.Revocations{Path: t.TempDir() + "/revoked", Every: time.Nanosecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true, GRPCPort: testport.One(t), DisableUI: true, Namespace: ns,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Auth: &embedded.Auth{
			ClaimMapper:  &auth.ClaimMapper{Keys: keys, Issuer: issuer.URL, Audience: Audience},
			Authorizer:   &auth.Authorizer{Namespace: ns, Revoked: revoked},
			Interceptors: []grpc.UnaryServerInterceptor{auth.Interceptor()},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	s := &Stack{Server: srv, Issuer: issuer, Namespace: ns, Revoked: revoked}

	cfg := engine.Config{DataDir: t.TempDir(), Notifications: "-", ShutdownTimeout: 5 * time.Second}
	e, err := engine.Open(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	w := e.NewWorker(s.Client(t, workflows.Principal{Subject: "worker-1", Roles: []string{workflows.RoleWorker}}), cfg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	if len(o.agencies) > 0 {
		admin := s.Client(t, workflows.Principal{Subject: "admin-setup", Roles: []string{workflows.RoleAdmin}})
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer scancel()
		if err := agency.Setup(sctx, admin, ns, o.agencies...); err != nil {
			t.Fatalf("put %v on the single window: %v", o.agencies, err)
		}
	}
	return s
}

// ClientIn dials the server's namespace ns with an hour's token for p: an agency's namespace
// (agency.Namespace) for an agency's officer or worker.
func (s *Stack) ClientIn(t *testing.T, ns string, p workflows.Principal) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.Server.FrontendAddress(), Namespace: ns,
		HeadersProvider: Bearer(s.Token(t, p, time.Hour)), Logger: logging.NewSDKLogger(zap.NewNop())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Token signs a token for p, valid for ttl.
func (s *Stack) Token(t *testing.T, p workflows.Principal, ttl time.Duration) string {
	t.Helper()
	tok, err := s.Issuer.Token(p, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Client dials the server with an hour's token for p.
func (s *Stack) Client(t *testing.T, p workflows.Principal) client.Client {
	t.Helper()
	return s.ClientWith(t, s.Token(t, p, time.Hour))
}

// ClientWith dials the server sending token.
func (s *Stack) ClientWith(t *testing.T, token string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.Server.FrontendAddress(), Namespace: s.Namespace,
		HeadersProvider: Bearer(token), Logger: logging.NewSDKLogger(zap.NewNop())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Bearer sends a token as the authorization header, on a loopback connection without TLS.
type Bearer string

// GetHeaders returns the authorization header.
func (b Bearer) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// Keys hands the claim mapper key, an issuer's public key, as the server's key provider does
// once it has read the issuer's JWKS: for tests of the mapper without a server.
func Keys(key *rsa.PublicKey) authorization.TokenKeyProvider { return publicKey{key} }

// publicKey is Keys' provider: one RSA key, nothing else.
type publicKey struct{ key *rsa.PublicKey }

func (k publicKey) RsaKey(string, string) (*rsa.PublicKey, error) { return k.key, nil }
func (publicKey) EcdsaKey(string, string) (*ecdsa.PublicKey, error) {
	return nil, errors.New("no ECDSA key")
}
func (publicKey) HmacKey(string, string) ([]byte, error) { return nil, errors.New("no HMAC key") }
func (publicKey) SupportedMethods() []string             { return []string{"RS256"} }
func (publicKey) Close()                                 {}
