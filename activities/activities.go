// Package activities holds the clearance's activities: loading the configuration in force,
// selecting the risk lane, the automated checks of each stage, issuing the release notice once
// per declaration, and telling the exporter. Activities is registered with the worker as
// &Activities{...}; its fields are its dependencies.
//
// Errors follow one rule. A business outcome that no retry can change (a declaration that does
// not validate, an invalid certificate) is a non-retryable *temporal.ApplicationError of a type
// named in api.go, with the findings in its details where there are any. Anything else (a
// registry or database that cannot be reached, a configuration file that cannot be read) is a
// plain error, and the workflow's retry policy retries it.
package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/medsupply/customs/declaration"
	"github.com/medsupply/customs/policy"
	"github.com/medsupply/customs/registry"
)

// Activities are the clearance's activities with their dependencies. Registry, Releases and
// Declarations are required; the others have defaults.
type Activities struct {
	// Registry answers the certificate, producer and exporter look-ups.
	Registry registry.Registry
	// Releases records release notices, once per declaration.
	Releases ReleaseRegister
	// Declarations records each declaration's acceptance and registration number.
	Declarations DeclarationRegister
	// Notifier tells exporters; nil logs the notifications (LogNotifier).
	Notifier Notifier
	// Config returns the configuration in force. It is called on every LoadConfiguration and
	// SelectLane, so a changed roster or policy takes effect without a restart. nil means the
	// built-in policy and roster.
	Config func() (Configuration, error)
	// ContractThresholds is the goods value, per currency in minor units, above which a
	// contract must be attached; nil means DefaultContractThresholds.
	ContractThresholds map[string]int64
	// Now returns the current time for CheckedAt and release notices; nil means time.Now.
	Now func() time.Time
}

// FileConfig returns a configuration source that reads the policy and roster files on every
// call; an empty path stands for the built-in policy or roster.
func FileConfig(policyPath, rosterPath string) func() (Configuration, error) {
	return func() (Configuration, error) {
		p, err := policy.LoadPolicy(policyPath)
		if err != nil {
			return Configuration{}, err
		}
		r, err := policy.LoadRoster(rosterPath)
		if err != nil {
			return Configuration{}, err
		}
		return Configuration{Policy: p, Roster: r}, nil
	}
}

// StaticConfig returns a configuration source that always returns c.
func StaticConfig(c Configuration) func() (Configuration, error) {
	return func() (Configuration, error) { return c, nil }
}

// LoadConfiguration returns the policy and roster in force. It reads them afresh on every call,
// so a roster change reaches each clearance at its next wait for an officer. A configuration
// that cannot be read or does not validate is a plain error: the activity retries until an
// operator fixes it.
func (a *Activities) LoadConfiguration(ctx context.Context) (Configuration, error) {
	cfg, err := a.configuration()
	if err != nil {
		return Configuration{}, err
	}
	// The office's time zone, as this machine's database has it now, goes into the clearance's
	// history with the policy: its due times replay the same after a tzdata update.
	if cfg.Policy.Calendar, err = cfg.Policy.Calendar.Resolve(time.Now()); err != nil {
		return Configuration{}, fmt.Errorf("load configuration: %w", err)
	}
	activity.GetLogger(ctx).Info("configuration loaded", "officers", len(cfg.Roster.Officers),
		"samplePercent", cfg.Policy.SamplePercent)
	return cfg, nil
}

func (a *Activities) configuration() (Configuration, error) {
	if a.Config == nil {
		return Configuration{Policy: policy.Default(), Roster: policy.DefaultRoster()}, nil
	}
	cfg, err := a.Config()
	if err != nil {
		return Configuration{}, fmt.Errorf("load configuration: %w", err)
	}
	if err := cfg.Policy.Validate(); err != nil {
		return Configuration{}, fmt.Errorf("load configuration: %w", err)
	}
	if err := cfg.Roster.Validate(); err != nil {
		return Configuration{}, fmt.Errorf("load configuration: %w", err)
	}
	return cfg, nil
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Activities) reg() (registry.Registry, error) {
	if a.Registry == nil {
		return nil, errors.New("activities: no registry configured")
	}
	return a.Registry, nil
}

// logger returns the activity logger with the declaration and stage keys every record carries.
func logger(ctx context.Context, declarationID string, stage policy.Stage) log.Logger {
	l := activity.GetLogger(ctx)
	if stage == "" {
		return log.With(l, "declarationID", declarationID)
	}
	return log.With(l, "declarationID", declarationID, "stage", stage)
}

// checkInput refuses a check input that no check can run on: a declaration that does not
// validate, or no day to check against. Both are the workflow's bug or a corrupted input, and a
// retry would fail the same way.
func checkInput(in CheckInput) error {
	if err := in.Declaration.Validate(); err != nil {
		var verr *declaration.ValidationError
		msg := fmt.Sprintf("declaration %q does not validate: %s", in.Declaration.ID, firstLine(err.Error()))
		if errors.As(err, &verr) {
			return temporal.NewNonRetryableApplicationError(msg, ErrInvalidDeclaration, nil, verr)
		}
		return temporal.NewNonRetryableApplicationError(msg, ErrInvalidDeclaration, nil)
	}
	if in.On.IsZero() {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("check of declaration %q has no day to check against", in.Declaration.ID),
			ErrInvalidDeclaration, nil)
	}
	return nil
}

func firstLine(s string) string {
	first, rest, found := strings.Cut(s, "\n")
	if !found {
		return s
	}
	return fmt.Sprintf("%s (and %d more)", first, strings.Count(rest, "\n")+1)
}

// result collects the findings of a check.
type result struct {
	findings []Finding
}

func (r *result) add(code string, sev Severity, field, format string, args ...any) {
	r.findings = append(r.findings, Finding{Code: code, Severity: sev, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (r *result) checkResult(stage policy.Stage, at time.Time) CheckResult {
	f := r.findings
	if f == nil {
		f = []Finding{}
	}
	return CheckResult{Stage: stage, Findings: f, CheckedAt: at}
}

// label names a line for a message: line 2 (Intensive care ventilator).
func label(l declaration.Line) string {
	return fmt.Sprintf("line %s (%s)", l.ID, l.Description)
}

func linePath(i int) string { return fmt.Sprintf("lines[%d]", i) }
