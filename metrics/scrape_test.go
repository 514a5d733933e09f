package metrics

import (
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type dtoFamily = dto.MetricFamily

func scrape(t *testing.T, m *Metrics) map[string]*dtoFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, rec.Body.String())
	}
	return fams
}

func matches(m *dto.Metric, labels map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range labels {
		if got[k] != v {
			return false
		}
	}
	return true
}

func histogramCount(f map[string]*dtoFamily, name string, labels map[string]string) uint64 {
	var n uint64
	for _, m := range f[name].GetMetric() {
		if matches(m, labels) {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

func counter(f map[string]*dtoFamily, name string, labels map[string]string) float64 {
	var n float64
	for _, m := range f[name].GetMetric() {
		if matches(m, labels) {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

func open(f map[string]*dtoFamily, stage string) float64 {
	for _, m := range f["clearance_open"].GetMetric() {
		if matches(m, map[string]string{"stage": stage}) {
			return m.GetGauge().GetValue()
		}
	}
	return -1
}
