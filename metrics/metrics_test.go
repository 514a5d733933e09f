package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/medsupply/customs/clearance"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// TestWorkerMetricsMatchTheClearancesRun runs clearances through a worker whose client carries
// the metrics handler, scrapes the Prometheus endpoint, and checks the counts.
func TestWorkerMetricsMatchTheClearancesRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	ns := srv.GetDefaultNamespace()
	if err := connect.RegisterSearchAttributes(ctx, srv.GetDefaultClient(), ns); err != nil {
		t.Fatal(err)
	}
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := srv.NewClientWithOptions(client.Options{MetricsHandler: m.Handler})
	dir := t.TempDir()
	cfg := engine.Config{DataDir: dir, Notifications: "-"}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}()
	w := e.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	go func() { _ = m.WatchOpen(ctx, c, ns, 100*time.Millisecond) }()

	// Search attributes become usable a moment after registration.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns,
			Query: workflows.SAStage + " = 'x' AND " + workflows.SASlaBreached + " = false"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	green := load(t, "us-nasal-cannulas-anaesthesia-masks.json", "M-GREEN-1")
	yellow := load(t, "us-n95-respirators-niosh.json", "M-YELLOW-1")
	waiting := load(t, "de-antibody-test-kits.json", "M-WAIT-1")
	for _, d := range []declaration.Declaration{green, yellow, waiting} {
		if _, err := clearance.Submit(ctx, c, d); err != nil {
			t.Fatal(err)
		}
	}
	awaitStage(t, ctx, c, clearance.RefOf(yellow), policy.StageDocumentCheck)
	if _, err := clearance.Decide(ctx, c, clearance.RefOf(yellow), workflows.Decision{Stage: policy.StageDocumentCheck, Officer: "doc-li", Outcome: workflows.OutcomeApprove}); err != nil {
		t.Fatal(err)
	}
	var stages int
	for _, id := range []clearance.Ref{clearance.RefOf(green), clearance.RefOf(yellow)} {
		r, err := clearance.Wait(ctx, c, id)
		if err != nil || r.State != workflows.StateReleased {
			t.Fatalf("%s: %v %s", id, err, r.State)
		}
		stages += len(r.Timeline)
	}
	awaitStage(t, ctx, c, clearance.RefOf(waiting), policy.StageDocumentCheck)

	var families map[string]*dtoFamily
	deadline = time.Now().Add(30 * time.Second)
	for {
		families = scrape(t, m)
		if open(families, "document-check") == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := histogramCount(families, "clearance_stage_duration_seconds", nil); got != uint64(stages) {
		t.Errorf("stage duration observations %d, want %d (the stages of the two released clearances)", got, stages)
	}
	if got := histogramCount(families, "clearance_stage_duration_seconds", map[string]string{"stage": "document-check", "lane": "yellow", "outcome": "approved"}); got != 1 {
		t.Errorf("yellow approved document checks %d, want 1", got)
	}
	if got := histogramCount(families, "clearance_duration_seconds", map[string]string{"state": "released"}); got != 2 {
		t.Errorf("released clearances %d, want 2", got)
	}
	if got := counter(families, "clearance_decisions_total", map[string]string{"via": "update", "outcome": "approve"}); got != 1 {
		t.Errorf("officer approvals %v, want 1", got)
	}
	if got := open(families, "document-check"); got != 1 {
		t.Errorf("open clearances at the document check %v, want 1", got)
	}
	if _, ok := families["temporal_workflow_completed_total"]; !ok {
		t.Error("the SDK's own metrics are missing")
	}
	// The SDK's latencies take milliseconds here: their histograms must tell them apart, not put
	// them all under the OpenTelemetry default's first bound of 5 s.
	latency := families["temporal_workflow_task_execution_latency_seconds"]
	if latency == nil {
		t.Fatal("no workflow task execution latency histogram")
	}
	for _, m := range latency.GetMetric() {
		h := m.GetHistogram()
		if h.GetSampleCount() == 0 {
			continue
		}
		var under, bound5 bool
		for _, b := range h.GetBucket() {
			bound5 = bound5 || b.GetUpperBound() == 5
			under = under || (b.GetUpperBound() <= 0.5 && b.GetCumulativeCount() > 0)
		}
		if !bound5 || !under {
			t.Errorf("workflow task latencies are not resolved below a second: buckets %v", h.GetBucket())
		}
	}

	// The endpoint serves the same text over HTTP.
	hs := httptest.NewServer(m.HTTPHandler())
	defer hs.Close()
	resp, err := http.Get(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("scrape status %d", resp.StatusCode)
	}
}

func load(t *testing.T, example, id string) declaration.Declaration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(b)
	if err != nil {
		t.Fatal(err)
	}
	d.ID = id
	return d
}

func awaitStage(t *testing.T, ctx context.Context, c client.Client, id clearance.Ref, stage policy.Stage) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := clearance.Status(ctx, c, id)
		if err == nil && s.Stage == stage && s.State == workflows.StateAwaitingOfficer {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never awaited an officer at %s: %v %+v", id, stage, err, s.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
