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
	"sort"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/medsupply/customs/auth"
	token "github.com/medsupply/customs/cmd/token/cli"
	"github.com/medsupply/customs/internal/command"
	starter "github.com/medsupply/customs/starter/cli"
	"github.com/medsupply/customs/workflows"
)

// webUser is a browser at the devserver's Web UI: it signs in through the UI's OpenID Connect
// flow at the development identity provider and calls the UI's API with the tokens the UI keeps
// for it, as the UI's own pages do.
type webUser struct {
	t       *testing.T
	ui      string
	browser *http.Client
	access  string
	id      string
}

func signInAt(t *testing.T, ui, subject string) *webUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &webUser{t: t, ui: ui, browser: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	resp, err := u.browser.Get(ui + "/auth/sso")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	login := resp.Request.URL
	if resp.StatusCode != http.StatusOK || login.Path != auth.LoginPath || !strings.Contains(string(page), subject) {
		t.Fatalf("the Web UI's sign-in led to %s (%s), not a login page offering %s:\n%s", login, resp.Status, subject, page)
	}
	form := url.Values{"authRequestID": {login.Query().Get("authRequestID")}, "subject": {subject}}
	resp, err = u.browser.PostForm(login.Scheme+"://"+login.Host+auth.LoginPath, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), ui) {
		t.Fatalf("signing in as %s ended at %s (%s):\n%s", subject, resp.Request.URL, resp.Status, body)
	}
	// The UI hands the tokens to its pages in the cookies user0, user1, ...
	uiURL, _ := url.Parse(ui)
	var parts []*http.Cookie
	for _, c := range jar.Cookies(uiURL) {
		if strings.HasPrefix(c.Name, "user") {
			parts = append(parts, c)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Name < parts[j].Name })
	var enc strings.Builder
	for _, c := range parts {
		enc.WriteString(c.Value)
	}
	raw, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		t.Fatalf("the UI's user cookie: %v", err)
	}
	var user struct{ AccessToken, IDToken, Name string }
	if err := json.Unmarshal(raw, &user); err != nil || user.AccessToken == "" || user.IDToken == "" {
		t.Fatalf("the UI's user cookie holds %s (%v)", raw, err)
	}
	u.access, u.id = user.AccessToken, user.IDToken
	return u
}

// call calls the UI's API with the user's tokens, as the UI's pages send them.
func (u *webUser) call(method, path string, body []byte) (int, string) {
	u.t.Helper()
	req, err := http.NewRequest(method, u.ui+path, bytes.NewReader(body))
	if err != nil {
		u.t.Fatal(err)
	}
	if u.access != "" {
		req.Header.Set("Authorization", "Bearer "+u.access)
		req.Header.Set("Authorization-Extras", u.id)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.browser.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// decide sends the decide update through the UI's API, as its update dialog does, and returns
// the HTTP status, the refusal (empty when the update was carried out) and the body.
func (u *webUser) decide(namespace, workflowID string, d map[string]string) (int, string, string) {
	u.t.Helper()
	arg, _ := json.Marshal(d)
	req := &workflowservice.UpdateWorkflowExecutionRequest{
		Namespace:         namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID},
		WaitPolicy:        &updatepb.WaitPolicy{LifecycleStage: 3}, // completed
		Request: &updatepb.Request{
			Meta: &updatepb.Meta{UpdateId: fmt.Sprintf("ui-%d", time.Now().UnixNano())},
			Input: &updatepb.Input{Name: workflows.UpdateDecide, Args: &commonpb.Payloads{Payloads: []*commonpb.Payload{{
				Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: arg}}}},
		},
	}
	body, err := protojson.Marshal(req)
	if err != nil {
		u.t.Fatal(err)
	}
	code, resp := u.call(http.MethodPost, fmt.Sprintf("/api/v1/namespaces/%s/workflows/%s/update/%s", namespace, workflowID, workflows.UpdateDecide), body)
	var res struct {
		Message string
		Details []struct{ Reason string }
		Outcome struct {
			Success *json.RawMessage
			Failure *struct{ Message string }
		}
	}
	_ = json.Unmarshal([]byte(resp), &res)
	switch {
	case code != http.StatusOK && len(res.Details) > 0:
		return code, res.Details[0].Reason, resp
	case code != http.StatusOK:
		return code, res.Message, resp
	case res.Outcome.Failure != nil:
		return code, res.Outcome.Failure.Message, resp
	case res.Outcome.Success == nil:
		u.t.Fatalf("the UI's update answer has no outcome: %s", resp)
	}
	return code, "", resp
}

// TestWebUISignsOfficersIn runs devserver --auth with its Web UI: without signing in the UI's
// calls are refused; an officer signed in through the UI's OpenID Connect flow lists the queue
// and decides as themself (the decision records the verified officer); deciding as another
// officer is refused; an exporter or an auditor signed in the same way cannot decide, and the
// auditor reads the queue.
func TestWebUISignsOfficersIn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and the Web UI")
	}
	dir := t.TempDir()
	grpcPort, uiPort, authPort, health := freePort(t), freePort(t), freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--memory", "--auth", "--data-dir", dir, "--notifications", "-",
			"--port", fmt.Sprint(grpcPort), "--ui-port", fmt.Sprint(uiPort), "--auth-port", fmt.Sprint(authPort),
			"--health-addr", fmt.Sprintf("127.0.0.1:%d", health), "--log-level", "warn"}, &logs, &logs)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("the devserver did not stop")
		}
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", health)); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("the devserver exited %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the devserver never became ready:\n%s", logs.String())
		}
	}
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
	const id, wf = "LB-2020-DE-0415", "clearance-LB-2020-DE-0415"

	anonymous := &webUser{t: t, ui: ui, browser: http.DefaultClient}
	if code, body := anonymous.call(http.MethodGet, "/api/v1/namespaces/default/workflows", nil); code != http.StatusUnauthorized {
		t.Errorf("the UI's API without signing in: %d %s, want 401", code, body)
	}

	officer := signInAt(t, ui, "doc-li")
	queue := url.QueryEscape("ClearanceStatus = 'awaiting-officer' AND ClearanceStage = 'document-check'")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, body := officer.call(http.MethodGet, "/api/v1/namespaces/default/workflows?query="+queue, nil)
		if code == http.StatusOK && strings.Contains(body, wf) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the officer's queue in the UI: %d %s", code, body)
		}
	}

	if _, refusal, body := officer.decide("default", wf, map[string]string{"stage": "document-check", "officer": "doc-chen", "outcome": "approve"}); refusal !=
		`officer: "doc-chen" is not the caller: you are signed in as "doc-li", and an officer acts only as themself` {
		t.Errorf("doc-li deciding as doc-chen through the UI: refusal %q; want one naming both\n%s", refusal, body)
	}
	exporter := signInAt(t, ui, auth.ExporterSubject("3301960412"))
	if code, refusal, body := exporter.decide("default", wf, map[string]string{"stage": "document-check", "outcome": "approve"}); code != http.StatusForbidden ||
		refusal != `exporter-3301960412 (exporter) may not UpdateWorkflowExecution: the update "decide" is not for this role` {
		t.Errorf("an exporter deciding through the UI: %d, refusal %q; want 403 with the reason\n%s", code, refusal, body)
	}
	auditor := signInAt(t, ui, "audit-1")
	if code, body := auditor.call(http.MethodGet, "/api/v1/namespaces/default/workflows?query="+queue, nil); code != http.StatusOK || !strings.Contains(body, wf) {
		t.Errorf("the auditor's list in the UI: %d %s", code, body)
	}
	if code, refusal, body := auditor.decide("default", wf, map[string]string{"stage": "document-check", "officer": "audit-1", "outcome": "approve"}); code != http.StatusForbidden ||
		refusal != `audit-1 (auditor) may not UpdateWorkflowExecution: the update "decide" is not for this role` {
		t.Errorf("an auditor deciding through the UI: %d, refusal %q\n%s", code, refusal, body)
	}
	if _, refusal, body := officer.decide("default", wf, map[string]string{"stage": "document-check", "outcome": "approve"}); refusal != "" {
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
