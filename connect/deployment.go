package connect

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/medsupply/customs/internal/command"
)

// Environment variables the versioning flags default from.
const (
	EnvVersioning     = "CUSTOMS_VERSIONING"
	EnvDeploymentName = "CUSTOMS_DEPLOYMENT_NAME"
	EnvBuildID        = "CUSTOMS_BUILD_ID"
	EnvMakeCurrent    = "CUSTOMS_MAKE_CURRENT"
)

// DefaultDeploymentName names the engine's worker deployment: every build of the worker is a
// version of it, told apart by its build ID.
const DefaultDeploymentName = "customs-worker"

// When a version is made the current version of its deployment (--make-current). The current
// version takes every new clearance and the next task of every running one (they are
// auto-upgrade workflows); a version that is neither current nor ramping gets no work.
const (
	// CurrentNever leaves the deployment's routing to its operator.
	CurrentNever = "never"
	// CurrentIfNone makes the version current only when the deployment has never had a current
	// or ramping version: its first version, or the first after unversioned workers.
	CurrentIfNone = "if-none"
	// CurrentAlways makes the version current unless it is already: for a deployment that
	// replaces its workers in place (one machine, Compose), where no earlier version keeps
	// running beside it.
	CurrentAlways = "always"
)

// maxVersionField bounds a deployment name or build ID: the server allows about 480 characters
// of each with its default ID length limit; this leaves room below any configured limit.
const maxVersionField = 255

// Versioning is how a worker takes part in its worker deployment: a version, named by the
// deployment and a build ID, and when it makes itself current.
type Versioning struct {
	// Enabled runs the worker as a version of the deployment; off, it is an unversioned worker,
	// which gets work only while the deployment has no current version.
	Enabled bool
	// DeploymentName is the worker deployment; DefaultDeploymentName unless set.
	DeploymentName string
	// BuildID tells this build from the others; the binary's own (command.BuildID) unless set.
	BuildID string
	// MakeCurrent is CurrentNever, CurrentIfNone or CurrentAlways.
	MakeCurrent string

	envErr error
}

// RegisterFlags defines --deployment-name, --build-id and --make-current on fs, with defaults
// from the environment; withSwitch adds --versioning too (the worker's; setup names a version
// without being one). A MakeCurrent already set is the default of --make-current, else if-none.
func (v *Versioning) RegisterFlags(fs *flag.FlagSet, withSwitch bool) {
	if withSwitch {
		on := true
		if s := os.Getenv(EnvVersioning); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				v.envErr = fmt.Errorf("%s=%q: want true or false", EnvVersioning, s)
			}
			on = b
		}
		fs.BoolVar(&v.Enabled, "versioning", on, "run as a version of the worker deployment --deployment-name, build --build-id, which takes work while it is current or ramping (false: an unversioned worker; env "+EnvVersioning+")")
	}
	fs.StringVar(&v.DeploymentName, "deployment-name", envOr(EnvDeploymentName, DefaultDeploymentName), "the worker deployment whose version this is (env "+EnvDeploymentName+")")
	fs.StringVar(&v.BuildID, "build-id", envOr(EnvBuildID, command.BuildID()), "this build's ID in the deployment (default: the one it was built with, else its commit; env "+EnvBuildID+")")
	def := v.MakeCurrent
	if def == "" {
		def = CurrentIfNone
	}
	fs.StringVar(&v.MakeCurrent, "make-current", envOr(EnvMakeCurrent, def), "make this version the deployment's current one: never; if-none, when it has never had one (a fresh deployment); always, unless it is already (env "+EnvMakeCurrent+")")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Version is the deployment version v names; with versioning off, the deployment's unversioned
// workers (no build ID).
func (v Versioning) Version() worker.WorkerDeploymentVersion {
	if !v.Enabled {
		return worker.WorkerDeploymentVersion{DeploymentName: v.DeploymentName}
	}
	return worker.WorkerDeploymentVersion{DeploymentName: v.DeploymentName, BuildID: v.BuildID}
}

// Validate reports a setting the server would refuse, naming its flag. A worker with
// versioning off checks only the environment.
func (v Versioning) Validate(enabled bool) error {
	if v.envErr != nil {
		return v.envErr
	}
	if !enabled {
		return nil
	}
	var errs []error
	switch v.MakeCurrent {
	case CurrentNever, CurrentIfNone, CurrentAlways:
	default:
		errs = append(errs, fmt.Errorf("--make-current %q: want never, if-none or always", v.MakeCurrent))
	}
	name := v.DeploymentName
	switch {
	case name == "":
		errs = append(errs, errors.New("--deployment-name is empty"))
	case strings.ContainsAny(name, ".:"):
		errs = append(errs, fmt.Errorf("--deployment-name %q: must not contain '.' or ':'", name))
	case strings.HasPrefix(name, "__"):
		errs = append(errs, fmt.Errorf("--deployment-name %q: must not start with '__'", name))
	case len(name) > maxVersionField:
		errs = append(errs, fmt.Errorf("--deployment-name: %d characters, at most %d", len(name), maxVersionField))
	}
	switch id := v.BuildID; {
	case id == "":
		errs = append(errs, errors.New("--build-id is empty"))
	case strings.HasPrefix(id, "__"):
		errs = append(errs, fmt.Errorf("--build-id %q: must not start with '__'", id))
	case strings.TrimSpace(id) != id:
		errs = append(errs, fmt.Errorf("--build-id %q: must not begin or end with a space", id))
	case len(id) > maxVersionField:
		errs = append(errs, fmt.Errorf("--build-id: %d characters, at most %d", len(id), maxVersionField))
	}
	return errors.Join(errs...)
}

// Routing is a deployment's routing after MakeCurrent: which version takes new work.
type Routing struct {
	// Made is true when this call made the version current.
	Made bool
	// Current is the current version; nil when unversioned workers are the target.
	Current *worker.WorkerDeploymentVersion
	// Ramping, when set, takes RampPercent of the work.
	Ramping     *worker.WorkerDeploymentVersion
	RampPercent float32
}

// IsCurrent reports whether v is the current version; for unversioned workers (no build ID),
// whether they take all the work.
func (r Routing) IsCurrent(v worker.WorkerDeploymentVersion) bool {
	if v.BuildID == "" {
		return r.Current == nil && r.Ramping == nil
	}
	return r.Current != nil && *r.Current == v
}

// String describes the routing for a person.
func (r Routing) String() string {
	s := "unversioned workers are current"
	if r.Current != nil {
		s = "build " + r.Current.BuildID + " is current"
	}
	if r.Ramping != nil {
		s += fmt.Sprintf(", build %s ramping at %g%%", r.Ramping.BuildID, r.RampPercent)
	}
	return s
}

// MakeCurrent makes v the current version of its deployment as when says (CurrentNever,
// CurrentIfNone, CurrentAlways) and returns the deployment's routing. "None" is a deployment
// that has never had a current or ramping version: an operator who set unversioned workers
// current, or ramps from them, has chosen, and if-none leaves that alone. A v without a build ID
// stands for unversioned workers: always then removes any ramp and makes them current again
// (a worker that runs with versioning off where it had been on); if-none has nothing to do for
// them, since they are what a deployment without a current version runs.
//
// A worker calls it once it polls, so the server knows its version and task queue. Before its
// workers run (setup), beforeWorkers creates the version and lets it become current with no
// pollers yet and without the task queues of the version it replaces: every build of the engine
// polls the one clearance task queue. The change is made with the deployment's conflict token,
// so a concurrent change fails it rather than being overwritten.
func MakeCurrent(ctx context.Context, c client.Client, v worker.WorkerDeploymentVersion, when string, beforeWorkers bool) (Routing, error) {
	h := c.WorkerDeploymentClient().GetHandle(v.DeploymentName)
	var token []byte
	var routing client.WorkerDeploymentRoutingConfig
	d, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		token, routing = d.ConflictToken, d.Info.RoutingConfig
	case errors.As(err, &nf) && (beforeWorkers || v.BuildID == ""):
		// No worker of the deployment has polled yet: it has no routing at all.
	default:
		return Routing{}, fmt.Errorf("describe worker deployment %s: %w", v.DeploymentName, err)
	}
	r := Routing{Current: routing.CurrentVersion, Ramping: routing.RampingVersion, RampPercent: routing.RampingVersionPercentage}
	none := routing.CurrentVersion == nil && routing.RampingVersion == nil &&
		routing.CurrentVersionChangedTime.IsZero() && routing.RampingVersionChangedTime.IsZero()
	if r.IsCurrent(v) || when == CurrentNever || (when == CurrentIfNone && (!none || v.BuildID == "")) {
		return r, nil
	}
	if v.BuildID == "" && r.Ramping != nil {
		resp, err := h.SetRampingVersion(ctx, client.WorkerDeploymentSetRampingVersionOptions{ConflictToken: token})
		if err != nil {
			return r, fmt.Errorf("end the ramp of build %s in worker deployment %s: %w", r.Ramping.BuildID, v.DeploymentName, err)
		}
		token, r.Ramping, r.RampPercent, r.Made = resp.ConflictToken, nil, 0, true
		if r.Current == nil {
			return r, nil
		}
	}
	_, err = h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{
		BuildID:                 v.BuildID,
		ConflictToken:           token,
		AllowNoPollers:          beforeWorkers,
		IgnoreMissingTaskQueues: beforeWorkers,
	})
	if err != nil {
		return r, fmt.Errorf("make %s current in worker deployment %s: %w", buildName(v), v.DeploymentName, err)
	}
	if r.Ramping != nil && *r.Ramping == v {
		r.Ramping, r.RampPercent = nil, 0
	}
	r.Made, r.Current = true, &v
	if v.BuildID == "" {
		r.Current = nil
	}
	return r, nil
}

// buildName names v's build for a person.
func buildName(v worker.WorkerDeploymentVersion) string {
	if v.BuildID == "" {
		return "unversioned workers"
	}
	return "build " + v.BuildID
}
