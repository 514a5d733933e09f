// Package connect holds the options for reaching a Temporal service that the worker, the
// exporter's starter and the auditor tools share: command-line flags whose defaults come from the
// Temporal CLI's environment variables, the client options they make, and the registration of the
// engine's search attributes on a namespace.
package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/medsupply/customs/codec"
)

// Environment variables read for flag defaults; the names are those of the Temporal CLI and the
// SDKs' environment configuration.
const (
	EnvAddress       = "TEMPORAL_ADDRESS"
	EnvNamespace     = "TEMPORAL_NAMESPACE"
	EnvAPIKey        = "TEMPORAL_API_KEY"
	EnvTLS           = "TEMPORAL_TLS"
	EnvTLSCert       = "TEMPORAL_TLS_CLIENT_CERT_PATH"
	EnvTLSKey        = "TEMPORAL_TLS_CLIENT_KEY_PATH"
	EnvTLSCA         = "TEMPORAL_TLS_SERVER_CA_CERT_PATH"
	EnvTLSServerName = "TEMPORAL_TLS_SERVER_NAME"
)

// Defaults used when neither a flag nor its environment variable is set.
const (
	DefaultAddress   = "localhost:7233"
	DefaultNamespace = "default"
)

// Options says how to reach a Temporal service.
type Options struct {
	// Address is the frontend's host:port.
	Address string
	// Namespace is the namespace the client works in.
	Namespace string
	// APIKey, when set, is sent as a bearer token on every call and turns TLS on.
	APIKey string
	// TLS turns TLS on with the system's root certificates. Setting any TLS file or the server
	// name turns it on too.
	TLS bool
	// TLSCertFile and TLSKeyFile are the client certificate and key for mutual TLS, both or
	// neither.
	TLSCertFile string
	TLSKeyFile  string
	// TLSCAFile is a PEM bundle of the CAs that sign the server's certificate, in place of the
	// system's.
	TLSCAFile string
	// TLSServerName overrides the name checked against the server's certificate.
	TLSServerName string
	// MetricsHandler, when set, receives the SDK's metrics (not a flag: the worker sets it).
	MetricsHandler client.MetricsHandler
	// CodecKeys is a keyring file (or the keyring JSON itself) whose keys encrypt payloads and
	// failure messages with AES-256-GCM; empty sends them in clear.
	CodecKeys string

	// envErr records an environment variable that could not be used as a flag default.
	envErr error
}

// RegisterFlags defines the connection flags on fs, each defaulting to its environment variable
// when set, else to the built-in default; a flag given on the command line wins over both.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Address, "address", envOr(EnvAddress, DefaultAddress),
		"Temporal frontend host:port (env "+EnvAddress+")")
	fs.StringVar(&o.Namespace, "namespace", envOr(EnvNamespace, DefaultNamespace),
		"Temporal namespace (env "+EnvNamespace+")")
	fs.StringVar(&o.APIKey, "api-key", os.Getenv(EnvAPIKey),
		"API key sent as a bearer token; implies --tls (env "+EnvAPIKey+")")
	o.TLS, o.envErr = false, nil
	if v := os.Getenv(EnvTLS); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			o.envErr = fmt.Errorf("%s=%q is not a boolean", EnvTLS, v)
		}
		o.TLS = b
	}
	fs.Var(tlsFlag{o}, "tls", "connect with TLS (env "+EnvTLS+")")
	fs.StringVar(&o.TLSCertFile, "tls-cert", os.Getenv(EnvTLSCert),
		"client certificate PEM file for mutual TLS; needs --tls-key (env "+EnvTLSCert+")")
	fs.StringVar(&o.TLSKeyFile, "tls-key", os.Getenv(EnvTLSKey),
		"client private key PEM file for mutual TLS; needs --tls-cert (env "+EnvTLSKey+")")
	fs.StringVar(&o.TLSCAFile, "tls-ca", os.Getenv(EnvTLSCA),
		"PEM bundle of CAs to trust for the server certificate instead of the system's (env "+EnvTLSCA+")")
	fs.StringVar(&o.TLSServerName, "tls-server-name", os.Getenv(EnvTLSServerName),
		"server name to check the server certificate against (env "+EnvTLSServerName+")")
	fs.StringVar(&o.CodecKeys, "codec-keys", os.Getenv(EnvCodecKeys),
		"keyring file that encrypts payloads (AES-256-GCM); every worker and client of a namespace needs the same keys (env "+EnvCodecKeys+")")
}

// EnvCodecKeys names the environment variable holding the keyring file or JSON.
const EnvCodecKeys = "CUSTOMS_CODEC_KEYS"

// tlsFlag is the --tls flag. Setting it on the command line also drops a complaint about
// TEMPORAL_TLS, which the flag overrides.
type tlsFlag struct{ o *Options }

func (f tlsFlag) IsBoolFlag() bool { return true }

func (f tlsFlag) String() string {
	if f.o == nil {
		return "false"
	}
	return strconv.FormatBool(f.o.TLS)
}

func (f tlsFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	f.o.TLS, f.o.envErr = b, nil
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// ClientOptions returns the SDK client options for o, logging through logger (nil keeps the SDK's
// default). It reads the TLS files, so a missing or unreadable file fails here, named by its flag.
func (o Options) ClientOptions(logger log.Logger) (client.Options, error) {
	if o.envErr != nil {
		return client.Options{}, o.envErr
	}
	if o.Address == "" {
		return client.Options{}, errors.New("--address is empty")
	}
	if o.Namespace == "" {
		return client.Options{}, errors.New("--namespace is empty")
	}
	opts := client.Options{
		HostPort:       o.Address,
		Namespace:      o.Namespace,
		Logger:         logger,
		MetricsHandler: o.MetricsHandler,
	}
	tlsConf, err := o.tlsConfig()
	if err != nil {
		return client.Options{}, err
	}
	opts.ConnectionOptions.TLS = tlsConf
	if o.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(o.APIKey)
	}
	if o.CodecKeys != "" {
		ring, err := codec.LoadKeyring(o.CodecKeys)
		if err != nil {
			return client.Options{}, fmt.Errorf("--codec-keys: %w", err)
		}
		codec.Apply(&opts, codec.New(ring))
	}
	return opts, nil
}

// tlsConfig returns nil when TLS is off.
func (o Options) tlsConfig() (*tls.Config, error) {
	if o.TLSCertFile != "" && o.TLSKeyFile == "" {
		return nil, errors.New("--tls-cert is set without --tls-key")
	}
	if o.TLSKeyFile != "" && o.TLSCertFile == "" {
		return nil, errors.New("--tls-key is set without --tls-cert")
	}
	on := o.TLS || o.APIKey != "" || o.TLSCertFile != "" || o.TLSCAFile != "" || o.TLSServerName != ""
	if !on {
		return nil, nil
	}
	conf := &tls.Config{ServerName: o.TLSServerName, MinVersion: tls.VersionTLS12}
	if o.TLSCertFile != "" {
		if err := readable("--tls-cert", o.TLSCertFile); err != nil {
			return nil, err
		}
		if err := readable("--tls-key", o.TLSKeyFile); err != nil {
			return nil, err
		}
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load --tls-cert %s and --tls-key %s: %w", o.TLSCertFile, o.TLSKeyFile, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read --tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", o.TLSCAFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

func readable(flagName, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", flagName, err)
	}
	return f.Close()
}

// Dial connects to the Temporal service o names and checks that it answers.
func Dial(ctx context.Context, o Options, logger log.Logger) (client.Client, error) {
	opts, err := o.ClientOptions(logger)
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s: %w", o.Address, err)
	}
	return c, nil
}
