package connect

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// clearEnv unsets every variable RegisterFlags reads, for the duration of the test, and points
// the configuration file at one that does not exist.
func clearEnv(t *testing.T) {
	for _, k := range []string{EnvAddress, EnvNamespace, EnvAPIKey, EnvAPIKeyFile, EnvTLS, EnvTLSCert, EnvTLSKey, EnvTLSCA, EnvTLSServerName, EnvProfile, EnvCompression,
		"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "TEMPORAL_CLIENT_AUTHORITY"} {
		// Set and empty counts as set for the environment configuration: unset them.
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(EnvConfigFile, "")
}

// flagLevel is the part of Options the flags set, comparable.
type flagLevel struct {
	Address, Namespace, APIKey                        string
	TLS                                               bool
	TLSCertFile, TLSKeyFile, TLSCAFile, TLSServerName string
}

func levelOf(o Options) flagLevel {
	return flagLevel{o.Address, o.Namespace, o.APIKey, o.TLS, o.TLSCertFile, o.TLSKeyFile, o.TLSCAFile, o.TLSServerName}
}

func parse(t *testing.T, args ...string) Options {
	t.Helper()
	var o Options
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestFlagsDefaultWithoutEnv(t *testing.T) {
	clearEnv(t)
	o := parse(t)
	want := flagLevel{Address: "localhost:7233", Namespace: "default"}
	if o := levelOf(o); o != want {
		t.Errorf("options = %+v, want %+v", o, want)
	}
}

func TestFlagsDefaultFromEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvAddress, "temporal.example:7233")
	t.Setenv(EnvNamespace, "customs")
	t.Setenv(EnvAPIKey, "k1")
	t.Setenv(EnvTLS, "true")
	t.Setenv(EnvTLSCert, "/env/cert.pem")
	t.Setenv(EnvTLSKey, "/env/key.pem")
	t.Setenv(EnvTLSCA, "/env/ca.pem")
	t.Setenv(EnvTLSServerName, "env.example")

	o := parse(t)
	want := flagLevel{
		Address: "temporal.example:7233", Namespace: "customs", APIKey: "k1", TLS: true,
		TLSCertFile: "/env/cert.pem", TLSKeyFile: "/env/key.pem", TLSCAFile: "/env/ca.pem",
		TLSServerName: "env.example",
	}
	if o := levelOf(o); o != want {
		t.Errorf("options = %+v, want %+v", o, want)
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvAddress, "temporal.example:7233")
	t.Setenv(EnvNamespace, "customs")
	t.Setenv(EnvTLS, "1")
	t.Setenv(EnvTLSServerName, "env.example")

	o := parse(t, "--address", "10.0.0.5:7233", "--namespace=audit", "--tls=false", "--tls-server-name", "flag.example")
	want := flagLevel{Address: "10.0.0.5:7233", Namespace: "audit", TLSServerName: "flag.example"}
	if o := levelOf(o); o != want {
		t.Errorf("options = %+v, want %+v", o, want)
	}
}

const profiles = `
[profile.default]
address = "default.example:7233"
namespace = "customs-dev"

[profile.prod]
address = "customs.a1b2c.tmprl.cloud:7233"
namespace = "customs.a1b2c"
api_key = "prod-key"

[profile.prod.grpc_meta]
x-office = "shanghai"
`

func writeProfiles(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "temporal.toml")
	if err := os.WriteFile(path, []byte(profiles), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProfilesOfTheEnvironmentConfiguration: the temporal CLI's temporal.toml profiles give
// the defaults; TEMPORAL_PROFILE or --profile picks one; variables beat the file; flags beat
// both, wherever they stand beside --profile.
func TestProfilesOfTheEnvironmentConfiguration(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvConfigFile, writeProfiles(t))
	if o := levelOf(parse(t)); o != (flagLevel{Address: "default.example:7233", Namespace: "customs-dev"}) {
		t.Errorf("default profile: %+v", o)
	}
	prod := flagLevel{Address: "customs.a1b2c.tmprl.cloud:7233", Namespace: "customs.a1b2c", APIKey: "prod-key"}
	if o := levelOf(parse(t, "--profile", "prod")); o != prod {
		t.Errorf("--profile prod: %+v", o)
	}
	t.Setenv(EnvProfile, "prod")
	if o := levelOf(parse(t)); o != prod {
		t.Errorf("TEMPORAL_PROFILE=prod: %+v", o)
	}
	t.Setenv(EnvNamespace, "customs-audit")
	if o := parse(t); o.Namespace != "customs-audit" || o.Address != prod.Address {
		t.Errorf("variable over the file: %+v", levelOf(o))
	}
	for _, args := range [][]string{{"--namespace", "n1", "--profile", "prod"}, {"--profile", "prod", "--namespace", "n1"}} {
		if o := parse(t, args...); o.Namespace != "n1" || o.APIKey != "prod-key" {
			t.Errorf("%q: %+v", args, levelOf(o))
		}
	}
	o := parse(t, "--profile", "prod")
	opts, err := o.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := opts.HeadersProvider.GetHeaders(context.Background())
	if err != nil || h["x-office"] != "shanghai" || opts.ConnectionOptions.TLS == nil || opts.Credentials == nil {
		t.Errorf("prod client options: headers %v (%v), TLS %v, credentials %v", h, err, opts.ConnectionOptions.TLS != nil, opts.Credentials != nil)
	}
	o = parse(t, "--profile", "staging")
	if _, err := o.ClientOptions(nil); err == nil || !strings.Contains(err.Error(), "staging") || !strings.Contains(err.Error(), "temporal.toml") {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestTLSFlagsAsTheCLINamesThemAndOldAliases(t *testing.T) {
	clearEnv(t)
	want := flagLevel{Address: "localhost:7233", Namespace: "default", TLSCertFile: "c.pem", TLSKeyFile: "k.pem", TLSCAFile: "ca.pem"}
	for _, args := range [][]string{
		{"--tls-cert-path", "c.pem", "--tls-key-path", "k.pem", "--tls-ca-path", "ca.pem"},
		{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem"},
	} {
		if o := levelOf(parse(t, args...)); o != want {
			t.Errorf("%q: %+v", args, o)
		}
	}
}

func TestBadTLSEnvIsReported(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvTLS, "maybe")
	o := parse(t)
	if _, err := o.ClientOptions(nil); err == nil || !strings.Contains(err.Error(), EnvTLS) {
		t.Fatalf("error = %v, want one naming %s", err, EnvTLS)
	}
	o = parse(t, "--tls")
	if _, err := o.ClientOptions(nil); err != nil || !o.TLS {
		t.Fatalf("--tls over a bad %s: TLS %v, error %v", EnvTLS, o.TLS, err)
	}
}

func TestClientOptionsPlain(t *testing.T) {
	opts, err := Options{Address: "localhost:7233", Namespace: "default"}.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "localhost:7233" || opts.Namespace != "default" {
		t.Errorf("options = %+v", opts)
	}
	if opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Error("plain options have TLS or credentials")
	}
}

func TestAPIKeyImpliesTLS(t *testing.T) {
	opts, err := Options{Address: "a:7233", Namespace: "n", APIKey: "secret"}.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Credentials == nil {
		t.Error("no credentials for the API key")
	}
	if opts.ConnectionOptions.TLS == nil {
		t.Error("API key without TLS")
	}
}

func TestMutualTLSAndCA(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	opts, err := Options{
		Address: "a:7233", Namespace: "n",
		TLSCertFile: certFile, TLSKeyFile: keyFile, TLSCAFile: certFile, TLSServerName: "temporal.internal",
	}.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	conf := opts.ConnectionOptions.TLS
	if conf == nil {
		t.Fatal("no TLS config")
	}
	if len(conf.Certificates) != 1 || conf.RootCAs == nil || conf.ServerName != "temporal.internal" {
		t.Errorf("TLS config: %d certificates, RootCAs set %v, server name %q",
			len(conf.Certificates), conf.RootCAs != nil, conf.ServerName)
	}
}

func TestBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	missing := filepath.Join(dir, "missing.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"cert without key", Options{TLSCertFile: certFile}, "--tls-cert-path is set without --tls-key-path"},
		{"key without cert", Options{TLSKeyFile: keyFile}, "--tls-key-path is set without --tls-cert-path"},
		{"missing cert", Options{TLSCertFile: missing, TLSKeyFile: keyFile}, "--tls-cert-path"},
		{"missing key", Options{TLSCertFile: certFile, TLSKeyFile: missing}, "--tls-key-path"},
		{"key is not a key", Options{TLSCertFile: certFile, TLSKeyFile: garbage}, "--tls-key-path"},
		{"missing CA", Options{TLS: true, TLSCAFile: missing}, "--tls-ca-path"},
		{"CA is not PEM", Options{TLS: true, TLSCAFile: garbage}, "--tls-ca-path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Address, tc.o.Namespace = "a:7233", "n"
			_, err := tc.o.ClientOptions(nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDialUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = Dial(ctx, Options{Address: addr, Namespace: "default"}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "cannot reach Temporal at "+addr) {
		t.Fatalf("error = %v, want one naming the address", err)
	}
}

// writeCert writes a self-signed certificate and its key as PEM files in dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "temporal.internal"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestAPIKeyWithoutTLSIsABearerHeader: an API key implies TLS, unless TLS is turned off on
// purpose; then it goes as a bearer header in clear (a loopback server that verifies tokens).
// On loopback calls go uncompressed unless told otherwise; elsewhere the SDK's gzip stays; a
// compression it does not know is refused naming the flag.
func TestCompression(t *testing.T) {
	clearEnv(t)
	for _, c := range []struct {
		args []string
		want client.GrpcCompression
	}{
		{[]string{"--address", "127.0.0.1:7233"}, &client.GrpcCompressionNone{}},
		{[]string{"--address", "localhost:7233"}, &client.GrpcCompressionNone{}},
		{[]string{"--address", "[::1]:7233"}, &client.GrpcCompressionNone{}},
		{[]string{"--address", "temporal.customs.example:7233"}, nil},
		{[]string{"--address", "10.0.0.5:7233"}, nil},
		{[]string{"--address", "127.0.0.1:7233", "--grpc-compression", "gzip"}, &client.GrpcCompressionGzip{}},
		{[]string{"--address", "temporal.customs.example:7233", "--grpc-compression", "none"}, &client.GrpcCompressionNone{}},
	} {
		opts, err := parse(t, c.args...).ClientOptions(nil)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if got := opts.ConnectionOptions.GrpcCompression; fmt.Sprintf("%T", got) != fmt.Sprintf("%T", c.want) {
			t.Errorf("%q: compression %T, want %T", c.args, got, c.want)
		}
	}
	t.Setenv(EnvCompression, "gzip")
	if opts, err := parse(t, "--address", "127.0.0.1:7233").ClientOptions(nil); err != nil || fmt.Sprintf("%T", opts.ConnectionOptions.GrpcCompression) != fmt.Sprintf("%T", &client.GrpcCompressionGzip{}) {
		t.Errorf("%s=gzip: %T, %v", EnvCompression, opts.ConnectionOptions.GrpcCompression, err)
	}
	if _, err := parse(t, "--grpc-compression", "zstd").ClientOptions(nil); err == nil || !strings.Contains(err.Error(), "--grpc-compression") {
		t.Errorf("zstd: %v, want a refusal naming the flag", err)
	}
}

func TestAPIKeyWithoutTLSIsABearerHeader(t *testing.T) {
	clearEnv(t)
	o := parse(t, "--api-key", "tok", "--tls=false")
	opts, err := o.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ConnectionOptions.TLS != nil || opts.Credentials != nil || opts.HeadersProvider == nil {
		t.Fatalf("TLS %v, credentials %v, headers %v", opts.ConnectionOptions.TLS != nil, opts.Credentials != nil, opts.HeadersProvider != nil)
	}
	h, err := opts.HeadersProvider.GetHeaders(context.Background())
	if err != nil || h["authorization"] != "Bearer tok" {
		t.Errorf("headers %v, %v", h, err)
	}
	t.Setenv(EnvTLS, "false")
	t.Setenv(EnvAPIKey, "tok")
	if opts, err := parse(t).ClientOptions(nil); err != nil || opts.ConnectionOptions.TLS != nil || opts.HeadersProvider == nil {
		t.Errorf("TEMPORAL_TLS=false: TLS %v, headers %v, %v", opts.ConnectionOptions.TLS != nil, opts.HeadersProvider != nil, err)
	}
	t.Setenv(EnvTLS, "")
	if err := os.Unsetenv(EnvTLS); err != nil {
		t.Fatal(err)
	}
	if opts, err := parse(t).ClientOptions(nil); err != nil || opts.ConnectionOptions.TLS == nil || opts.Credentials == nil {
		t.Errorf("an API key alone: TLS %v, credentials %v, %v", opts.ConnectionOptions.TLS != nil, opts.Credentials != nil, err)
	}
}

// TestAPIKeyFileFollowsRenewals: the key is read from its file, and read again when a token
// agent rewrites it; a missing or empty file, or a key given twice, is refused naming the flag.
func TestAPIKeyFileFollowsRenewals(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := parse(t, "--api-key-file", path, "--tls=false").ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func() string {
		t.Helper()
		h, err := opts.HeadersProvider.GetHeaders(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return h["authorization"]
	}
	if got := bearer(); got != "Bearer first" {
		t.Errorf("authorization %q, want Bearer first", got)
	}
	if err := os.WriteFile(path, []byte("renewed-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := bearer(); got != "Bearer renewed-token" {
		t.Errorf("after the renewal: authorization %q, want Bearer renewed-token", got)
	}

	t.Setenv(EnvAPIKeyFile, path)
	if opts, err := parse(t).ClientOptions(nil); err != nil || opts.ConnectionOptions.TLS == nil || opts.Credentials == nil {
		t.Errorf("%s alone: TLS %v, credentials %v, %v; want TLS with dynamic credentials", EnvAPIKeyFile, opts.ConnectionOptions.TLS != nil, opts.Credentials != nil, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--api-key-file", filepath.Join(t.TempDir(), "missing")},
		{"--api-key-file", empty},
		{"--api-key-file", path, "--api-key", "tok"},
	} {
		if _, err := parse(t, args...).ClientOptions(nil); err == nil || !strings.Contains(err.Error(), "--api-key-file") {
			t.Errorf("%q: %v, want an error naming --api-key-file", args, err)
		}
	}
}
