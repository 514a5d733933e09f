package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/internal/command"
)

// makeCurrentWithin bounds how long a starting worker keeps trying to make its version current:
// the server learns of the version and its task queue from the worker's first polls, which takes
// a moment; a refusal that outlasts this bound is not one of those.
const makeCurrentWithin = 2 * time.Minute

// makeCurrent makes the worker's version current as v.MakeCurrent says, retrying while the
// server does not know the version yet, and logs the deployment's routing. It never stops the
// worker: a worker whose version is not current keeps polling and takes work once an operator
// ramps it or makes it current. An unversioned worker with always makes unversioned workers
// current again, where a versioned build of the deployment was.
func (e *Engine) makeCurrent(ctx context.Context, c client.Client, v connect.Versioning) {
	version := v.Version()
	log := e.log().With(zap.String("deployment", version.DeploymentName), zap.String("buildID", version.BuildID))
	deadline := time.Now().Add(makeCurrentWithin)
	wait := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := connect.MakeCurrent(cctx, c, version, v.MakeCurrent, false)
		cancel()
		switch {
		case err == nil && version.BuildID == "":
			if r.Made {
				log.Info("this worker is unversioned: unversioned workers are its deployment's current version again", zap.Stringer("routing", r))
			}
			return
		case err == nil && r.Made:
			log.Info("this worker's version is now its deployment's current version: it takes new clearances, and the others at their next task")
			return
		case err == nil && r.IsCurrent(version):
			log.Info("this worker's version is its deployment's current version")
			return
		case err == nil:
			log.Info("this worker's version is not its deployment's current one: it takes work once an operator ramps it or makes it current",
				zap.Stringer("routing", r), zap.String("ramp", rampCommand(v)))
			return
		case ctx.Err() != nil:
			return
		case refusedForGood(err):
			log.Warn("this worker may not make its version current; an administrator does (setup --make-current, or the temporal CLI)",
				zap.String("error", command.Message(err)), zap.String("command", currentCommand(v)))
			return
		case time.Now().After(deadline):
			log.Error("could not make this worker's version current", zap.String("error", command.Message(err)), zap.String("command", currentCommand(v)))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// refusedForGood reports an answer that trying again does not change: the caller may not change
// the deployment, or the server refuses the request itself.
func refusedForGood(err error) bool {
	var (
		denied  *serviceerror.PermissionDenied
		invalid *serviceerror.InvalidArgument
		unimpl  *serviceerror.Unimplemented
	)
	return errors.As(err, &denied) || errors.As(err, &invalid) || errors.As(err, &unimpl)
}

// currentCommand is the temporal CLI command that makes v's version current.
func currentCommand(v connect.Versioning) string {
	return fmt.Sprintf("temporal worker deployment set-current-version --deployment-name %s --build-id %s", v.DeploymentName, v.BuildID)
}

// rampCommand is the temporal CLI command that ramps v's version.
func rampCommand(v connect.Versioning) string {
	return fmt.Sprintf("temporal worker deployment set-ramping-version --deployment-name %s --build-id %s --percentage 10", v.DeploymentName, v.BuildID)
}
