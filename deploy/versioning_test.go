package deploy_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"gopkg.in/yaml.v3"

	"github.com/medsupply/customs/connect"
	"github.com/medsupply/customs/engine"
)

// versionLabel is the pod label that carries a worker's build ID: the image's tag.
const versionLabel = "app.kubernetes.io/version"

// containerEnv is a container's environment: plain values, and "fieldRef:PATH" for a value read
// from the pod.
func containerEnv(c any) map[string]string {
	env := map[string]string{}
	list, _ := get(c, "env").([]any)
	for _, e := range list {
		name := str(get(e, "name"))
		switch {
		case get(e, "value") != nil:
			env[name] = str(get(e, "value"))
		case get(e, "valueFrom", "fieldRef") != nil:
			env[name] = "fieldRef:" + str(get(e, "valueFrom", "fieldRef", "fieldPath"))
		}
	}
	return env
}

// setupOptions parses setup's command line with env set, as the container runs it.
func setupOptions(t *testing.T, args []string, env map[string]string) connect.SetupOptions {
	t.Helper()
	var s setupArgs
	var err error
	withEnv(t, env, func() { s, err = parseSetup(args) })
	if err != nil {
		t.Fatalf("setup %v: %v", args, err)
	}
	return s.SetupOptions
}

// TestKubernetesRunsEachBuildAsAVersion: the workers are a version of their worker deployment,
// their build ID read from their pods' version label, which is part of the Deployment's selector
// (two builds' Deployments select apart); the setup Job makes the same build of the same
// deployment current if it has none; kustomization.yaml copies the image's tag into all of them
// and into the names of the build's Deployment and autoscaler.
func TestKubernetesRunsEachBuildAsAVersion(t *testing.T) {
	d := readDockerfile(t)
	objs := manifests(t)
	dep, job := objs["Deployment/customs-worker"], objs["Job/customs-setup"]
	c := get(dep, "spec", "template", "spec", "containers", 0)
	label := str(get(dep, "spec", "template", "metadata", "labels", versionLabel))
	if label == "" || get(dep, "spec", "selector", "matchLabels", versionLabel) != label {
		t.Errorf("the pods' %s label %q is not in the Deployment's selector %v", versionLabel, label, get(dep, "spec", "selector"))
	}
	env := containerEnv(c)
	if want := "fieldRef:metadata.labels['" + versionLabel + "']"; env[connect.EnvBuildID] != want {
		t.Errorf("the worker's %s is %q, want %q", connect.EnvBuildID, env[connect.EnvBuildID], want)
	}
	env[connect.EnvBuildID] = label // as the kubelet fills it in
	b, args := command(t, d, get(c, "command"), get(c, "args"))
	var w *engine.WorkerOptions
	var err error
	withEnv(t, env, func() { w, err = b.parse(args) })
	if err != nil {
		t.Fatalf("worker %v: %v", args, err)
	}
	v := w.Config.Versioning
	if !v.Enabled || v.BuildID != label || v.MakeCurrent != connect.CurrentNever {
		t.Errorf("the worker runs with versioning %+v; want build %q, made current by the setup Job only", v, label)
	}

	jc := get(job, "spec", "template", "spec", "containers", 0)
	_, jargs := command(t, d, get(jc, "command"), get(jc, "args"))
	so := setupOptions(t, jargs, containerEnv(jc))
	if so.Versioning.MakeCurrent != connect.CurrentIfNone || so.Versioning.BuildID != v.BuildID || so.Versioning.DeploymentName != v.DeploymentName {
		t.Errorf("the setup Job makes %+v current; want the workers' build %s of %s, if-none", so.Versioning, v.BuildID, v.DeploymentName)
	}

	// The replacements take the tag of the worker's image and put it where each build needs it.
	kust := readYAML(t, "k8s/kustomization.yaml")[0]
	reps, _ := kust["replacements"].([]any)
	if len(reps) != 1 {
		t.Fatalf("kustomization.yaml has %d replacements, want the image tag's", len(reps))
	}
	src := get(reps[0], "source")
	if str(get(src, "kind")) != "Deployment" || str(get(src, "name")) != "customs-worker" ||
		str(get(src, "fieldPath")) != "spec.template.spec.containers.[name=worker].image" ||
		str(get(src, "options", "delimiter")) != ":" || get(src, "options", "index") != 1 {
		t.Errorf("the replacement's source %v is not the worker image's tag", src)
	}
	var got []string
	for _, tg := range get(reps[0], "targets").([]any) {
		for _, fp := range get(tg, "fieldPaths").([]any) {
			got = append(got, str(get(tg, "select", "kind"))+"/"+str(get(tg, "select", "name"))+" "+str(fp)+
				" "+str(get(tg, "options", "delimiter")))
		}
	}
	want := []string{
		"Job/customs-setup spec.template.spec.containers.[name=setup].env.[name=CUSTOMS_BUILD_ID].value ",
		"HorizontalPodAutoscaler/customs-worker metadata.name -",
		"HorizontalPodAutoscaler/customs-worker spec.scaleTargetRef.name -",
		"Deployment/customs-worker spec.selector.matchLabels.[" + versionLabel + "] ",
		"Deployment/customs-worker spec.template.metadata.labels.[" + versionLabel + "] ",
		// Last: the targets above select the Deployment by the name it has in its file.
		"Deployment/customs-worker metadata.name -",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the replacement's targets are\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestKustomizeRunsANewBuildBesideTheOld renders deploy/k8s with kubectl's kustomize for two
// tags: each is a Deployment and an autoscaler of its own (customs-worker-TAG), selecting only
// its own pods, labelled with the tag the worker reads as its build ID, and the setup Job names
// the same build; the disruption budget covers both. It skips without kubectl.
func TestKustomizeRunsANewBuildBesideTheOld(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on PATH")
	}
	render := func(tag string) map[string]map[string]any {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "k8s")
		if err := os.CopyFS(dir, os.DirFS("k8s")); err != nil {
			t.Fatal(err)
		}
		kf := filepath.Join(dir, "kustomization.yaml")
		b, err := os.ReadFile(kf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("newTag: dev")) {
			t.Fatal("kustomization.yaml does not set newTag: dev")
		}
		if err := os.WriteFile(kf, bytes.Replace(b, []byte("newTag: dev"), []byte("newTag: "+tag), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(kubectl, "kustomize", dir).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize: %v", err)
		}
		objs := map[string]map[string]any{}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				break
			}
			objs[str(doc["kind"])+"/"+str(get(doc, "metadata", "name"))] = doc
		}
		return objs
	}
	selectors := map[string]map[string]any{}
	var pdb map[string]any
	for _, tag := range []string{"1.4.0", "1.5.0-rc.1"} {
		objs := render(tag)
		name := "customs-worker-" + tag
		dep, hpa := objs["Deployment/"+name], objs["HorizontalPodAutoscaler/"+name]
		if dep == nil || hpa == nil {
			t.Fatalf("tag %s: no Deployment and autoscaler %s among %d objects", tag, name, len(objs))
		}
		if get(hpa, "spec", "scaleTargetRef", "name") != name {
			t.Errorf("tag %s: the autoscaler scales %v", tag, get(hpa, "spec", "scaleTargetRef", "name"))
		}
		c := get(dep, "spec", "template", "spec", "containers", 0)
		if str(get(c, "image")) != "medsupply/customs:"+tag || get(dep, "spec", "template", "metadata", "labels", versionLabel) != tag {
			t.Errorf("tag %s: image %v, pods labelled %v", tag, get(c, "image"), get(dep, "spec", "template", "metadata", "labels"))
		}
		sel, _ := get(dep, "spec", "selector", "matchLabels").(map[string]any)
		if sel[versionLabel] != tag {
			t.Errorf("tag %s: the Deployment selects %v", tag, sel)
		}
		selectors[tag] = sel
		job := objs["Job/customs-setup"]
		if env := containerEnv(get(job, "spec", "template", "spec", "containers", 0)); env[connect.EnvBuildID] != tag {
			t.Errorf("tag %s: the setup Job makes build %q current", tag, env[connect.EnvBuildID])
		}
		pdb = objs["PodDisruptionBudget/customs-worker"]
	}
	for k, v := range get(pdb, "spec", "selector", "matchLabels").(map[string]any) {
		for tag, sel := range selectors {
			if sel[k] != v {
				t.Errorf("the disruption budget selects %s=%v, which build %s's pods do not carry", k, v, tag)
			}
		}
	}
}

// TestComposeMakesItsBuildCurrent: Compose replaces its workers with a new image, so its setup
// makes the image's build current before they start; the workers are that build, and the image's
// build ID is given with CUSTOMS_BUILD_ID.
func TestComposeMakesItsBuildCurrent(t *testing.T) {
	d := readDockerfile(t)
	doc := readYAML(t, "compose.yaml")[0]
	services := doc["services"].(map[string]any)
	if arg := str(get(doc, "x-customs-image", "build", "args", "BUILD_ID")); !strings.Contains(arg, "${CUSTOMS_BUILD_ID") {
		t.Errorf("compose.yaml builds the image with BUILD_ID %q, which CUSTOMS_BUILD_ID does not set", arg)
	}
	s := services["setup"]
	_, args := command(t, d, get(s, "entrypoint"), get(s, "command"))
	so := setupOptions(t, args, serviceEnv(s))
	if so.Versioning.MakeCurrent != connect.CurrentAlways || so.Versioning.DeploymentName != connect.DefaultDeploymentName {
		t.Errorf("Compose's setup makes %+v current; want the image's build, always", so.Versioning)
	}
	w := services["worker"]
	b, wargs := command(t, d, get(w, "entrypoint"), get(w, "command"))
	var o *engine.WorkerOptions
	var err error
	withEnv(t, serviceEnv(w), func() { o, err = b.parse(wargs) })
	if err != nil {
		t.Fatal(err)
	}
	if v := o.Config.Versioning; !v.Enabled || v.DeploymentName != so.Versioning.DeploymentName || v.BuildID != so.Versioning.BuildID ||
		v.MakeCurrent != connect.CurrentNever {
		t.Errorf("Compose's workers run as %+v, its setup makes %+v current; want the same build, left to the setup", v, so.Versioning)
	}
}

// TestDynamicConfigKeepsWorkerDeploymentsOn: the server of Compose and of the Helm values pin
// worker deployments on, without which a versioned worker gets no work.
func TestDynamicConfigKeepsWorkerDeploymentsOn(t *testing.T) {
	check := func(what string, b []byte) {
		t.Helper()
		lr := dynamicconfig.LoadYamlFile(b)
		if err := errors.Join(append(lr.Errors, lr.Warnings...)...); err != nil {
			t.Errorf("%s: the server reads it with %v", what, err)
		}
		if _, ok := lr.Map[dynamicconfig.EnableDeploymentVersions.Key()]; !ok {
			t.Errorf("%s does not pin %s", what, dynamicconfig.EnableDeploymentVersions.Key())
		}
		sc := dynamicconfig.StaticClient{}
		for k, cvs := range lr.Map {
			sc[k] = cvs
		}
		col := dynamicconfig.NewCollection(sc, log.NewNoopLogger())
		if !dynamicconfig.EnableDeploymentVersions.Get(col)("customs") {
			t.Errorf("%s turns worker deployments off", what)
		}
	}
	b, err := os.ReadFile("temporal/dynamicconfig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	check("temporal/dynamicconfig.yaml", b)
	if b, err = yaml.Marshal(get(readYAML(t, "helm/temporal-values.yaml")[0], "server", "dynamicConfig")); err != nil {
		t.Fatal(err)
	}
	check("helm/temporal-values.yaml server.dynamicConfig", b)
}

// TestDockerfileStampsTheBuildID: the image's binaries carry the BUILD_ID they are built with,
// through the linker, into the variable command.BuildID reads (a -X of a name that does not
// exist is silently ignored).
func TestDockerfileStampsTheBuildID(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	build, _, _ := strings.Cut(string(b)[strings.Index(string(b), " AS build"):], "\nFROM ")
	if !strings.Contains(build, "\nARG BUILD_ID\n") || !strings.Contains(build, "-X github.com/medsupply/customs/internal/command.buildID=${BUILD_ID}") {
		t.Error("the build stage does not link its BUILD_ID argument into internal/command.buildID")
	}
	src, err := os.ReadFile("../internal/command/command.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "\nvar buildID string\n") {
		t.Error("internal/command has no string variable buildID for the linker to set")
	}
}
