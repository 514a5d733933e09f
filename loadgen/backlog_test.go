package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
)

// TestSplitByMode: behind a backlog go expedited copies of the templates, or the declarations of
// the exporters other than the first template's; templates of one exporter cannot make a backlog
// by exporter, and a mode that is neither is refused.
func TestSplitByMode(t *testing.T) {
	ts := examples(t, "us-nasal-cannulas-anaesthesia-masks.json", "nl-examination-gloves-self-declared.json")
	bk, bh, err := split(BacklogExpedited, ts)
	if err != nil || len(bk) != 2 || len(bh) != 2 || bk[0].IsExpedited() || !bh[0].IsExpedited() || !bh[1].IsExpedited() {
		t.Errorf("expedited: backlog %d, behind %d, %v", len(bk), len(bh), err)
	}
	bk, bh, err = split(BacklogExporter, ts)
	if err != nil || len(bk) != 1 || len(bh) != 1 || bk[0].Exporter.Code == bh[0].Exporter.Code {
		t.Errorf("exporter: backlog %d, behind %d, %v", len(bk), len(bh), err)
	}
	if _, _, err := split(BacklogExporter, ts[:1]); err == nil || !strings.Contains(err.Error(), "are all of exporter 3302960178") {
		t.Errorf("one exporter's templates: %v", err)
	}
	if _, _, err := split("urgent", ts); err == nil || !strings.Contains(err.Error(), `mode "urgent"`) {
		t.Errorf("mode urgent: %v", err)
	}
}

// TestRunBacklogAgainstARealServer runs both modes at a small size: every clearance lodged on the
// idle server, in the backlog and behind it is released and timed, and the backlog's rate is
// measured from the worker's start.
func TestRunBacklogAgainstARealServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	c, ns := srv.GetDefaultClient(), srv.GetDefaultNamespace()
	if err := connect.RegisterSearchAttributes(ctx, c, ns); err != nil {
		t.Fatal(err)
	}
	// Search attributes become usable in queries a moment after registration.
	if err := poll(ctx, time.Minute, func() (bool, error) {
		_, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns, Query: runQuery("warm")})
		return err == nil, nil
	}, func() error { return ctx.Err() }); err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{DataDir: t.TempDir(), Notifications: "-"}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}()
	starts := 0
	startWorker := func() (func(), error) {
		starts++
		w := e.NewWorker(c, cfg)
		return w.Stop, w.Start()
	}
	templates := examples(t, "us-nasal-cannulas-anaesthesia-masks.json", "nl-examination-gloves-self-declared.json")
	for _, mode := range []string{BacklogExpedited, BacklogExporter} {
		starts = 0
		r, err := RunBacklog(ctx, c, BacklogOptions{Options: Options{N: 6, Concurrency: 3, Templates: templates, Prefix: "bl-" + mode},
			Mode: mode, Behind: 2, Namespace: ns, StartWorker: startWorker})
		if err != nil {
			t.Fatal(err)
		}
		if r.Errors != 0 || r.Mode != mode || r.N != 6 || r.Behind != 2 || starts != 2 {
			t.Fatalf("%s: %+v after %d worker starts", mode, r, starts)
		}
		for name, l := range map[string]Latencies{"idle": r.Idle, "behind": r.BehindBacklog, "backlog": r.Backlog} {
			if l.P50 <= 0 || l.Max < l.P99 || l.P99 < l.P50 {
				t.Errorf("%s: %s latencies %+v", mode, name, l)
			}
		}
		if r.Drain <= 0 || r.PerSecond <= 0 || r.Ratio() <= 0 {
			t.Errorf("%s: drained in %v at %.1f/s, behind/idle p99 %.2f", mode, r.Drain, r.PerSecond, r.Ratio())
		}
	}
}
