// Command worker runs the clearance engine's worker against a Temporal cluster: the workflow
// and every activity, on the customs-clearance task queue. It stops gracefully on SIGINT or
// SIGTERM. It does not link the Temporal server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/workflows"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var conn connect.Options
	conn.RegisterFlags(fs)
	var cfg engine.Config
	cfg.RegisterFlags(fs)
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	jsonLogs := fs.Bool("log-json", false, "log JSON lines instead of console text")
	registerSA := fs.Bool("register-search-attributes", false, "register the custom search attributes on the namespace before starting (needs operator rights)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "worker: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	zl, err := logging.New(*level, *jsonLogs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: --log-level: %v\n", err)
		return 2
	}
	defer func() { _ = zl.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	e, err := engine.Open(cfg, zl)
	if err != nil {
		zl.Error("cannot open the engine", zap.Error(err))
		return 1
	}
	defer func() {
		if err := e.Close(); err != nil {
			zl.Warn("close", zap.Error(err))
		}
	}()
	c, err := connect.Dial(ctx, conn, logging.NewSDKLogger(zl))
	if err != nil {
		zl.Error("cannot connect to Temporal", zap.Error(err))
		return 1
	}
	defer c.Close()
	if *registerSA {
		if err := connect.RegisterSearchAttributes(ctx, c, conn.Namespace); err != nil {
			zl.Error("cannot register search attributes", zap.Error(err))
			return 1
		}
	}
	zl.Info("worker started", zap.String("address", conn.Address), zap.String("namespace", conn.Namespace),
		zap.String("taskQueue", workflows.TaskQueue))
	if err := e.Run(ctx, c, cfg); err != nil {
		zl.Error("worker failed", zap.Error(err))
		return 1
	}
	zl.Info("worker stopped")
	return 0
}
