package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// Person is someone the development identity provider signs in: a principal and the name the
// Web UI shows.
type Person struct {
	Principal workflows.Principal
	Name      string
}

// DevPeople is the embedded default's directory: every officer of the roster (supervisors with
// the supervisor role too), one user per exporter of the trader registry, acting for that
// exporter's code, and an auditor.
func DevPeople(roster policy.Roster, exporters []registry.ExporterRecord) []Person {
	var people []Person
	for _, o := range roster.Officers {
		roles := []string{workflows.RoleOfficer}
		if slices.Contains(o.Roles, policy.RoleSupervisor) {
			roles = append(roles, workflows.RoleSupervisor)
		}
		people = append(people, Person{Principal: workflows.Principal{Subject: o.ID, Roles: roles}, Name: o.Name})
	}
	for _, e := range exporters {
		people = append(people, Person{
			Principal: workflows.Principal{Subject: ExporterSubject(e.Code), Roles: []string{workflows.RoleExporter}, Exporter: e.Code},
			Name:      e.Name,
		})
	}
	return append(people, Person{Principal: workflows.Principal{Subject: "audit-1", Roles: []string{workflows.RoleAuditor}}, Name: "Auditor"})
}

// AgencyPeople are the officers of partner agencies' rosters, each signed in for their agency:
// a permit officer as an officer, a clerk as an auditor, who reads.
func AgencyPeople(rosters ...agency.Roster) []Person {
	var people []Person
	for _, r := range rosters {
		for _, o := range r.Officers {
			role := workflows.RoleAuditor
			if o.Has(agency.RolePermitOfficer) {
				role = workflows.RoleOfficer
			}
			people = append(people, Person{Principal: workflows.Principal{Subject: o.ID, Roles: []string{role}, Agency: r.Agency},
				Name: o.Name + ", " + r.Agency})
		}
	}
	return people
}

// ExporterSubject is the subject of DevPeople's user for an exporter code.
func ExporterSubject(code string) string { return "exporter-" + strings.ToLower(code) }

// Login paths of the development identity provider, beside the OpenID Connect endpoints.
const (
	LoginPath = "/login"
	// UIClientID is the Web UI's client at the development identity provider.
	UIClientID = "customs-web-ui"
)

// Login is the development identity provider's OpenID Connect side, built on
// github.com/zitadel/oidc's provider: discovery, the authorization code flow with a page that
// picks one of its people, and tokens signed with the Issuer's key. The access token carries the
// engine's claims (ClaimRoles, ClaimExporter) for the server's ClaimMapper; the ID token names
// the person for the Web UI.
type Login struct {
	issuer   *Issuer
	people   []Person
	client   *uiClient
	revoked  *Revocations
	ttl      time.Duration
	provider *op.Provider

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code -> request ID
	tokens   map[string]string // access token ID -> subject
}

// LoginConfig configures a Login.
type LoginConfig struct {
	// People are those who may sign in.
	People []Person
	// Revoked, when set, refuses the people it lists.
	Revoked *Revocations
	// ClientSecret and CallbackURL register the Web UI: its secret, and where the provider
	// returns the browser.
	ClientSecret, CallbackURL string
	// TTL is how long the tokens are valid.
	TTL time.Duration
	// Backchannel, when set, is the base URL that servers reach the provider by, where a
	// browser reaches it by the issuer's URL (a container network): the discovery document then
	// names it for the token, userinfo and key endpoints, and the issuer's URL for the rest.
	Backchannel string
}

// NewLogin returns the provider for the Web UI, signing with issuer's key.
func NewLogin(issuer *Issuer, cfg LoginConfig) (*Login, error) {
	if cfg.ClientSecret == "" {
		return nil, errors.New("login: the Web UI's client secret is empty")
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("login: the tokens' lifetime must be positive")
	}
	l := &Login{
		issuer: issuer, people: cfg.People, revoked: cfg.Revoked, ttl: cfg.TTL,
		client:   &uiClient{secret: cfg.ClientSecret, redirect: cfg.CallbackURL, loginURL: issuer.URL + LoginPath + "?authRequestID=", ttl: cfg.TTL},
		requests: map[string]*authRequest{}, codes: map[string]string{}, tokens: map[string]string{},
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	opConfig := &op.Config{CryptoKey: key, CodeMethodS256: true, SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}}
	endpoint := func(path string) *op.Endpoint {
		if cfg.Backchannel == "" {
			return op.NewEndpoint(path)
		}
		return op.NewEndpointWithURL(path, strings.TrimRight(cfg.Backchannel, "/")+path)
	}
	opts := []op.Option{
		op.WithCustomKeysEndpoint(endpoint(JWKSPath)),
		op.WithCustomTokenEndpoint(endpoint("/oauth/token")),
		op.WithCustomUserinfoEndpoint(endpoint("/userinfo")),
		op.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if strings.HasPrefix(issuer.URL, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(opConfig, l, op.StaticIssuer(issuer.URL), opts...)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	l.provider = p
	return l, nil
}

// Handler serves the OpenID Connect endpoints (the keys at JWKSPath among them) and the login
// page.
func (l *Login) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(LoginPath, op.NewIssuerInterceptor(l.provider.IssuerFromRequest).HandlerFunc(l.login))
	mux.Handle("/", l.provider)
	return mux
}

func (l *Login) person(subject string) (Person, bool) {
	for _, p := range l.people {
		if p.Principal.Subject == subject {
			return p, true
		}
	}
	return Person{}, false
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: customs clearance</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}button{display:block;width:100%;text-align:left;margin:.25rem 0;padding:.5rem}small{color:#555}</style>
</head><body>
<h1>Sign in to the customs clearance engine</h1>
<p>Development identity provider: choose who you are.</p>
{{if .Error}}<p role="alert"><strong>{{.Error}}</strong></p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="authRequestID" value="{{.ID}}">
{{range .People}}<button type="submit" name="subject" value="{{.Principal.Subject}}">{{.Name}} <small>{{.Principal.Subject}} · {{range $i, $r := .Principal.Roles}}{{if $i}}, {{end}}{{$r}}{{end}}{{with .Principal.Exporter}} · exporter {{.}}{{end}}</small></button>
{{end}}</form></body></html>
`))

// login shows the people to choose from (GET) and completes the authorization request as the
// chosen one (POST), returning the browser to the provider's callback.
func (l *Login) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "login: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Form.Get("authRequestID")
	l.mu.Lock()
	req, ok := l.requests[id]
	l.mu.Unlock()
	if !ok {
		http.Error(w, "login: no such authorization request (it may have expired): sign in from the Web UI again", http.StatusBadRequest)
		return
	}
	show := func(status int, problem string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = loginPage.Execute(w, map[string]any{"ID": id, "People": l.people, "Error": problem, "Action": LoginPath})
	}
	switch r.Method {
	case http.MethodGet:
		show(http.StatusOK, "")
	case http.MethodPost:
		subject := r.PostForm.Get("subject")
		if _, ok := l.person(subject); !ok {
			show(http.StatusBadRequest, fmt.Sprintf("%s is not in this directory", subject))
			return
		}
		if l.revoked != nil {
			if gone, err := l.revoked.Revoked(subject); err != nil || gone {
				show(http.StatusForbidden, fmt.Sprintf("%s is revoked: the server refuses their calls", subject))
				return
			}
		}
		l.mu.Lock()
		req.subject, req.authTime = subject, time.Now()
		l.mu.Unlock()
		http.Redirect(w, r, op.AuthCallbackURL(l.provider)(r.Context(), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "login: GET or POST", http.StatusMethodNotAllowed)
	}
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// authRequest is one authorization request, from the Web UI's redirect to the code exchange.
type authRequest struct {
	id       string
	created  time.Time
	req      oidc.AuthRequest
	subject  string
	authTime time.Time
}

func (a *authRequest) GetID() string                      { return a.id }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return []string{"user"} }
func (a *authRequest) GetAudience() []string              { return []string{a.req.ClientID, DevAudience} }
func (a *authRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *authRequest) GetClientID() string                { return a.req.ClientID }
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetScopes() []string                { return a.req.Scopes }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.subject != "" }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}

// requestTTL bounds how long a login may take.
const requestTTL = 10 * time.Minute

var errNotFound = errors.New("not found")

// CreateAuthRequest stores a new request; requests older than requestTTL are dropped.
func (l *Login) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for id, r := range l.requests {
		if now.Sub(r.created) > requestTTL {
			delete(l.requests, id)
		}
	}
	a := &authRequest{id: randomID(), created: now, req: *req}
	l.requests[a.id] = a
	return a, nil
}

// AuthRequestByID returns a stored request.
func (l *Login) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.requests[id]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("authorization request %w", errNotFound)
}

// AuthRequestByCode returns the request a code was issued for.
func (l *Login) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	l.mu.Lock()
	id, ok := l.codes[code]
	l.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("code %w", errNotFound)
	}
	return l.AuthRequestByID(ctx, id)
}

// SaveAuthCode records the code issued for a request.
func (l *Login) SaveAuthCode(_ context.Context, id, code string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codes[code] = id
	return nil
}

// DeleteAuthRequest forgets a request and its codes once exchanged: a code works once.
func (l *Login) DeleteAuthRequest(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.requests, id)
	for code, rid := range l.codes {
		if rid == id {
			delete(l.codes, code)
		}
	}
	return nil
}

// CreateAccessToken names a new access token; the provider signs it as a JWT.
func (l *Login) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	id := randomID()
	l.mu.Lock()
	l.tokens[id] = req.GetSubject()
	l.mu.Unlock()
	return id, time.Now().Add(l.ttl), nil
}

var errNoRefresh = errors.New("this identity provider issues no refresh tokens: sign in again")

// CreateAccessAndRefreshTokens is refused: no refresh tokens.
func (l *Login) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNoRefresh
}

// TokenRequestByRefreshToken is refused: no refresh tokens.
func (l *Login) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errNoRefresh
}

// TerminateSession has nothing to end: the provider keeps no sessions.
func (l *Login) TerminateSession(context.Context, string, string) error { return nil }

// RevokeToken forgets an access token; the server's revocation list is what refuses a person.
func (l *Login) RevokeToken(_ context.Context, tokenID, _, _ string) *oidc.Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.tokens, tokenID)
	return nil
}

// GetRefreshTokenInfo: no refresh tokens.
func (l *Login) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type signingKey struct{ i *Issuer }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.i.key }
func (k signingKey) ID() string                                  { return k.i.kid }

type publicKey struct{ i *Issuer }

func (k publicKey) ID() string                         { return k.i.kid }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.i.key.PublicKey }

// SigningKey is the Issuer's key, so that cmd/token and the provider sign alike.
func (l *Login) SigningKey(context.Context) (op.SigningKey, error) { return signingKey{l.issuer}, nil }

// SignatureAlgorithms is RS256.
func (l *Login) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet is the Issuer's public key.
func (l *Login) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{l.issuer}}, nil }

// GetClientByClientID knows one client: the Web UI.
func (l *Login) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != UIClientID {
		return nil, fmt.Errorf("client %q %w", id, errNotFound)
	}
	return l.client, nil
}

// AuthorizeClientIDSecret checks the Web UI's secret.
func (l *Login) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != UIClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(l.client.secret)) != 1 {
		return errors.New("client authentication failed")
	}
	return nil
}

func (l *Login) userinfo(info *oidc.UserInfo, subject string) error {
	p, ok := l.person(subject)
	if !ok {
		return fmt.Errorf("person %q %w", subject, errNotFound)
	}
	info.Subject = subject
	info.Name = p.Name
	info.PreferredUsername = subject
	return nil
}

// SetUserinfoFromScopes is left to SetUserinfoFromRequest.
func (l *Login) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest names the person in the ID token.
func (l *Login) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	return l.userinfo(info, req.GetSubject())
}

// SetUserinfoFromToken answers the userinfo endpoint.
func (l *Login) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	l.mu.Lock()
	owner, ok := l.tokens[tokenID]
	l.mu.Unlock()
	if !ok || owner != subject {
		return errors.New("the access token is not known")
	}
	return l.userinfo(info, subject)
}

// SetIntrospectionFromToken is not offered: the server verifies tokens by their signature.
func (l *Login) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not offered")
}

// GetPrivateClaimsFromScopes adds the engine's claims to the access token.
func (l *Login) GetPrivateClaimsFromScopes(_ context.Context, subject, _ string, _ []string) (map[string]any, error) {
	p, ok := l.person(subject)
	if !ok {
		return nil, fmt.Errorf("person %q %w", subject, errNotFound)
	}
	claims := map[string]any{ClaimRoles: p.Principal.Roles}
	if p.Principal.Exporter != "" {
		claims[ClaimExporter] = p.Principal.Exporter
	}
	if p.Principal.Agency != "" {
		claims[ClaimAgency] = p.Principal.Agency
	}
	return claims, nil
}

// GetKeyByIDAndClientID: no JWT profile grants.
func (l *Login) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile grants are not offered")
}

// ValidateJWTProfileScopes: no JWT profile grants.
func (l *Login) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grants are not offered")
}

// Health is always good: everything is in memory.
func (l *Login) Health(context.Context) error { return nil }

// uiClient is the Web UI: a confidential web client using the authorization code flow.
type uiClient struct {
	secret, redirect, loginURL string
	ttl                        time.Duration
}

func (c *uiClient) GetID() string                       { return UIClientID }
func (c *uiClient) RedirectURIs() []string              { return []string{c.redirect} }
func (c *uiClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *uiClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *uiClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *uiClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *uiClient) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *uiClient) LoginURL(id string) string            { return c.loginURL + id }
func (c *uiClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *uiClient) IDTokenLifetime() time.Duration       { return c.ttl }
func (c *uiClient) DevMode() bool                        { return strings.HasPrefix(c.redirect, "http://") }
func (c *uiClient) IsScopeAllowed(string) bool           { return false }
func (c *uiClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *uiClient) ClockSkew() time.Duration             { return time.Minute }
func (c *uiClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *uiClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
