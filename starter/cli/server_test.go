package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/codec"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
)

// The one Temporal server the package's tests share, started by the first test that needs it;
// each test works in a namespace of its own, with a clearance worker of its own.
var (
	shared     sync.Once
	srv        *temporaltest.TestServer
	namespaces atomic.Int64
)

func TestMain(m *testing.M) {
	// The exporter's wait and an appeal's polls ask every PollInterval; the tests need not wait
	// seconds for each answer.
	clearance.PollInterval = 20 * time.Millisecond
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	os.Exit(code)
}

// env is a namespace of the shared server with the engine's search attributes and a clearance
// worker, and how to run the starter against it.
type env struct {
	t       *testing.T
	address string
	ns      string
	// c is a client of the namespace, with the worker's keyring, for what officers do.
	c client.Client
}

// newEnv registers a namespace on the shared server and starts a clearance worker in it,
// encrypting payloads with the keyring file codecKeys when it is set.
func newEnv(t *testing.T, codecKeys string) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	shared.Do(func() { srv = temporaltest.NewServer() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := fmt.Sprintf("starter-%d", namespaces.Add(1))
	if _, err := connect.EnsureNamespace(ctx, srv.GetDefaultClient(), ns, true, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, address: srv.GetFrontendHostPort(), ns: ns}
	c, err := connect.Dial(ctx, connect.Options{Address: e.address, Namespace: ns, CodecKeys: codecKeys}, logging.NewSDKLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e.c = c
	eventually(t, "the search attributes of "+ns, func() error { return connect.RegisterSearchAttributes(ctx, c, ns) })
	if err := connect.AwaitSearchAttributes(ctx, c, ns, time.Minute); err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{DataDir: t.TempDir(), Notifications: "-", ShutdownTimeout: 5 * time.Second}
	eng, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eng.Close(); err != nil {
			t.Error(err)
		}
	})
	w := eng.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return e
}

// starter runs the starter's command line against the namespace, dialling it as an exporter's
// starter does; args follow the connection flags.
func (e *env) starter(args ...string) (int, string, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Run(ctx, append([]string{"--address", e.address, "--namespace", e.ns}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// eventually checks until check returns nil, every 50 ms for at most 30 s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// keyring writes a new keyring file and returns its path.
func keyring(t *testing.T) string {
	t.Helper()
	key, err := codec.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`{"active": "k1", "keys": {"k1": %q}}`, key)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// example is the path of an example file.
func example(name string) string { return filepath.Join("..", "..", "examples", name) }
