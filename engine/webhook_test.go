package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// TestWebhookRetriedUntilTheExporterTakesIt: an exporter's endpoint that answers 503 twice gets
// the release notification a third time, with backoff, under the same delivery ID each time, all
// three signed with its secret, and the clearance is released.
func TestWebhookRetriedUntilTheExporterTakesIt(t *testing.T) {
	secret := []byte("ningbo-kangrun-webhook-secret-0001")
	var (
		mu       sync.Mutex
		ids      []string
		at       []time.Time
		bad      []string
		failures = 2
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		id, err := activities.VerifyWebhook(secret, r.Header, body, time.Now(), time.Minute)
		if err != nil {
			bad = append(bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		ids, at = append(ids, id), append(at, time.Now())
		if failures > 0 {
			failures--
			http.Error(w, "portal restarting", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer rcv.Close()

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "kangrun.secret")
	hooks := filepath.Join(dir, "webhooks.json")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hooks, []byte(`{"exporters":[{"exporter":"3302960178","url":"`+rcv.URL+`/customs","secretFile":"`+secretFile+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DataDir: dir, Notifications: filepath.Join(dir, "notifications.jsonl"), Webhooks: hooks}
	e, err := Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := connect.Dial(ctx, connect.Options{Address: server.GetFrontendHostPort(), Namespace: server.GetDefaultNamespace()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := connect.RegisterSearchAttributes(ctx, c, server.GetDefaultNamespace()); err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	b, err := os.ReadFile(filepath.Join("..", "examples", "us-nasal-cannulas-anaesthesia-masks.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	// An ID the random sample leaves in the green lane: the clearance needs no officer.
	for i := 0; ; i++ {
		d.ID = fmt.Sprintf("WEBHOOK-%s-%d", time.Now().Format("150405"), i)
		if !activities.Sampled(d.ID, policy.Default().SamplePercent) {
			break
		}
	}
	var run interface {
		Get(context.Context, any) error
	}
	for attempt := 0; ; attempt++ {
		// Search attributes become usable a moment after registration.
		r, err := clearance.Submit(ctx, c, d)
		if err == nil {
			run = r
			break
		}
		if attempt == 50 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.State != workflows.StateReleased {
		t.Fatalf("state %s", res.State)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 || len(ids) != 3 || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("deliveries %v, refused %v: want three of one delivery", ids, bad)
	}
	if gap := at[2].Sub(at[1]); gap < at[1].Sub(at[0]) {
		t.Errorf("retries at %v: the second wait is shorter than the first, no backoff", at)
	}
	if b, err := os.ReadFile(cfg.Notifications); err != nil || len(b) != 0 {
		t.Errorf("the file has %q (%v): an exporter with an endpoint is told there only", b, err)
	}
}
