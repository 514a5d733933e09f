package cli

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
	"github.com/medsupply/customs/logging"
	"github.com/medsupply/customs/policy"
)

// parseSingleWindow reads --single-window: agencies with standard rules, each once.
func parseSingleWindow(list string) ([]string, error) {
	out, err := agency.ParseList(list)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("name at least one agency")
	}
	if _, err := policy.StandardSingleWindow(out); err != nil {
		return nil, err
	}
	return out, nil
}

// startAgencies starts in this process the worker of each agency the clearances ask
// (cfg.SingleWindow), as the worker binary runs it with --agency: its own client of the agency's
// namespace, the agency's review, checks and Nexus service, the built-in roster, answering
// customs' namespace conn.Namespace only. The agencies' namespaces and endpoints must exist
// (agency.Setup; the embedded default sets them up). stop stops the workers and closes what they
// opened.
func startAgencies(ctx context.Context, conn connect.Options, cfg engine.Config, zl *zap.Logger) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	for _, a := range cfg.SingleWindow {
		acfg := engine.Config{Agency: a, AgencyCallers: []string{conn.Namespace}, RegistryDir: cfg.RegistryDir,
			ShutdownTimeout: cfg.ShutdownTimeout, FatalPollsAfter: cfg.FatalPollsAfter,
			MaxConcurrentActivities: cfg.MaxConcurrentActivities, MaxConcurrentWorkflowTasks: cfg.MaxConcurrentWorkflowTasks,
			Pollers: cfg.Pollers}
		ac := conn
		ac.Namespace = agency.Namespace(a)
		c, err := connect.Dial(ctx, ac, logging.NewSDKLogger(zl))
		if err != nil {
			return nil, fmt.Errorf("%s's worker: %w", a, err)
		}
		stops = append(stops, c.Close)
		stopWorker, err := engine.StartAgencyWorker(c, acfg, zl)
		if err != nil {
			return nil, err
		}
		stops = append(stops, stopWorker)
	}
	return stop, nil
}
