package embedded

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	uiconfig "github.com/temporalio/ui-server/v2/server/config"
)

// uiField is the name of the field of uiconfig.Config whose YAML key is key: also the name of
// the UI server's settings in GET /api/v1/settings.
func uiField(t *testing.T, key string) reflect.StructField {
	t.Helper()
	ty := reflect.TypeFor[uiconfig.Config]()
	for i := range ty.NumField() {
		if f := ty.Field(i); f.Tag.Get("yaml") == key {
			return f
		}
	}
	t.Fatalf("ui-server's config has no setting %q", key)
	return reflect.StructField{}
}

// settings reads the Web UI's settings as its pages do.
func settings(t *testing.T, ctx context.Context, s *Server) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(get(t, ctx, s.UIAddress()+"/api/v1/settings")), &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestDeskUI starts the embedded server with its Web UI: by default the UI's settings, which
// its pages read to show or hide each control, hide every control of DeskControls and keep
// updates (and write actions as a whole, whose switch would turn updates off too); with AdminUI
// every control is shown.
func TestDeskUI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, admin := range []bool{false, true} {
		cfg := testConfig(t, "")
		cfg.InMemory = true
		cfg.AdminUI = admin
		s := start(t, ctx, cfg)
		got := settings(t, ctx, s)
		stop(t, s)
		for _, d := range deskControls {
			name := uiField(t, d.Key).Name
			if got[name] != !admin {
				t.Errorf("AdminUI %v: %s (hides %s) is %v in /api/v1/settings, want %v", admin, name, d.Hides, got[name], !admin)
			}
		}
		for _, name := range []string{"WorkflowUpdateDisabled", "DisableWriteActions"} {
			if got[name] != false {
				t.Errorf("AdminUI %v: %s is %v in /api/v1/settings: officers could not decide", admin, name, got[name])
			}
		}
	}
}

// TestDeskControlsAreTheUIServersSwitches checks DeskControls against the UI server's own
// configuration: each control sets the field its key names, its environment variable is the
// one the temporalio/ui image reads that key from, and every switch of the UI server that
// hides a control ("...Disabled") is either the desk's or kept on for a reason, so that an
// upgrade adding one fails here until it is sorted.
func TestDeskControlsAreTheUIServersSwitches(t *testing.T) {
	kept := map[string]string{
		"WorkflowUpdateDisabled":        "updates are the officers' decisions",
		"RefreshWorkflowCountsDisabled": "refreshing the list's counts writes nothing",
	}
	desk := map[string]bool{}
	for _, d := range deskControls {
		f := uiField(t, d.Key)
		var c uiconfig.Config
		if reflect.ValueOf(&c).Elem().FieldByIndex(f.Index).Addr().Interface() != any(d.field(&c)) {
			t.Errorf("the control %s sets another field than %s", d.Key, f.Name)
		}
		desk[f.Name] = true
	}
	ty := reflect.TypeFor[uiconfig.Config]()
	for i := range ty.NumField() {
		f := ty.Field(i)
		if f.Type.Kind() == reflect.Bool && strings.HasSuffix(f.Name, "Disabled") && !desk[f.Name] && kept[f.Name] == "" {
			t.Errorf("ui-server's %s (%s) is neither a desk control nor kept on for a reason", f.Name, f.Tag.Get("yaml"))
		}
	}
	for name := range kept {
		if desk[name] {
			t.Errorf("%s is kept on and a desk control", name)
		}
	}

	// The image's configuration template, config/docker.yaml of the module: key: {{ env "NAME" ...
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/temporalio/ui-server/v2").Output()
	if err != nil {
		t.Fatalf("go list the ui-server module: %v", err)
	}
	f, err := os.Open(filepath.Join(strings.TrimSpace(string(out)), "config", "docker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	envOf := map[string]string{}
	line := regexp.MustCompile(`^(\w+): \{\{ env "(\w+)"`)
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			envOf[m[1]] = m[2]
		}
	}
	for _, d := range DeskControls() {
		if envOf[d.Key] != d.Env {
			t.Errorf("the image sets %s from %q, DeskControls says %q", d.Key, envOf[d.Key], d.Env)
		}
	}
}

// TestOneHost: with a sign-in, a request to the UI by another host name than the callback's is
// redirected to the callback's host, its returnUrl moved there too when it named the request's
// host, before the UI server sets any cookie; a request at the callback's host reaches the UI
// server with the browser's Host, which the UI server checks returnUrl against.
func TestOneHost(t *testing.T) {
	// The UI server's stand-in tells what it saw in its answer's headers.
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Seen-Host", r.Host)
		w.Header().Set("Seen-Uri", r.URL.RequestURI())
		http.SetCookie(w, &http.Cookie{Name: "state", Value: "x"})
		_, _ = w.Write([]byte("ui"))
	}))
	defer backend.Close()
	bu, _ := url.Parse(backend.URL)
	h, err := oneHost("http://127.0.0.1:8233"+UICallbackPath, bu)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, host, target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	for _, tc := range []struct{ method, host, target, want string }{
		{http.MethodGet, "localhost:8233", "/auth/sso?returnUrl=" + url.QueryEscape("http://localhost:8233/namespaces/default/workflows?query=x"),
			"http://127.0.0.1:8233/auth/sso?returnUrl=" + url.QueryEscape("http://127.0.0.1:8233/namespaces/default/workflows?query=x")},
		{http.MethodGet, "localhost:8233", "/namespaces/default/workflows/clearance-1", "http://127.0.0.1:8233/namespaces/default/workflows/clearance-1"},
		// A relative returnUrl, or one on yet another host, is the UI server's to judge.
		{http.MethodGet, "LOCALHOST:8233", "/login?returnUrl=%2Fnamespaces", "http://127.0.0.1:8233/login?returnUrl=%2Fnamespaces"},
		{http.MethodGet, "[::1]:8233", "/auth/sso?returnUrl=" + url.QueryEscape("http://elsewhere/"),
			"http://127.0.0.1:8233/auth/sso?returnUrl=" + url.QueryEscape("http://elsewhere/")},
		{http.MethodPost, "localhost:8233", "/api/v1/namespaces/default/workflows/w/update/decide", "http://127.0.0.1:8233/api/v1/namespaces/default/workflows/w/update/decide"},
	} {
		w := serve(tc.method, tc.host, tc.target)
		reached := w.Header().Get("Seen-Host") != ""
		if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != tc.want || reached || w.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s %s%s: %d to %q (reached the UI server: %v, cookie %q); want 307 to %q and nothing set",
				tc.method, tc.host, tc.target, w.Code, w.Header().Get("Location"), reached, w.Header().Get("Set-Cookie"), tc.want)
		}
	}

	w := serve(http.MethodGet, "127.0.0.1:8233", "/auth/sso?returnUrl=x")
	if w.Code != http.StatusOK || w.Body.String() != "ui" || w.Header().Get("Set-Cookie") == "" {
		t.Fatalf("at the callback's host: %d %q, want the UI server's answer", w.Code, w.Body.String())
	}
	if host, uri := w.Header().Get("Seen-Host"), w.Header().Get("Seen-Uri"); host != "127.0.0.1:8233" || uri != "/auth/sso?returnUrl=x" {
		t.Errorf("the UI server saw Host %q and %s, want the browser's Host and request", host, uri)
	}
}
