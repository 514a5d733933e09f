package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// k8sTypes maps each apiVersion/kind the manifests use to its API type.
var k8sTypes = map[string]func() any{
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
}

// TestManifestsDecodeAsTheirAPITypes decodes every Kubernetes object under k8s/ into its API
// type from k8s.io/api, refusing unknown fields: a misspelt or misplaced key (which kubectl
// would reject, or worse, drop) and a quantity that does not parse fail here.
func TestManifestsDecodeAsTheirAPITypes(t *testing.T) {
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(b), "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Errorf("%s #%d: %v", f, i, err)
				continue
			}
			var head struct{ APIVersion, Kind string }
			if err := json.Unmarshal(js, &head); err != nil || head.Kind == "" {
				continue // comments only
			}
			mk, ok := k8sTypes[head.APIVersion+"/"+head.Kind]
			if !ok {
				t.Errorf("%s: %s %s is not a type this test knows; add it", f, head.APIVersion, head.Kind)
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.DisallowUnknownFields()
			if err := dec.Decode(mk()); err != nil {
				t.Errorf("%s: %s: %v", f, head.Kind, err)
			}
			seen++
		}
	}
	if seen < 7 {
		t.Errorf("decoded %d objects, want every manifest's", seen)
	}
}
