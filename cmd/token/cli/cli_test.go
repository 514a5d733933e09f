package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	t.Setenv("CUSTOMS_UI_CLIENT_SECRET", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--issuer-url", "identity:8235"}, "--issuer-url"},
		{[]string{"--backchannel-url", "identity"}, "--backchannel-url"},
		{[]string{"--ui-callback", "http://localhost:8233/auth/sso/callback"}, "--ui-client-secret: required"},
		{[]string{"--ui-callback", "localhost:8233", "--ui-client-secret", "s"}, "--ui-callback"},
	} {
		var o, e bytes.Buffer
		if code := Run(context.Background(), append([]string{"--serve", "--data-dir", dir}, c.args...), &o, &e); code != command.Usage ||
			!strings.Contains(e.String(), c.want) {
			t.Errorf("%q: exit %d, %q; want %d naming %s", c.args, code, e.String(), command.Usage, c.want)
		}
	}
}

// TestOutWritesTheTokenWhole: --out leaves the token, and only it, in a file only its owner
// reads, for a process that takes --api-key-file.
func TestOutWritesTheTokenWhole(t *testing.T) {
	dir := t.TempDir()
	if _, err := auth.LoadOrCreateKey(auth.KeyPath(dir)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "worker.token")
	for range 2 {
		var o, e bytes.Buffer
		if code := Run(context.Background(), []string{"--data-dir", dir, "--role", "worker", "--subject", "w", "--out", out}, &o, &e); code != command.OK {
			t.Fatalf("exit %d: %s", code, e.String())
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(strings.TrimSpace(string(b)), "."); len(parts) != 3 || strings.Count(string(b), "\n") != 1 {
		t.Errorf("the file holds %q, want one JWT", b)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
}
