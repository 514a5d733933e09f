// Package connect holds the options for reaching a Temporal service that every binary shares:
// command-line flags whose defaults come from Temporal's environment configuration (the profiles
// of temporal.toml and the TEMPORAL_* variables the temporal CLI reads, through the SDK's
// envconfig), the client options they make, and the registration of the engine's search
// attributes on a namespace. A flag given on the command line wins over the environment, which
// wins over the file.
package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/medsupply/customs/codec"
)

// Environment variables read for flag defaults; the names are those of the Temporal CLI and the
// SDKs' environment configuration.
const (
	EnvConfigFile    = "TEMPORAL_CONFIG_FILE"
	EnvProfile       = "TEMPORAL_PROFILE"
	EnvAddress       = "TEMPORAL_ADDRESS"
	EnvNamespace     = "TEMPORAL_NAMESPACE"
	EnvAPIKey        = "TEMPORAL_API_KEY"
	EnvAPIKeyFile    = "CUSTOMS_API_KEY_FILE"
	EnvTLS           = "TEMPORAL_TLS"
	EnvTLSCert       = "TEMPORAL_TLS_CLIENT_CERT_PATH"
	EnvTLSKey        = "TEMPORAL_TLS_CLIENT_KEY_PATH"
	EnvTLSCA         = "TEMPORAL_TLS_SERVER_CA_CERT_PATH"
	EnvTLSServerName = "TEMPORAL_TLS_SERVER_NAME"
	EnvCompression   = "CUSTOMS_GRPC_COMPRESSION"
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
	// APIKeyFile is a file holding the API key, in place of APIKey: read again whenever it
	// changes, so a long-running worker follows the renewals a token agent writes there.
	APIKeyFile string
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
	// Interceptors see every gRPC call of the connection (not a flag: the worker watches its
	// polls with one).
	Interceptors []grpc.UnaryClientInterceptor
	// TLSDisableHostVerification skips the check of the server certificate's host name.
	TLSDisableHostVerification bool
	// ConfigFile and Profile select the environment configuration's file and profile.
	ConfigFile, Profile string
	// CodecKeys is a keyring file (or the keyring JSON itself) whose keys encrypt payloads and
	// failure messages with AES-256-GCM; empty sends them in clear.
	CodecKeys string
	// Compression is how requests (and so the server's answers) are compressed: "gzip", "none",
	// or "" for none when Address is on loopback, where compressing saves no bandwidth and costs
	// both ends processor time, and gzip (the SDK's default) otherwise.
	Compression string

	// plain says TLS was turned off on purpose (--tls=false, TEMPORAL_TLS=false, a profile's
	// tls.disabled): an API key is then sent as a bearer token in clear, for a server on
	// loopback that verifies tokens without TLS.
	plain bool
	// envErr records a configuration file or environment variable that could not be used.
	envErr error
	// profile is the environment configuration the flags default from (nil: none loaded); its
	// inline certificate data and gRPC metadata have no flags and are used as they are.
	profile *envconfig.ClientConfigProfile
	// explicit names the flags given on the command line.
	explicit map[string]bool
}

// RegisterFlags defines the connection flags on fs. Each defaults to the value Temporal's
// environment configuration gives it (the profile TEMPORAL_PROFILE or --profile names in the file
// TEMPORAL_CONFIG_FILE or --config-file names, default ~/.config/temporalio/temporal.toml, then the
// TEMPORAL_* variables), else to the built-in default; a flag given on the command line wins.
// The TLS flags are named as the temporal CLI names them; --tls-cert, --tls-key and --tls-ca
// remain as aliases.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	o.explicit = map[string]bool{}
	o.ConfigFile, o.Profile = os.Getenv(EnvConfigFile), os.Getenv(EnvProfile)
	o.loadEnvironment()
	str := func(p *string, name, usage string, aliases ...string) {
		for _, n := range append([]string{name}, aliases...) {
			u := usage
			if n != name {
				u = "alias of --" + name
			}
			fs.Var(&setFlag{o: o, name: name, s: p}, n, u)
		}
	}
	fs.Var(&setFlag{o: o, name: "config-file", s: &o.ConfigFile, reload: true}, "config-file",
		"Temporal client configuration file (TOML profiles; env "+EnvConfigFile+"; default ~/.config/temporalio/temporal.toml)")
	fs.Var(&setFlag{o: o, name: "profile", s: &o.Profile, reload: true}, "profile",
		"profile of the configuration file to use (env "+EnvProfile+"; default \"default\")")
	str(&o.Address, "address", "Temporal frontend host:port (env "+EnvAddress+")")
	str(&o.Namespace, "namespace", "Temporal namespace (env "+EnvNamespace+")")
	str(&o.APIKey, "api-key", "API key sent as a bearer token; implies --tls (env "+EnvAPIKey+")")
	str(&o.APIKeyFile, "api-key-file", "file holding the API key, read again whenever it changes (a token agent renews it); in place of --api-key (env "+EnvAPIKeyFile+")")
	fs.Var(&setFlag{o: o, name: "tls", b: &o.TLS}, "tls", "connect with TLS (env "+EnvTLS+")")
	str(&o.TLSCertFile, "tls-cert-path", "client certificate PEM file for mutual TLS; needs --tls-key-path (env "+EnvTLSCert+")", "tls-cert")
	str(&o.TLSKeyFile, "tls-key-path", "client private key PEM file for mutual TLS; needs --tls-cert-path (env "+EnvTLSKey+")", "tls-key")
	str(&o.TLSCAFile, "tls-ca-path", "PEM bundle of CAs to trust for the server certificate instead of the system's (env "+EnvTLSCA+")", "tls-ca")
	str(&o.TLSServerName, "tls-server-name", "server name to check the server certificate against (env "+EnvTLSServerName+")")
	fs.Var(&setFlag{o: o, name: "tls-disable-host-verification", b: &o.TLSDisableHostVerification}, "tls-disable-host-verification",
		"do not check the server certificate's host name (env TEMPORAL_TLS_DISABLE_HOST_VERIFICATION)")
	fs.StringVar(&o.Compression, "grpc-compression", os.Getenv(EnvCompression),
		"gRPC compression of calls: gzip or none (env "+EnvCompression+"; default none on loopback, gzip otherwise)")
	fs.StringVar(&o.CodecKeys, "codec-keys", os.Getenv(EnvCodecKeys),
		"keyring file that encrypts payloads (AES-256-GCM); every worker and client of a namespace needs the same keys (env "+EnvCodecKeys+")")
}

// EnvCodecKeys names the environment variable holding the keyring file or JSON.
const EnvCodecKeys = "CUSTOMS_CODEC_KEYS"

// loadEnvironment reads the configuration file's profile and the environment, and sets every
// field no flag has set from them.
func (o *Options) loadEnvironment() {
	o.envErr = nil
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFilePath: o.ConfigFile, ConfigFileProfile: o.Profile})
	if err != nil {
		where := o.ConfigFile
		if where == "" {
			where = envconfig.DefaultConfigFilePath()
		}
		o.envErr = fmt.Errorf("the Temporal client configuration %s: %w", where, err)
		prof = envconfig.ClientConfigProfile{}
	}
	o.profile = &prof
	tlsOf := prof.TLS
	if tlsOf == nil {
		tlsOf = &envconfig.ClientConfigTLS{Disabled: true}
	}
	set := func(name string, p *string, v, def string) {
		if !o.explicit[name] {
			*p = cmpOr(v, def)
		}
	}
	set("address", &o.Address, prof.Address, DefaultAddress)
	set("namespace", &o.Namespace, prof.Namespace, DefaultNamespace)
	set("api-key", &o.APIKey, prof.APIKey, "")
	set("api-key-file", &o.APIKeyFile, os.Getenv(EnvAPIKeyFile), "")
	set("tls-cert-path", &o.TLSCertFile, tlsOf.ClientCertPath, "")
	set("tls-key-path", &o.TLSKeyFile, tlsOf.ClientKeyPath, "")
	set("tls-ca-path", &o.TLSCAFile, tlsOf.ServerCACertPath, "")
	set("tls-server-name", &o.TLSServerName, tlsOf.ServerName, "")
	if !o.explicit["tls"] {
		o.TLS = prof.TLS != nil && !prof.TLS.Disabled
		o.plain = prof.TLS != nil && prof.TLS.Disabled
	}
	if !o.explicit["tls-disable-host-verification"] {
		o.TLSDisableHostVerification = tlsOf.DisableHostVerification
	}
	// envconfig ignores a TEMPORAL_TLS it cannot read; a typo must not silently mean plain text.
	if v := os.Getenv(EnvTLS); v != "" && !o.explicit["tls"] {
		if _, err := strconv.ParseBool(v); err != nil {
			o.envErr = errors.Join(o.envErr, fmt.Errorf("%s=%q is not a boolean", EnvTLS, v))
		}
	}
}

func cmpOr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// setFlag is a connection flag: setting it marks it explicit, so a later --profile keeps it,
// and setting --profile or --config-file loads the environment again.
type setFlag struct {
	o      *Options
	name   string
	s      *string
	b      *bool
	reload bool
}

func (f *setFlag) IsBoolFlag() bool { return f.b != nil }

func (f *setFlag) String() string {
	switch {
	case f.b != nil:
		return strconv.FormatBool(*f.b)
	case f.s != nil:
		return *f.s
	}
	return ""
}

func (f *setFlag) Set(v string) error {
	if f.b != nil {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		*f.b = b
	} else {
		*f.s = v
	}
	f.o.explicit[f.name] = true
	if f.name == "tls" {
		f.o.plain = !*f.b
	}
	if f.reload {
		f.o.loadEnvironment()
	} else if f.name == "tls" {
		// --tls given: a bad TEMPORAL_TLS no longer matters.
		f.o.loadEnvironment()
	}
	return nil
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
	switch o.Compression {
	case "gzip":
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	case "none":
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	case "":
		if loopback(o.Address) {
			opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
		}
	default:
		return client.Options{}, fmt.Errorf("--grpc-compression %q: give gzip or none", o.Compression)
	}
	if len(o.Interceptors) > 0 {
		opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions, grpc.WithChainUnaryInterceptor(o.Interceptors...))
	}
	var keys *keyFile
	if o.APIKeyFile != "" {
		if o.APIKey != "" {
			return client.Options{}, errors.New("--api-key-file: give it or --api-key (" + EnvAPIKey + "), not both")
		}
		keys = &keyFile{path: o.APIKeyFile}
		if _, err := keys.get(); err != nil {
			return client.Options{}, err
		}
	}
	switch {
	case o.APIKey != "" && tlsConf == nil:
		// TLS is off on purpose: the key goes as a bearer header without it.
		opts.HeadersProvider = headers{"authorization": "Bearer " + o.APIKey}
	case o.APIKey != "":
		opts.Credentials = client.NewAPIKeyStaticCredentials(o.APIKey)
	case keys != nil && tlsConf == nil:
		opts.HeadersProvider = keys
	case keys != nil:
		opts.Credentials = client.NewAPIKeyDynamicCredentials(func(context.Context) (string, error) { return keys.get() })
	}
	if o.profile != nil {
		// What the environment configuration says and no flag covers.
		if len(o.profile.GRPCMeta) > 0 {
			h := headers{}
			for k, v := range o.profile.GRPCMeta {
				h[k] = v
			}
			switch prev := opts.HeadersProvider.(type) {
			case headers:
				for k, v := range prev {
					h[k] = v
				}
				opts.HeadersProvider = h
			case nil:
				opts.HeadersProvider = h
			default:
				opts.HeadersProvider = chain{h, prev}
			}
		}
		opts.ConnectionOptions.Authority = o.profile.Authority
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

// loopback reports whether a host:port names this machine: localhost or a loopback address.
func loopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DataConverter returns the data converter clients dialled with these options use: the default
// one, encrypting payloads with --codec-keys when it is set. Payloads read outside a client's
// own calls (memos in a visibility list) decode with it.
func (o Options) DataConverter() (converter.DataConverter, error) {
	if o.CodecKeys == "" {
		return converter.GetDefaultDataConverter(), nil
	}
	ring, err := codec.LoadKeyring(o.CodecKeys)
	if err != nil {
		return nil, fmt.Errorf("--codec-keys: %w", err)
	}
	return codec.DataConverter(codec.New(ring)), nil
}

// tlsConfig returns nil when TLS is off.
func (o Options) tlsConfig() (*tls.Config, error) {
	var data envconfig.ClientConfigTLS
	if o.profile != nil && o.profile.TLS != nil {
		data = *o.profile.TLS
	}
	hasCert := o.TLSCertFile != "" || len(data.ClientCertData) > 0
	hasKey := o.TLSKeyFile != "" || len(data.ClientKeyData) > 0
	if hasCert && !hasKey {
		return nil, errors.New("--tls-cert-path is set without --tls-key-path")
	}
	if hasKey && !hasCert {
		return nil, errors.New("--tls-key-path is set without --tls-cert-path")
	}
	hasCA := o.TLSCAFile != "" || len(data.ServerCACertData) > 0
	on := o.TLS || ((o.APIKey != "" || o.APIKeyFile != "") && !o.plain) || hasCert || hasCA || o.TLSServerName != ""
	if !on {
		return nil, nil
	}
	conf := &tls.Config{ServerName: o.TLSServerName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.TLSDisableHostVerification} // #nosec G402 -- only when asked for
	switch {
	case o.TLSCertFile != "":
		if err := readable("--tls-cert-path", o.TLSCertFile); err != nil {
			return nil, err
		}
		if err := readable("--tls-key-path", o.TLSKeyFile); err != nil {
			return nil, err
		}
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load --tls-cert-path %s and --tls-key-path %s: %w", o.TLSCertFile, o.TLSKeyFile, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	case hasCert:
		cert, err := tls.X509KeyPair(data.ClientCertData, data.ClientKeyData)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CLIENT_CERT_DATA and TEMPORAL_TLS_CLIENT_KEY_DATA (or the profile's client_cert_data and client_key_data): %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if hasCA {
		pem, from := data.ServerCACertData, "TEMPORAL_TLS_SERVER_CA_CERT_DATA (or the profile's server_ca_cert_data)"
		if o.TLSCAFile != "" {
			var err error
			if pem, err = os.ReadFile(o.TLSCAFile); err != nil {
				return nil, fmt.Errorf("read --tls-ca-path: %w", err)
			}
			from = "--tls-ca-path " + o.TLSCAFile
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", from)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// headers are the gRPC metadata sent with every call.
type headers map[string]string

func (h headers) GetHeaders(context.Context) (map[string]string, error) { return h, nil }

// chain merges providers' headers; a later provider's value wins.
type chain []interface {
	GetHeaders(context.Context) (map[string]string, error)
}

func (c chain) GetHeaders(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range c {
		h, err := p.GetHeaders(ctx)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, h)
	}
	return out, nil
}

// keyFile is an API key kept in a file, read again whenever the file changes (its size or
// modification time), so that a process follows the renewals a token agent writes.
type keyFile struct {
	path string

	mu   sync.Mutex
	key  string
	mod  time.Time
	size int64
}

func (k *keyFile) get() (string, error) {
	st, err := os.Stat(k.path)
	if err != nil {
		return "", fmt.Errorf("--api-key-file: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != "" && st.ModTime().Equal(k.mod) && st.Size() == k.size {
		return k.key, nil
	}
	b, err := os.ReadFile(k.path)
	if err != nil {
		return "", fmt.Errorf("--api-key-file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		return "", fmt.Errorf("--api-key-file: %s holds no single key", k.path)
	}
	k.key, k.mod, k.size = key, st.ModTime(), st.Size()
	return key, nil
}

// GetHeaders sends the file's key as a bearer token.
func (k *keyFile) GetHeaders(context.Context) (map[string]string, error) {
	key, err := k.get()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + key}, nil
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
		return nil, dialError(o.Address, err)
	}
	return c, nil
}

// dialError says why Dial failed: the server refused this caller (DeniedError), or did not
// answer (UnreachableError).
func dialError(address string, err error) error {
	var pd *serviceerror.PermissionDenied
	if errors.As(err, &pd) {
		reason := pd.Reason
		if reason == "" {
			reason = pd.Message
		}
		return &DeniedError{Address: address, Reason: reason, Err: err}
	}
	return &UnreachableError{Address: address, Err: err}
}

// DeniedError is a Temporal service that answered Dial by refusing the caller: no token, an
// expired or revoked one, or a role without the right.
type DeniedError struct {
	Address, Reason string
	Err             error
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("Temporal at %s refused this caller: %s", e.Address, e.Reason)
}

func (e *DeniedError) Unwrap() error { return e.Err }

// DialWait is Dial that keeps trying for up to wait while the service does not answer (a cluster
// still starting); options that cannot work fail at once.
func DialWait(ctx context.Context, o Options, logger log.Logger, wait time.Duration) (client.Client, error) {
	opts, err := o.ClientOptions(logger)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		var pd *serviceerror.PermissionDenied
		if time.Now().After(deadline) || ctx.Err() != nil || errors.As(err, &pd) {
			// A refusal is an answer: waiting does not change it.
			return nil, dialError(o.Address, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// UnreachableError is a Temporal service that did not answer Dial; the options were valid.
type UnreachableError struct {
	Address string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Temporal at %s: %v", e.Address, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Unreachable marks the error for command.DialCode.
func (e *UnreachableError) Unreachable() bool { return true }
