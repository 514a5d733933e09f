package connect

import (
	"flag"
	"io"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/medsupply/customs/internal/command"
)

func parseVersioning(t *testing.T, preset string, withSwitch bool, args ...string) Versioning {
	t.Helper()
	v := Versioning{MakeCurrent: preset}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v.RegisterFlags(fs, withSwitch)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVersioningDefaults(t *testing.T) {
	for _, k := range []string{EnvVersioning, EnvDeploymentName, EnvBuildID, EnvMakeCurrent} {
		t.Setenv(k, "")
	}
	v := parseVersioning(t, "", true)
	if !v.Enabled || v.DeploymentName != DefaultDeploymentName || v.BuildID != command.BuildID() || v.MakeCurrent != CurrentIfNone {
		t.Errorf("defaults: %+v; want on, %s, the binary's build %s, if-none", v, DefaultDeploymentName, command.BuildID())
	}
	if v := parseVersioning(t, CurrentAlways, true); v.MakeCurrent != CurrentAlways {
		t.Errorf("a preset always: --make-current defaults to %q", v.MakeCurrent)
	}
	if v := parseVersioning(t, "", false, "--build-id", "1.4.0"); v.BuildID != "1.4.0" {
		t.Errorf("--build-id 1.4.0: %q", v.BuildID)
	}

	t.Setenv(EnvVersioning, "false")
	t.Setenv(EnvBuildID, "1.5.0")
	t.Setenv(EnvDeploymentName, "customs-eu")
	t.Setenv(EnvMakeCurrent, CurrentNever)
	v = parseVersioning(t, CurrentAlways, true)
	if v.Enabled || v.BuildID != "1.5.0" || v.DeploymentName != "customs-eu" || v.MakeCurrent != CurrentNever {
		t.Errorf("from the environment: %+v", v)
	}
	if v := parseVersioning(t, "", true, "--versioning", "--build-id", "1.6.0"); !v.Enabled || v.BuildID != "1.6.0" {
		t.Errorf("flags over the environment: %+v", v)
	}
}

func TestVersioningValidate(t *testing.T) {
	good := Versioning{Enabled: true, DeploymentName: "customs-worker", BuildID: "1.4.0", MakeCurrent: CurrentIfNone}
	if err := good.Validate(true); err != nil {
		t.Fatalf("%+v: %v", good, err)
	}
	for _, c := range []struct {
		change func(*Versioning)
		want   string
	}{
		{func(v *Versioning) { v.MakeCurrent = "once" }, `--make-current "once": want never, if-none or always`},
		{func(v *Versioning) { v.DeploymentName = "" }, "--deployment-name is empty"},
		{func(v *Versioning) { v.DeploymentName = "customs.worker" }, `--deployment-name "customs.worker": must not contain '.' or ':'`},
		{func(v *Versioning) { v.DeploymentName = "__customs" }, `--deployment-name "__customs": must not start with '__'`},
		{func(v *Versioning) { v.DeploymentName = strings.Repeat("d", 256) }, "--deployment-name: 256 characters, at most 255"},
		{func(v *Versioning) { v.BuildID = "" }, "--build-id is empty"},
		{func(v *Versioning) { v.BuildID = "__unversioned__" }, `--build-id "__unversioned__": must not start with '__'`},
		{func(v *Versioning) { v.BuildID = "1.4.0 " }, `--build-id "1.4.0 ": must not begin or end with a space`},
	} {
		v := good
		c.change(&v)
		err := v.Validate(true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", v, err, c.want)
		}
		if err := v.Validate(false); err != nil {
			t.Errorf("%+v with versioning off: %v", v, err)
		}
	}

	t.Setenv(EnvVersioning, "maybe")
	v := parseVersioning(t, "", true)
	if err := v.Validate(false); err == nil || !strings.Contains(err.Error(), `CUSTOMS_VERSIONING="maybe": want true or false`) {
		t.Errorf("CUSTOMS_VERSIONING=maybe: %v", err)
	}
}

func TestRoutingSays(t *testing.T) {
	v1 := worker.WorkerDeploymentVersion{DeploymentName: "customs-worker", BuildID: "1.4.0"}
	v2 := worker.WorkerDeploymentVersion{DeploymentName: "customs-worker", BuildID: "1.5.0"}
	for _, c := range []struct {
		r    Routing
		want string
	}{
		{Routing{}, "unversioned workers are current"},
		{Routing{Current: &v1}, "build 1.4.0 is current"},
		{Routing{Current: &v1, Ramping: &v2, RampPercent: 12.5}, "build 1.4.0 is current, build 1.5.0 ramping at 12.5%"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	if !(Routing{Current: &v1}).IsCurrent(v1) || (Routing{Current: &v1}).IsCurrent(v2) || (Routing{}).IsCurrent(v1) {
		t.Error("IsCurrent")
	}
}
