package auth_test

import (
	"context"
	"crypto/x509/pkix"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"golang.org/x/oauth2"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// relyingParty is the Web UI's side of the flow, built as ui-server builds it (go-oidc and
// oauth2), and a browser that does not follow redirects, so each step can be checked.
type relyingParty struct {
	t        *testing.T
	issuer   string
	oauth    oauth2.Config
	provider *oidc.Provider
	browser  *http.Client
	revoked  *auth.Revocations
	mapper   *auth.ClaimMapper
}

const callback = "http://127.0.0.1:1/auth/sso/callback"

func startLogin(t *testing.T) *relyingParty { return startLoginWith(t, false) }

// startLoginWith(t, true) gives the provider a backchannel name (localhost) beside the
// browser's (127.0.0.1), as a container network does.
func startLoginWith(t *testing.T, split bool) *relyingParty {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	revoked := &auth.Revocations{Path: t.TempDir() + "/revoked", Every: time.Nanosecond}
	backchannel := ""
	if split {
		backchannel = strings.Replace(url, "127.0.0.1", "localhost", 1)
	}
	samr, err := agency.DefaultRoster(agency.SAMR)
	if err != nil {
		t.Fatal(err)
	}
	people := append(auth.DevPeople(policy.DefaultRoster(), registry.Default().Exporters()), auth.AgencyPeople(samr)...)
	login, err := auth.NewLogin(auth.NewIssuer(url, auth.DevAudience, key), auth.LoginConfig{People: people, Revoked: revoked,
		ClientSecret: "s3cret", CallbackURL: callback, TTL: time.Hour, Backchannel: backchannel})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: login.Handler(), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, url)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	keys := authorization.NewDefaultTokenKeyProvider(&config.Authorization{JWTKeyProvider: config.JWTKeyProvider{
		KeySourceURIs: []string{url + auth.JWKSPath}, RefreshInterval: time.Minute}}, log.NewNoopLogger())
	t.Cleanup(keys.Close)
	return &relyingParty{
		t: t, issuer: url, provider: provider, revoked: revoked,
		oauth: oauth2.Config{ClientID: auth.UIClientID, ClientSecret: "s3cret", Endpoint: provider.Endpoint(),
			RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		mapper:  &auth.ClaimMapper{Keys: keys, Issuer: url, Audience: auth.DevAudience},
	}
}

func (rp *relyingParty) do(method, target string, form url.Values) (*http.Response, string) {
	rp.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		rp.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := rp.browser.Do(req)
	if err != nil {
		rp.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (rp *relyingParty) redirected(resp *http.Response, body string) *url.URL {
	rp.t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		rp.t.Fatalf("%s %s: %s, want a redirect:\n%s", resp.Request.Method, resp.Request.URL, resp.Status, body)
	}
	u, err := resp.Location()
	if err != nil {
		rp.t.Fatal(err)
	}
	return u
}

// authorize starts a login and returns the login page's URL and the page.
func (rp *relyingParty) authorize(state, nonce string) (*url.URL, string) {
	rp.t.Helper()
	loginURL := rp.redirected(rp.do(http.MethodGet, rp.oauth.AuthCodeURL(state, oidc.Nonce(nonce)), nil))
	if loginURL.Path != auth.LoginPath || loginURL.Query().Get("authRequestID") == "" {
		rp.t.Fatalf("the authorization endpoint sent the browser to %s, want the login page", loginURL)
	}
	resp, page := rp.do(http.MethodGet, loginURL.String(), nil)
	if resp.StatusCode != http.StatusOK {
		rp.t.Fatalf("login page: %s\n%s", resp.Status, page)
	}
	return loginURL, page
}

// signIn completes a login as subject and returns the code the Web UI receives.
func (rp *relyingParty) signIn(subject string) string {
	rp.t.Helper()
	loginURL, _ := rp.authorize("st4te", "n0nce")
	form := url.Values{"authRequestID": {loginURL.Query().Get("authRequestID")}, "subject": {subject}}
	back := rp.redirected(rp.do(http.MethodPost, rp.issuer+auth.LoginPath, form))
	cb := rp.redirected(rp.do(http.MethodGet, back.String(), nil))
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != callback {
		rp.t.Fatalf("the provider returned the browser to %s, want %s", got, callback)
	}
	if cb.Query().Get("state") != "st4te" {
		rp.t.Fatalf("state %q came back, want st4te", cb.Query().Get("state"))
	}
	return cb.Query().Get("code")
}

// principal is what the Temporal server's claim mapper makes of an access token.
func (rp *relyingParty) principal(accessToken string) auth.Identity {
	rp.t.Helper()
	claims, err := rp.mapper.GetClaims(&authorization.AuthInfo{AuthToken: "Bearer " + accessToken})
	if err != nil {
		rp.t.Fatal(err)
	}
	return claims.Extensions.(auth.Identity)
}

// TestWebUILoginSignsInAVerifiedOfficer runs the authorization code flow the Web UI runs against
// the development identity provider: the officer chosen on the login page gets an ID token the
// UI verifies, naming them, and an access token that the server's claim mapper reads as that
// officer, with the engine's claims.
func TestWebUILoginSignsInAVerifiedOfficer(t *testing.T) {
	rp := startLogin(t)
	_, page := rp.authorize("s", "n")
	for _, want := range []string{"Li Na", "doc-li", "Huang Wei", "officer, supervisor", "exporter-3301960412", "exporter 3301960412", "audit-1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the login page does not offer %q:\n%s", want, page)
		}
	}

	code := rp.signIn("doc-li")
	ctx := context.Background()
	tok, err := rp.oauth.Exchange(ctx, code)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := rp.provider.Verifier(&oidc.Config{ClientID: auth.UIClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("the Web UI cannot verify the ID token: %v", err)
	}
	var named struct {
		Name string `json:"name"`
	}
	if err := id.Claims(&named); err != nil {
		t.Fatal(err)
	}
	if id.Subject != "doc-li" || id.Nonce != "n0nce" || named.Name != "Li Na" {
		t.Errorf("ID token: subject %q, nonce %q, name %q; want doc-li, n0nce, Li Na", id.Subject, id.Nonce, named.Name)
	}
	got := rp.principal(tok.AccessToken)
	if got.Refused != "" || got.Principal.Subject != "doc-li" || !slices.Equal(got.Principal.Roles, []string{workflows.RoleOfficer}) {
		t.Errorf("the server reads the access token as %+v, want officer doc-li", got)
	}
	if _, err := rp.oauth.Exchange(ctx, code); err == nil {
		t.Error("a code was exchanged twice")
	}

	exp := rp.principal(mustExchange(t, rp, rp.signIn(auth.ExporterSubject("3301960412"))).AccessToken)
	if exp.Principal.Exporter != "3301960412" || !slices.Equal(exp.Principal.Roles, []string{workflows.RoleExporter}) {
		t.Errorf("the exporter's access token reads as %+v", exp)
	}
	sup := rp.principal(mustExchange(t, rp, rp.signIn("sup-huang")).AccessToken)
	if !slices.Equal(sup.Principal.Roles, []string{workflows.RoleOfficer, workflows.RoleSupervisor}) {
		t.Errorf("the supervisor's access token reads as %+v", sup)
	}
	// An agency's officer signs in for the agency, whose namespace alone they work in.
	samr := rp.principal(mustExchange(t, rp, rp.signIn("samr-lin")).AccessToken)
	if samr.Refused != "" || samr.Principal.Agency != "SAMR" || !slices.Equal(samr.Principal.Roles, []string{workflows.RoleOfficer}) {
		t.Errorf("SAMR's officer's access token reads as %+v", samr)
	}
}

func mustExchange(t *testing.T, rp *relyingParty, code string) *oauth2.Token {
	t.Helper()
	tok, err := rp.oauth.Exchange(context.Background(), code)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tok
}

// TestWebUILoginRefusals: a revoked or unknown person cannot sign in, a wrong client secret gets
// no tokens, and a stale login request is refused; each says why.
func TestWebUILoginRefusals(t *testing.T) {
	rp := startLogin(t)
	if err := rp.revoked.Revoke("doc-chen"); err != nil {
		t.Fatal(err)
	}
	loginURL, _ := rp.authorize("s", "n")
	reqID := loginURL.Query().Get("authRequestID")
	for _, c := range []struct {
		form   url.Values
		status int
		reason string
	}{
		{url.Values{"authRequestID": {reqID}, "subject": {"doc-chen"}}, http.StatusForbidden, "doc-chen is revoked"},
		{url.Values{"authRequestID": {reqID}, "subject": {"mallory"}}, http.StatusBadRequest, "mallory is not in this directory"},
		{url.Values{"authRequestID": {"0000"}, "subject": {"doc-li"}}, http.StatusBadRequest, "no such authorization request"},
	} {
		resp, body := rp.do(http.MethodPost, rp.issuer+auth.LoginPath, c.form)
		if resp.StatusCode != c.status || !strings.Contains(body, c.reason) {
			t.Errorf("%v: %s, want %d saying %q:\n%s", c.form, resp.Status, c.status, c.reason, body)
		}
	}
	code := rp.signIn("doc-li")
	wrong := rp.oauth
	wrong.ClientSecret = "guess"
	if _, err := wrong.Exchange(context.Background(), code); err == nil {
		t.Error("a wrong client secret got tokens")
	}
}

// TestWebUILoginWithABackchannel: with a backchannel name, the discovery document sends the
// browser to the issuer's name and the Web UI's server to the backchannel for tokens and keys,
// and the flow still signs the officer in.
func TestWebUILoginWithABackchannel(t *testing.T) {
	rp := startLoginWith(t, true)
	back := strings.Replace(rp.issuer, "127.0.0.1", "localhost", 1)
	var doc struct {
		Issuer        string `json:"issuer"`
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
		Keys          string `json:"jwks_uri"`
	}
	if err := rp.provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != rp.issuer || !strings.HasPrefix(doc.Authorization, rp.issuer+"/") ||
		doc.Token != back+"/oauth/token" || doc.Keys != back+auth.JWKSPath {
		t.Errorf("discovery: %+v; want the issuer %s for the browser, %s for tokens and keys", doc, rp.issuer, back)
	}
	tok := mustExchange(t, rp, rp.signIn("rel-zhou"))
	if got := rp.principal(tok.AccessToken); got.Principal.Subject != "rel-zhou" {
		t.Errorf("the access token reads as %+v", got)
	}
}

// TestCodecServerTakesTheSameTokens: the engine's HTTP services (the codec server) decide by the
// tokens the server verifies: the staff's pass, an exporter's, a revoked one's, another
// issuer's and none are refused with the reason.
func TestCodecServerTakesTheSameTokens(t *testing.T) {
	rp := startLogin(t)
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other := auth.NewIssuer("https://elsewhere.example", auth.DevAudience, key)
	authorize := auth.HTTPAuthorizer(rp.mapper, rp.revoked, auth.Readers...)
	bearerOf := func(subject string) string {
		return "Bearer " + mustExchange(t, rp, rp.signIn(subject)).AccessToken
	}
	otherTok, err := other.Token(workflows.Principal{Subject: "doc-li", Roles: []string{workflows.RoleOfficer}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	revokedTok := bearerOf("hq-zhao") // signed in before the revocation
	if err := rp.revoked.Revoke("hq-zhao"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		header string
		status int
		reason string
	}{
		{bearerOf("doc-li"), 0, ""},
		{bearerOf("audit-1"), 0, ""},
		{bearerOf(auth.ExporterSubject("3301960412")), http.StatusForbidden, "may not use this service"},
		{revokedTok, http.StatusForbidden, "hq-zhao is revoked"},
		{"Bearer " + otherTok, http.StatusUnauthorized, "does not verify"},
		{"", http.StatusUnauthorized, "no bearer token"},
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://codec/decode", nil)
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		status, reason := authorize(req)
		if status != c.status || !strings.Contains(reason, c.reason) {
			t.Errorf("%.40s: %d %q, want %d saying %q", c.header, status, reason, c.status, c.reason)
		}
	}
}

// TestWorkerCertificatesByCommonName: without a token, a verified client certificate signs a
// worker in when its common name is listed exactly or by prefix; any other is refused by name.
func TestWorkerCertificatesByCommonName(t *testing.T) {
	m := &auth.ClaimMapper{WorkerCertificates: []string{"worker.customs.internal", "customs-worker-*"}}
	for cn, want := range map[string]bool{"worker.customs.internal": true, "customs-worker-7": true, "customs-worker-": true,
		"worker.customs.internal.evil": false, "customs-workers": false, "": false} {
		claims, err := m.GetClaims(&authorization.AuthInfo{TLSSubject: &pkix.Name{CommonName: cn}})
		if err != nil {
			t.Fatal(err)
		}
		id := claims.Extensions.(auth.Identity)
		got := id.Refused == "" && id.Principal.Subject == cn && slices.Equal(id.Principal.Roles, []string{workflows.RoleWorker})
		if got != want {
			t.Errorf("%q: %+v, want admitted %v", cn, id, want)
		}
	}
}
