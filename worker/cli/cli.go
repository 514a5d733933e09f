// Package cli is the command line of worker: it runs the clearance engine's worker against a
// Temporal cluster, the workflow and every activity on the customs-clearance task queue, until its
// context ends, and probes a running worker's health endpoint (worker healthcheck). It does not
// link the Temporal server. The worker binary is a thin wrapper over Run.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/health"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/metrics"
	"github.com/medsupply/customs/workflows"
)

// Run runs the command line and returns the exit code. The worker stops gracefully when ctx ends.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return health.Command(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o engine.WorkerOptions
	o.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "worker: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := o.Config.Validate(); err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return 2
	}
	zl, err := logging.New(o.LogLevel, o.LogJSON)
	if err != nil {
		fmt.Fprintf(stderr, "worker: --log-level: %v\n", err)
		return 2
	}
	defer func() { _ = zl.Sync() }()

	e, err := engine.Open(o.Config, zl)
	if err != nil {
		zl.Error("cannot open the engine", zap.Error(err))
		return 1
	}
	defer func() {
		if err := e.Close(); err != nil {
			zl.Warn("close", zap.Error(err))
		}
	}()
	var mx *metrics.Metrics
	if o.Config.MetricsAddr != "" {
		if mx, err = metrics.New(); err != nil {
			zl.Error("metrics", zap.Error(err))
			return 1
		}
		mx.OnError = func(err error) { zl.Warn("metrics", zap.Error(err)) }
		o.Connect.MetricsHandler = mx.Handler
	}
	c, err := connect.Dial(ctx, o.Connect, logging.NewSDKLogger(zl))
	if err != nil {
		zl.Error("cannot connect to Temporal", zap.Error(err))
		return 1
	}
	defer c.Close()
	if o.RegisterSearchAttributes {
		if err := connect.RegisterSearchAttributes(ctx, c, o.Connect.Namespace); err != nil {
			zl.Error("cannot register search attributes", zap.Error(err))
			return 1
		}
	}
	if mx != nil {
		go func() {
			if err := mx.Run(ctx, o.Config.MetricsAddr, c, o.Connect.Namespace); err != nil {
				zl.Error("metrics endpoint", zap.Error(err))
			}
		}()
	}
	zl.Info("worker started", zap.String("address", o.Connect.Address), zap.String("namespace", o.Connect.Namespace),
		zap.String("taskQueue", workflows.TaskQueue))
	if err := e.Run(ctx, c, o.Config); err != nil {
		zl.Error("worker failed", zap.Error(err))
		return 1
	}
	zl.Info("worker stopped")
	return 0
}
