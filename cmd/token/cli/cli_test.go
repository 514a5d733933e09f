package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"

	"github.com/medsupply/customs/auth"
	"github.com/medsupply/customs/internal/command"
)

// TestServeIsTheIssuerOfItsTokens runs token --serve as a cluster's issuer, under a name other
// than its listening address: a token signed with the same data directory and --issuer-url
// verifies against the keys it serves, as the server's claim mapper reads them.
func TestServeIsTheIssuerOfItsTokens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dir := t.TempDir()
	const name = "http://identity:8235"
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--serve", "--data-dir", dir, "--auth-port", fmt.Sprint(port), "--issuer-url", name}, &out, &errOut)
	}()
	jwks := fmt.Sprintf("http://127.0.0.1:%d%s", port, auth.JWKSPath)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(jwks); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no keys at %s: %s", jwks, errOut.String())
		}
	}
	var tok, tokErr bytes.Buffer
	if code := Run(context.Background(), []string{"--data-dir", dir, "--issuer-url", name, "--role", "worker", "--subject", "worker-1"}, &tok, &tokErr); code != command.OK {
		t.Fatalf("sign: exit %d: %s", code, tokErr.String())
	}
	keys := authorization.NewDefaultTokenKeyProvider(&config.Authorization{JWTKeyProvider: config.JWTKeyProvider{
		KeySourceURIs: []string{jwks}, RefreshInterval: time.Minute}}, log.NewNoopLogger())
	defer keys.Close()
	for _, c := range []struct {
		issuer, want string
	}{{name, ""}, {fmt.Sprintf("http://127.0.0.1:%d", port), "is from issuer"}} {
		m := &auth.ClaimMapper{Keys: keys, Issuer: c.issuer, Audience: auth.DevAudience}
		claims, err := m.GetClaims(&authorization.AuthInfo{AuthToken: "Bearer " + strings.TrimSpace(tok.String())})
		if err != nil {
			t.Fatal(err)
		}
		id := claims.Extensions.(auth.Identity)
		if c.want == "" && (id.Refused != "" || id.Principal.Subject != "worker-1") {
			t.Errorf("issuer %s: %+v, want worker-1 verified", c.issuer, id)
		}
		if c.want != "" && !strings.Contains(id.Refused, c.want) {
			t.Errorf("issuer %s: %+v, want refused: %s", c.issuer, id, c.want)
		}
	}
	cancel()
	if code := <-done; code != command.OK || !strings.Contains(out.String(), "issuer "+name) {
		t.Errorf("token --serve: exit %d, %q %q", code, out.String(), errOut.String())
	}
	var o, e bytes.Buffer
	if code := Run(context.Background(), []string{"--serve", "--data-dir", dir, "--issuer-url", "identity:8235"}, &o, &e); code != command.Usage ||
		!strings.Contains(e.String(), "--issuer-url") {
		t.Errorf("a bad --issuer-url: exit %d, %q", code, e.String())
	}
}
