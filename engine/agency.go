package engine

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/medsupply/customs/activities"
	"github.com/medsupply/customs/agency"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
)

// validateAgency reports an agency worker's settings that cannot work, or returns nil.
func (c Config) validateAgency() error {
	if len(c.SingleWindow) > 0 {
		if c.PolicyFile != "" {
			return errors.New("--single-window is for the built-in policy: a --policy file names its agencies in its singleWindow")
		}
		if _, err := policy.StandardSingleWindow(c.SingleWindow); err != nil {
			return fmt.Errorf("--single-window: %w", err)
		}
	}
	if c.Agency == "" {
		if c.AgencyRoster != "" || len(c.AgencyCallers) > 0 {
			return errors.New("--agency-roster and --agency-callers are for an agency's worker: give --agency too")
		}
		return nil
	}
	if err := agency.CheckAgency(c.Agency); err != nil {
		return fmt.Errorf("--agency: %w", err)
	}
	if c.AgencyRoster == "" {
		if _, err := agency.DefaultRoster(c.Agency); err != nil {
			return fmt.Errorf("--agency-roster: %w", err)
		}
	}
	if len(c.AgencyCallers) == 0 {
		return fmt.Errorf("--agency-callers: missing: name customs' namespace, whose clearances ask %s", c.Agency)
	}
	for _, ns := range c.AgencyCallers {
		if ns == agency.Namespace(c.Agency) {
			return fmt.Errorf("--agency-callers %s: that is %s's own namespace; name customs' namespace", ns, c.Agency)
		}
	}
	return nil
}

// CheckAgencyNamespace reports an agency worker (cfg.Agency) dialled into another namespace than
// its agency's, where the endpoint that agency.Setup creates does not route.
func (c Config) CheckAgencyNamespace(namespace string) error {
	if c.Agency == "" || namespace == agency.Namespace(c.Agency) {
		return nil
	}
	return fmt.Errorf("--namespace %s: %s's worker works in namespace %s, where its endpoint routes", namespace, c.Agency, agency.Namespace(c.Agency))
}

// openAgency opens what an agency's worker needs: the registries its checks read and its roster.
func (e *Engine) openAgency(cfg Config, reg registry.Registry) error {
	roster, err := agency.LoadRoster(cfg.Agency, cfg.AgencyRoster)
	if err != nil {
		return fmt.Errorf("--agency-roster: %w", err)
	}
	acts, err := agency.NewActivities(cfg.Agency, reg, &roster)
	if err != nil {
		return err
	}
	e.Agency = acts
	e.logger.Info("agency worker opened", zap.String("agency", cfg.Agency), zap.String("namespace", agency.Namespace(cfg.Agency)),
		zap.String("roster", orBuiltIn(cfg.AgencyRoster)), zap.Int("deciders", len(roster.Deciders())),
		zap.String("callers", strings.Join(cfg.AgencyCallers, ", ")), zap.String("registry", orBuiltIn(cfg.RegistryDir)))
	return nil
}

// withSingleWindow is source with the standard rules of agencies in its policy's single window.
func withSingleWindow(source func() (activities.Configuration, error), agencies []string) func() (activities.Configuration, error) {
	return func() (activities.Configuration, error) {
		c, err := source()
		if err != nil {
			return c, err
		}
		if c.Policy.SingleWindow, err = policy.StandardSingleWindow(agencies); err != nil {
			return activities.Configuration{}, err
		}
		return c, nil
	}
}

// StartAgencyWorker starts, on c (a client of the agency's namespace), the worker of the agency
// cfg.Agency names, as the worker binary runs it with --agency, for a process that runs it beside
// others (the embedded default, the load generator). stop stops it and closes what it opened.
func StartAgencyWorker(c client.Client, cfg Config, logger *zap.Logger) (stop func(), err error) {
	if cfg.Agency == "" {
		return nil, errors.New("no agency named")
	}
	e, err := Open(cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("%s's worker: %w", cfg.Agency, err)
	}
	w := e.NewWorker(c, cfg)
	if err := w.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("%s's worker in namespace %s (is the agency set up? setup --agencies, or the embedded default, sets it up): %w",
			cfg.Agency, agency.Namespace(cfg.Agency), err), e.Close())
	}
	return func() {
		w.Stop()
		if err := e.Close(); err != nil {
			logger.Warn("close the agency's worker", zap.String("agency", cfg.Agency), zap.Error(err))
		}
	}, nil
}
