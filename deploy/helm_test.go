package deploy_test

import (
	"sort"
	"strings"
	"testing"
)

// chartPaths are the value paths of Temporal's Helm chart 1.6.0 (temporalio/helm-charts
// e51b734) that helm/temporal-values.yaml may set, each with where the chart reads it. A "*"
// stands for one key of the user's choosing; a path ending in ".**" is passed through as the
// server's own configuration, after the chart strips its Helm-only keys (existingSecret,
// secretKey, createDatabase, manageSchema). CI cannot download the chart; a chart upgrade
// re-reads these from the new version.
var chartPaths = map[string]string{
	"server.image.repository":                       "values.yaml",
	"server.image.tag":                              "values.yaml",
	"server.replicaCount":                           "values.yaml; templates/server-deployment.yaml replicas default",
	"server.additionalEnv":                          "templates/server-deployment.yaml: every service's container env",
	"server.internal-frontend.enabled":              "templates/server-deployment.yaml: the internal-frontend Deployment and USE_INTERNAL_FRONTEND",
	"server.*.replicaCount":                         "templates/server-deployment.yaml: default $.Values.server.replicaCount $serviceValues.replicaCount",
	"server.frontend.service.httpPort":              "templates/server-configmap.yaml services.frontend.rpc.httpPort; server-deployment.yaml and server-service.yaml port http",
	"server.internal-frontend.service.httpPort":     "templates/server-configmap.yaml services.internal-frontend.rpc.httpPort; server-deployment.yaml port http",
	"server.config.logLevel":                        "templates/server-configmap.yaml log.level",
	"server.config.namespaces.create":               "templates/server-namespace-job.yaml",
	"server.config.persistence.defaultStore":        "values.yaml",
	"server.config.persistence.visibilityStore":     "values.yaml",
	"server.config.persistence.numHistoryShards":    "values.yaml: cannot be changed after the initial deployment",
	"server.dynamicConfig.**":                       "templates/server-dynamicconfigmap.yaml: toYaml .Values.server.dynamicConfig",
	"server.config.persistence.datastores.*.sql.**": "values.yaml: the server's datastore config; existingSecret and secretKey (default password) name the password Secret (templates/_helpers.tpl)",
	"admintools.enabled":                            "values.yaml",
	"admintools.image.repository":                   "values.yaml",
	"admintools.image.tag":                          "values.yaml",
	"web.enabled":                                   "values.yaml",
	"web.replicaCount":                              "values.yaml",
	"web.image.repository":                          "values.yaml",
	"web.image.tag":                                 "values.yaml",
	"web.additionalEnv":                             "templates/web-deployment.yaml: the UI container's env",
}

func leafPaths(prefix string, v any, out *[]string) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		*out = append(*out, prefix)
		return
	}
	for k, x := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		leafPaths(p, x, out)
	}
}

func matchPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "."), strings.Split(path, ".")
	for i, p := range ps {
		if p == "**" {
			return len(xs) > i
		}
		if i >= len(xs) || (p != "*" && p != xs[i]) {
			return false
		}
	}
	return len(xs) == len(ps)
}

// TestHelmValuesUseTheChartsPaths fails on a key the chart does not read: such a key is
// silently ignored and the chart's default applies (a password Secret set beside sql: rendered
// an empty password; numHistoryShards beside persistence: only looked as if it worked, the default
// being 512 too).
func TestHelmValuesUseTheChartsPaths(t *testing.T) {
	v := readYAML(t, "helm/temporal-values.yaml")[0]
	var paths []string
	leafPaths("", map[string]any(v), &paths)
	sort.Strings(paths)
	for _, p := range paths {
		known := false
		for pattern := range chartPaths {
			known = known || matchPath(pattern, p)
		}
		if !known {
			t.Errorf("%s is not a value chart 1.6.0 reads", p)
		}
	}
	p := get(v, "server", "config", "persistence")
	if n, _ := get(p, "numHistoryShards").(int); n < 512 {
		t.Errorf("server.config.persistence.numHistoryShards = %v, want a production count (512 or more)", get(p, "numHistoryShards"))
	}
	for _, role := range []string{"defaultStore", "visibilityStore"} {
		store := str(get(p, role))
		sql := get(p, "datastores", store, "sql")
		if str(get(sql, "existingSecret")) == "" {
			t.Errorf("datastore %s: no sql.existingSecret, so the chart renders an empty password", store)
		}
		if _, inline := get(sql, "password").(string); inline {
			t.Errorf("datastore %s: a password in the values file", store)
		}
	}
}

func TestMatchPath(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"server.*.replicaCount", "server.history.replicaCount", true},
		{"server.*.replicaCount", "server.replicaCount", false},
		{"a.*.sql.**", "a.default.sql.user", true},
		{"a.*.sql.**", "a.default.sql", false},
		{"a.*.sql.**", "a.default.existingSecret", false},
		{"server.config.persistence.numHistoryShards", "server.config.numHistoryShards", false},
	} {
		if got := matchPath(c.pattern, c.path); got != c.want {
			t.Errorf("matchPath(%q, %q) = %v", c.pattern, c.path, got)
		}
	}
}
