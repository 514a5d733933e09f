package deploy_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"
)

// dashboardExprs returns every panel expression of the Grafana dashboard, by panel title.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("grafana/dashboards/customs.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, p := range dash.Panels {
		for i, tg := range p.Targets {
			exprs[fmt.Sprintf("%s [%d]", p.Title, i)] = tg.Expr
		}
	}
	return exprs
}

// TestDashboardOnPrometheus evaluates every panel's expression with a real Prometheus that has
// scraped a worker through a load run (.ci/dashboards.sh starts them and gives the address in
// CUSTOMS_PROMETHEUS_URL and the run's start in CUSTOMS_PROMETHEUS_FROM, Unix seconds). A panel
// whose expression returns nothing, or one value everywhere (a label that does not exist, a
// histogram whose observations all fall in one bucket), fails.
func TestDashboardOnPrometheus(t *testing.T) {
	base := os.Getenv("CUSTOMS_PROMETHEUS_URL")
	if base == "" {
		t.Skip("needs CUSTOMS_PROMETHEUS_URL: run .ci/dashboards.sh")
	}
	from, err := strconv.ParseInt(os.Getenv("CUSTOMS_PROMETHEUS_FROM"), 10, 64)
	if err != nil {
		t.Fatalf("CUSTOMS_PROMETHEUS_FROM: %v", err)
	}
	end := time.Now()
	for title, expr := range dashboardExprs(t) {
		t.Run(title, func(t *testing.T) {
			q := url.Values{"query": {expr}, "start": {strconv.FormatInt(from, 10)},
				"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"2"}}
			series, err := queryRange(base + "/api/v1/query_range?" + q.Encode())
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			lo, hi, n := math.Inf(1), math.Inf(-1), 0
			for _, s := range series {
				for _, v := range s {
					if math.IsNaN(v) {
						continue
					}
					lo, hi, n = math.Min(lo, v), math.Max(hi, v), n+1
				}
			}
			switch {
			case n == 0:
				t.Errorf("%s returns nothing over the run (%d series)", expr, len(series))
			case lo == hi:
				t.Errorf("%s returns the constant %g over the run (%d series, %d points)", expr, lo, len(series), n)
			default:
				t.Logf("%d series, %d points, from %g to %g", len(series), n, lo, hi)
			}
		})
	}
}

// queryRange asks Prometheus's HTTP API and returns each series' values.
func queryRange(u string) ([][]float64, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("%s: %w", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.Status, body.Error)
	}
	var out [][]float64
	for _, r := range body.Data.Result {
		var vs []float64
		for _, p := range r.Values {
			s, _ := p[1].(string)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("value %v: %w", p[1], err)
			}
			vs = append(vs, v)
		}
		out = append(out, vs)
	}
	return out, nil
}
