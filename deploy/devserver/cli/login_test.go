package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medsupply/customs/auth"
	token "github.com/medsupply/customs/cmd/token/cli"
	"github.com/medsupply/customs/internal/command"
	"github.com/medsupply/customs/internal/testport"
	"github.com/medsupply/customs/internal/uitest"
	starter "github.com/medsupply/customs/starter/cli"
	"github.com/medsupply/customs/workflows"
)

// TestWebUISignsOfficersIn runs devserver --auth with its Web UI: without signing in the UI's
// calls are refused; an officer signed in through the UI's OpenID Connect flow lists the queue
// and decides as themself (the decision records the verified officer); deciding as another
// officer is refused; an exporter or an auditor signed in the same way cannot decide, and the
// auditor reads the queue. The UI opened at localhost, the address README and the starter print,
// signs in too.
func TestWebUISignsOfficersIn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and the Web UI")
	}
	dir := t.TempDir()
	grpcPort, uiPort, authPort, health := testport.One(t), testport.One(t), testport.One(t), testport.One(t)
	ctx := context.Background()
	d := runDevserver(t, health, "--memory", "--auth", "--data-dir", dir, "--notifications", "-",
		"--port", fmt.Sprint(grpcPort), "--ui-port", fmt.Sprint(uiPort), "--auth-port", fmt.Sprint(authPort),
		"--health-addr", fmt.Sprintf("127.0.0.1:%d", health), "--log-level", "warn")
	logs := &d.logs
	ui := fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	if !strings.Contains(logs.String(), "The Web UI signs officers in at the issuer: open "+ui) {
		t.Errorf("the banner does not say how to sign in to the Web UI:\n%s", logs.String())
	}

	// The exporter lodges a declaration with the starter and a token from cmd/token.
	var out, errOut bytes.Buffer
	if code := token.Run(ctx, []string{"--data-dir", dir, "--auth-port", fmt.Sprint(authPort), "--exporter", "3301960412",
		"--subject", auth.ExporterSubject("3301960412")}, &out, &errOut); code != command.OK {
		t.Fatalf("token: exit %d: %s", code, errOut.String())
	}
	exporterToken := strings.TrimSpace(out.String())
	out.Reset()
	if code := starter.Run(ctx, []string{"--address", fmt.Sprintf("127.0.0.1:%d", grpcPort), "--tls=false", "--api-key", exporterToken,
		"submit", "../../../examples/de-antibody-test-kits.json"}, &out, &errOut); code != command.OK {
		t.Fatalf("submit: exit %d: %s%s", code, out.String(), errOut.String())
	}
	const id, wf = "LB-2020-DE-0415", "clearance-3301960412-LB-2020-DE-0415"

	anonymous := uitest.Anonymous(t, ui)
	if code, body := anonymous.Call(http.MethodGet, "/api/v1/namespaces/default/workflows", nil); code != http.StatusUnauthorized {
		t.Errorf("the UI's API without signing in: %d %s, want 401", code, body)
	}

	signInAtLocalhost(t, uiPort, "hq-wang")
	officer := uitest.SignIn(t, ui, "doc-li")
	queue := url.QueryEscape("ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'document-check'")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, body := officer.Call(http.MethodGet, "/api/v1/namespaces/default/workflows?query="+queue, nil)
		if code == http.StatusOK && strings.Contains(body, wf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the officer's queue in the UI: %d %s", code, body)
		}
	}

	if _, refusal, body := officer.Decide("default", wf, map[string]string{"stage": "document-check", "officer": "doc-chen", "outcome": "approve"}); refusal !=
		`officer: "doc-chen" is not the caller: you are signed in as "doc-li", and an officer acts only as themself` {
		t.Errorf("doc-li deciding as doc-chen through the UI: refusal %q; want one naming both\n%s", refusal, body)
	}
	exporter := uitest.SignIn(t, ui, auth.ExporterSubject("3301960412"))
	if code, refusal, body := exporter.Decide("default", wf, map[string]string{"stage": "document-check", "outcome": "approve"}); code != http.StatusForbidden ||
		refusal != `exporter-3301960412 (exporter) may not UpdateWorkflowExecution: the update "decide" is not for this role` {
		t.Errorf("an exporter deciding through the UI: %d, refusal %q; want 403 with the reason\n%s", code, refusal, body)
	}
	auditor := uitest.SignIn(t, ui, "audit-1")
	if code, body := auditor.Call(http.MethodGet, "/api/v1/namespaces/default/workflows?query="+queue, nil); code != http.StatusOK || !strings.Contains(body, wf) {
		t.Errorf("the auditor's list in the UI: %d %s", code, body)
	}
	if code, refusal, body := auditor.Decide("default", wf, map[string]string{"stage": "document-check", "officer": "audit-1", "outcome": "approve"}); code != http.StatusForbidden ||
		refusal != `audit-1 (auditor) may not UpdateWorkflowExecution: the update "decide" is not for this role` {
		t.Errorf("an auditor deciding through the UI: %d, refusal %q\n%s", code, refusal, body)
	}
	if _, refusal, body := officer.Decide("default", wf, map[string]string{"stage": "document-check", "outcome": "approve"}); refusal != "" {
		t.Fatalf("doc-li deciding through the UI: refused %q\n%s", refusal, body)
	}

	out.Reset()
	if code := starter.Run(ctx, []string{"--address", fmt.Sprintf("127.0.0.1:%d", grpcPort), "--tls=false", "--api-key", exporterToken,
		"status", id, "--json"}, &out, &errOut); code != command.OK {
		t.Fatalf("status: exit %d: %s", code, errOut.String())
	}
	var st workflows.Status
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, out.String())
	}
	if len(st.Decisions) != 1 || st.Decisions[0].Officer != "doc-li" || !st.Decisions[0].Verified || st.Decisions[0].Via != workflows.ViaUpdate {
		t.Errorf("decisions after the UI's: %+v; want one by doc-li, verified, via update", st.Decisions)
	}
}

// TestCodecServerTakesTheServersTokens runs devserver --auth with encrypted payloads: its codec
// server decodes for an officer's token and refuses an exporter's and none, with the reason.
func TestCodecServerTakesTheServersTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keys, []byte(`{"active":"k1","keys":{"k1":"`+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	grpcPort, authPort, codecPort, health := testport.One(t), testport.One(t), testport.One(t), testport.One(t)
	ctx := context.Background()
	runDevserver(t, health, "--memory", "--no-ui", "--auth", "--data-dir", dir, "--notifications", "-", "--codec-keys", keys,
		"--port", fmt.Sprint(grpcPort), "--auth-port", fmt.Sprint(authPort), "--codec-port", fmt.Sprint(codecPort),
		"--health-addr", fmt.Sprintf("127.0.0.1:%d", health), "--log-level", "warn")
	sign := func(args ...string) string {
		var out, errOut bytes.Buffer
		if code := token.Run(ctx, append([]string{"--data-dir", dir, "--auth-port", fmt.Sprint(authPort)}, args...), &out, &errOut); code != command.OK {
			t.Fatalf("token %q: exit %d: %s", args, code, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	decode := func(tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/decode", codecPort), strings.NewReader(`{"payloads":[]}`))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := decode(sign("--role", "officer", "--subject", "doc-li")); code != http.StatusOK {
		t.Errorf("an officer's decode: %d %s", code, body)
	}
	if code, body := decode(sign("--exporter", "3301960412", "--subject", "exporter-3301960412")); code != http.StatusForbidden || !strings.Contains(body, "may not use this service") {
		t.Errorf("an exporter's decode: %d %s", code, body)
	}
	if code, body := decode(""); code != http.StatusUnauthorized || !strings.Contains(body, "no bearer token") {
		t.Errorf("a decode without a token: %d %s", code, body)
	}
}

// signInAtLocalhost signs subject in as a browser does that opened the devserver's Web UI at
// http://localhost:uiPort, where its sign-in returns to http://127.0.0.1:uiPort: the UI sends
// the browser to 127.0.0.1 before the sign-in starts, so the state cookie the UI server sets is
// there when the identity provider returns the browser, and the browser ends signed in on the
// page it asked for. Begun and ended on different hosts, the sign-in ended on the UI server's
// "State cookie is not set in request".
func signInAtLocalhost(t *testing.T, uiPort int, subject string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	localhost, loopback := fmt.Sprintf("http://localhost:%d", uiPort), fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	const page = "/namespaces/default/workflows"

	// A page of the UI opened at localhost is the same page at 127.0.0.1.
	if resp, body := get(localhost + page); resp.StatusCode != http.StatusOK || resp.Request.URL.String() != loopback+page {
		t.Errorf("%s%s ended at %s (%s), want %s%s:\n%.300s", localhost, page, resp.Request.URL, resp.Status, loopback, page, body)
	}
	// The sign-in as the UI starts it from a page at localhost: returnUrl is that page.
	resp, body := get(localhost + "/auth/sso?returnUrl=" + url.QueryEscape(localhost+page))
	login := resp.Request.URL
	if resp.StatusCode != http.StatusOK || login.Path != auth.LoginPath || !strings.Contains(body, subject) {
		t.Fatalf("the sign-in begun at localhost led to %s (%s), not the identity provider's page:\n%.300s", login, resp.Status, body)
	}
	resp, err = browser.PostForm(login.Scheme+"://"+login.Host+auth.LoginPath,
		url.Values{"authRequestID": {login.Query().Get("authRequestID")}, "subject": {subject}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != loopback+page {
		t.Fatalf("signing in as %s from localhost ended at %s (%s), want %s%s:\n%.300s", subject, resp.Request.URL, resp.Status, loopback, page, b)
	}
	u, _ := url.Parse(loopback)
	signedIn := false
	for _, c := range jar.Cookies(u) {
		signedIn = signedIn || (c.Name == "user0" && c.Value != "")
	}
	if !signedIn {
		t.Errorf("signed in from localhost, the browser holds no user cookie for %s: %v", loopback, jar.Cookies(u))
	}
}
