// Package engine assembles the clearance worker: it opens the worker's dependencies (registry
// data, release register, exporter notifications, policy and roster), registers the workflow
// and activities on the customs-clearance task queue, and runs until stopped. The worker binary
// and the embedded default both run it.
package engine

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/registry"
	"github.com/medsupply/customs/workflows"
)

// Config is what the worker needs besides its Temporal connection.
type Config struct {
	// DataDir holds the release register and the exporter notifications log by default.
	DataDir string
	// ReleaseDB is the SQLite file of the release register; default DataDir/releases.db.
	ReleaseDB string
	// Notifications is a JSON-lines file exporters' notifications are appended to; default
	// DataDir/notifications.jsonl; "-" only logs them.
	Notifications string
	// PolicyFile and RosterFile override the built-in policy and roster.
	PolicyFile string
	RosterFile string
	// RegistryDir overrides the shipped registry data with the JSON files in a directory.
	RegistryDir string
	// ShutdownTimeout bounds how long running activities may take to finish on stop.
	ShutdownTimeout time.Duration
	// MaxConcurrentActivities and MaxConcurrentWorkflowTasks size the worker's slots (0: SDK
	// defaults).
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
}

// RegisterFlags adds the worker's flags, with defaults from CUSTOMS_* environment variables.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", envOr("CUSTOMS_DATA_DIR", "data"), "directory for the release register and notifications (env CUSTOMS_DATA_DIR)")
	fs.StringVar(&c.ReleaseDB, "release-db", os.Getenv("CUSTOMS_RELEASE_DB"), "release register SQLite file (default DATA_DIR/releases.db; env CUSTOMS_RELEASE_DB)")
	fs.StringVar(&c.Notifications, "notifications", os.Getenv("CUSTOMS_NOTIFICATIONS"), `exporter notifications JSON-lines file (default DATA_DIR/notifications.jsonl; "-" logs only; env CUSTOMS_NOTIFICATIONS)`)
	fs.StringVar(&c.PolicyFile, "policy", os.Getenv("CUSTOMS_POLICY"), "clearance policy JSON file (default: built in; env CUSTOMS_POLICY)")
	fs.StringVar(&c.RosterFile, "roster", os.Getenv("CUSTOMS_ROSTER"), "officer roster JSON file (default: built in; env CUSTOMS_ROSTER)")
	fs.StringVar(&c.RegistryDir, "registry-dir", os.Getenv("CUSTOMS_REGISTRY_DIR"), "directory of registry JSON files (default: shipped data; env CUSTOMS_REGISTRY_DIR)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running activities may take to finish on stop")
	fs.IntVar(&c.MaxConcurrentActivities, "max-activities", 0, "activity slots (0: SDK default)")
	fs.IntVar(&c.MaxConcurrentWorkflowTasks, "max-workflow-tasks", 0, "workflow task slots (0: SDK default)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Engine is an opened worker's dependencies.
type Engine struct {
	Activities *activities.Activities
	closers    []func() error
}

// Open opens the registry, the release register and the notification sink, and checks the
// policy and roster load.
func Open(cfg Config, logger *zap.Logger) (*Engine, error) {
	e := &Engine{}
	reg := registry.Default()
	if cfg.RegistryDir != "" {
		r, err := registry.LoadDir(cfg.RegistryDir)
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		reg = r
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	dbPath := cfg.ReleaseDB
	if dbPath == "" {
		dbPath = filepath.Join(cfg.DataDir, "releases.db")
	}
	releases, err := activities.OpenReleaseRegister(dbPath)
	if err != nil {
		return nil, fmt.Errorf("release register: %w", err)
	}
	e.closers = append(e.closers, releases.Close)

	var notifier activities.Notifier = activities.LogNotifier{}
	switch cfg.Notifications {
	case "-":
	default:
		path := cfg.Notifications
		if path == "" {
			path = filepath.Join(cfg.DataDir, "notifications.jsonl")
		}
		fn, err := activities.OpenFileNotifier(path)
		if err != nil {
			_ = e.Close()
			return nil, fmt.Errorf("notifications: %w", err)
		}
		e.closers = append(e.closers, fn.Close)
		notifier = fn
	}
	source := activities.FileConfig(cfg.PolicyFile, cfg.RosterFile)
	if _, err := source(); err != nil {
		_ = e.Close()
		return nil, err
	}
	e.Activities = &activities.Activities{Registry: reg, Releases: releases, Notifier: notifier, Config: source}
	logger.Info("engine opened", zap.String("releaseDB", dbPath), zap.String("policy", orBuiltIn(cfg.PolicyFile)),
		zap.String("roster", orBuiltIn(cfg.RosterFile)), zap.String("registry", orBuiltIn(cfg.RegistryDir)))
	return e, nil
}

func orBuiltIn(s string) string {
	if s == "" {
		return "built-in"
	}
	return s
}

// Close releases what Open opened.
func (e *Engine) Close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}

// Register registers the clearance workflow and the activities on a worker.
func Register(r worker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.ExportClearance, workflow.RegisterOptions{Name: workflows.WorkflowName})
	r.RegisterActivity(acts)
}

// NewWorker creates a worker on the clearance task queue with the engine's activities.
func (e *Engine) NewWorker(c client.Client, cfg Config) worker.Worker {
	w := worker.New(c, workflows.TaskQueue, worker.Options{
		WorkerStopTimeout:                      cfg.ShutdownTimeout,
		MaxConcurrentActivityExecutionSize:     cfg.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: cfg.MaxConcurrentWorkflowTasks,
	})
	Register(w, e.Activities)
	return w
}

// Run runs a worker until ctx is done, then stops it gracefully: it stops polling and lets
// running activities finish within the shutdown timeout.
func (e *Engine) Run(ctx context.Context, c client.Client, cfg Config) error {
	w := e.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
