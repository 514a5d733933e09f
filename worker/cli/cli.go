// Package cli is the command line of worker: it runs the clearance engine's worker against a
// Temporal cluster, the workflow and every activity on the customs-clearance task queue, until its
// context ends, and probes a running worker's health endpoint (worker healthcheck). It does not
// link the Temporal server. The worker binary is a thin wrapper over Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/medsupply/customs/internal/command"

	"go.uber.org/zap"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/health"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/metrics"
	"github.com/medsupply/customs/workflows"
)

const usage = `usage: worker [flags]
       worker healthcheck [--url URL] [--timeout D]

The clearance engine's worker: the workflow and every activity on the customs-clearance task
queue of a Temporal cluster, until SIGINT or SIGTERM, then a graceful stop. It runs as build
--build-id of the worker deployment --deployment-name, and takes work while that version is the
deployment's current or ramping one (docs/operations.md, "Rolling out a new build"). With
--health-addr it serves /healthz (alive unless the worker failed) and /readyz (ready while its
polls succeed) from its start, while it waits for the server too; healthcheck probes them and
exits 0 when healthy.

With --agency NMPA (or SAMR) it is instead that partner agency's worker on the single window: the
agency's permit reviews and its Nexus service, on task queue agency-review of the agency's
namespace (--namespace agency-nmpa), answering the clearances of --agency-callers' namespace
(docs/single-window.md).

flags (connection flags default from temporal.toml and the TEMPORAL_* variables):
`

// Run runs the command line and returns the exit code. The worker stops gracefully when ctx ends.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return health.Command(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o engine.WorkerOptions
	o.RegisterFlags(fs)
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, usage)
		fs.PrintDefaults()
		fmt.Fprint(stdout, "\nworker healthcheck flags:\n")
		hc := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
		var po health.ProbeOptions
		po.RegisterFlags(hc)
		hc.SetOutput(stdout)
		hc.PrintDefaults()
		fmt.Fprint(stdout, "\n"+command.ExitCodes)
		fs.SetOutput(stderr)
	}
	if code, ok := command.NoOperands("worker", fs, args, stderr); !ok {
		return code
	}
	if err := errors.Join(o.Config.Validate(), o.Config.CheckAgencyNamespace(o.Connect.Namespace)); err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return command.Usage
	}
	zl, err := logging.New(o.LogLevel, o.LogJSON)
	if err != nil {
		fmt.Fprintf(stderr, "worker: --log-level: %v\n", err)
		return command.Usage
	}
	defer func() { _ = zl.Sync() }()

	e, err := engine.Open(o.Config, zl)
	if err != nil {
		zl.Error("cannot open the engine", zap.Error(err))
		return command.Failure
	}
	defer func() {
		if err := e.Close(); err != nil {
			zl.Warn("close", zap.Error(err))
		}
	}()
	if o.Config.HealthAddr != "" {
		// Served from now on, while the worker waits for the server (--wait): alive, not ready.
		ln, err := net.Listen("tcp", o.Config.HealthAddr)
		if err != nil {
			zl.Error("--health-addr", zap.String("address", o.Config.HealthAddr), zap.Error(err))
			return command.Failure
		}
		e.ServeHealth(ln) // closed with the engine
	}
	var mx *metrics.Metrics
	if o.Config.MetricsAddr != "" {
		if mx, err = metrics.New(); err != nil {
			zl.Error("metrics", zap.Error(err))
			return 1
		}
		mx.OnError = func(err error) { zl.Warn("metrics", zap.Error(err)) }
		o.Connect.MetricsHandler = mx.Handler
	}
	// The worker's own polls tell whether it is ready: watch them on its connection.
	o.Connect.Interceptors = append(o.Connect.Interceptors, e.Polls.Interceptor())
	c, err := connect.DialWait(ctx, o.Connect, logging.NewSDKLogger(zl), o.Wait)
	if err != nil {
		zl.Error("cannot connect to Temporal", zap.Error(err))
		return command.DialCode(err)
	}
	defer c.Close()
	if o.RegisterSearchAttributes && o.Config.Agency != "" {
		zl.Info("an agency's search attributes are registered by setup --agencies, with its namespace and endpoint")
	} else if o.RegisterSearchAttributes {
		if err := connect.RegisterSearchAttributes(ctx, c, o.Connect.Namespace); err != nil {
			zl.Error("cannot register search attributes", zap.Error(err))
			return 1
		}
	}
	if mx != nil {
		go func() {
			run := func() error { return mx.Run(ctx, o.Config.MetricsAddr, c, o.Connect.Namespace) }
			if o.Config.Agency != "" {
				// The open clearances' gauges are customs'; an agency's worker serves the SDK's metrics.
				run = func() error { return mx.Serve(ctx, o.Config.MetricsAddr) }
			}
			if err := run(); err != nil {
				zl.Error("metrics endpoint", zap.Error(err))
			}
		}()
	}
	taskQueue := workflows.TaskQueue
	if o.Config.Agency != "" {
		taskQueue = agency.TaskQueue
	}
	fields := []zap.Field{zap.String("address", o.Connect.Address), zap.String("namespace", o.Connect.Namespace),
		zap.String("taskQueue", taskQueue)}
	if o.Config.Agency != "" {
		fields = append(fields, zap.String("agency", o.Config.Agency), zap.Strings("callers", o.Config.AgencyCallers))
	}
	if v := o.Config.Versioning; v.Enabled {
		fields = append(fields, zap.String("deployment", v.DeploymentName), zap.String("buildID", v.BuildID), zap.String("makeCurrent", v.MakeCurrent))
	} else {
		fields = append(fields, zap.Bool("versioning", false))
	}
	zl.Info("worker started", fields...)
	if err := e.Run(ctx, c, o.Config); err != nil {
		zl.Error("worker failed", zap.Error(err))
		return command.Failure
	}
	zl.Info("worker stopped")
	return command.OK
}
