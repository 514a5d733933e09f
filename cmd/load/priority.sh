#!/usr/bin/env bash
# Priority and fairness under a backlog, side by side in one run on one machine: the embedded
# default (deploy/devserver) with task-queue priority and fairness off (the server's matcher
# before priority, matching.useNewMatcher false; matching.enableFairness false; its default of
# four write partitions) and on (the embedded default), each freshly started on a SQLite file, in
# the order off, on, on, off so that drift weighs on both alike. On each, load --backlog lodges N
# green-lane clearances behind a stopped worker, then BEHIND more, starts the worker and times
# each clearance from lodgement (or the worker's start) to release, beside BEHIND lodged on the
# idle server: expedited copies behind a backlog of normal declarations (priority), then another
# exporter's BEHIND behind one exporter's N at the same priority (fairness). BENCHMARKS.md quotes
# its output.
#
#   bash cmd/load/priority.sh                      # N=2000 BEHIND=20 C=200, off on on off
#   ORDER="off on" N=300 bash cmd/load/priority.sh # shorter
set -euo pipefail
cd "$(dirname "$0")/../.."
. cmd/load/lib.sh

N=${N:-2000}
BEHIND=${BEHIND:-20}
C=${C:-200}
ORDER=${ORDER:-off on on off}

build load devserver setup

machine
echo "== $N clearances behind a stopped worker, $BEHIND behind them, lodged $C at a time; order: $ORDER"

i=0
for mode in $ORDER; do
  i=$((i + 1))
  flags=()
  if [ "$mode" = off ]; then
    flags=(--dynamic-config-value matching.useNewMatcher=false --dynamic-config-value matching.enableFairness=false
      --dynamic-config-value matching.numTaskqueueWritePartitions=4)
  fi
  port=$(free_port)
  run="$i-$mode"
  "$work/devserver" --data-dir "$work/$run" --port "$port" --ui-port "$(free_port)" --no-ui --worker=false \
    --log-level error "${flags[@]}" >/dev/null 2>&1 &
  pids+=($!)
  await "127.0.0.1:$port"
  echo
  echo "== run $i: priority and fairness $mode (127.0.0.1:$port ${flags[*]})"
  # Expedited copies of a general-credit exporter's green declaration (urgent) behind that
  # declaration's normal copies.
  "$work/load" --address "127.0.0.1:$port" --namespace default -n "$N" --concurrency "$C" --behind "$BEHIND" \
    --backlog expedited --examples examples/it-ffp2-respirators.json --data-dir "$work/$run-load1" --notifications - \
    --json 2>"$work/$run-expedited.log" >"$work/$run-expedited.json" || { cat "$work/$run-expedited.log"; exit 1; }
  # Another advanced-certified exporter's declarations (high) behind one advanced-certified
  # exporter's flood (high): one queue priority, two fairness keys.
  "$work/load" --address "127.0.0.1:$port" --namespace default -n "$N" --concurrency "$C" --behind "$BEHIND" \
    --backlog exporter --examples examples/us-nasal-cannulas-anaesthesia-masks.json,examples/nl-examination-gloves-self-declared.json \
    --data-dir "$work/$run-load2" --notifications - \
    --json 2>"$work/$run-exporter.log" >"$work/$run-exporter.json" || { cat "$work/$run-exporter.log"; exit 1; }
  kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
done

python3 - "$work" $ORDER <<'EOF'
import json, sys
work, order = sys.argv[1], sys.argv[2:]
s = lambda ns: f"{ns / 1e9:.1f}"
for kind, who in (("expedited", "expedited behind normal"), ("exporter", "another exporter's behind one exporter's")):
    print(f"\n== {who}: seconds from lodgement (or the worker's start) to release, p50 / p95 / p99; backlog released per second")
    print("| run | priority and fairness | idle | behind the backlog | behind / idle, p99 | the backlog | backlog /s | errors |")
    print("|---|---|---|---|---|---|---|---|")
    drained, took = {}, {}
    for i, mode in enumerate(order, 1):
        x = json.load(open(f"{work}/{i}-{mode}-{kind}.json"))
        l = lambda k: f"{s(x[k]['P50'])} / {s(x[k]['P95'])} / {s(x[k]['P99'])}"
        ratio = x["BehindBacklog"]["P99"] / x["Idle"]["P99"] if x["Idle"]["P99"] else 0
        print(f"| {i} | {mode} | {l('Idle')} | {l('BehindBacklog')} | {ratio:.2f} | {l('Backlog')} | {x['PerSecond']:.1f} | {x['Errors']} |")
        drained[mode] = drained.get(mode, 0) + x["PerSecond"] * x["Drain"] / 1e9
        took[mode] = took.get(mode, 0) + x["Drain"] / 1e9
    if "on" in took and "off" in took:
        on, off = drained["on"] / took["on"], drained["off"] / took["off"]
        print(f"backlog released per second over all runs: on {on:.1f}, off {off:.1f}; on / off {on / off:.2f}")
EOF
