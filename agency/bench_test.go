package agency

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// BenchmarkPermitRoundTrip measures an agency's round trip on the real in-process server: customs'
// workflow asks NMPA through the single window and gets the grant by rule (nexus), beside the same
// review started in the agency's namespace without the Nexus hop (direct). Each reports the
// latency's p50 and p99; compare the two within one run.
func BenchmarkPermitRoundTrip(b *testing.B) {
	sw := newWindow(b, NMPA)
	d := testKits(b)
	ask := func() PermitRequest { return request(b, NMPA, d) }
	measure := func(b *testing.B, one func(PermitRequest) error) {
		var took []time.Duration
		for b.Loop() {
			req := ask()
			start := time.Now()
			if err := one(req); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("nexus", func(b *testing.B) {
		measure(b, func(req PermitRequest) error {
			run, err := sw.customs.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
				ID: "bench-caller-" + req.RequestID, TaskQueue: callerQueue}, askAgency, req)
			if err != nil {
				return err
			}
			var res PermitResult
			return run.Get(context.Background(), &res)
		})
	})
	b.Run("direct", func(b *testing.B) {
		measure(b, func(req PermitRequest) error {
			run, err := sw.ac.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
				ID: WorkflowID(req), TaskQueue: TaskQueue}, WorkflowName, req)
			if err != nil {
				return err
			}
			var res PermitResult
			return run.Get(context.Background(), &res)
		})
	})
}
