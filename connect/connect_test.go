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
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clearEnv unsets every variable RegisterFlags reads, for the duration of the test.
func clearEnv(t *testing.T) {
	for _, k := range []string{EnvAddress, EnvNamespace, EnvAPIKey, EnvTLS, EnvTLSCert, EnvTLSKey, EnvTLSCA, EnvTLSServerName} {
		t.Setenv(k, "")
	}
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
	want := Options{Address: "localhost:7233", Namespace: "default"}
	if o != want {
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
	want := Options{
		Address: "temporal.example:7233", Namespace: "customs", APIKey: "k1", TLS: true,
		TLSCertFile: "/env/cert.pem", TLSKeyFile: "/env/key.pem", TLSCAFile: "/env/ca.pem",
		TLSServerName: "env.example",
	}
	if o != want {
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
	want := Options{Address: "10.0.0.5:7233", Namespace: "audit", TLSServerName: "flag.example"}
	if o != want {
		t.Errorf("options = %+v, want %+v", o, want)
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
		{"cert without key", Options{TLSCertFile: certFile}, "--tls-cert is set without --tls-key"},
		{"key without cert", Options{TLSKeyFile: keyFile}, "--tls-key is set without --tls-cert"},
		{"missing cert", Options{TLSCertFile: missing, TLSKeyFile: keyFile}, "--tls-cert"},
		{"missing key", Options{TLSCertFile: certFile, TLSKeyFile: missing}, "--tls-key"},
		{"key is not a key", Options{TLSCertFile: certFile, TLSKeyFile: garbage}, "--tls-key"},
		{"missing CA", Options{TLS: true, TLSCAFile: missing}, "--tls-ca"},
		{"CA is not PEM", Options{TLS: true, TLSCAFile: garbage}, "--tls-ca"},
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
