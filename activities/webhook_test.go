package activities

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var webhookSecret = []byte("a-secret-of-thirty-two-bytes-ok!")

// receiver is an exporter's endpoint: it verifies each delivery and answers fail times with 503
// before it takes one.
type receiver struct {
	mu         sync.Mutex
	fail       int
	deliveries []http.Header
	bodies     []webhookBody
	refused    []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := VerifyWebhook(webhookSecret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.refused = append(r.refused, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.deliveries = append(r.deliveries, req.Header.Clone())
	var b webhookBody
	_ = json.Unmarshal(body, &b)
	r.bodies = append(r.bodies, b)
	if r.fail > 0 {
		r.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type recordingNotifier struct{ got []Notification }

func (r *recordingNotifier) Notify(_ context.Context, n Notification) error {
	r.got = append(r.got, n)
	return nil
}

func TestWebhookDeliversSignedAndFallsBack(t *testing.T) {
	rcv := &receiver{fail: 1}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	fallback := &recordingNotifier{}
	w := &WebhookNotifier{Endpoints: map[string]WebhookEndpoint{"3205960330": {URL: srv.URL + "/customs", Secret: webhookSecret}}, Fallback: fallback}
	n := Notification{DeclarationID: "D-1", ExporterCode: "3205960330", Kind: NotifyReleased, Message: "released", Notice: "RN-2026-00000001"}

	err := w.Notify(context.Background(), n)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a 503 must be an error naming it: %v", err)
	}
	if err := w.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if len(rcv.deliveries) != 2 || len(rcv.refused) != 0 {
		t.Fatalf("deliveries %d, refused %v", len(rcv.deliveries), rcv.refused)
	}
	if a, b := rcv.deliveries[0].Get(HeaderWebhookID), rcv.deliveries[1].Get(HeaderWebhookID); a == "" || a != b || rcv.bodies[1].ID != a {
		t.Errorf("the retried delivery has ID %q, the first %q: a receiver could not tell it apart", b, a)
	}
	if b := rcv.bodies[1]; b.DeclarationID != "D-1" || b.Notice != "RN-2026-00000001" || b.Kind != NotifyReleased {
		t.Errorf("body %+v", b)
	}
	other := n
	other.Kind = NotifyRefused
	if deliveryID(context.Background(), other) == deliveryID(context.Background(), n) {
		t.Error("two notifications share a delivery ID")
	}

	// An exporter without an endpoint is told through the fallback.
	n.ExporterCode = "0000000000"
	if err := w.Notify(context.Background(), n); err != nil || len(fallback.got) != 1 || len(rcv.deliveries) != 2 {
		t.Errorf("fallback: %v, %d to the fallback, %d delivered", err, len(fallback.got), len(rcv.deliveries))
	}
}

func TestVerifyWebhookRefuses(t *testing.T) {
	body := []byte(`{"id":"ntf_1","declarationId":"D-1"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := "1800000000"
	good := http.Header{}
	good.Set(HeaderWebhookID, "ntf_1")
	good.Set(HeaderWebhookTimestamp, ts)
	good.Set(HeaderWebhookSignature, "v1="+sign(webhookSecret, "ntf_1", ts, body))
	if id, err := VerifyWebhook(webhookSecret, good, body, now, time.Minute); err != nil || id != "ntf_1" {
		t.Fatalf("a good delivery: %q %v", id, err)
	}
	with := func(k, v string) http.Header {
		h := good.Clone()
		h.Set(k, v)
		return h
	}
	cases := map[string]struct {
		secret []byte
		h      http.Header
		body   []byte
		now    time.Time
		want   string
	}{
		"another secret":   {[]byte("another-secret-of-enough-bytes"), good, body, now, "signature does not match"},
		"a changed body":   {webhookSecret, good, []byte(`{"id":"ntf_1","declarationId":"D-2"}`), now, "signature does not match"},
		"another ID":       {webhookSecret, with(HeaderWebhookID, "ntf_2"), body, now, "signature does not match"},
		"an old delivery":  {webhookSecret, good, body, now.Add(10 * time.Minute), "beyond the 1m0s tolerated"},
		"no signature":     {webhookSecret, with(HeaderWebhookSignature, ""), body, now, "are required"},
		"a bad timestamp":  {webhookSecret, with(HeaderWebhookTimestamp, "yesterday"), body, now, "is not a Unix time"},
		"a signature only": {webhookSecret, with(HeaderWebhookSignature, sign(webhookSecret, "ntf_1", ts, body)), body, now, "signature does not match"},
	}
	for name, c := range cases {
		if _, err := VerifyWebhook(c.secret, c.h, c.body, c.now, time.Minute); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestLoadWebhooks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(secret, append(webhookSecret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(s string) string {
		p := filepath.Join(dir, "webhooks.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	eps, err := LoadWebhooks(write(`{"exporters":[{"exporter":"3205960330","url":"https://portal.example/customs","secretFile":"` + secret + `"}]}`))
	if err != nil || string(eps["3205960330"].Secret) != string(webhookSecret) || eps["3205960330"].URL != "https://portal.example/customs" {
		t.Fatalf("%v %+v", err, eps)
	}
	cases := map[string]string{
		`{"exporters":[{"exporter":"1","url":"https://a.example","secretFile":"` + secret + `","secret":"x"}]}`:                                                             `unknown field "secret"`,
		`{"exporters":[{"exporter":"1","url":"ftp://a.example","secretFile":"` + secret + `"}]}`:                                                                            `exporters[0].url: "ftp://a.example" is not an http or https URL`,
		`{"exporters":[{"exporter":"1","url":"https://a.example","secretFile":"` + short + `"}]}`:                                                                           "exporters[0].secretFile: the secret has 5 bytes, fewer than 16",
		`{"exporters":[{"exporter":"1","url":"https://a.example","secretFile":"` + dir + `/none"}]}`:                                                                        "exporters[0].secretFile: open",
		`{"exporters":[{"url":"https://a.example","secretFile":"` + secret + `"}]}`:                                                                                         "exporters[0].exporter: required",
		`{"exporters":[{"exporter":"1","url":"https://a.example","secretFile":"` + secret + `"},{"exporter":"1","url":"https://b.example","secretFile":"` + secret + `"}]}`: "exporters[1].exporter: 1 has an endpoint already",
	}
	for file, want := range cases {
		if _, err := LoadWebhooks(write(file)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
}

// TestWebhookFailuresNameNoSecretAndTakeNoRedirect: a failed delivery's error (which the history
// and the Web UI show) carries no query string, and a redirect is a failure, not a delivery.
func TestWebhookFailuresNameNoSecretAndTakeNoRedirect(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	url := gone.URL
	gone.Close()
	n := Notification{DeclarationID: "D-1", ExporterCode: "1", Kind: NotifyReleased, Message: "released"}
	w := &WebhookNotifier{Endpoints: map[string]WebhookEndpoint{"1": {URL: url + "/hook?token=s3cr3t-t0ken", Secret: webhookSecret}}}
	err := w.Notify(context.Background(), n)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "deliver to "+url+"/hook") {
		t.Errorf("unreachable endpoint: %v", err)
	}
	moved := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer moved.Close()
	w.Endpoints["1"] = WebhookEndpoint{URL: moved.URL, Secret: webhookSecret}
	if err := w.Notify(context.Background(), n); err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("a redirect: %v, want a failure naming 302", err)
	}
}
