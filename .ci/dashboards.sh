#!/usr/bin/env bash
# The Grafana dashboard against real scrapes: the engine on one machine (deploy/devserver, its
# worker serving /metrics), a real Prometheus from Debian's packages scraping it every second, a
# load run whose officers answer after the stages' allowances (short ones, from a policy file) so
# that every clearance metric moves, then every panel's expression evaluated through Prometheus's
# HTTP API by go test ./deploy -run TestDashboardOnPrometheus: none may return nothing or a
# constant.
#
# Everything binds to loopback on free ports; data lives in a temporary directory; everything
# started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo /root/go)/bin:$PATH"
began=$SECONDS
say() { printf '== %s (%ds)\n' "$*" $((SECONDS - began)); }

if ! command -v prometheus >/dev/null; then
  say "installing Prometheus from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

work=$(mktemp -d /tmp/customs-dashboards.XXXXXX)
pids=()
cleanup() {
  local status=$?
  trap - EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

. .ci/lib.sh

say "building the devserver and the load generator"
go build -o bin/ ./deploy/devserver ./cmd/load

grpc=$(free_ports 37233 1)
metrics=$(free_ports 39090 1)
prom=$(free_ports 39190 1)

# Allowances of seconds, so the automatic officer's 3 s answer overruns some of them.
cat >"$work/policy.json" <<'JSON'
{
  "standard": "20d",
  "allowances": {"documentCheck": "2s", "biologicalReview": "30s", "certificationCheck": "2s", "physicalInspection": "30s", "release": "30s"},
  "expeditedAllowances": {"documentCheck": "1s", "biologicalReview": "10s", "certificationCheck": "1s", "physicalInspection": "10s", "release": "10s"},
  "informationDeadline": "5d",
  "samplePercent": 5,
  "highRiskDestinations": []
}
JSON

say "starting the devserver on 127.0.0.1:$grpc, metrics on 127.0.0.1:$metrics"
bin/devserver --memory --no-ui --port "$grpc" --metrics-addr "127.0.0.1:$metrics" \
  --data-dir "$work/data" --policy "$work/policy.json" --log-level warn >"$work/devserver.log" 2>&1 &
pids+=($!)
wait_for 60 "the worker's /metrics" curl -sf "http://127.0.0.1:$metrics/metrics"

# The Compose stack's Prometheus configuration, as the real Prometheus reads it (its scrape
# targets are Docker's DNS names, which resolve only inside the stack).
say "promtool check config deploy/grafana/prometheus.yml"
promtool check config deploy/grafana/prometheus.yml

cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: customs-worker
    static_configs:
      - targets: ["127.0.0.1:$metrics"]
YAML
say "starting Prometheus $(prometheus --version 2>&1 | awk 'NR==1 {print $3}') on 127.0.0.1:$prom"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_for 60 "Prometheus ready" curl -sf "http://127.0.0.1:$prom/-/ready"
from=$(date +%s)

n=60
say "load: $n clearances of every lane, officers answering after 3s"
bin/load --address "127.0.0.1:$grpc" --namespace default --worker=false --baseline=false -n "$n" --concurrency 20 \
  --officer-delay 3s \
  --examples examples/us-nasal-cannulas-anaesthesia-masks.json,examples/de-antibody-test-kits.json,examples/fr-biological-class-b.json,examples/expedited-emergency-ventilators.json \
  >"$work/load.out" 2>"$work/load.log"
cat "$work/load.out"

ended() {
  curl -sf "http://127.0.0.1:$prom/api/v1/query" --data-urlencode 'query=sum(clearance_ended_total)' |
    grep -q "\"$n\"\]"
}
wait_for 60 "Prometheus to scrape all $n ended clearances" ended

say "every dashboard panel against Prometheus"
CUSTOMS_PROMETHEUS_URL="http://127.0.0.1:$prom" CUSTOMS_PROMETHEUS_FROM=$from \
  go test -count=1 -run TestDashboardOnPrometheus -v ./deploy >"$work/dashboards.log" 2>&1 ||
  { cat "$work/dashboards.log"; exit 1; }
grep -E '^ *(--- |ok|FAIL)|series' "$work/dashboards.log"
if grep -q -- '--- SKIP' "$work/dashboards.log"; then echo "the dashboard test skipped" >&2; exit 1; fi
say "dashboards checked"
