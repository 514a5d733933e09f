package golden

import (
	"context"
	"flag"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/medsupply/customs/audit"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/loadgen"
	"github.com/medsupply/customs/workflows"
)

var benchClearances = flag.Int("bench-clearances", 300, "closed clearances BenchmarkReplayQuery replays")

// BenchmarkReplayQuery measures auditor replay --query on a real server, fetch included: it
// clears -bench-clearances green-lane clearances, then replays every one that the query lists,
// one history at a time and then DefaultParallel at once, and reports both rates and their
// ratio (one run, so the ratio holds on a noisy machine).
//
//	go test -run XXX -bench ReplayQuery -benchtime 1x ./audit/golden -bench-clearances 2000
func BenchmarkReplayQuery(b *testing.B) {
	ts := temporaltest.NewServer()
	defer ts.Stop()
	c := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := connect.RegisterSearchAttributes(ctx, c, ts.GetDefaultNamespace()); err != nil {
		b.Fatal(err)
	}
	cfg := engine.Config{DataDir: b.TempDir(), Notifications: "-"}
	e, err := engine.Open(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	w := e.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	raw, err := os.ReadFile(examplesDir + "/us-nasal-cannulas-anaesthesia-masks.json")
	if err != nil {
		b.Fatal(err)
	}
	d, err := declaration.ParseAndValidate(raw)
	if err != nil {
		b.Fatal(err)
	}
	n := *benchClearances
	began := time.Now()
	r, err := loadgen.RunClearances(ctx, c, loadgen.Options{N: n, Concurrency: 100, Templates: []declaration.Declaration{d}, Prefix: "BENCH"})
	if err != nil || r.Errors > 0 {
		b.Fatalf("clearing %d: %v (%d errors, first %s)", n, err, r.Errors, r.FirstError)
	}
	b.Logf("cleared %d clearances in %s", n, time.Since(began).Round(time.Second))
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Completed'", workflows.WorkflowName)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		resp, err := c.CountWorkflow(ctx, countRequest(query))
		if err == nil && resp.GetCount() >= int64(n) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("visibility lists %v of %d: %v", resp.GetCount(), n, err)
		}
	}
	rate := map[int]float64{}
	var cpu time.Duration // the process's processor time per history, server and auditor together
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, parallel := range []int{1, audit.DefaultParallel} {
			start, startCPU := time.Now(), processCPU(b)
			s, err := audit.ReplayQuery(ctx, c, query, audit.QueryOptions{Parallel: parallel})
			if err != nil || s.Replayed < n || s.Failed > 0 {
				b.Fatalf("parallel %d: %s, %v", parallel, s, err)
			}
			rate[parallel] = float64(s.Replayed) / time.Since(start).Seconds()
			cpu = (processCPU(b) - startCPU) / time.Duration(s.Replayed)
		}
	}
	b.StopTimer()
	b.ReportMetric(rate[1], "sequential-histories/s")
	b.ReportMetric(rate[audit.DefaultParallel], "parallel-histories/s")
	b.ReportMetric(rate[audit.DefaultParallel]/rate[1], "ratio")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond), "cpu-ms/history")
}

// processCPU is the processor time this process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func countRequest(query string) *workflowservice.CountWorkflowExecutionsRequest {
	return &workflowservice.CountWorkflowExecutionsRequest{Query: query}
}
