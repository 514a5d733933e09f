// Package metrics exports the worker's metrics in Prometheus format: the Temporal SDK's own
// (task latencies, slots, pollers) and the clearance's (stage durations by stage, lane and
// procedure, decisions by outcome, SLA breaches, clearances ended, open clearances by stage).
// The workflow records its metrics through the SDK's replay-safe handler; this package turns
// them into OpenTelemetry instruments read by a Prometheus exporter.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/workflows"
)

// DurationBuckets are the histogram boundaries, in seconds, for clearance durations: from a
// second (automated green-lane stages take seconds) to 30 days, with marks at the default
// allowances and the 20-day standard.
var DurationBuckets = []float64{
	1, 5, 15, 60, 300, 600, 1800, 3600, 6 * 3600, 12 * 3600,
	1 * 86400, 2 * 86400, 3 * 86400, 4 * 86400, 6 * 86400, 8 * 86400, 12 * 86400, 16 * 86400, 20 * 86400, 30 * 86400,
}

// LatencyBuckets are the histogram boundaries, in seconds, for the SDK's latencies (workflow and
// activity task, request, end to end): from a millisecond to a minute. Without them the
// OpenTelemetry defaults (0, 5, 10, 25 ... seconds) put every observation in one bucket.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Metrics is a Prometheus registry fed by OpenTelemetry, with the SDK's metrics handler.
type Metrics struct {
	// Handler goes into client.Options.MetricsHandler.
	Handler client.MetricsHandler
	// OnError, when set, hears of what the metrics could not do (a visibility count that failed).
	OnError  func(error)
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	meter    metric.Meter
}

// New creates the registry and the handler.
func New() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	durations := sdkmetric.NewView(
		sdkmetric.Instrument{Name: "clearance_*", Kind: sdkmetric.InstrumentKindHistogram},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: DurationBuckets}},
	)
	latencies := sdkmetric.NewView(
		sdkmetric.Instrument{Name: "temporal_*", Kind: sdkmetric.InstrumentKindHistogram},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: LatencyBuckets}},
	)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(durations, latencies))
	meter := provider.Meter("customs-clearance")
	return &Metrics{
		Handler:  sdkotel.NewMetricsHandler(sdkotel.MetricsHandlerOptions{Meter: meter, UseMonotonicCounters: true}),
		registry: reg,
		provider: provider,
		meter:    meter,
	}, nil
}

// HTTPHandler serves the metrics in the Prometheus text format.
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Serve serves /metrics on addr until ctx is done.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.HTTPHandler())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// WatchOpen keeps the gauge clearance_open (by stage) up to date from visibility counts every
// interval, until ctx is done. Every worker reports the same counts: take the maximum.
func (m *Metrics) WatchOpen(ctx context.Context, c client.Client, namespace string, every time.Duration) error {
	var mu sync.Mutex
	counts := map[policy.Stage]int64{}
	_, err := m.meter.Int64ObservableGauge("clearance_open",
		metric.WithDescription("Running clearances by stage, from visibility"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range policy.Stages {
				o.Observe(counts[s], metric.WithAttributes(attribute.String("stage", string(s))))
			}
			return nil
		}))
	if err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// A count that fails keeps the gauges at the last good counts rather than zero.
		next := map[policy.Stage]int64{}
		var failed error
		for _, s := range policy.Stages {
			resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace,
				Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND %s = '%s'", workflows.WorkflowName, workflows.SAStage, s)})
			if err != nil {
				failed = fmt.Errorf("count open clearances at %s: %w", s, err)
				break
			}
			next[s] = resp.GetCount()
		}
		if failed == nil {
			mu.Lock()
			counts = next
			mu.Unlock()
		} else if m.OnError != nil && ctx.Err() == nil {
			m.OnError(failed)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Shutdown flushes and stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// Run serves /metrics on addr and keeps the open-clearance gauge up to date until ctx is done.
func (m *Metrics) Run(ctx context.Context, addr string, c client.Client, namespace string) error {
	go func() {
		if err := m.WatchOpen(ctx, c, namespace, 30*time.Second); err != nil && m.OnError != nil {
			m.OnError(err)
		}
	}()
	return m.Serve(ctx, addr)
}
