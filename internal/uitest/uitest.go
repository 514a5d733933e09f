// Package uitest drives the Temporal Web UI's server as a browser does, for tests: sign in
// through its OpenID Connect flow at an identity provider whose login page is auth.Login's, then
// call the UI's API with the tokens the UI keeps for the user, as the UI's pages do.
package uitest

import (
	"bytes"
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
	"github.com/medsupply/customs/workflows"
)

// Anonymous is a browser that has not signed in.
func Anonymous(t *testing.T, ui string) *User {
	return &User{t: t, ui: ui, browser: http.DefaultClient}
}

// User is a browser at the devserver's Web UI: it signs in through the UI's OpenID Connect
// flow at the development identity provider and calls the UI's API with the tokens the UI keeps
// for it, as the UI's own pages do.
type User struct {
	t       *testing.T
	ui      string
	browser *http.Client
	access  string
	id      string
}

// SignIn signs subject in at the Web UI at ui (its base URL) and returns the user.
func SignIn(t *testing.T, ui, subject string) *User {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &User{t: t, ui: ui, browser: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
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

// Call calls the UI's API with the user's tokens, as the UI's pages send them.
func (u *User) Call(method, path string, body []byte) (int, string) {
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

// Decide sends the decide update through the UI's API, as its update dialog does, and returns
// the HTTP status, the refusal (empty when the update was carried out) and the body.
func (u *User) Decide(namespace, workflowID string, d map[string]string) (int, string, string) {
	u.t.Helper()
	return u.Update(namespace, workflowID, workflows.UpdateDecide, d)
}

// Update sends the update name with its one argument through the UI's API, as its update dialog
// does, and returns the HTTP status, the refusal (empty when the update was carried out) and the
// body.
func (u *User) Update(namespace, workflowID, name string, input any) (int, string, string) {
	u.t.Helper()
	arg, _ := json.Marshal(input)
	req := &workflowservice.UpdateWorkflowExecutionRequest{
		Namespace:         namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID},
		WaitPolicy:        &updatepb.WaitPolicy{LifecycleStage: 3}, // completed
		Request: &updatepb.Request{
			Meta: &updatepb.Meta{UpdateId: fmt.Sprintf("ui-%d", time.Now().UnixNano())},
			Input: &updatepb.Input{Name: name, Args: &commonpb.Payloads{Payloads: []*commonpb.Payload{{
				Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: arg}}}},
		},
	}
	body, err := protojson.Marshal(req)
	if err != nil {
		u.t.Fatal(err)
	}
	code, resp := u.Call(http.MethodPost, fmt.Sprintf("/api/v1/namespaces/%s/workflows/%s/update/%s", namespace, workflowID, name), body)
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
