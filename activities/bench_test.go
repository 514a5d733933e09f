package activities

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/registry"
)

// BenchmarkLaneRules runs the lane selection rules (commodity, destination, risk class,
// exporter history, certificates, sample) over every valid example, through the SDK's activity
// test environment (its overhead included).
func BenchmarkLaneRules(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.json"))
	if err != nil {
		b.Fatal(err)
	}
	var ds []declaration.Declaration
	for _, f := range files {
		if filepath.Base(f)[:8] == "invalid-" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		d, err := declaration.ParseAndValidate(raw)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, d)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&Activities{Registry: registry.Default()})
	var a *Activities
	on := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range ds {
			if _, err := env.ExecuteActivity(a.SelectLane, CheckInput{Declaration: d, On: on}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(ds))/b.Elapsed().Seconds(), "declarations/s")
}
