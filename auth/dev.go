package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"google.golang.org/grpc"

	"github.com/medsupply/customs/embedded"
	"github.com/medsupply/customs/workflows"
)

// DevAudience is the audience of the embedded default's tokens.
const DevAudience = "customs-clearance"

// DefaultDevPort is the port the embedded default's issuer publishes its keys on.
const DefaultDevPort = 8235

// KeyPath is where the embedded default keeps its issuer's key, under its data directory.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, "auth", "issuer.pem") }

// DevIssuerURL is the issuer name of the embedded default listening on ip and port.
func DevIssuerURL(ip string, port int) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(port))
}

// Dev is the embedded default's identity provider: an issuer whose key lives in the data
// directory (so tokens outlive a restart and cmd/token can sign them), its JWKS served on
// loopback, and the server's verification of callers against it.
type Dev struct {
	Issuer *Issuer
	// Revoked lists the subjects refused although their tokens are valid (RevocationsPath).
	Revoked *Revocations
	// Login signs the Web UI's users in; nil without a WebLogin.
	Login                *Login
	srv                  *http.Server
	uiSecret, uiCallback string
	keys                 authorization.TokenKeyProvider
	done                 chan error
}

// WebLogin is the Web UI's sign-in at the development identity provider.
type WebLogin struct {
	// People are those who may sign in.
	People []Person
	// CallbackURL is the Web UI's OIDC callback, where the provider returns the browser.
	CallbackURL string
	// ClientSecret is the Web UI's secret; empty makes a new one, for a UI in this process.
	ClientSecret string
	// Backchannel is the URL servers reach the provider by, when not the issuer's (LoginConfig).
	Backchannel string
}

// StartDev loads or creates the key under dataDir, serves the JWKS on ip:port and reads it
// back as the server will. With web set, it is an OpenID Connect provider too, which signs the
// Web UI's users in (Login).
func StartDev(dataDir, ip string, port int, web *WebLogin) (*Dev, error) {
	return ServeDev(dataDir, net.JoinHostPort(ip, strconv.Itoa(port)), DevIssuerURL(ip, port), web)
}

// ServeDev is StartDev listening on addr under the issuer name url, for an issuer that others
// reach by another name than its listening address (a container's service name).
func ServeDev(dataDir, addr, url string, web *WebLogin) (*Dev, error) {
	key, err := LoadOrCreateKey(KeyPath(dataDir))
	if err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	d := &Dev{Issuer: NewIssuer(url, DevAudience, key), done: make(chan error, 1),
		Revoked: &Revocations{Path: RevocationsPath(dataDir)}}
	handler := d.Issuer.Handler()
	if web != nil {
		d.uiSecret = randomID()
		if web.ClientSecret != "" {
			d.uiSecret = web.ClientSecret
		}
		if d.Login, err = NewLogin(d.Issuer, LoginConfig{People: web.People, Revoked: d.Revoked, ClientSecret: d.uiSecret,
			CallbackURL: web.CallbackURL, TTL: 8 * time.Hour, Backchannel: web.Backchannel}); err != nil {
			return nil, errors.Join(err, ln.Close())
		}
		d.uiCallback = web.CallbackURL
		handler = d.Login.Handler()
	}
	d.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		err := d.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		d.done <- err
	}()
	d.keys = authorization.NewDefaultTokenKeyProvider(&config.Authorization{JWTKeyProvider: config.JWTKeyProvider{
		KeySourceURIs: []string{d.Issuer.URL + JWKSPath}, RefreshInterval: time.Hour}}, log.NewNoopLogger())
	return d, nil
}

// Server is the verification the embedded server runs for namespace.
func (d *Dev) Server(namespace string) *embedded.Auth {
	return &embedded.Auth{
		ClaimMapper:  &ClaimMapper{Keys: d.keys, Issuer: d.Issuer.URL, Audience: d.Issuer.Audience},
		Authorizer:   &Authorizer{Namespace: namespace, Revoked: d.Revoked},
		Interceptors: []grpc.UnaryServerInterceptor{Interceptor()},
	}
}

// UILogin is the Web UI's configuration for signing in at this provider; nil without a
// WebLogin.
func (d *Dev) UILogin() *embedded.UILogin {
	if d.Login == nil {
		return nil
	}
	return &embedded.UILogin{ProviderURL: d.Issuer.URL, ClientID: UIClientID, ClientSecret: d.uiSecret, CallbackURL: d.uiCallback}
}

// HTTPAuthorizer decides requests of the engine's own HTTP services by the same tokens the
// server verifies (HTTPAuthorizer), for roles.
func (d *Dev) HTTPAuthorizer(roles ...string) func(*http.Request) (int, string) {
	return HTTPAuthorizer(&ClaimMapper{Keys: d.keys, Issuer: d.Issuer.URL, Audience: d.Issuer.Audience}, d.Revoked, roles...)
}

// Headers signs p's tokens for a client of this process: a fresh one whenever the last has
// less than a quarter of its hour left.
func (d *Dev) Headers(p workflows.Principal) *Tokens {
	return &Tokens{issuer: d.Issuer, p: p, ttl: time.Hour}
}

// Close stops serving the keys.
func (d *Dev) Close() error {
	d.keys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(d.srv.Shutdown(ctx), <-d.done)
}

// Tokens is a client.HeadersProvider that sends a bearer token signed for one principal,
// renewed before it expires.
type Tokens struct {
	issuer *Issuer
	p      workflows.Principal
	ttl    time.Duration

	mu      sync.Mutex
	token   string
	expires time.Time
}

// GetHeaders returns the authorization header.
func (t *Tokens) GetHeaders(context.Context) (map[string]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.token == "" || t.expires.Sub(now) < t.ttl/4 {
		tok, err := t.issuer.Token(t.p, t.ttl, now)
		if err != nil {
			return nil, err
		}
		t.token, t.expires = tok, now.Add(t.ttl)
	}
	return map[string]string{"authorization": "Bearer " + t.token}, nil
}
