package clearance_test

import (
	"context"
	"errors"
	"net"
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

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

// verified is a Temporal server that verifies every caller's token, as devserver --auth and
// cmd/server run it, with a clearance worker signed in as a worker.
type verified struct {
	srv    *embedded.Server
	issuer *auth.Issuer
	ns     string
}

func startVerified(t *testing.T) *verified {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const audience = "customs-clearance"
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(nil)
	t.Cleanup(jwks.Close)
	issuer := auth.NewIssuer(jwks.URL, audience, key)
	jwks.Config.Handler = issuer.Handler()
	keys := authorization.NewDefaultTokenKeyProvider(&config.Authorization{JWTKeyProvider: config.JWTKeyProvider{
		KeySourceURIs: []string{jwks.URL + auth.JWKSPath}, RefreshInterval: time.Minute}}, log.NewNoopLogger())
	t.Cleanup(keys.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := "customs"
	srv, err := embedded.Start(ctx, embedded.Config{InMemory: true, GRPCPort: port, DisableUI: true, Namespace: ns,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Auth: &embedded.Auth{
			ClaimMapper:  &auth.ClaimMapper{Keys: keys, Issuer: issuer.URL, Audience: audience},
			Authorizer:   &auth.Authorizer{Namespace: ns, Revoked: &auth.Revocations{Path: t.TempDir() + "/revoked", Every: time.Minute}},
			Interceptors: []grpc.UnaryServerInterceptor{auth.Interceptor()},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	v := &verified{srv: srv, issuer: issuer, ns: ns}
	cfg := engine.Config{DataDir: t.TempDir(), Notifications: "-", ShutdownTimeout: 5 * time.Second}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	w := e.NewWorker(v.client(t, workflows.Principal{Subject: "worker-1", Roles: []string{workflows.RoleWorker}}), cfg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return v
}

// client dials the server with a token for p.
func (v *verified) client(t *testing.T, p workflows.Principal) client.Client {
	t.Helper()
	tok, err := v.issuer.Token(p, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: v.srv.FrontendAddress(), Namespace: v.ns, HeadersProvider: bearer(tok),
		Logger: logging.NewSDKLogger(zap.NewNop())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// bearer sends a token as the authorization header, on a loopback connection without TLS.
type bearer string

func (b bearer) GetHeaders(context.Context) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// TestResubmissionUnderVerifiedCallersNamesTheOutcome: an exporter may not describe workflows
// when the server verifies callers, but it may ask its own clearance's status: a resubmission of
// a released declaration says it was released, one of a running clearance that it is running.
func TestResubmissionUnderVerifiedCallersNamesTheOutcome(t *testing.T) {
	defer func(d time.Duration) { clearance.PollInterval = d }(clearance.PollInterval)
	clearance.PollInterval = 20 * time.Millisecond
	v := startVerified(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, c := range []struct {
		example, state string
	}{
		{"nl-examination-gloves-self-declared.json", "released"}, // green lane: released without officers
		{"de-antibody-test-kits.json", "running"},                // yellow lane: awaits an officer
	} {
		d := example(t, c.example)
		exporter := v.client(t, workflows.Principal{Subject: auth.ExporterSubject(d.Exporter.Code), Roles: []string{workflows.RoleExporter},
			Exporter: d.Exporter.Code})
		run, err := clearance.Submit(ctx, exporter, d)
		if err != nil {
			t.Fatalf("%s: %v", d.ID, err)
		}
		if c.state == "released" {
			if res, err := clearance.Wait(ctx, exporter, clearance.RefOf(d)); err != nil || res.State != workflows.StateReleased {
				t.Fatalf("%s: %s, %v", d.ID, res.State, err)
			}
		}
		if _, err := exporter.DescribeWorkflowExecution(ctx, run.GetID(), ""); err == nil {
			t.Fatal("the exporter described a workflow: the server does not verify callers as this test needs")
		}
		_, err = clearance.Submit(ctx, exporter, d)
		var dup *clearance.DuplicateError
		if !errors.As(err, &dup) || dup.WorkflowID != run.GetID() || dup.State != c.state {
			t.Errorf("resubmission of %s: %v; want its clearance %s named %s", d.ID, err, run.GetID(), c.state)
		}
	}
}
